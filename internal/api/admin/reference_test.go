package admin_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/storetest"
)

// TestLocationReferences: a location's parent_id must be a location of the same merchant, and
// the tz of a location or a user an IANA time zone; a refused one changes nothing.
func TestLocationReferences(t *testing.T) {
	e := MustEnv(t)
	a, rep := MustMerchant(t, e)
	b, _ := MustMerchant(t, e)
	watch := storetest.MustWatch(t, e.store.DB())
	locations := rep.Replace("/admin/v1/merchants/{mid}/locations")
	users := rep.Replace("/admin/v1/merchants/{mid}/users")
	type got struct {
		Answer   errAnswer
		ParentID string
		TZ       string
	}
	for _, tt := range []struct {
		name, path, body string
		want             got
	}{
		{"ok/parent", locations, `{"name":"Child","parent_id":"` + a.Fortis.LocationID + `"}`, got{errAnswer{Status: 201}, a.Fortis.LocationID, "America/New_York"}},
		{"ok/location-tz", locations, `{"name":"Toronto","tz":"America/Toronto"}`, got{errAnswer{Status: 201}, "", "America/Toronto"}},
		{"ok/location-tz-utc", locations, `{"name":"UTC","tz":"UTC"}`, got{errAnswer{Status: 201}, "", "UTC"}},
		{"fail/other-merchants-parent", locations, `{"name":"x","parent_id":"` + b.Fortis.LocationID + `"}`, got{Answer: errAnswer{400, "invalid", "parent_id"}}},
		{"fail/unknown-parent", locations, `{"name":"x","parent_id":"nope"}`, got{Answer: errAnswer{400, "invalid", "parent_id"}}},
		{"fail/path-parent", locations, `{"name":"x","parent_id":"../<script>"}`, got{Answer: errAnswer{400, "invalid", "parent_id"}}},
		{"fail/unknown-tz", locations, `{"name":"x","tz":"Mars/Olympus_Mons"}`, got{Answer: errAnswer{400, "invalid", "tz"}}},
		{"fail/local-tz", locations, `{"name":"x","tz":"Local"}`, got{Answer: errAnswer{400, "invalid", "tz"}}},
		{"fail/path-tz", locations, `{"name":"x","tz":"../../../etc/passwd"}`, got{Answer: errAnswer{400, "invalid", "tz"}}},
		{"fail/offset-tz", locations, `{"name":"x","tz":"+05:00"}`, got{Answer: errAnswer{400, "invalid", "tz"}}},
		{"ok/user-tz", users, `{"username":"berlin","tz":"Europe/Berlin"}`, got{errAnswer{Status: 201}, "", "Europe/Berlin"}},
		{"fail/user-unknown-tz", users, `{"username":"x","tz":"Europe/Atlantis"}`, got{Answer: errAnswer{400, "invalid", "tz"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := watch.Snapshot(t)
			r := e.do(t, "POST", tt.path, tt.body, "")
			g := got{Answer: r.answer()}
			if r.status == 201 {
				g.ParentID = r.str("parent_id")
				// A user's tz is not in the admin answer: read it from the store.
				g.TZ = r.str("tz")
				if tt.path == users {
					u, err := e.store.GetUser(t.Context(), r.str("id"))
					if err != nil {
						t.Fatal(err)
					}
					g.TZ = u.TZ
				}
			}
			if d := cmp.Diff(tt.want, g); d != "" {
				t.Errorf("(-want +got)\n%s\n%s", d, r.raw)
			}
			if ch := before.Changed(watch.Snapshot(t)); r.status >= 400 && len(ch) > 0 {
				t.Errorf("changed %v", ch)
			}
		})
	}
}
