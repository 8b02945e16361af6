package sqlstore

import (
	"testing"

	"github.com/payvault/payvault/internal/keys"
)

// TestFenceSetAllows is the key fence's rule (keyfence.go) for one keyset, held keys {primary
// 7, digest 70}, at now 100000 with a bound of 1000 ms.
func TestFenceSetAllows(t *testing.T) {
	held := keys.KeyState{Primary: 7, Digest: 70}
	const now, bound = 100000, 1000
	for _, tc := range []struct {
		name string
		row  fenceSet
		want bool
	}{
		{"ok/unchanged", fenceSet{primary: 7, state: 70, changed: 1, primaryChanged: 1}, true},
		{"ok/not-fenced", fenceSet{}, true},
		{"ok/status-changed-recently", fenceSet{primary: 7, state: 71, changed: now - bound + 1, primaryChanged: 1}, true},
		{"ok/demoted-recently", fenceSet{primary: 8, state: 80, demoted: 7, changed: now - 10, primaryChanged: now - bound + 1}, true},
		{"fail/status-changed-long-ago", fenceSet{primary: 7, state: 71, changed: now - bound, primaryChanged: 1}, false},
		{"fail/demoted-long-ago", fenceSet{primary: 8, state: 80, demoted: 7, changed: now - bound, primaryChanged: now - bound}, false},
		// a key retired (or destroyed) since the rotation: the keys changed just now, but the
		// demotion did not
		{"fail/demoted-long-ago-changed-since", fenceSet{primary: 8, state: 81, demoted: 7, changed: now - 1, primaryChanged: now - 2*bound}, false},
		{"fail/two-rotations", fenceSet{primary: 9, state: 90, demoted: 8, changed: now - 1, primaryChanged: now - 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.row.allows(held, now, bound); got != tc.want {
				t.Errorf("allows = %v, want %v", got, tc.want)
			}
		})
	}
}
