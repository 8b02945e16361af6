package fortis

import (
	"errors"
	"testing"

	"github.com/payvault/payvault/internal/vault"
)

// TestLookupFailed: a lookup a field needed that finds nothing (or another tenant's record)
// is that field's 422 message; one the database failed is the request's fault, answered as
// itself (a 503), before any field's message, never as a 422 that calls the value wrong.
func TestLookupFailed(t *testing.T) {
	down := vault.E("test", vault.Unavailable, errors.New("connection refused"))
	e := newFieldErrors(nil)
	e.lookupFailed("contact_id", msgInvalid("contact_id"), vault.E("test", vault.NotFound))
	if ve := new(validationError); !errors.As(e.err(), &ve) || e.msgs["contact_id"] == "" {
		t.Fatalf("missing record: err %v, want the field's 422", e.err())
	}
	e.lookupFailed("location_id", msgLocation, down)
	if err := e.err(); vault.KindOf(err) != vault.Unavailable || e.failed("location_id") {
		t.Errorf("database down: err %v (kind %v), location_id failed %v; want the Unavailable fault", err, vault.KindOf(err), e.failed("location_id"))
	}
}
