package app

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRoutesOwners: each path is answered by the API that owns its prefix, in that API's
// JSON envelope, never by a redirect: all of /admin by the admin API, every path whose first
// segment is v2 in any case (after any empty ones) by the Fortis API, every other unknown
// path by the Paysafe API (5273).
func TestRoutesOwners(t *testing.T) {
	_, url := mustApp(t)
	adminNotFound := map[string]any{"error": map[string]any{"code": "not_found", "message": "No such route."}}
	fortisNotFound := map[string]any{"name": "Not Found", "message": "Page not found.", "code": 0.0, "status": 404.0}
	tests := []struct {
		name, path string
		status     int
		owner      string // "admin", "fortis" or "paysafe"
	}{
		{"ok/admin", "/admin", 404, "admin"},
		{"ok/admin-slash", "/admin/", 404, "admin"},
		{"ok/admin-other", "/admin/v2/keys", 404, "admin"},
		{"ok/admin-v1", "/admin/v1", 404, "admin"},
		{"ok/admin-v1-slash", "/admin/v1/", 404, "admin"},
		{"ok/admin-unclean", "/admin/./v1", 404, "admin"},
		{"ok/adminx", "/adminx", 404, "paysafe"},
		{"ok/unknown", "/no/such/thing", 404, "paysafe"},
		{"ok/v2-unknown", "/v2/nothing", 404, "fortis"},
		{"ok/v2-double-slash", "//v2/accountvaults", 404, "fortis"},
		{"ok/v2-triple-slash", "///v2/accountvaults", 404, "fortis"},
		{"ok/v2-upper", "/V2/accountvaults", 404, "fortis"},
		{"ok/v2-upper-bare", "/V2", 404, "fortis"},
		{"ok/v2-upper-slash", "/V2/", 404, "fortis"},
		{"ok/v2-double-upper", "//V2/contacts", 404, "fortis"},
		{"ok/v2-unclean", "/V2/./accountvaults", 404, "fortis"},
		{"ok/v2x", "/v2x/accountvaults", 404, "paysafe"},
		{"ok/v2-later", "/x/v2/accountvaults", 404, "paysafe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := send(t, "GET", url+tt.path, "", nil)
			ct := "application/json"
			if tt.owner == "fortis" {
				ct = "application/json; charset=UTF-8" // §1.1
			}
			if r.status != tt.status || r.header.Get("Content-Type") != ct {
				t.Fatalf("%d %q %s", r.status, r.header.Get("Content-Type"), r.raw)
			}
			switch tt.owner {
			case "admin":
				if d := cmp.Diff(adminNotFound, r.body); d != "" {
					t.Errorf("(-want +got)\n%s", d)
				}
			case "fortis":
				if d := cmp.Diff(fortisNotFound, r.body); d != "" {
					t.Errorf("(-want +got)\n%s", d)
				}
			case "paysafe":
				if e, _ := r.body["error"].(map[string]any); e == nil || e["code"] != "5273" {
					t.Errorf("want Paysafe's 5273: %s", r.raw)
				}
			}
		})
	}
}
