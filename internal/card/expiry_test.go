package card

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseMMYY(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Expiry
		wantErr bool
	}{
		{"ok/fortis-seed", "0919", Expiry{Month: 9, Year: 2019}, false},
		{"ok/december", "1228", Expiry{Month: 12, Year: 2028}, false},
		{"ok/year-2000", "0100", Expiry{Month: 1, Year: 2000}, false},
		{"ok/year-2099", "1299", Expiry{Month: 12, Year: 2099}, false},
		{"fail/month-00", "0019", Expiry{}, true},
		{"fail/month-13", "1319", Expiry{}, true},
		{"fail/three-digits", "919", Expiry{}, true},
		{"fail/five-digits", "09190", Expiry{}, true},
		{"fail/slash", "09/19", Expiry{}, true},
		{"fail/yymm-is-not-mmyy", "1913", Expiry{}, true},
		{"fail/letters", "ab12", Expiry{}, true},
		{"fail/fullwidth-digits", "０９１９", Expiry{}, true},
		{"fail/empty", "", Expiry{}, true},
		{"fail/space", " 0919", Expiry{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMMYY(tt.in)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
			if d := cmp.Diff(tt.wantErr, err != nil); d != "" {
				t.Errorf("error %v (-want +got)\n%s", err, d)
			}
			if err != nil && !errors.Is(err, ErrExpiry) {
				t.Errorf("error %v is not ErrExpiry", err)
			}
		})
	}
}

func TestMMYY(t *testing.T) {
	tests := []struct {
		name string
		in   Expiry
		want string
	}{
		{"ok", Expiry{Month: 9, Year: 2019}, "0919"},
		{"ok/december", Expiry{Month: 12, Year: 2028}, "1228"},
		{"ok/year-2000", Expiry{Month: 1, Year: 2000}, "0100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, tt.in.MMYY()); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestExpiryValid(t *testing.T) {
	tests := []struct {
		name string
		in   Expiry
		want bool
	}{
		{"ok", Expiry{Month: 12, Year: 2030}, true},
		{"ok/past", Expiry{Month: 12, Year: 2019}, true},
		{"ok/bounds-low", Expiry{Month: 1, Year: 2000}, true},
		{"ok/bounds-high", Expiry{Month: 12, Year: 2099}, true},
		{"fail/month-0", Expiry{Month: 0, Year: 2030}, false},
		{"fail/month-13", Expiry{Month: 13, Year: 2030}, false},
		{"fail/two-digit-year", Expiry{Month: 12, Year: 30}, false},
		{"fail/year-1999", Expiry{Month: 12, Year: 1999}, false},
		{"fail/year-2100", Expiry{Month: 1, Year: 2100}, false},
		{"fail/zero", Expiry{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, tt.in.Valid()); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestMonthsUntil(t *testing.T) {
	nov2026 := time.Date(2026, time.November, 15, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		mmyy string
		now  time.Time
		want int
	}{
		{"ok/fortis-seed-in-november-2026", "0919", nov2026, -86},
		{"ok/december-2028-in-november-2026", "1228", nov2026, 25},
		{"ok/same-month", "1126", nov2026, 0},
		{"ok/next-month", "1226", nov2026, 1},
		{"ok/last-month", "1026", nov2026, -1},
		{"ok/now-in-other-zone-is-read-in-utc", "1126",
			time.Date(2026, time.December, 1, 0, 30, 0, 0, time.FixedZone("CET", 3600)), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseMMYY(tt.mmyy)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, e.MonthsUntil(tt.now)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestExpired(t *testing.T) {
	nov2026 := Expiry{Month: 11, Year: 2026}
	tests := []struct {
		name string
		e    Expiry
		now  time.Time
		want bool
	}{
		{"ok/first-instant-of-month", nov2026, time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC), false},
		{"ok/last-instant-of-month", nov2026, time.Date(2026, time.November, 30, 23, 59, 59, 999999999, time.UTC), false},
		{"ok/before", nov2026, time.Date(2025, time.December, 31, 0, 0, 0, 0, time.UTC), false},
		{"ok/utc-end-of-month-seen-from-east", nov2026, time.Date(2026, time.December, 1, 0, 30, 0, 0, time.FixedZone("CET", 3600)), false},
		{"fail/next-month", nov2026, time.Date(2026, time.December, 1, 0, 0, 0, 0, time.UTC), true},
		{"fail/utc-next-month-seen-from-west", nov2026, time.Date(2026, time.November, 30, 20, 0, 0, 0, time.FixedZone("EST", -5*3600)), true},
		{"fail/years-ago", Expiry{Month: 9, Year: 2019}, time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, tt.e.Expired(tt.now)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func FuzzParseMMYY(f *testing.F) {
	for _, s := range []string{"0919", "1228", "0000", "1300", "", "09/19", "٠٩١٩"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseMMYY(s)
		if err != nil {
			if err != ErrExpiry || e != (Expiry{}) {
				t.Fatalf("ParseMMYY(%q) = %+v, %v", s, e, err)
			}
			return
		}
		if !e.Valid() {
			t.Fatalf("ParseMMYY(%q) = %+v, which is not valid", s, e)
		}
		if e.MMYY() != s {
			t.Fatalf("ParseMMYY(%q).MMYY() = %q", s, e.MMYY())
		}
	})
}
