package paysafe_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestQueryPlusIsSpace shows what a Python-SDK-shaped lookup gets. The Python SDK does not
// URL-encode query values (§1.3 item 9), so a merchantCustomerId or merchantRefNum holding
// "+" reaches the server as a raw "+". The vendor's servlet container reads "+" in a query
// as a space, and so does payvault: only startDate and endDate read a space back as "+"
// (§1.3 item 9). A value holding "+" is found when the client encodes it as %2B (Java, Node).
func TestQueryPlusIsSpace(t *testing.T) {
	e := mustPayEnv(t)
	plus := e.MustProfile(t, "a+b")
	space := e.MustProfile(t, "a b")
	e.MustProfile(t, "c+d")
	lookup := "/customervault/v1/profiles?merchantCustomerId="

	t.Run("ok/profile-raw-plus-reads-space", func(t *testing.T) {
		if got := e.must(t, 200, call{method: "GET", path: lookup + "a+b"}).str("id"); got != space {
			t.Errorf("?merchantCustomerId=a+b found %q, want the profile of \"a b\" %q", got, space)
		}
	})
	t.Run("ok/profile-encoded-plus", func(t *testing.T) {
		if got := e.must(t, 200, call{method: "GET", path: lookup + "a%2Bb"}).str("id"); got != plus {
			t.Errorf("?merchantCustomerId=a%%2Bb found %q, want the profile of \"a+b\" %q", got, plus)
		}
	})
	t.Run("fail/profile-raw-plus-not-found", func(t *testing.T) {
		r := e.must(t, 404, call{method: "GET", path: lookup + "c+d"})
		msg, _ := r.body["error"].(map[string]any)["message"].(string)
		if r.code() != "5269" || msg != "The ID(s) specified in the URL do not correspond to the values in the system.: c d" {
			t.Errorf("?merchantCustomerId=c+d = %s", r.raw)
		}
	})

	e.mustAuth(t, "r+1", 100, false)
	for _, tt := range []struct {
		name, query string
		want        int
	}{
		{"ok/auths-raw-plus-reads-space", "r+1", 0},
		{"ok/auths-encoded-plus", "r%2B1", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.must(t, 200, call{method: "GET", path: e.path("auths?merchantRefNum=" + tt.query)})
			auths, _ := r.body["auths"].([]any)
			if d := cmp.Diff(tt.want, len(auths)); d != "" {
				t.Errorf("auths listed (-want +got)\n%s\n%s", d, r.raw)
			}
		})
	}
}
