package hosted

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"

	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/country"
	"github.com/payvault/payvault/internal/vault"
)

// The forms a merchant page can mount.
const (
	formCard = "card" // formCard is card number, expiry, CVV, optionally holder name and postal code.
	formACH  = "ach"  // formACH is a US bank account (Paysafe mode only).
	formEFT  = "eft"  // formEFT is a Canadian bank account (Paysafe mode only).
)

// The credential modes of a form.
const (
	modePaysafe = "paysafe" // modePaysafe creates Paysafe single-use tokens with the single-use key.
	modeFortis  = "fortis"  // modeFortis creates Fortis card tickets with the location's browser HMAC.
)

// fieldsPage is what the field page template renders. Nothing in it is secret: the key is a
// public key id (the single-use key id or the location api key).
type fieldsPage struct {
	Kind         string
	Mode         string
	Key          string
	ParentOrigin string
	HolderName   bool
	PostalCode   bool
	Country      string
	NameMax      int
	Brands       string
	Title        string
}

var formTitles = map[string]string{
	formCard: "Card details",
	formACH:  "US bank account details",
	formEFT:  "Canadian bank account details",
}

// handleFields serves GET /hosted/v1/fields/card, /hosted/v1/fields/ach and
// /hosted/v1/fields/eft: the form a merchant page frames. The query names the merchant by a
// public key id (key= a single-use key id, or location-api-key=) and the framing page's
// origin (origin=); it never carries a secret. The page is served only for an origin the
// merchant allows (vault.OriginAllowed), and its Content-Security-Policy lets only that
// origin frame it.
func (h *Handler) handleFields(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		origin, ok := cspOrigin(q.Get("origin"))
		if !ok {
			writeError(w, http.StatusBadRequest, "invalid", "origin must be the framing page's origin, scheme://host[:port].", "origin")
			return
		}
		page := fieldsPage{Kind: kind, ParentOrigin: origin, Brands: h.brands, Country: "US", NameMax: 160, Title: formTitles[kind]}
		var m *vault.Merchant
		var loc *vault.Location
		var err error
		switch {
		case q.Get("key") != "" && q.Get("location-api-key") == "":
			page.Mode, page.Key = modePaysafe, q.Get("key")
			m, loc, err = h.sutMerchant(r, page.Key)
		case q.Get("location-api-key") != "" && q.Get("key") == "":
			page.Mode, page.Key, page.NameMax = modeFortis, q.Get("location-api-key"), 32
			if kind != formCard {
				writeError(w, http.StatusBadRequest, "invalid", "Fortis mode serves card fields only.", "location-api-key")
				return
			}
			m, loc, err = h.locationMerchant(r, page.Key)
		default:
			writeError(w, http.StatusBadRequest, "invalid", "Name the merchant with key (a single-use key id) or location-api-key.", "key")
			return
		}
		if err != nil {
			if vault.KindOf(err) == vault.NotFound {
				h.writeBadConfig(w, r, origin, http.StatusNotFound, "not_found", "No such key.", "key")
				return
			}
			h.writeInternal(w, r, err)
			return
		}
		httpx.InfoFrom(r.Context()).Merchant = m.ID
		if m.Live && !httpx.Secure(r, h.cfg.TrustedUpstream) {
			writeError(w, http.StatusForbidden, "insecure", "A live merchant's fields are served over HTTPS only.", "")
			return
		}
		if !httpx.SameOrigin(r, h.cfg.PublicBaseURL, origin) && !vault.OriginAllowed(m, loc, origin) {
			writeError(w, http.StatusForbidden, "origin_not_allowed", "The merchant does not allow this origin to embed its payment fields.", "origin")
			return
		}
		if field, msg := page.readOptions(q.Get("fields"), q.Get("country")); field != "" {
			h.writeBadConfig(w, r, origin, http.StatusBadRequest, "invalid", msg, field)
			return
		}
		h.writePage(w, r, origin, http.StatusOK, "fields.html", page)
	}
}

// writeBadConfig answers a field page whose query the merchant page got wrong: a key id
// payvault does not know or a server key id (404 not_found), or options it cannot use once the
// merchant allowed the origin (400 invalid). To a browser loading it into a frame
// (Sec-Fetch-Dest: iframe) the answer is a small page that the checked origin may frame,
// which tells payvault.js that its configuration is wrong (payvault:refused, code config), so
// that ready rejects at once instead of at readyTimeout. It says nothing else and is the same
// page for every such answer. A browser that sends no fetch metadata (Safari before 16.4)
// gets the page too when it asks for HTML, as a navigation does. Anyone else gets the JSON
// error, which may not be framed.
func (h *Handler) writeBadConfig(w http.ResponseWriter, r *http.Request, origin string, status int, code, message, field string) {
	w.Header().Add("Vary", "Sec-Fetch-Dest, Accept")
	if !framing(r) {
		writeError(w, status, code, message, field)
		return
	}
	h.writePage(w, r, origin, status, "refused.html", origin)
}

