package hosted

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/payvault/payvault/internal/vault"
)

// TestDemoUnavailable shows that the demo names a missing processor only when that is the
// cause: a store that is down is a 503 with Retry-After that says so.
func TestDemoUnavailable(t *testing.T) {
	h := New(Config{})
	for _, tt := range []struct {
		err        error
		msg        string
		retryAfter bool
	}{
		{vault.E(vault.Unavailable, vault.ErrNotConfigured), "The merchant has no processor configured.", false},
		{vault.E(vault.Unavailable, errors.New("database is locked")), "The vault is briefly unavailable; try again in a moment.", true},
	} {
		rec := httptest.NewRecorder()
		h.writeDemoError(rec, httptest.NewRequest("POST", "/demo/checkout/pay", nil), tt.err)
		var out struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != 503 || out.Error.Code != "unavailable" || out.Error.Message != tt.msg {
			t.Errorf("%v: %d %s", tt.err, rec.Code, rec.Body)
		}
		if got := rec.Header().Get("Retry-After") != ""; got != tt.retryAfter {
			t.Errorf("%v: Retry-After %q", tt.err, rec.Header().Get("Retry-After"))
		}
	}
}
