package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/payvault/payvault/internal/app"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/vault"
)

// The seed's two create examples, verbatim: comments and sample ids included.
const (
	seedCreateCC = `{
    "accountvault": {
        "title": "Test CC Account",
        "payment_method": "cc", // Required
        "account_holder_name": "John Smith",
        "account_number":"5454545454545454", // Required
        "exp_date": "0919", // Required for "cc"
        "contact_id": "54c285f1-678d-9510-318c-bcb13ab0c1c2",
        "location_id": "sd9fusd9f-678d-9510-318c-bcb13ab4324" // Required
    }
}`
	seedCreateACH = `{
    "accountvault": {
        "title": "Test ACH Account",
        "payment_method": "ach", // Required
        "account_holder_name": "John Smith",
        "account_number":"700953657", // Required
        "account_type": "checking", // Required for "ach"
        "is_company": false, // Required for "ach"
        "routing": "100020200", // Required for "ach"
        "contact_id": "54c285f1-678d-9510-318c-bcb13ab0c1c2",
        "location_id": "sd9fusd9f-678d-9510-318c-bcb13ab4324" // Required
    }
}`
)

// seedComment matches the seed's // comments, which end their lines (no string there holds //).
var seedComment = regexp.MustCompile(`(?m)[ \t]*//.*$`)

// fortisClient talks to a running payvault's Fortis API and validates every exchange against
// the OpenAPI document the server publishes.
type fortisClient struct {
	base   string
	creds  vault.FortisCredentials
	router routers.Router
}

type fortisAnswer struct {
	status int
	header http.Header
	body   []byte
}

func (a *fortisAnswer) record(t *testing.T, key string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("not JSON: %s", a.body)
	}
	r, ok := m[key].(map[string]any)
	if !ok {
		t.Fatalf("no %s in %s", key, a.body)
	}
	return r
}

func (a *fortisAnswer) list(t *testing.T, key string) ([]any, map[string]any) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("not JSON: %s", a.body)
	}
	return m[key].([]any), m["meta"].(map[string]any)["pagination"].(map[string]any)
}

// do sends a request with the merchant user's credentials unless hdr overrides them.
func (c *fortisClient) do(t *testing.T, method, path, body string, want int, hdr map[string]string) *fortisAnswer {
	t.Helper()
	build := func() *http.Request {
		req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if _, browser := hdr["location-api-key"]; !browser {
			req.Header.Set("developer-id", c.creds.DeveloperID)
			req.Header.Set("user-id", c.creds.UserID)
			req.Header.Set("user-api-key", c.creds.UserAPIKey)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		return req
	}
	resp, err := http.DefaultClient.Do(build())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	ans := &fortisAnswer{status: resp.StatusCode, header: resp.Header, body: b}
	if ans.status != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, ans.status, want, b)
	}
	// Validate the exchange against the served OpenAPI document.
	req := build()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s: no operation in openapi.yaml: %v", method, path, err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		t.Fatalf("%s %s: request does not match openapi.yaml: %v", method, path, err)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: ans.status, Header: ans.header, Options: opts}
	out.SetBodyBytes(b)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Fatalf("%s %s: response does not match openapi.yaml: %v\n%s", method, path, err, b)
	}
	return ans
}

// startFortis runs the real app.Main on 127.0.0.1:0 with a fresh data dir (MustServer), with
// the Fortis examples' account numbers forbidden in its logs too.
func startFortis(t *testing.T) (*app.Main, *logtest.Capture) {
	t.Helper()
	s := MustServer(t)
	s.logs.Forbid("700953657", "5454545454545454")
	return s.main, s.logs
}

