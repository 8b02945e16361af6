package fortis

import (
	"testing"

	"github.com/payvault/payvault/internal/idempotency/idemtest"
)

// TestOutcomeUnknownKept: a write that may be stored (vault.ErrOutcomeUnknown) keeps its 503
// for its Idempotency-Key, so a retry never writes a second record.
func TestOutcomeUnknownKept(t *testing.T) {
	idemtest.OutcomeUnknownKept(t, New(nil, Options{}).writeError)
}
