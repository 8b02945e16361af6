package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestFortisPaysafeOneCore shows that both APIs are views of one core: a Paysafe profile is a
// Fortis contact, a Paysafe card is a Fortis cc vault, a Paysafe account number is a Fortis
// location, and a contact delete through Fortis only detaches the card (no Paysafe cascade).
func TestFortisPaysafeOneCore(t *testing.T) {
	m, _ := startFortis(t)
	base := m.URL()
	ps := m.Credentials.Paysafe
	f := m.Credentials.Fortis
	paysafe := func(method, path, body string, want int) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.SetBasicAuth(ps.APIKeyID, ps.APIKeySecret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
		}
		var out map[string]any
		json.Unmarshal(b, &out)
		return out
	}
	fortis := func(method, path string, want int) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		req.Header.Set("developer-id", f.DeveloperID)
		req.Header.Set("user-id", f.UserID)
		req.Header.Set("user-api-key", f.UserAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
		}
		var out map[string]any
		json.Unmarshal(b, &out)
		return out
	}

	prof := paysafe("POST", "/customervault/v1/profiles", `{"merchantCustomerId":"one-core-1","locale":"en_US","firstName":"Ada","lastName":"Lovelace","email":"ada@example.com"}`, 201)
	pid := prof["id"].(string)
	card := paysafe("POST", "/customervault/v1/profiles/"+pid+"/cards", `{"cardNum":"5454545454545454","cardExpiry":{"month":12,"year":2030},"holderName":"Ada L"}`, 201)

	contact := fortis("GET", "/v2/contacts/"+pid, 200)["contact"].(map[string]any)
	if contact["last_name"] != "Lovelace" || contact["email"] != "ada@example.com" || contact["location_id"] != f.LocationID {
		t.Errorf("the Paysafe profile as a Fortis contact: %v", contact)
	}
	v := fortis("GET", "/v2/accountvaults/"+card["id"].(string), 200)["accountvault"].(map[string]any)
	if v["contact_id"] != pid || v["first_six"] != "545454" || v["exp_date"] != "1230" || v["account_type"] != "mc" || v["account_holder_name"] != "Ada L" {
		t.Errorf("the Paysafe card as a Fortis vault: %v", v)
	}
	loc := fortis("GET", "/v2/locations/"+f.LocationID, 200)["location"].(map[string]any)
	if loc["account_number"] != ps.AccountNumber {
		t.Errorf("location account_number %v, Paysafe account %s", loc["account_number"], ps.AccountNumber)
	}

	// A Fortis contact delete detaches: the card lives on without its profile.
	fortis("DELETE", "/v2/contacts/"+pid, 204)
	v = fortis("GET", "/v2/accountvaults/"+card["id"].(string), 200)["accountvault"].(map[string]any)
	if v["contact_id"] != nil || v["active"] != float64(1) {
		t.Errorf("after the contact delete: %v", v)
	}
	paysafe("GET", "/customervault/v1/profiles/"+pid, "", 404)
}
