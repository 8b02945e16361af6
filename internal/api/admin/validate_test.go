package admin_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/storetest"
)

// fullAnswer is an error answer with its message.
type fullAnswer struct {
	Status               int
	Code, Field, Message string
}

func (r reply) full() fullAnswer {
	e, _ := r.body["error"].(map[string]any)
	f, _ := e["field"].(string)
	m, _ := e["message"].(string)
	return fullAnswer{r.status, r.code(), f, m}
}

// TestProvisioningLimits: the provisioning fields have limits and rules (openapi.yaml); a
// value that breaks one is 400 invalid on that field, or 409 conflict for a taken unique
// value, and changes nothing. No message repeats what the client sent.
func TestProvisioningLimits(t *testing.T) {
	e := MustEnv(t)
	_, rep := MustMerchant(t, e)
	b, _ := MustMerchant(t, e)
	watch := storetest.MustWatch(t, e.store.DB())
	e.must(t, 201, "POST", rep.Replace("/admin/v1/merchants/{mid}/locations"), `{"name":"L","location_api_id":"x"}`)
	e.must(t, 201, "POST", rep.Replace("/admin/v1/merchants/{mid}/users"), `{"username":"Clerk"}`)
	const (
		bad    = "The value is invalid."
		length = "The value is invalid: bad length."
		format = "The value is invalid: bad format."
		unused = "The value is invalid: does not exist or cannot be used."
		taken  = "The value is already in use."
	)
	merchants := "/admin/v1/merchants"
	locations := rep.Replace("/admin/v1/merchants/{mid}/locations")
	users := rep.Replace("/admin/v1/merchants/{mid}/users")
	user := rep.Replace("/admin/v1/merchants/{mid}/users/{uid}")
	pts := rep.Replace("/admin/v1/merchants/{mid}/product-transactions")
	for _, tt := range []struct {
		name, method, path, body string
		want                     fullAnswer
	}{
		{"ok/merchant-name-200", "POST", merchants, `{"name":"` + strings.Repeat("é", 200) + `"}`, fullAnswer{Status: 201}},
		{"fail/merchant-name-201", "POST", merchants, `{"name":"` + strings.Repeat("n", 201) + `"}`, fullAnswer{400, "invalid", "name", length}},
		{"fail/merchant-name-blank", "POST", merchants, `{"name":"  "}`, fullAnswer{400, "invalid", "name", "The value is invalid: required."}},

		{"fail/location-api-id-taken", "POST", locations, `{"name":"L2","location_api_id":"x"}`, fullAnswer{409, "conflict", "location_api_id", taken}},
		{"ok/location-api-id-case", "POST", locations, `{"name":"L3","location_api_id":"X"}`, fullAnswer{Status: 201}},
		{"ok/location-api-id-other-merchant", "POST", "/admin/v1/merchants/" + b.MerchantID + "/locations", `{"name":"L","location_api_id":"x"}`, fullAnswer{Status: 201}},
		{"fail/location-api-id-long", "POST", locations, `{"name":"L","location_api_id":"` + strings.Repeat("a", 65) + `"}`, fullAnswer{400, "invalid", "location_api_id", length}},
		{"fail/location-parent-not-echoed", "POST", locations, `{"name":"L","parent_id":"zzz"}`, fullAnswer{400, "invalid", "parent_id", unused}},
		{"fail/location-parent-card-number", "POST", locations, `{"name":"L","parent_id":"4111111111111111"}`, fullAnswer{400, "invalid", "parent_id", unused}},
		{"fail/location-tz", "POST", locations, `{"name":"L","tz":"Mars/Base"}`, fullAnswer{400, "invalid", "tz", format}},

		{"fail/user-username-taken", "POST", users, `{"username":"clerk"}`, fullAnswer{409, "conflict", "username", taken}},
		{"fail/user-username-taken-spaces", "POST", users, `{"username":" Clerk "}`, fullAnswer{409, "conflict", "username", taken}},
		{"ok/user-username-other-merchant", "POST", "/admin/v1/merchants/" + b.MerchantID + "/users", `{"username":"Clerk"}`, fullAnswer{Status: 201}},
		{"fail/user-username-long", "POST", users, `{"username":"` + strings.Repeat("u", 65) + `"}`, fullAnswer{400, "invalid", "username", length}},
		{"fail/user-email", "POST", users, `{"username":"u1","email":"not-an-email"}`, fullAnswer{400, "invalid", "email", format}},
		{"fail/user-email-short", "POST", users, `{"username":"u1","email":"a@b"}`, fullAnswer{400, "invalid", "email", length}},
		{"fail/user-email-long", "POST", users, `{"username":"u1","email":"` + strings.Repeat("a", 60) + `@b.co"}`, fullAnswer{400, "invalid", "email", length}},
		{"ok/user-email", "POST", users, `{"username":"u2","email":"clerk@shop.example","first_name":"` + strings.Repeat("f", 64) + `"}`, fullAnswer{Status: 201}},
		{"fail/user-first-name-long", "POST", users, `{"username":"u3","first_name":"` + strings.Repeat("f", 65) + `"}`, fullAnswer{400, "invalid", "first_name", length}},
		{"fail/user-last-name-long", "POST", users, `{"username":"u3","last_name":"` + strings.Repeat("l", 65) + `"}`, fullAnswer{400, "invalid", "last_name", length}},
		{"fail/user-primary-unknown", "POST", users, `{"username":"u4","primary_location_id":"nope"}`, fullAnswer{400, "invalid", "primary_location_id", unused}},
		{"fail/user-primary-other-merchant", "POST", users, `{"username":"u4","primary_location_id":"` + b.Fortis.LocationID + `"}`, fullAnswer{400, "invalid", "primary_location_id", unused}},
		{"fail/user-locations-other-merchant", "POST", users, `{"username":"u4","location_ids":["` + b.Fortis.LocationID + `"]}`, fullAnswer{400, "invalid", "location_ids", unused}},
		{"fail/user-update-primary-unknown", "PUT", user, `{"primary_location_id":"nope"}`, fullAnswer{400, "invalid", "primary_location_id", unused}},
		{"fail/user-update-locations-unknown", "PUT", user, `{"location_ids":["nope"]}`, fullAnswer{400, "invalid", "location_ids", unused}},

		{"fail/pt-title-long", "POST", pts, `{"payment_method":"cc","title":"` + strings.Repeat("t", 5000) + `"}`, fullAnswer{400, "invalid", "title", length}},
		{"ok/pt-title-64", "POST", pts, `{"payment_method":"cc","title":"` + strings.Repeat("t", 64) + `","processor":"sandbox"}`, fullAnswer{Status: 201}},
		{"fail/pt-processor-sandbox-merchant", "POST", pts, `{"payment_method":"cc","processor":"stripe"}`, fullAnswer{400, "invalid", "processor", unused}},
		{"fail/pt-processor-format", "POST", pts, `{"payment_method":"cc","processor":"Str ipe"}`, fullAnswer{400, "invalid", "processor", format}},
		{"fail/pt-location-unknown", "POST", pts, `{"payment_method":"cc","location_id":"zzz"}`, fullAnswer{400, "invalid", "location_id", unused}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := watch.Snapshot(t)
			r := e.do(t, tt.method, tt.path, tt.body, "")
			got := r.full()
			if r.status < 300 {
				got = fullAnswer{Status: r.status}
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got)\n%s\n%s", d, r.raw)
			}
			if ch := before.Changed(watch.Snapshot(t)); r.status >= 400 && len(ch) > 0 {
				t.Errorf("changed %v", ch)
			}
			for _, echo := range []string{"zzz", "nope", "4111", "Mars", "not-an-email", "stripe", "invalid ("} {
				if r.status >= 400 && strings.Contains(string(r.raw), echo) {
					t.Errorf("the answer repeats %q: %s", echo, r.raw)
				}
			}
		})
	}
}

// TestLocationAPIIDRace: of concurrent creates of one location api id on one merchant,
// exactly one wins; the others are 409 conflict.
func TestLocationAPIIDRace(t *testing.T) {
	e := MustEnv(t)
	_, rep := MustMerchant(t, e)
	const n = 8
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.do(t, "POST", rep.Replace("/admin/v1/merchants/{mid}/locations"), `{"name":"L","location_api_id":"race"}`, "").status
		}()
	}
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if d := cmp.Diff(map[int]int{201: 1, 409: n - 1}, count); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}
