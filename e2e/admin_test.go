package e2e

import (
	"testing"
)

// TestAdminProvisioning creates a merchant through the admin API of the real server, uses
// its Paysafe credentials, restricts its browser origins, and shows that the two merchants
// cannot see each other's data.
func TestAdminProvisioning(t *testing.T) {
	s := MustServer(t)
	bearer := "Bearer " + s.admin
	if r := s.send(t, "", "GET", "/admin/v1/merchants", ""); r.status != 401 || r.code() != "unauthorized" {
		t.Fatalf("no token: %d %s", r.status, r.raw)
	}
	m := s.send(t, bearer, "POST", "/admin/v1/merchants", `{"name":"Second shop"}`)
	if m.status != 201 {
		t.Fatalf("create merchant: %d %s", m.status, m.raw)
	}
	ps := m.body["paysafe"].(map[string]any)
	s.logs.Forbid(ps["api_key_secret"].(string), ps["single_use_key_secret"].(string), m.body["fortis"].(map[string]any)["user_api_key"].(string))
	second := basic{ps["api_key_id"].(string), ps["api_key_secret"].(string)}.header()
	secondSUT := basic{ps["single_use_key_id"].(string), ps["single_use_key_secret"].(string)}.header()
	c := s.main.Credentials
	first := basic{c.Paysafe.APIKeyID, c.Paysafe.APIKeySecret}.header()

	p := s.send(t, second, "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"shared-mcid","locale":"en_GB"}`)
	if p.status != 201 {
		t.Fatalf("profile with admin-made credentials: %d %s", p.status, p.raw)
	}
	// The same merchantCustomerId is free for another merchant, and neither sees the other's.
	if r := s.send(t, first, "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"shared-mcid","locale":"en_US"}`); r.status != 201 {
		t.Fatalf("same mcid, other merchant: %d %s", r.status, r.raw)
	}
	if r := s.send(t, first, "GET", "/customervault/v1/profiles/"+p.str("id"), ""); r.status != 404 || r.code() != "5269" {
		t.Errorf("foreign profile: %d %s", r.status, r.raw)
	}
	if r := s.send(t, first, "GET", "/customervault/v1/profiles?merchantCustomerId=shared-mcid", ""); r.str("locale") != "en_US" {
		t.Errorf("lookup found the other merchant's profile: %s", r.raw)
	}

	// Allowed origins set in the admin API govern the token endpoint's CORS.
	mid := m.str("merchant_id")
	if r := s.send(t, bearer, "PUT", "/admin/v1/merchants/"+mid+"/allowed-origins", `{"allowed_origins":["https://shop.example"]}`); r.status != 200 {
		t.Fatalf("origins: %d %s", r.status, r.raw)
	}
	tokenFrom := func(origin string) response {
		return s.sendWith(t, secondSUT, "POST", "/customervault/v1/singleusetokens",
			`{"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2040}}}`, map[string]string{"Origin": origin})
	}
	s.logs.Forbid("4111111111111111")
	if r := tokenFrom("https://shop.example"); r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Errorf("allowed origin: %d %v", r.status, r.header)
	}
	if r := tokenFrom("https://elsewhere.example"); r.status != 403 || r.code() != "5270" {
		t.Errorf("other origin: %d %s", r.status, r.raw)
	}
	// The single-use key can do nothing else.
	if r := s.send(t, secondSUT, "GET", "/customervault/v1/profiles/"+p.str("id"), ""); r.status != 403 || r.code() != "5270" {
		t.Errorf("single-use key on a profile: %d %s", r.status, r.raw)
	}

	// Both OpenAPI documents are served, and unknown paths answer JSON.
	for _, path := range []string{"/customervault/openapi.yaml", "/admin/v1/openapi.yaml"} {
		if r := s.sendRaw(t, "GET", path); r.status != 200 {
			t.Errorf("%s: %d", path, r.status)
		}
	}
	if r := s.send(t, "", "GET", "/no/such/thing", ""); r.status != 404 || r.code() != "5273" {
		t.Errorf("unknown path: %d %s", r.status, r.raw)
	}
	if r := s.send(t, bearer, "GET", "/admin/v1", ""); r.status != 404 || r.code() != "not_found" {
		t.Errorf("/admin/v1: %d %s", r.status, r.raw)
	}
}
