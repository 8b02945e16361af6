package admin

import (
	"net/http"

	"github.com/payvault/payvault/internal/payments"
)

// BatchRoutes registers POST /admin/v1/batch over the payments core.
func (a *API) BatchRoutes(ps *payments.Service) {
	a.Handle(http.MethodPost, "/admin/v1/batch", func(w http.ResponseWriter, r *http.Request) error {
		return a.handleBatch(w, r, ps)
	})
}

// batchRequest is the body of POST /admin/v1/batch; an empty body (or {}) batches every
// merchant.
type batchRequest struct {
	MerchantID *string `json:"merchant_id"`
}

// batchJSON is the answer of POST /admin/v1/batch.
type batchJSON struct {
	Completed int `json:"completed"`
}

// handleBatch answers POST /admin/v1/batch: every PENDING settlement and refund (of one
// merchant, or of all) becomes COMPLETED now, as the daily batch would do later.
func (a *API) handleBatch(w http.ResponseWriter, r *http.Request, ps *payments.Service) error {
	var in batchRequest
	if err := decodeOptional(r, &in); err != nil {
		return err
	}
	mid := ""
	if in.MerchantID != nil {
		// An empty id (an unset variable in a script) must not batch every merchant.
		if mid = *in.MerchantID; mid == "" {
			return badRequest("invalid", "merchant_id must name a merchant; leave it out to batch every merchant.", "merchant_id")
		}
		if _, err := a.vault.Store().GetMerchant(r.Context(), mid); err != nil {
			return err
		}
	}
	n, err := ps.Batch(r.Context(), mid)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, batchJSON{Completed: n})
	return nil
}