// newFortisClient is a client of m's Fortis API as its sandbox user, validating every exchange
// against the OpenAPI document m serves.
func newFortisClient(t *testing.T, m *app.Main) *fortisClient {
	t.Helper()
	base := m.URL()
	resp, err := http.Get(base + "/v2/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	c := &fortisClient{base: base, creds: m.Credentials.Fortis, router: router}
	return c
}

// TestFortisEndToEnd runs the seed's two create examples verbatim, the browser ticket flow,
// api-id addressing, list paging, filters and expands against a real server.
func TestFortisEndToEnd(t *testing.T) {
	m, logs := startFortis(t)
	base := m.URL()
	f := m.Credentials.Fortis

	c := newFortisClient(t, m) // the served OpenAPI document validates every exchange below

	contact := c.do(t, "POST", "/v2/contacts", `{"contact":{"location_id":"`+f.LocationID+`","first_name":"John","last_name":"Smith","contact_api_id":"JS1"}}`, 201, nil).record(t, "contact")["id"].(string)
	seed := func(body string) string {
		body = seedComment.ReplaceAllString(body, "")
		body = strings.ReplaceAll(body, "sd9fusd9f-678d-9510-318c-bcb13ab4324", f.LocationID)
		return strings.ReplaceAll(body, "54c285f1-678d-9510-318c-bcb13ab0c1c2", contact)
	}

	t.Run("ok/seed-create-examples", func(t *testing.T) {
		cc := c.do(t, "POST", "/v2/accountvaults", seed(seedCreateCC), 201, nil).record(t, "accountvault")
		ach := c.do(t, "POST", "/v2/accountvaults", seed(seedCreateACH), 201, nil).record(t, "accountvault")
		want := []any{"cc", "Test CC Account", "John Smith", "545454", "5454", "0919", nil, "mc", f.LocationID, contact, nil, float64(1)}
		got := []any{cc["payment_method"], cc["title"], cc["account_holder_name"], cc["first_six"], cc["last_four"], cc["exp_date"], cc["routing"], cc["account_type"], cc["location_id"], cc["contact_id"], cc["ach_sec_code"], cc["active"]}
		if !equal(want, got) {
			t.Errorf("cc vault: got %v, want %v", got, want)
		}
		want = []any{"ach", "Test ACH Account", nil, "3657", nil, "100020200", "checking", "WEB", nil}
		got = []any{ach["payment_method"], ach["title"], ach["first_six"], ach["last_four"], ach["exp_date"], ach["routing"], ach["account_type"], ach["ach_sec_code"], ach["expiring_in_months"]}
		if !equal(want, got) {
			t.Errorf("ach vault: got %v, want %v", got, want)
		}
	})

	t.Run("ok/ticket-flow", func(t *testing.T) {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		hdr := map[string]string{"location-api-key": f.LocationAPIKey, "timestamp": ts,
			"hash-key": vault.BrowserHashKey(f.TicketHashKey, f.LocationAPIKey, ts), "Origin": "https://shop.example"}
		// The browser's preflight, then the ticket.
		pre, err := http.NewRequest("OPTIONS", base+"/v2/cardtickets", nil)
		if err != nil {
			t.Fatal(err)
		}
		pre.Header.Set("Origin", "https://shop.example")
		pre.Header.Set("Access-Control-Request-Method", "POST")
		presp, err := http.DefaultClient.Do(pre)
		if err != nil {
			t.Fatal(err)
		}
		presp.Body.Close()
		if presp.StatusCode != 200 || presp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
			t.Fatalf("preflight: %d %v", presp.StatusCode, presp.Header)
		}
		tk := c.do(t, "POST", "/v2/cardtickets", `{"cardticket":{"account_number":"4111111111111111","exp_date":"1230","cvv":"999","billing_zip":"32606"}}`, 201, hdr)
		if tk.header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
			t.Errorf("ticket answer lacks CORS: %v", tk.header)
		}
		id := tk.record(t, "cardticket")["id"].(string)
		body := `{"accountvault":{"location_id":"` + f.LocationID + `","payment_method":"cc","ticket":"` + id + `","title":"From ticket"}}`
		v := c.do(t, "POST", "/v2/accountvaults", body, 201, nil).record(t, "accountvault")
		if v["first_six"] != "411111" || v["exp_date"] != "1230" || v["billing_zip"] != "32606" {
			t.Errorf("vault from ticket = %v", v)
		}
		c.do(t, "POST", "/v2/accountvaults", body, 422, nil) // single use
	})

	t.Run("ok/api-id-addressing", func(t *testing.T) {
		v := c.do(t, "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"`+f.LocationID+`","payment_method":"cc","account_number":"4012888888881881","exp_date":"1228","account_vault_api_id":"ExtRef1"}}`, 201, nil).record(t, "accountvault")
		byAPI := "/v2/accountvaults/ExtRef1?api_id=1&location_id=" + f.LocationID
		if got := c.do(t, "GET", byAPI, "", 200, nil).record(t, "accountvault")["id"]; got != v["id"] {
			t.Errorf("GET by api id = %v", got)
		}
		c.do(t, "PUT", byAPI, `{"accountvault":{"exp_date":"0130"}}`, 200, nil)
		c.do(t, "GET", "/v2/accountvaults/ExtRef1/bininfo?api_id=1", "", 200, nil)
		c.do(t, "DELETE", byAPI, "", 204, nil)
		c.do(t, "DELETE", byAPI, "", 410, nil)
		c.do(t, "GET", "/v2/accountvaults/NoSuch?api_id=1", "", 404, nil)
		c.do(t, "GET", "/v2/contacts/JS1?api_id=1", "", 200, nil)
	})

	t.Run("ok/list-paging-filters-expands", func(t *testing.T) {
		for i := 0; i < 5; i++ {
			c.do(t, "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"`+f.LocationID+`","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","title":"page `+strconv.Itoa(i)+`"}}`, 201, nil)
		}
		items, p := c.do(t, "GET", "/v2/accountvaults?title=PAGE&page_size=2&page=2&sort=title", "", 200, nil).list(t, "accountvaults")
		if len(items) != 2 || items[0].(map[string]any)["title"] != "page 2" || p["totalCount"] != float64(5) || p["pageCount"] != float64(3) || p["currentPage"] != float64(1) {
			t.Errorf("page 2: %v %v", items, p)
		}
		links := p["links"].(map[string]any)
		if got := links["next"].(map[string]any)["href"]; got != base+"/v2/accountvaults?title=PAGE&page_size=2&sort=title&page=3" {
			t.Errorf("next = %v", got)
		}
		items, _ = c.do(t, "GET", "/v2/accountvaults?payment_method=ach&expand=contact,location", "", 200, nil).list(t, "accountvaults")
		if len(items) != 1 {
			t.Fatalf("ach filter: %d vaults", len(items))
		}
		v := items[0].(map[string]any)
		if v["contact"].(map[string]any)["id"] != contact || v["location"].(map[string]any)["id"] != f.LocationID {
			t.Errorf("expands = %v / %v", v["contact"], v["location"])
		}
		items, _ = c.do(t, "GET", "/v2/accountvaults?created_ts=today&payment_method=cc,ach&page_size=50", "", 200, nil).list(t, "accountvaults")
		if len(items) != 8 {
			t.Errorf("today: %d vaults, want 8", len(items))
		}
	})

	if strings.Contains(logs.String(), f.UserAPIKey) {
		t.Error("the user api key reached the logs")
	}
}

func equal(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
