package hosted

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/vault"
)

// The demo checkout is a small merchant page served by payvault for sandbox merchants. It
// mounts the hosted card fields in Fortis mode: its server side (handleDemoCredentials) plays
// the merchant's server and computes the location's browser HMAC, the one browser credential
// payvault can mint without a stored secret in the clear (a Paysafe single-use key's secret is
// kept only as a hash). Pay turns the card into a card ticket in the fields' iframe, and
// handleDemoPay authorizes the amount with that ticket through payments.Service.Authorize.

// demoCSP is the demo page's Content-Security-Policy.
const demoCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-src 'self'; " +
	"img-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"

// demoActor is the audit actor of the demo's payments.
const demoActor = "hosted:demo"

// demoPage is what the demo template renders; none of it is secret.
type demoPage struct {
	MerchantID     string
	MerchantName   string
	LocationAPIKey string
	Amount         string
}

// demoOn reports whether the demo is served at all.
func (h *Handler) demoOn() bool { return h.cfg.Demo && h.cfg.Payments != nil }

// demoOnly serves h only while the demo is on, and 404 otherwise.
func (h *Handler) demoOnly(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.demoOn() {
			h.handleUnknownRoute(w, r)
			return
		}
		next(w, r)
	}
}

// demoMerchant returns the demo's merchant and its default location: the sandbox merchant
// created on the store's first start (vault.SettingSandboxMerchant; on a store bootstrapped
// before that setting, the oldest sandbox merchant). The demo hands out that merchant's browser
// credential and runs authorizations for it to anyone who can reach the server, so it serves
// no other merchant: an id naming another merchant (or a live one) is NotFound.
func (h *Handler) demoMerchant(ctx context.Context, id string) (*vault.Merchant, *vault.Location, error) {
	st := h.cfg.Vault.Store()
	var m *vault.Merchant
	demoID, err := st.GetSetting(ctx, vault.SettingSandboxMerchant)
	switch {
	case err == nil:
		if m, err = st.GetMerchant(ctx, demoID); err != nil {
			return nil, nil, err
		}
	case vault.KindOf(err) == vault.NotFound:
		all, err := st.ListMerchants(ctx)
		if err != nil {
			return nil, nil, err
		}
		for _, c := range all {
			if !c.Live {
				m = c
				break
			}
		}
	default:
		return nil, nil, err
	}
	if m == nil || m.Live || id != "" && id != m.ID {
		return nil, nil, vault.E(vault.NotFound)
	}
	loc, err := st.GetLocation(ctx, m.ID, m.DefaultLocationID)
	if err != nil {
		return nil, nil, err
	}
	return m, loc, nil
}

