package card

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseTrack(t *testing.T) {
	const pan = "4111111111111111"
	dec2025 := Expiry{Month: 12, Year: 2025}
	tests := []struct {
		name    string
		in      string
		want    Track
		wantErr bool
	}{
		{"ok/track1", "%B" + pan + "^SMITH/JOHN^2512101000000000000000000?",
			Track{PAN: pan, Name: "JOHN SMITH", Expiry: dec2025}, false},
		{"ok/track1-padded-name-with-initial-and-title", "%B" + pan + "^SMITH/JOHN Q.MR          ^2512101?",
			Track{PAN: pan, Name: "JOHN Q.MR SMITH", Expiry: dec2025}, false},
		{"ok/track1-name-without-slash", "%B" + pan + "^ JOHN SMITH ^2512?",
			Track{PAN: pan, Name: "JOHN SMITH", Expiry: dec2025}, false},
		{"ok/track1-surname-only", "%B" + pan + "^SMITH/^2512101?",
			Track{PAN: pan, Name: "SMITH", Expiry: dec2025}, false},
		{"ok/track1-given-name-only", "%B" + pan + "^/JOHN^2512101?",
			Track{PAN: pan, Name: "JOHN", Expiry: dec2025}, false},
		{"ok/track1-empty-name", "%B" + pan + "^^2512101?",
			Track{PAN: pan, Expiry: dec2025}, false},
		{"ok/track1-26-character-name", "%B" + pan + "^" + strings.Repeat("A", 26) + "^2512?",
			Track{PAN: pan, Name: strings.Repeat("A", 26), Expiry: dec2025}, false},
		{"ok/track1-amex-15", "%B378282246310005^DOE/JANE^2701101?",
			Track{PAN: "378282246310005", Name: "JANE DOE", Expiry: Expiry{Month: 1, Year: 2027}}, false},
		{"ok/track1-12-digit-pan", "%B501800000009^DOE/JANE^2701?",
			Track{PAN: "501800000009", Name: "JANE DOE", Expiry: Expiry{Month: 1, Year: 2027}}, false},
		{"ok/track1-trailing-newline", "%B" + pan + "^SMITH/JOHN^2512101?\r\n",
			Track{PAN: pan, Name: "JOHN SMITH", Expiry: dec2025}, false},
		{"ok/track2", ";" + pan + "=25121010000000000000?",
			Track{PAN: pan, Expiry: dec2025}, false},
		{"ok/track2-expiry-only", ";" + pan + "=2512?",
			Track{PAN: pan, Expiry: dec2025}, false},
		{"ok/track2-19-digit-pan", ";4000000000000000006=2512101?",
			Track{PAN: "4000000000000000006", Expiry: dec2025}, false},
		{"fail/empty", "", Track{}, true},
		{"fail/plain-pan", pan, Track{}, true},
		{"fail/track1-no-start-sentinel", "B" + pan + "^SMITH/JOHN^2512101?", Track{}, true},
		{"fail/track1-format-code-a", "%A" + pan + "^SMITH/JOHN^2512101?", Track{}, true},
		{"fail/track1-lower-case-format-code", "%b" + pan + "^SMITH/JOHN^2512101?", Track{}, true},
		{"fail/track1-no-end-sentinel", "%B" + pan + "^SMITH/JOHN^2512101", Track{}, true},
		{"fail/track1-data-after-end-sentinel", "%B" + pan + "^SMITH/JOHN^2512101?X", Track{}, true},
		// A reader that reads both tracks sends track 1 then track 2 (ISO/IEC 7813): track 1
		// is used, and track 2 must carry the same PAN and expiry.
		{"ok/track1-followed-by-track2", "%B" + pan + "^SMITH/JOHN^2512101?;" + pan + "=2512101?",
			Track{PAN: pan, Name: "JOHN SMITH", Expiry: dec2025}, false},
		{"ok/track1-followed-by-track2-full-length", "%B" + pan + "^SMITH/JOHN^2512101000000000000000000?;" + pan + "=25121010000000000000?\r\n",
			Track{PAN: pan, Name: "JOHN SMITH", Expiry: dec2025}, false},
		{"fail/track1-followed-by-track2-other-pan", "%B" + pan + "^SMITH/JOHN^2512101?;4012888888881881=2512101?", Track{}, true},
		{"fail/track1-followed-by-track2-other-expiry", "%B" + pan + "^SMITH/JOHN^2512101?;" + pan + "=2612101?", Track{}, true},
		{"fail/track1-followed-by-bad-track2", "%B" + pan + "^SMITH/JOHN^2512101?;" + pan + "=25A2101?", Track{}, true},
		{"fail/track1-followed-by-track2-no-end-sentinel", "%B" + pan + "^SMITH/JOHN^2512101?;" + pan + "=2512101", Track{}, true},
		{"fail/track1-followed-by-two-track2", "%B" + pan + "^SMITH/JOHN^2512101?;" + pan + "=2512101?;" + pan + "=2512101?", Track{}, true},
		{"fail/track1-followed-by-track1", "%B" + pan + "^SMITH/JOHN^2512101?%B" + pan + "^SMITH/JOHN^2512101?", Track{}, true},
		{"fail/track2-followed-by-track1", ";" + pan + "=2512101?%B" + pan + "^SMITH/JOHN^2512101?", Track{}, true},
		{"fail/track1-space-then-track2", "%B" + pan + "^SMITH/JOHN^2512101? ;" + pan + "=2512101?", Track{}, true},
		{"fail/track1-pan-11-digits", "%B41111111111^SMITH/JOHN^2512101?", Track{}, true},
		{"fail/track1-pan-20-digits", "%B41111111111111111111^SMITH/JOHN^2512101?", Track{}, true},
		{"fail/track1-pan-with-spaces", "%B4111 1111 1111 1111^SMITH/JOHN^2512101?", Track{}, true},
		{"fail/track1-name-27-characters", "%B" + pan + "^" + strings.Repeat("A", 27) + "^2512?", Track{}, true},
		{"fail/track1-one-separator", "%B" + pan + "^2512101?", Track{}, true},
		{"fail/track1-no-expiry", "%B" + pan + "^SMITH/JOHN^?", Track{}, true},
		{"fail/track1-short-expiry", "%B" + pan + "^SMITH/JOHN^251?", Track{}, true},
		{"fail/track1-month-13", "%B" + pan + "^SMITH/JOHN^2513101?", Track{}, true},
		{"fail/track1-month-00", "%B" + pan + "^SMITH/JOHN^2500101?", Track{}, true},
		{"fail/track1-letter-in-expiry", "%B" + pan + "^SMITH/JOHN^25A2101?", Track{}, true},
		{"fail/track1-control-character", "%B" + pan + "^SMITH/JOHN\x00^2512101?", Track{}, true},
		{"fail/track1-non-ascii-name", "%B" + pan + "^MÜLLER/JÖRG^2512101?", Track{}, true},
		{"fail/track1-too-long", "%B" + pan + "^SMITH/JOHN^2512101" + strings.Repeat("0", 60) + "?", Track{}, true},
		{"fail/track2-no-separator", ";" + pan + "2512101?", Track{}, true},
		{"fail/track2-track1-separator", ";" + pan + "^2512101?", Track{}, true},
		{"fail/track2-no-end-sentinel", ";" + pan + "=2512101", Track{}, true},
		{"fail/track2-letter-in-discretionary-data", ";" + pan + "=2512101A?", Track{}, true},
		{"fail/track2-month-13", ";" + pan + "=2513101?", Track{}, true},
		{"fail/track2-short-expiry", ";" + pan + "=251?", Track{}, true},
		{"fail/track2-pan-11-digits", ";41111111111=2512101?", Track{}, true},
		{"fail/track2-too-long", ";" + pan + "=2512101" + strings.Repeat("0", 20) + "?", Track{}, true},
		{"fail/track2-two-separators", ";" + pan + "=2512=101?", Track{}, true},
		{"fail/sentinel-only", "%B?", Track{}, true},
		{"fail/semicolon-only", ";", Track{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTrack(tt.in)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
			if d := cmp.Diff(tt.wantErr, err != nil); d != "" {
				t.Errorf("error %v (-want +got)\n%s", err, d)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, ErrTrack) {
				t.Errorf("error %v is not ErrTrack", err)
			}
			if msg := err.Error(); strings.Contains(msg, "4111") || strings.Contains(msg, "SMITH") {
				t.Errorf("error text %q contains part of the input", msg)
			}
		})
	}
}

