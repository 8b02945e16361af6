// Package idemtest runs an API's error path under a real idempotency Keeper (on a new SQLite
// store), for the API packages' tests of what they keep for an Idempotency-Key.
package idemtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/vault"
)

// Outcome is what two requests with one Idempotency-Key got from Serve.
type Outcome struct {
	Runs     int // Runs is how many times the handler ran.
	Statuses [2]int
	Replayed bool // Replayed: the second answer was a replay of the first.
}

// Serve sends two POSTs with one Idempotency-Key through a Keeper to handler, which answers
// each as the API would, and reports what happened.
func Serve(t *testing.T, handler http.HandlerFunc) Outcome {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), sqlstore.Config{Path: filepath.Join(t.TempDir(), "idem.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kr, err := keys.Open(context.Background(), st, keys.NewMasterKey(), keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k := idempotency.New(st, kr, idempotency.Config{})
	var out Outcome
	conflict := func(w http.ResponseWriter, r *http.Request, why idempotency.Reason) {
		t.Errorf("the repeat was refused (%v), not replayed", why)
		w.WriteHeader(http.StatusConflict)
	}
	for i := range out.Statuses {
		r := httptest.NewRequest(http.MethodPost, "/things", strings.NewReader(`{}`))
		r.Header.Set(idempotency.Header, "idemtest-key")
		w := httptest.NewRecorder()
		k.Serve(w, r, "merchant", "test", conflict, nil, func(w http.ResponseWriter, r *http.Request) {
			out.Runs++
			handler(w, r)
		})
		out.Statuses[i] = w.Code
		out.Replayed = w.Header().Get(idempotency.ReplayedHeader) == "true"
	}
	return out
}

// OutcomeUnknownKept checks an API's error writer: a write whose COMMIT went unanswered
// (vault.ErrOutcomeUnknown: it may be stored) answers 503, and a retry with its
// Idempotency-Key gets that answer again instead of writing a second record; any other 503 is
// forgotten, and its retry runs.
func OutcomeUnknownKept(t *testing.T, writeError func(w http.ResponseWriter, r *http.Request, err error)) {
	t.Helper()
	unknown := vault.E("test", vault.Unavailable, fmt.Errorf("commit: %w", vault.ErrOutcomeUnknown))
	down := vault.E("test", vault.Unavailable, errors.New("connection refused"))
	for _, tt := range []struct {
		name string
		err  error
		runs int
	}{
		{"ok/outcome-unknown-kept", unknown, 1},
		{"ok/unavailable-forgotten", down, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := Serve(t, func(w http.ResponseWriter, r *http.Request) { writeError(w, r, tt.err) })
			if out.Runs != tt.runs || out.Statuses != [2]int{503, 503} || out.Replayed != (tt.runs == 1) {
				t.Errorf("got %+v; want %d runs, two 503s, replayed %v", out, tt.runs, tt.runs == 1)
			}
		})
	}
}
