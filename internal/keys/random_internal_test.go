package keys

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestUUIDv7Ordering(t *testing.T) {
	var g uuidGen
	newUUIDv7 := g.next
	base := time.UnixMilli(1_700_000_000_000)
	prev := newUUIDv7(base)
	if d := cmp.Diff("018bcfe5-6800-7", prev[:15]); d != "" {
		t.Errorf("timestamp and version digits (-want +got)\n%s", d)
	}
	for i := 1; i <= 1000; i++ {
		next := newUUIDv7(base.Add(time.Duration(i) * time.Millisecond))
		if next <= prev {
			t.Fatalf("UUID %d ms later %q does not sort after %q", i, next, prev)
		}
		prev = next
	}
	// Ids of one millisecond share the 48-bit timestamp.
	var g2 uuidGen
	a, b := g2.next(base), g2.next(base.Add(999*time.Microsecond))
	if a[:13] != b[:13] {
		t.Errorf("same-millisecond ids %q and %q differ in the timestamp", a, b)
	}
	// Ids of one millisecond, and of a clock that steps back, still increase.
	later := base.Add(2000 * time.Millisecond)
	prev = newUUIDv7(later)
	for i := range 10000 {
		now := later
		if i%3 == 0 {
			now = later.Add(-time.Second)
		}
		next := newUUIDv7(now)
		if next <= prev {
			t.Fatalf("id %d of one millisecond %q does not sort after %q", i, next, prev)
		}
		prev = next
	}
}