func TestTrackPrintsNoSecret(t *testing.T) {
	tr, err := ParseTrack("%B4111111111111111^SMITH/JOHN^2512101?")
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		for _, arg := range []any{tr, &tr, []Track{tr}} {
			out := fmt.Sprintf(verb, arg)
			if strings.Contains(out, "41111111") || strings.Contains(out, "SMITH") || strings.Contains(out, "2512") {
				t.Errorf("Sprintf(%q, %T) = %q shows card data", verb, arg, out)
			}
		}
	}
	if d := cmp.Diff("card.Track{PAN:************1111}", tr.String()); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}

func FuzzParseTrack(f *testing.F) {
	for _, s := range []string{
		"%B4111111111111111^SMITH/JOHN^2512101000000000000000000?",
		"%B4111111111111111^^2512?",
		";4111111111111111=25121010000000000000?",
		";4111111111111111=2512?",
		"%B4111111111111111^SMITH/JOHN^2512101?;4111111111111111=2512101?",
		"", "%B?", ";=?", "%B^^?",
	} {
		f.Add(s)
	}
	digitRun := regexp.MustCompile(`[0-9]{4,}`)
	f.Fuzz(func(t *testing.T, s string) {
		tr, err := ParseTrack(s)
		if err != nil {
			msg := err.Error()
			for _, run := range digitRun.FindAllString(s, -1) {
				for i := 0; i+4 <= len(run); i++ {
					if strings.Contains(msg, run[i:i+4]) {
						t.Fatalf("error text %q contains digits of the input", msg)
					}
				}
			}
			if tr != (Track{}) {
				t.Fatalf("ParseTrack returned data with an error")
			}
			return
		}
		if len(tr.PAN) < 12 || len(tr.PAN) > 19 || !Digits(tr.PAN) {
			t.Fatalf("ParseTrack(%q) returned a bad PAN %q", s, tr.PAN)
		}
		if !strings.Contains(s, tr.PAN) {
			t.Fatalf("ParseTrack(%q) returned a PAN that is not in the input", s)
		}
		if !tr.Expiry.Valid() {
			t.Fatalf("ParseTrack(%q) returned an invalid expiry %+v", s, tr.Expiry)
		}
		if len(tr.Name) > 26 || strings.TrimSpace(tr.Name) != tr.Name {
			t.Fatalf("ParseTrack(%q) returned a bad name %q", s, tr.Name)
		}
		if out := tr.String(); strings.Contains(out, tr.PAN[:len(tr.PAN)-4]) {
			t.Fatalf("Track.String shows the PAN: %q", out)
		}
	})
}