// framing reports whether r is a browser loading a page into a frame: by its fetch metadata,
// or, from a browser that sends none, by its asking for HTML.
func framing(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Dest") {
	case "iframe", "frame":
		return true
	case "":
		return strings.Contains(r.Header.Get("Accept"), "text/html")
	}
	return false
}

// writePage answers status with the page template name renders from data, with the field
// pages' headers: origin, and only origin, may frame it.
func (h *Handler) writePage(w http.ResponseWriter, r *http.Request, origin string, status int, name string, data any) {
	var buf bytes.Buffer
	if err := h.pages.ExecuteTemplate(&buf, name, data); err != nil {
		h.writeInternal(w, r, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", fieldsCSP(origin))
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// readOptions reads the optional inputs (fields=name,postal) and the billing country of a
// postal code (country=, US by default); when they are wrong it returns the field at fault
// and the message of the 400.
func (p *fieldsPage) readOptions(fields, ctry string) (field, message string) {
	for _, f := range strings.Split(fields, ",") {
		switch f {
		case "":
		case "name":
			p.HolderName = true
		case "postal":
			p.PostalCode = true
		default:
			return "fields", "fields lists name and postal only."
		}
	}
	if ctry != "" {
		ctry = strings.ToUpper(ctry)
		if !country.Valid(ctry) {
			return "country", "country must be an ISO 3166 alpha-2 code."
		}
		p.Country = ctry
	}
	return "", ""
}

// sutMerchant returns the merchant of a Paysafe single-use key id and its default location.
// A server key id is NotFound: a page must never be handed a server credential.
func (h *Handler) sutMerchant(r *http.Request, keyID string) (*vault.Merchant, *vault.Location, error) {
	st := h.cfg.Vault.Store()
	k, err := st.GetAPIKey(r.Context(), keyID)
	if err != nil {
		return nil, nil, err
	}
	if k.Kind != vault.CredSUT {
		return nil, nil, vault.E(vault.NotFound)
	}
	m, err := st.GetMerchant(r.Context(), k.MerchantID)
	if err != nil {
		return nil, nil, err
	}
	loc, err := st.GetLocation(r.Context(), m.ID, m.DefaultLocationID)
	if err != nil && vault.KindOf(err) != vault.NotFound {
		return nil, nil, err
	}
	return m, loc, nil
}

// locationMerchant returns the location of a Fortis location api key and its merchant.
func (h *Handler) locationMerchant(r *http.Request, apiKey string) (*vault.Merchant, *vault.Location, error) {
	st := h.cfg.Vault.Store()
	loc, err := st.GetLocationByAPIKey(r.Context(), apiKey)
	if err != nil {
		return nil, nil, err
	}
	m, err := st.GetMerchant(r.Context(), loc.MerchantID)
	if err != nil {
		return nil, nil, err
	}
	return m, loc, nil
}

// fieldsCSP is the field pages' Content-Security-Policy: nothing but payvault's own script,
// style and API, no form posts, and framing by the one checked origin only.
func fieldsCSP(origin string) string {
	return "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
		"form-action 'none'; base-uri 'none'; frame-ancestors " + origin
}

// originShape is an origin that is safe to write into a CSP source list.
var originShape = regexp.MustCompile(`^https?://([a-z0-9.-]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?$`)

// cspOrigin normalizes a page origin and reports whether it is a plain http(s) origin that
// can be written into a Content-Security-Policy as is.
func cspOrigin(s string) (string, bool) {
	n, ok := vault.NormalizeOrigin(s)
	if !ok || !originShape.MatchString(n) {
		return "", false
	}
	return n, true
}

// brandJSON is one row of the browser's brand table.
type brandJSON struct {
	Brand    string   `json:"brand"`
	Name     string   `json:"name"`
	Prefixes [][3]int `json:"prefixes"` // Prefixes are [lo, hi, digits].
	Lengths  []int    `json:"lengths"`
	CVV      int      `json:"cvv"`
}

// brandNames are the brands' display names.
var brandNames = map[card.Brand]string{
	card.Visa: "Visa", card.Mastercard: "Mastercard", card.Amex: "American Express", card.Discover: "Discover",
	card.Diners: "Diners Club", card.JCB: "JCB", card.UnionPay: "UnionPay", card.Maestro: "Maestro",
}

// brandTableJSON renders card.DefaultTable for the browser, so that brand detection as you
// type uses the same table as the server.
func brandTableJSON() string {
	var rows []brandJSON
	for _, r := range card.DefaultTable() {
		row := brandJSON{Brand: string(r.Brand), Name: brandNames[r.Brand], Lengths: r.Lengths, CVV: r.CVVLen}
		if row.Name == "" {
			row.Name = r.Name
		}
		for _, p := range r.Prefixes {
			row.Prefixes = append(row.Prefixes, [3]int{p.Lo, p.Hi, p.Digits})
		}
		rows = append(rows, row)
	}
	b, err := json.Marshal(rows)
	if err != nil {
		panic(err)
	}
	return string(b)
}
