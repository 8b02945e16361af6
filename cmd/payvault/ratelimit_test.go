package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// limitAnswer sends a request and answers "status/code/Retry-After", code being the Paysafe
// or admin error code or the Fortis error name; header holds name and value pairs.
func limitAnswer(t *testing.T, method, url, body string, header ...string) string {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Error struct{ Code string } `json:"error"`
		Name  string                `json:"name"`
	}
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &out)
	return strconv.Itoa(resp.StatusCode) + "/" + out.Error.Code + out.Name + "/" + resp.Header.Get("Retry-After")
}

// TestServeRateLimitFlags: --rate-limit and --rate-burst limit a credential, 0 turns the
// limit off, and negative values are refused.
func TestServeRateLimitFlags(t *testing.T) {
	get := func(t *testing.T, url, path string, header ...string) string {
		return limitAnswer(t, "GET", url+path, "", header...)
	}
	const admin = "rate-limit-test-admin-token-0123456789"
	for _, tt := range []struct {
		name                 string
		args                 []string
		paysafe, fortis, adm []string
	}{
		{"ok/limited", []string{"--rate-limit", "0.05", "--rate-burst", "2"},
			[]string{"404/5269/", "404/5269/", "429/1200/20"},
			[]string{"200//", "200//", "429/Too Many Requests/20"},
			[]string{"200//", "200//", "429/rate_limited/20"}},
		{"ok/off", []string{"--rate-limit", "0"},
			[]string{"404/5269/", "404/5269/", "404/5269/"},
			[]string{"200//", "200//", "200//"},
			[]string{"200//", "200//", "200//"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := MustServe(t, t.TempDir(), []string{"PAYVAULT_ADMIN_TOKEN=" + admin}, tt.args...)
			creds := checkCredentialShape(t, firstJSON(t, s.stdout.String()))
			p, f := creds["paysafe"].(map[string]any), creds["fortis"].(map[string]any)
			basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(p["api_key_id"].(string)+":"+p["api_key_secret"].(string)))
			var gp, gf, ga []string
			for range 3 {
				gp = append(gp, get(t, s.url, "/customervault/v1/profiles/00000000-0000-7000-8000-000000000000", "Authorization", basic))
				gf = append(gf, get(t, s.url, "/v2/contacts", "developer-id", f["developer_id"].(string), "user-id", f["user_id"].(string), "user-api-key", f["user_api_key"].(string)))
				ga = append(ga, get(t, s.url, "/admin/v1/merchants", "Authorization", "Bearer "+admin))
			}
			if d := cmp.Diff([][]string{tt.paysafe, tt.fortis, tt.adm}, [][]string{gp, gf, ga}); d != "" {
				t.Errorf("Paysafe, Fortis and admin answers (-want +got)\n%s", d)
			}
			s.Stop(t)
		})
	}
	if _, stderr, err := run(t, t.TempDir(), nil, "serve", "--listen", "127.0.0.1:0", "--rate-limit=-1"); err == nil || !strings.Contains(stderr, "may not be negative") {
		t.Errorf("a negative rate: err %v, %s", err, stderr)
	}
}

// TestServePublicRateLimitFlags: --public-rate-limit and --public-rate-burst limit each client
// address of a public key (here the Paysafe single-use-token key), 0 turns the limit off, and
// negative values are refused.
func TestServePublicRateLimitFlags(t *testing.T) {
	const card = `{"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2040}}}`
	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"ok/limited", []string{"--public-rate-limit", "0.05", "--public-rate-burst", "2"}, []string{"200//", "200//", "429/1200/20"}},
		{"ok/off", []string{"--public-rate-limit", "0"}, []string{"200//", "200//", "200//"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := MustServe(t, t.TempDir(), nil, tt.args...)
			p := checkCredentialShape(t, firstJSON(t, s.stdout.String()))["paysafe"].(map[string]any)
			basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(p["single_use_key_id"].(string)+":"+p["single_use_key_secret"].(string)))
			var got []string
			for range 3 {
				got = append(got, limitAnswer(t, "POST", s.url+"/customervault/v1/singleusetokens", card, "Authorization", basic, "Content-Type", "application/json"))
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("single-use tokens (-want +got)\n%s", d)
			}
			s.Stop(t)
		})
	}
	if _, stderr, err := run(t, t.TempDir(), nil, "serve", "--listen", "127.0.0.1:0", "--public-rate-burst=-1"); err == nil || !strings.Contains(stderr, "may not be negative") {
		t.Errorf("a negative burst: err %v, %s", err, stderr)
	}
}
