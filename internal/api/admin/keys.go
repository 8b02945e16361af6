package admin

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/vault"
)

// KeyOps are the key-management and audit operations of a running payvault; app.Main
// provides them. They hold no secret: ids, statuses, counts and audit records only.
type KeyOps interface {
	// KeyStatus describes every data, fingerprint and server key with its record count.
	KeyStatus(ctx context.Context) (any, error)
	// RekeyStatus describes the background re-encryption: records still under old keys.
	RekeyStatus(ctx context.Context) (any, error)
	// RotateKey adds a key to a keyset ("data" or "mac") and makes it primary.
	RotateKey(ctx context.Context, keyset string) (uint32, error)
	// RetireKey disables a key once no record uses it; an unknown key's error wraps
	// keys.ErrUnknownKey, a key records still use keys.ErrKeyInUse, the primary key
	// keys.ErrPrimaryKey.
	RetireKey(ctx context.Context, keyset string, id uint32) error
	// DestroyKey deletes a retired key from its keyset for good; a key not retired yet is
	// keys.ErrKeyEnabled, and the errors are otherwise RetireKey's.
	DestroyKey(ctx context.Context, keyset string, id uint32) error
	// ListAudit returns a merchant's audit records after seq.
	ListAudit(ctx context.Context, merchantID string, afterSeq int64, limit int) ([]vault.AuditRecord, error)
	// VerifyAudit checks every audit chain.
	VerifyAudit(ctx context.Context) ([]vault.AuditProblem, error)
}

// KeyRoutes registers the key and audit routes over ops.
func (a *API) KeyRoutes(ops KeyOps) {
	a.Handle(http.MethodGet, "/admin/v1/keys", func(w http.ResponseWriter, r *http.Request) error {
		st, err := ops.KeyStatus(r.Context())
		if err != nil {
			return err
		}
		rk, err := ops.RekeyStatus(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"keys": st, "reencryption": rk})
		return nil
	})
	a.Handle(http.MethodPost, "/admin/v1/keys/rotate", func(w http.ResponseWriter, r *http.Request) error {
		keyset, err := decodeKeyset(r)
		if err != nil {
			return err
		}
		id, err := ops.RotateKey(r.Context(), keyset)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"keyset": keyset, "primary_key_id": id})
		return nil
	})
	a.Handle(http.MethodPost, "/admin/v1/keys/{keyId}/retire", keyChange(ops.RetireKey, "disabled"))
	a.Handle(http.MethodPost, "/admin/v1/keys/{keyId}/destroy", keyChange(ops.DestroyKey, "destroyed"))
	a.Handle(http.MethodGet, "/admin/v1/merchants/{merchantId}/audit", func(w http.ResponseWriter, r *http.Request) error {
		mid := r.PathValue("merchantId")
		if _, err := a.vault.Store().GetMerchant(r.Context(), mid); err != nil {
			return err
		}
		after, limit := int64(0), 100
		if v := r.URL.Query().Get("after"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return badRequest("invalid", "after must be a record number.", "after")
			}
			after = n
		}
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				return badRequest("invalid", "limit must be between 1 and 1000.", "limit")
			}
			limit = n
		}
		recs, err := ops.ListAudit(r.Context(), mid, after, limit)
		if err != nil {
			return err
		}
		if recs == nil {
			recs = []vault.AuditRecord{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"records": recs})
		return nil
	})
	a.Handle(http.MethodGet, "/admin/v1/audit/verify", func(w http.ResponseWriter, r *http.Request) error {
		problems, err := ops.VerifyAudit(r.Context())
		if err != nil {
			return err
		}
		if problems == nil {
			problems = []vault.AuditProblem{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": len(problems) == 0, "problems": problems})
		return nil
	})
}

// decodeKeyset reads {"keyset": "data"|"mac"} (data when absent) from a request body.
func decodeKeyset(r *http.Request) (string, error) {
	var in struct {
		Keyset string `json:"keyset"`
	}
	if err := decodeOptional(r, &in); err != nil {
		return "", err
	}
	switch in.Keyset {
	case "":
		return "data", nil
	case "data", "mac":
		return in.Keyset, nil
	}
	return "", badRequest("invalid", "keyset must be data or mac.", "keyset")
}

// keyChange answers POST /admin/v1/keys/{keyId}/retire and /destroy: change applied to the
// key, then 200 with the key's new status. An unknown key is 404; a key still in use, the
// primary, or (for destroy) a key not retired yet is 409.
func keyChange(change func(ctx context.Context, keyset string, id uint32) error, status string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		keyset, err := decodeKeyset(r)
		if err != nil {
			return err
		}
		id, err := strconv.ParseUint(r.PathValue("keyId"), 10, 32)
		if err != nil {
			return &apiError{status: http.StatusNotFound, code: "not_found", message: "No such key."}
		}
		if err := change(r.Context(), keyset, uint32(id)); err != nil {
			switch {
			case errors.Is(err, keys.ErrUnknownKey):
				return &apiError{status: http.StatusNotFound, code: "not_found", message: "No such key."}
			case errors.Is(err, keys.ErrKeyInUse), errors.Is(err, keys.ErrPrimaryKey), errors.Is(err, keys.ErrKeyEnabled):
				return &apiError{status: http.StatusConflict, code: "conflict", message: err.Error()}
			}
			return err // a store failure: 500, logged
		}
		writeJSON(w, http.StatusOK, map[string]any{"keyset": keyset, "key_id": id, "status": status})
		return nil
	}
}
