package fortis_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/vault"
)

// browserHeaders are a browser's ticket credentials for a location at the server's clock.
func (s *server) browserHeaders(apiKey, hashKey string, skew time.Duration) map[string]string {
	ts := strconv.FormatInt(s.clock.Now().Add(skew).Unix(), 10)
	return map[string]string{"location-api-key": apiKey, "timestamp": ts, "hash-key": vault.BrowserHashKey(hashKey, apiKey, ts)}
}

// TestCardTickets covers POST /v2/cardtickets (§3.6): browser HMAC and user credentials,
// CORS for the location's allowed origins, the field rules, single use, 15 minutes, and the
// CVV sealed until consumption and swept after expiry.
func TestCardTickets(t *testing.T) {
	s := mustServer(t)
	ctx := context.Background()
	c := s.creds.Fortis
	loc := c.LocationID
	s.logs.Forbid("4012888888881881")
	browser := func(hdr map[string]string, origin string) map[string]string {
		out := map[string]string{}
		for k, v := range hdr {
			out[k] = v
		}
		if origin != "" {
			out["Origin"] = origin
		}
		return out
	}
	ticketBody := `{"cardticket":{"account_number":"4012888888881881","exp_date":"1228","cvv":"999","billing_zip":"32606","account_holder_name":"Jo Doe"}}`

	t.Run("ok/browser-sandbox-any-origin", func(t *testing.T) {
		r := must(t, s.do(t, call{Method: "POST", Path: "/v2/cardtickets", Body: ticketBody, NoAuth: true,
			Header: browser(s.browserHeaders(c.LocationAPIKey, c.TicketHashKey, 0), "https://shop.example")}), 201)
		tk := r.record(t, "cardticket")
		id := tk["id"].(string)
		if len(id) != 36 {
			t.Errorf("ticket id %q is not a UUIDv7", id)
		}
		diff(t, `{"cardticket":{"id":"`+id+`","first_six":"401288","last_four":"1881","exp_date":"1228","billing_zip":"32606","created_ts":`+
			strconv.FormatInt(s.clock.Now().Unix(), 10)+`,"_links":{"self":{"href":"https://vault.example/v2/cardtickets/`+id+`"}}}}`, string(r.Body))
		diff(t, []string{"https://shop.example", "POST, OPTIONS", "content-type, location-api-key, timestamp, hash-key, developer-id, user-id, user-api-key"},
			[]string{r.Header.Get("Access-Control-Allow-Origin"), r.Header.Get("Access-Control-Allow-Methods"), r.Header.Get("Access-Control-Allow-Headers")})

		// The CVV is sealed while the ticket waits, destroyed when it is used.
		stored, err := s.store.GetOneTimeToken(ctx, s.creds.MerchantID, id)
		if err != nil || len(stored.Sealed.CVV) == 0 || string(stored.Sealed.CVV) == "999" {
			t.Fatalf("stored ticket: %v, cvv %d bytes", err, len(stored.Sealed.CVV))
		}
		v := s.mustVault(t, `"payment_method":"cc","ticket":"`+id+`"`)
		diff(t, []any{"401288", "1881", "1228", "32606", "Jo Doe"}, []any{v["first_six"], v["last_four"], v["exp_date"], v["billing_zip"], v["account_holder_name"]})
		stored, _ = s.store.GetOneTimeToken(ctx, s.creds.MerchantID, id)
		if stored.Consumed.IsZero() || stored.Sealed.CVV != nil {
			t.Errorf("used ticket keeps its CVV (%d bytes) or is not marked", len(stored.Sealed.CVV))
		}
	})

	t.Run("ok/user-credentials", func(t *testing.T) {
		r := must(t, s.post(t, "/v2/cardtickets", `{"cardticket":{"location_id":"`+loc+`","account_number":"4111111111111111","exp_date":"0130"}}`), 201)
		diff(t, nil, r.record(t, "cardticket")["billing_zip"])
		r = must(t, s.post(t, "/v2/cardtickets", `{"cardticket":{"account_number":"4111111111111111","exp_date":"0130"}}`), 422)
		diff(t, `{"errors":{"location_id":["Location Id cannot be blank."]}}`, string(r.Body))
	})

	t.Run("fail/rules", func(t *testing.T) {
		tests := []struct{ name, fields, want string }{
			{"fail/empty", ``, `{"account_number":["Account Number cannot be blank."],"exp_date":["Exp Date cannot be blank."]}`},
			{"fail/number", `"account_number":"4111111111111112","exp_date":"1228"`, `{"account_number":["Account Number is invalid."]}`},
			{"fail/expiry", `"account_number":"4111111111111111","exp_date":"1328"`, `{"exp_date":["Exp Date is invalid."]}`},
			{"fail/cvv-short", `"account_number":"4111111111111111","exp_date":"1228","cvv":"12"`, `{"cvv":["Cvv should contain at least 3 characters."]}`},
			{"fail/cvv-letters", `"account_number":"4111111111111111","exp_date":"1228","cvv":"12a"`, `{"cvv":["Cvv is invalid."]}`},
			{"fail/zip", `"account_number":"4111111111111111","exp_date":"1228","billing_zip":"1"`, `{"billing_zip":["Billing Zip should contain at least 5 characters."]}`},
			{"fail/holder", `"account_number":"4111111111111111","exp_date":"1228","account_holder_name":"123456789012345678901234567890123"`, `{"account_holder_name":["Account Holder Name should contain at most 32 characters."]}`},
			{"fail/other-location", `"account_number":"4111111111111111","exp_date":"1228","location_id":"0190aaaa-bbbb-7ccc-8ddd-eeeeffff0000"`, `{"location_id":["location_id provided is not valid"]}`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := must(t, s.do(t, call{Method: "POST", Path: "/v2/cardtickets", Body: `{"cardticket":{` + tt.fields + `}}`, NoAuth: true,
					Header: s.browserHeaders(c.LocationAPIKey, c.TicketHashKey, 0)}), 422)
				diff(t, `{"errors":`+tt.want+`}`, string(r.Body))
			})
		}
	})

	t.Run("fail/browser-credentials", func(t *testing.T) {
		for name, hdr := range map[string]map[string]string{
			"too-old":      s.browserHeaders(c.LocationAPIKey, c.TicketHashKey, -901*time.Second),
			"too-new":      s.browserHeaders(c.LocationAPIKey, c.TicketHashKey, 901*time.Second),
			"wrong-secret": s.browserHeaders(c.LocationAPIKey, "not-the-ticket-hash-key", 0),
			"unknown-key":  s.browserHeaders("nope", c.TicketHashKey, 0),
			"none":         {},
		} {
			t.Run(name, func(t *testing.T) {
				r := must(t, s.do(t, call{Method: "POST", Path: "/v2/cardtickets", Body: ticketBody, NoAuth: true, Header: hdr}), 401)
				diff(t, `{"name":"Unauthorized","message":"Your request was made with invalid credentials.","code":0,"status":401}`, string(r.Body))
			})
		}
	})

	// §3.6: responses on this route send CORS. A 405 comes before any credential, as a 401
	// does, so it exposes its error to any well-formed origin: the page reads it.
	t.Run("fail/method-exposes-cors", func(t *testing.T) {
		for _, path := range []string{"/v2/cardtickets", "/v2/cardtickets/"} {
			r := must(t, s.do(t, call{Method: "GET", Path: path, NoAuth: true, Header: map[string]string{"Origin": "https://shop.example"}}), 405)
			diff(t, []string{"https://shop.example", "POST, OPTIONS"}, []string{r.Header.Get("Access-Control-Allow-Origin"), r.Header.Get("Allow")})
			diff(t, `{"name":"Method Not Allowed","message":"Method Not Allowed. This URL can only handle the following request methods: POST, OPTIONS.","code":0,"status":405}`, string(r.Body))
		}
		// Other routes send no CORS.
		r := must(t, s.do(t, call{Method: "PATCH", Path: "/v2/accountvaults", NoAuth: true, Header: map[string]string{"Origin": "https://shop.example"}}), 405)
		diff(t, "", r.Header.Get("Access-Control-Allow-Origin"))
	})

	t.Run("ok/configured-origins", func(t *testing.T) {
		second := s.mustLocation(t, "Shop")
		if _, err := s.svc.SetAllowedOrigins(ctx, s.creds.MerchantID, second.Location.ID, []string{"https://shop.example"}); err != nil {
			t.Fatal(err)
		}
		hdr := s.browserHeaders(second.Location.APIKey, second.TicketHashKey, 0)
		r := must(t, s.do(t, call{Method: "POST", Path: "/v2/cardtickets", Body: ticketBody, NoAuth: true, Header: browser(hdr, "https://shop.example")}), 201)
		diff(t, "https://shop.example", r.Header.Get("Access-Control-Allow-Origin"))
		r = must(t, s.do(t, call{Method: "POST", Path: "/v2/cardtickets", Body: ticketBody, NoAuth: true, Header: browser(hdr, "https://evil.example")}), 403)
		diff(t, "", r.Header.Get("Access-Control-Allow-Origin"))

		// Preflights: with the location named, only its origins pass.
		pre := must(t, s.do(t, call{Method: "OPTIONS", Path: "/v2/cardtickets?location-api-key=" + second.Location.APIKey, NoAuth: true,
			Header: map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}}), 200)
		diff(t, []string{"", "POST, OPTIONS"}, []string{pre.Header.Get("Access-Control-Allow-Origin"), pre.Header.Get("Allow")})
		pre = must(t, s.do(t, call{Method: "OPTIONS", Path: "/v2/cardtickets?location-api-key=" + second.Location.APIKey, NoAuth: true,
			Header: map[string]string{"Origin": "https://shop.example"}}), 200)
		diff(t, "https://shop.example", pre.Header.Get("Access-Control-Allow-Origin"))
		// With user credentials, the ticket's location (the body's location_id) answers CORS,
		// not the user's primary location (a sandbox location that allows any origin).
		_, wide := s.mustUser(t, vault.NewUser{Username: "tickets", LastName: "Tickets", PrimaryLocationID: loc, LocationIDs: []string{second.Location.ID}})
		userBody := `{"cardticket":{"location_id":"` + second.Location.ID + `","account_number":"4111111111111111","exp_date":"1228"}}`
		for origin, want := range map[string]string{"https://shop.example": "https://shop.example", "https://evil.example": ""} {
			r = must(t, s.do(t, call{Method: "POST", Path: "/v2/cardtickets", Body: userBody, As: &wide, Header: map[string]string{"Origin": origin}}), 201)
			diff(t, []string{want, "Origin"}, []string{r.Header.Get("Access-Control-Allow-Origin"), r.Header.Get("Vary")})
		}
		// Its errors before the body is read answer for the primary location.
		r = must(t, s.do(t, call{Method: "POST", Path: "/v2/cardtickets", Body: `{`, As: &wide, Malformed: true, Header: map[string]string{"Origin": "https://evil.example"}}), 400)
		diff(t, "https://evil.example", r.Header.Get("Access-Control-Allow-Origin"))
		// The ticket lives in its location only.
		tid := must(t, s.do(t, call{Method: "POST", Path: "/v2/cardtickets", Body: ticketBody, NoAuth: true, Header: browser(hdr, "https://shop.example")}), 201).record(t, "cardticket")["id"].(string)
		r = must(t, s.post(t, "/v2/accountvaults", `{"accountvault":{"location_id":"`+loc+`","payment_method":"cc","ticket":"`+tid+`"}}`), 422)
		diff(t, `{"errors":{"ticket":["Ticket is invalid."]}}`, string(r.Body))
	})

	t.Run("ok/fifteen-minutes-then-swept", func(t *testing.T) {
		tid := must(t, s.post(t, "/v2/cardtickets", `{"cardticket":{"location_id":"`+loc+`","account_number":"4111111111111111","exp_date":"1228","cvv":"123"}}`), 201).record(t, "cardticket")["id"].(string)
		s.clock.Add(15*time.Minute + time.Second)
		r := must(t, s.post(t, "/v2/accountvaults", `{"accountvault":{"location_id":"`+loc+`","payment_method":"cc","ticket":"`+tid+`"}}`), 422)
		diff(t, `{"errors":{"ticket":["Ticket is invalid."]}}`, string(r.Body))
		n, err := s.svc.SweepTokens(ctx)
		if err != nil || n < 1 {
			t.Fatalf("sweep = %d, %v", n, err)
		}
		if _, err := s.store.GetOneTimeToken(ctx, s.creds.MerchantID, tid); vault.KindOf(err) != vault.NotFound {
			t.Errorf("an expired ticket survived the sweep: %v", err)
		}
	})
}