// handleDemoCheckout serves GET /demo/checkout[?merchant=id]: the demo checkout page for the
// demo merchant (demoMerchant). It is 404 when the demo is off (serve --demo=false) and for an
// id naming any other merchant, sandbox or live.
func (h *Handler) handleDemoCheckout(w http.ResponseWriter, r *http.Request) {
	if !h.demoOn() {
		h.handleUnknownRoute(w, r)
		return
	}
	m, loc, err := h.demoMerchant(r.Context(), r.URL.Query().Get("merchant"))
	if err != nil {
		h.writeDemoError(w, r, err)
		return
	}
	httpx.InfoFrom(r.Context()).Merchant = m.ID
	var buf bytes.Buffer
	page := demoPage{MerchantID: m.ID, MerchantName: m.Name, LocationAPIKey: loc.APIKey, Amount: "10.00"}
	if err := h.pages.ExecuteTemplate(&buf, "checkout.html", page); err != nil {
		h.writeInternal(w, r, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", demoCSP)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// demoCredentials is the browser credential the demo's "merchant server" hands its page.
type demoCredentials struct {
	LocationAPIKey string `json:"locationApiKey"`
	Timestamp      string `json:"timestamp"`
	HashKey        string `json:"hashKey"`
}

// handleDemoCredentials serves POST /demo/checkout/credentials {"merchant":id}: a fresh
// location browser credential (location api key, timestamp, hash-key) for the demo merchant,
// computed as a merchant's server would compute it.
func (h *Handler) handleDemoCredentials(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Merchant string `json:"merchant"`
	}
	if !h.readDemoRequest(w, r, &in) {
		return
	}
	m, loc, err := h.demoMerchant(r.Context(), in.Merchant)
	if err != nil {
		h.writeDemoError(w, r, err)
		return
	}
	httpx.InfoFrom(r.Context()).Merchant = m.ID
	key, err := h.cfg.Vault.RevealTicketHashKey(loc)
	if err != nil {
		h.writeInternal(w, r, err)
		return
	}
	ts := strconv.FormatInt(h.cfg.Vault.Now().Unix(), 10)
	writeJSON(w, http.StatusOK, demoCredentials{LocationAPIKey: loc.APIKey, Timestamp: ts, HashKey: vault.BrowserHashKey(key, loc.APIKey, ts)})
}

// demoPayment is the answer of the demo's payment.
type demoPayment struct {
	Approved bool      `json:"approved"`
	AuthID   string    `json:"authId"`
	AuthCode string    `json:"authCode,omitempty"`
	Amount   string    `json:"amount"`
	Code     string    `json:"code,omitempty"`
	Message  string    `json:"message,omitempty"`
	Card     *demoCard `json:"card,omitempty"`
}

type demoCard struct {
	Brand    string `json:"brand"`
	LastFour string `json:"lastFour"`
}

// handleDemoPay serves POST /demo/checkout/pay {"merchant":id,"amount":"10.00","token":…}:
// it authorizes the amount on the demo merchant with the card ticket the hosted fields made,
// through payments.Service.Authorize, and answers the approval (auth id) or the decline with
// the sandbox processor's code and message.
func (h *Handler) handleDemoPay(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Merchant string `json:"merchant"`
		Amount   string `json:"amount"`
		Token    string `json:"token"`
	}
	if !h.readDemoRequest(w, r, &in) {
		return
	}
	amount, ok := parseAmount(in.Amount)
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid", "Enter an amount such as 10.00.", "amount")
		return
	}
	if in.Token == "" || len(in.Token) > 64 {
		writeError(w, http.StatusBadRequest, "invalid", "The card details are missing; enter them again.", "token")
		return
	}
	m, loc, err := h.demoMerchant(r.Context(), in.Merchant)
	if err != nil {
		h.writeDemoError(w, r, err)
		return
	}
	httpx.InfoFrom(r.Context()).Merchant, httpx.InfoFrom(r.Context()).Cred = m.ID, demoActor
	// The demo's server acts for its merchant in the one location, as the merchant's own
	// server would with its credentials.
	p := &vault.Principal{Merchant: m, Kind: "demo", CredID: demoActor, Allowed: []string{loc.ID}}
	ctx := vault.WithActor(r.Context(), demoActor)
	t, err := h.cfg.Payments.Authorize(ctx, p, payments.AuthRequest{
		API: h.cfg.PaymentsAPI, Type: payments.TypeAuth, Location: loc, Amount: amount,
		MerchantRefNum: "demo-" + keys.RandomString(16, keys.Alnum),
		Source:         payments.Source{Token: in.Token, TokenKinds: []string{vault.TokenTicket}},
	})
	if err != nil {
		h.writeDemoError(w, r, err)
		return
	}
	out := demoPayment{Approved: t.Approved(), AuthID: t.ID, Amount: formatAmount(t.Amount),
		Card: &demoCard{Brand: t.Card.Brand, LastFour: t.Card.LastFour}}
	if out.Approved {
		out.AuthCode = t.AuthCode
	} else {
		out.Code, out.Message = t.Code, h.declineMessage(t)
	}
	writeJSON(w, http.StatusOK, out)
}

// declineMessage is the text shown for a declined or failed transaction.
func (h *Handler) declineMessage(t *payments.Transaction) string {
	if h.cfg.DeclineMessage != nil && t.Code != "" {
		if msg, ok := h.cfg.DeclineMessage(t.Code); ok {
			return msg
		}
	}
	if t.Message != "" {
		return t.Message
	}
	if t.Decision == payments.Declined {
		return "The payment was declined."
	}
	return "The payment could not be completed."
}

