package fortis

import (
	"net/http"

	"github.com/payvault/payvault/internal/idempotency"
)

// WriteIdempotencyConflict answers a refused Idempotency-Key repeat in the Fortis envelope:
// 409 {"name":"Conflict","message":…,"code":0,"status":409}.
func WriteIdempotencyConflict(w http.ResponseWriter, r *http.Request, why idempotency.Reason) {
	if why == idempotency.Unavailable {
		writeUnavailable(w)
		return
	}
	msg := "The Idempotency-Key was already used with a different request."
	switch why {
	case idempotency.InProgress:
		msg = "A request with this Idempotency-Key is still being processed."
	case idempotency.NotReplayable:
		msg = "The request with this Idempotency-Key was already processed."
	}
	writeJSON(w, http.StatusConflict, object{{"name", "Conflict"}, {"message", msg}, {"code", 0}, {"status", http.StatusConflict}})
}
