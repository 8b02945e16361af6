package paysafe

import (
	"net/http"

	"github.com/payvault/payvault/internal/idempotency"
)

// writeIdempotencyConflict answers a refused Idempotency-Key repeat: 409/5031, with the
// product's message for a key reused with another request or still running.
func (a *API) writeIdempotencyConflict(w http.ResponseWriter, r *http.Request, why idempotency.Reason) {
	if why == idempotency.Unavailable {
		a.writeError(w, r, errUnavailable()) // the keeper logged why
		return
	}
	e := newError("5031")
	switch why {
	case idempotency.Mismatch:
		e.Message = "The Idempotency-Key was already used with a different request."
	case idempotency.InProgress:
		e.Message = "A request with this Idempotency-Key is still being processed."
	}
	a.writeError(w, r, e)
}
