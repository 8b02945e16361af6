package app

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRoutesOwners: each path is answered by the API that owns its prefix, in that API's
// JSON envelope, never by a redirect: all of /admin by the admin API, every unknown path by
// the Paysafe API (5273).
func TestRoutesOwners(t *testing.T) {
	_, url := mustApp(t)
	adminNotFound := map[string]any{"error": map[string]any{"code": "not_found", "message": "No such route."}}
	tests := []struct {
		name, path string
		status     int
		owner      string // "admin" or "paysafe"
	}{
		{"ok/admin", "/admin", 404, "admin"},
		{"ok/admin-slash", "/admin/", 404, "admin"},
		{"ok/admin-other", "/admin/v2/keys", 404, "admin"},
		{"ok/admin-v1", "/admin/v1", 404, "admin"},
		{"ok/admin-v1-slash", "/admin/v1/", 404, "admin"},
		{"ok/admin-unclean", "/admin/./v1", 404, "admin"},
		{"ok/adminx", "/adminx", 404, "paysafe"},
		{"ok/unknown", "/no/such/thing", 404, "paysafe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := send(t, "GET", url+tt.path, "", nil)
			if r.status != tt.status || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %q %s", r.status, r.header.Get("Content-Type"), r.raw)
			}
			switch tt.owner {
			case "admin":
				if d := cmp.Diff(adminNotFound, r.body); d != "" {
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
