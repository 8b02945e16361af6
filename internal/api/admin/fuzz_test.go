package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// adminCodes are the README's error codes and their statuses (TestErrorCodes).
var adminCodes = map[string]int{
	"bad_json": 400, "bad_request": 400, "invalid": 400, "unauthorized": 401, "not_found": 404, "method_not_allowed": 405,
	"conflict": 409, "idempotency_conflict": 409, "too_large": 413, "rate_limited": 429, "internal": 500,
	"unavailable": 503,
}

// FuzzAdminBody sends arbitrary bodies to every admin route that takes one, in process over a
// real SQLite store: every answer is JSON, never a 5xx; a 4xx is {"error":{"code","message"}}
// with a documented code and its status, and leaves the database unchanged.
func FuzzAdminBody(f *testing.F) {
	e := MustEnv(f)
	ctx := context.Background()
	c, err := e.svc.CreateMerchant(ctx, vault.NewMerchant{Name: "Fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	e.logs.Forbid(c.Paysafe.APIKeySecret, c.Paysafe.SingleUseKeySecret, c.Fortis.UserAPIKey, c.Fortis.TicketHashKey)
	rep := strings.NewReplacer("{mid}", c.MerchantID, "{lid}", c.Fortis.LocationID, "{uid}", c.Fortis.UserID)
	// The routes that change merchants' records; batch and the key routes, which would rotate
	// keys by the thousand under a fuzzer, are left out.
	routes := bodyRoutes[:8]
	for _, s := range []struct {
		route int
		body  string
	}{
		{0, `{"name":"Shop"}`}, {0, `{"name":"Shop","live":true,"account_number":"89987201"}`}, {0, `{"name":"x","colour":"red"}`},
		{0, `{"name":"x","live":"yes"}`}, {0, `{"name":`}, {0, "{\"name\":\"\xff\"}"}, {0, `{"name":"a\u0000"}`}, {0, `[]`}, {0, ``},
		{1, `{"allowed_origins":["https://shop.example","http://localhost:8080"]}`}, {1, `{"allowed_origins":["javascript:alert(1)"]}`},
		{2, `{"name":"Second","account_number":"12345678"}`}, {3, `{"allowed_origins":[]}`},
		{4, `{"username":"u","email":"u@example.com","first_name":"U","last_name":"V","primary_location_id":"{lid}","location_ids":["{lid}"],"user_api_key":"0123456789abcdef0123"}`},
		{5, `{"status":0,"location_ids":["{lid}"],"primary_location_id":"{lid}","user_api_key":"short"}`},
		{6, `{"location_id":"{lid}","payment_method":"cc","title":"CC","processor":"sandbox","make_default":true,"run_avs_on_accountvault_create":true,"auto_decline_cvv":1}`},
		{6, `{"payment_method":"cash"}`}, {7, `{"status":"ACTIVE","reason":"x","reason_code":"1"}`}, {7, `{}`},
	} {
		f.Add(uint8(s.route), s.body)
	}
	watch := storetest.MustWatch(f, e.store.DB())
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		r := routes[int(route)%len(routes)]
		before := watch.Snapshot(t)
		req := httptest.NewRequest(r.method, "http://vault.test/", strings.NewReader(rep.Replace(body)))
		req.URL.Path = rep.Replace(r.path)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		var b struct {
			Error *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
			t.Fatalf("%s %s: %d answer is not JSON: %q", r.method, r.path, rec.Code, rec.Body)
		}
		if rec.Code >= 500 {
			t.Fatalf("%s %s: server error %d: %s", r.method, r.path, rec.Code, rec.Body)
		}
		if rec.Code < 400 {
			return
		}
		if b.Error == nil || adminCodes[b.Error.Code] != rec.Code || b.Error.Message == "" {
			t.Fatalf("%s %s: %d is not a documented admin error: %s", r.method, r.path, rec.Code, rec.Body)
		}
		if ch := before.Changed(watch.Snapshot(t)); len(ch) > 0 {
			t.Fatalf("%s %s refused with %s changed %v", r.method, r.path, b.Error.Code, ch)
		}
		if rec.Code == http.StatusUnauthorized {
			t.Fatal("the admin token was refused")
		}
	})
}
