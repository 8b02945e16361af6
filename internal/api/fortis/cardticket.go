package fortis

import (
	"net/http"
	"strings"

	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/vault"
)

// ticketFieldOrder is the card ticket's field table (§3.6).
var ticketFieldOrder = []string{"account_number", "exp_date", "cvv", "billing_zip", "account_holder_name", "location_id"}

// corsHeaders are the request headers a browser may send to /v2/cardtickets.
const corsHeaders = "content-type, location-api-key, timestamp, hash-key, developer-id, user-id, user-api-key"

// cors writes the CORS headers of §3.6 for an allowed origin. Responses vary by Origin.
func cors(w http.ResponseWriter, origin string) {
	w.Header().Add("Vary", "Origin")
	setCORS(w.Header(), origin)
}

// setCORS sets the CORS headers for an allowed origin, or removes them for "".
func setCORS(h http.Header, origin string) {
	for _, kv := range [][2]string{
		{"Access-Control-Allow-Origin", origin},
		{"Access-Control-Allow-Methods", "POST, OPTIONS"},
		{"Access-Control-Allow-Headers", corsHeaders},
		{"Access-Control-Max-Age", "600"},
	} {
		if origin == "" {
			h.Del(kv[0])
		} else {
			h.Set(kv[0], kv[1])
		}
	}
}

// handleCardTicketPreflight serves OPTIONS /v2/cardtickets: 200 with Allow and, for an
// allowed origin, the CORS headers. A preflight carries no credentials; when it names the
// location (location-api-key as a query parameter) only that location's origins are allowed,
// otherwise any well-formed origin passes the preflight and the POST itself is checked.
func (a *API) handleCardTicketPreflight(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "POST, OPTIONS")
	origin := r.Header.Get("Origin")
	if _, ok := vault.NormalizeOrigin(origin); !ok {
		origin = ""
	}
	if key := query(r).get("location-api-key"); key != "" && origin != "" {
		loc, err := a.svc.Store().GetLocationByAPIKey(r.Context(), key)
		var m *vault.Merchant
		if err == nil {
			m, err = a.svc.Store().GetMerchant(r.Context(), loc.MerchantID)
		}
		if err != nil || !vault.OriginAllowed(m, loc, origin) {
			origin = ""
		}
	}
	cors(w, origin)
	w.WriteHeader(http.StatusOK)
}

// handleCardTicketCreate serves POST /v2/cardtickets: a single-use card ticket that lives 15
// minutes, made by a browser (location HMAC) or a user. A browser request's Origin must be
// one the location allows, or payvault's own (the hosted payment fields).
func (a *API) handleCardTicketCreate(w http.ResponseWriter, r *http.Request) {
	browser := credential(r, "developer-id") == ""
	var p *vault.Principal
	var err error
	if browser {
		p, r, err = a.authBrowser(r)
	} else {
		p, r, err = a.authUser(r)
	}
	if err != nil {
		httpx.ExposeError(w, r) // a page reads its 401 or 429
		a.writeError(w, r, err)
		return
	}
	sent := r.Header.Get("Origin")
	origin := sent
	if origin != "" {
		loc, err := a.svc.Store().GetLocation(r.Context(), p.MerchantID(), p.DefaultLocation())
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		allowed := a.originAllowed(r, p, loc, origin)
		if browser && !allowed {
			cors(w, "")
			a.writeError(w, r, errStatus(http.StatusForbidden, msgOriginRefused))
			return
		}
		if !allowed {
			origin = ""
		}
	}
	cors(w, origin)
	a.post(w, r, p, "cardtickets", func(w http.ResponseWriter, r *http.Request) {
		in, err := readBody(r, "cardticket", ticketFieldOrder)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		e := in.errs
		nt := vault.NewOneTimeToken{Kind: vault.TokenTicket}
		if v, _ := in.str("account_number"); !e.failed("account_number") {
			switch {
			case v == "":
				e.add("account_number", msgRequired("account_number"))
			case !in.length("account_number", v, 4, 19):
			case !validCard(v):
				e.add("account_number", msgInvalid("account_number"))
			}
			nt.Number = v
		}
		if v, _ := in.str("exp_date"); !e.failed("exp_date") {
			switch {
			case v == "":
				e.add("exp_date", msgRequired("exp_date"))
			case !in.length("exp_date", v, 4, 4):
			default:
				exp, err := card.ParseMMYY(v)
				if err != nil {
					e.add("exp_date", msgInvalid("exp_date"))
				}
				nt.Expiry = exp
			}
		}
		if v, _ := in.str("cvv"); v != "" && !e.failed("cvv") {
			if in.length("cvv", v, 3, 4) && !card.Digits(v) {
				e.add("cvv", msgInvalid("cvv"))
			}
			nt.CVV = v
		}
		nt.Meta.BillingZip = zip(in, "billing_zip", 5, 10)
		nt.Meta.HolderName = in.text("account_holder_name", 1, 32)
		if browser {
			if v, ok := in.str("location_id"); ok && v != "" && !strings.EqualFold(v, p.Location) {
				e.add("location_id", msgLocation)
			}
			nt.LocationID = p.Location
		} else {
			var loc *vault.Location
			loc, nt.LocationID = a.bodyLocationRecord(r.Context(), p, in, true)
			// A user names the ticket's location, whose origins answer CORS from here
			// on; the primary location's answered until the body was read.
			if sent != "" && loc != nil && nt.LocationID != p.DefaultLocation() {
				if !a.originAllowed(r, p, loc, sent) {
					sent = ""
				}
				setCORS(w.Header(), sent)
			}
		}
		if err := e.err(); err != nil {
			a.writeError(w, r, err)
			return
		}
		t, err := a.svc.CreateOneTimeToken(r.Context(), p, nt)
		if err != nil {
			a.writeError(w, r, ticketCoreError(err))
			return
		}
		exp := card.Expiry{Month: t.Meta.ExpMonth, Year: t.Meta.ExpYear}
		writeJSON(w, http.StatusCreated, object{{"cardticket", object{
			{"id", t.Token}, {"first_six", t.Meta.BIN}, {"last_four", t.Meta.LastFour}, {"exp_date", exp.MMYY()},
			{"billing_zip", str(t.Meta.BillingZip)}, {"created_ts", t.Created.Unix()},
			{"_links", links(a.href(r, "cardtickets", t.Token))},
		}}})
	})
}

// originAllowed reports whether origin may read a card ticket answer of location loc:
// one of the origins loc allows, or payvault's own, the hosted payment fields, which checked
// the merchant page's origin before they were served.
func (a *API) originAllowed(r *http.Request, p *vault.Principal, loc *vault.Location, origin string) bool {
	return httpx.SameOrigin(r, a.opt.PublicBaseURL, origin) || vault.OriginAllowed(p.Merchant, loc, origin)
}

// ticketCoreError turns a core error of a ticket create into its field error.
func ticketCoreError(err error) error {
	e := vault.AsError(err)
	if e == nil || e.Kind != vault.Invalid {
		return err
	}
	if fe := cardNumberFields(err, ticketFieldOrder); fe != nil {
		return fe
	}
	field := map[string]string{"number": "account_number", "expiry": "exp_date", "cvv": "cvv", "location_id": "location_id"}[e.Field]
	if field == "" {
		field = "account_number"
	}
	msg := msgInvalid(field)
	if field == "location_id" {
		msg = msgLocation
	}
	return invalid(ticketFieldOrder, field, msg)
}