// The demo's POSTs (credentials and payments) share one bucket per client address: a person
// trying the demo makes a few, a script that loops on it gets 429 after demoBurst.
const (
	demoRate  = 1.0 // demoRate is requests per second per client address, on average.
	demoBurst = 20  // demoBurst is how many a client address may make at once.
)

// readDemoRequest checks that the demo is on, paces the client (429 with Retry-After), and
// checks that a POST comes from payvault's own pages (a JSON body, which a cross-site form
// cannot send without a preflight that is never granted, and a same-origin Origin when one is
// sent), then reads its small JSON body into v.
func (h *Handler) readDemoRequest(w http.ResponseWriter, r *http.Request, v any) bool {
	if !h.demoOn() {
		h.handleUnknownRoute(w, r)
		return false
	}
	if ok, wait := h.demoLimit.Allow(httpx.ClientAddr(r, h.cfg.TrustedUpstream)); !ok {
		w.Header().Set("Retry-After", strconv.FormatInt(max(1, int64(math.Ceil(wait.Seconds()))), 10))
		writeError(w, http.StatusTooManyRequests, "rate_limited", "Too many demo requests; wait a moment.", "")
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && !httpx.SameOrigin(r, h.cfg.PublicBaseURL, o) {
		writeError(w, http.StatusForbidden, "origin_not_allowed", "The demo accepts requests from its own page only.", "")
		return false
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "invalid", "Send a JSON body.", "")
		return false
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, demoBodyMax))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", "The request body is too large.", "")
			return false
		}
		writeError(w, http.StatusBadRequest, "invalid", "The request body could not be read in full.", "")
		return false
	}
	// One JSON object and nothing after it: null, an array or a second value is refused.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		writeError(w, http.StatusBadRequest, "invalid", "The request body must be a JSON object.", "")
		return false
	}
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "The request body is not the expected JSON.", "")
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, http.StatusBadRequest, "invalid", "The request body has data after the JSON object.", "")
		return false
	}
	return true
}

// demoBodyMax is the largest body the demo's endpoints read; theirs are a few short strings.
const demoBodyMax = 4 << 10

// writeDemoError answers a core error of the demo.
func (h *Handler) writeDemoError(w http.ResponseWriter, r *http.Request, err error) {
	e := vault.AsError(err)
	switch vault.KindOf(err) {
	case vault.NotFound:
		writeError(w, http.StatusNotFound, "not_found", "No sandbox merchant to run the demo for.", "merchant")
	case vault.Invalid:
		field, msg := "", "The card could not be used; check it and try again."
		if e != nil {
			field = e.Field
		}
		switch {
		case field == "token":
			msg = "The card details expired or were already used; enter them again."
		case errors.Is(err, vault.ErrExpired):
			msg = "The card has expired."
		}
		writeError(w, http.StatusBadRequest, "invalid", msg, field)
	case vault.Unavailable:
		msg := "The vault is briefly unavailable; try again in a moment."
		if errors.Is(err, vault.ErrNotConfigured) {
			msg = "The merchant has no processor configured."
		} else {
			w.Header().Set("Retry-After", httpx.RetryAfterUnavailable)
		}
		writeError(w, http.StatusServiceUnavailable, "unavailable", msg, "")
	case vault.Forbidden:
		writeError(w, http.StatusForbidden, "forbidden", "The demo cannot use this merchant.", "")
	default:
		h.writeInternal(w, r, err)
	}
}

// amountShape is a decimal amount with at most two decimals.
var amountShape = regexp.MustCompile(`^[0-9]{1,9}(\.[0-9]{1,2})?$`)

// parseAmount reads a decimal amount such as "10.00" into minor units; it must be positive.
func parseAmount(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if !amountShape.MatchString(s) {
		return 0, false
	}
	whole, frac, _ := strings.Cut(s, ".")
	for len(frac) < 2 {
		frac += "0"
	}
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil || n < 1 || n > payments.MaxAmount {
		return 0, false
	}
	return n, true
}

// formatAmount writes minor units as a decimal amount.
func formatAmount(n int64) string {
	return strconv.FormatInt(n/100, 10) + "." + strconv.FormatInt(n%100/10, 10) + strconv.FormatInt(n%10, 10)
}