// TestCardTicketBrowserAuthFailures checks that every failure of a browser credential on
// POST /v2/cardtickets, on either engine, is §1.4's 401 in JSON with the same headers and
// body, whether the location api key is unknown, another location's, malformed or right with
// a wrong hash-key or timestamp, sent as headers or as query parameters: nothing in the
// answer tells whether a key exists. The page reads the error (CORS for its origin).
func TestCardTicketBrowserAuthFailures(t *testing.T) {
	engines(t, func(t *testing.T, s *server) {
		c := s.creds.Fortis
		other := s.mustLocation(t, "Other")
		ts := strconv.FormatInt(s.clock.Now().Unix(), 10)
		unknown := c.LocationAPIKey[:len(c.LocationAPIKey)-4] + "zzzz"
		body := `{"cardticket":{"account_number":"4111111111111111","exp_date":"1228"}}`
		const want = `{"name":"Unauthorized","message":"Your request was made with invalid credentials.","code":0,"status":401}`
		tests := []struct {
			name  string
			hdr   map[string]string
			query string
		}{
			{"fail/unknown-key", s.browserHeaders(unknown, c.TicketHashKey, 0), ""},
			{"fail/wrong-hash", s.browserHeaders(c.LocationAPIKey, "not-the-ticket-hash-key", 0), ""},
			{"fail/other-locations-hash", s.browserHeaders(c.LocationAPIKey, other.TicketHashKey, 0), ""},
			{"fail/stale-known-key", s.browserHeaders(c.LocationAPIKey, c.TicketHashKey, -901*time.Second), ""},
			{"fail/stale-unknown-key", s.browserHeaders(unknown, c.TicketHashKey, -901*time.Second), ""},
			{"fail/timestamp-not-a-number", map[string]string{"location-api-key": c.LocationAPIKey, "timestamp": "1e9", "hash-key": "00"}, ""},
			{"fail/timestamp-too-long", map[string]string{"location-api-key": c.LocationAPIKey, "timestamp": "99999999999999999999", "hash-key": "00"}, ""},
			{"fail/hash-not-hex", map[string]string{"location-api-key": c.LocationAPIKey, "timestamp": ts, "hash-key": "\u00e9\u00e9"}, ""},
			{"fail/key-only", map[string]string{"location-api-key": c.LocationAPIKey}, ""},
			{"fail/none", nil, ""},
			{"fail/query-unknown-key", nil, "location-api-key=" + unknown + "&timestamp=" + ts + "&hash-key=00"},
			{"fail/query-key-nul", nil, "location-api-key=%00&timestamp=" + ts + "&hash-key=00"},
			{"fail/query-key-not-utf8", nil, "location-api-key=%ff%fe&timestamp=" + ts + "&hash-key=%ff"},
			{"fail/query-key-long", nil, "location-api-key=" + strings.Repeat("k", 4096) + "&timestamp=" + ts + "&hash-key=00"},
			{"fail/query-key-array", nil, "location-api-key[]=" + c.LocationAPIKey + "&timestamp=" + ts + "&hash-key=00"},
		}
		var first http.Header
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				hdr := map[string]string{"Origin": "https://shop.example"}
				for k, v := range tt.hdr {
					hdr[k] = v
				}
				path := "/v2/cardtickets"
				if tt.query != "" {
					path += "?" + tt.query
				}
				r := must(t, s.do(t, call{Method: "POST", Path: path, Body: body, NoAuth: true, Header: hdr, Malformed: true}), http.StatusUnauthorized)
				diff(t, want, string(r.Body))
				h := r.Header.Clone()
				h.Del("X-Request-Id")
				diff(t, "application/json; charset=UTF-8", h.Get("Content-Type"))
				diff(t, "https://shop.example", h.Get("Access-Control-Allow-Origin"))
				if first == nil {
					first = h
					return
				}
				diff(t, first, h)
			})
		}
	})
}
