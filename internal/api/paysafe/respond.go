package paysafe

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/payvault/payvault/internal/api/httpx"
)

// setCommonHeaders sets the headers every Paysafe response carries (§1.5), errors and empty
// DELETE answers included. X-Applicationuid is the request id, which the access log shows too.
func setCommonHeaders(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Applicationuid", "GUID="+httpx.InfoFrom(r.Context()).ID)
	h.Set("Cache-Control", "max-age=0, no-cache, no-store")
	h.Set("Pragma", "no-cache")
}

// marshalBody returns v as a response body, without encoding/json's HTML escaping: a link's
// & is written plainly, as the vendor writes it, not as \u0026. Every body is served as
// application/json, never as HTML.
func marshalBody(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// writeJSON writes v as the JSON body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshalBody(v)
	if err != nil {
		// Every body is a plain struct of strings, numbers and slices; this cannot happen.
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"1000","message":"An internal error occurred.","links":[{"rel":"errorinfo","href":"https://developer.paysafe.com/en/rest-api/vault/test-and-go-live/vault-errors/#ErrorCode1000"}]}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// writeOK answers 200 with v.
func writeOK(w http.ResponseWriter, v any) { writeJSON(w, http.StatusOK, v) }

// writeCreated answers a vault create: 201 with Location, the public base URL plus the
// canonical path (no trailing slash). An empty path sends no Location (profile with card).
func (a *API) writeCreated(w http.ResponseWriter, r *http.Request, path string, v any) {
	if path != "" {
		w.Header().Set("Location", a.baseURL(r)+path)
	}
	writeJSON(w, http.StatusCreated, v)
}

// writeDeleted answers a vault DELETE: 200 with an empty body and Content-Length 0, never 204.
func writeDeleted(w http.ResponseWriter) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// baseURL is the scheme and host of every Location and href.
func (a *API) baseURL(r *http.Request) string { return httpx.BaseURL(r, a.cfg.PublicBaseURL) }
