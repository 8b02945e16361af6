package card

import (
	"fmt"
	"io"
	"strings"
)

// Track is the card data read from a magnetic stripe by ParseTrack.
type Track struct {
	PAN    string
	Name   string // the cardholder name from track 1, "" for track 2
	Expiry Expiry
}

// String returns a description of t that shows only the last four digits of the PAN and
// leaves out the name and the expiry, so that printing a Track by mistake leaks nothing.
func (t Track) String() string {
	return "card.Track{PAN:" + maskPAN(t.PAN) + "}"
}

// Format writes String for every verb, so that no verb of the fmt package (%v, %+v, %#v, %d,
// …) can print the PAN.
func (t Track) Format(f fmt.State, verb rune) {
	io.WriteString(f, t.String())
}

// The ISO/IEC 7813 maximum lengths of the tracks, sentinels included.
const (
	maxTrack1 = 79
	maxTrack2 = 40
)

// ParseTrack parses the magnetic-stripe data a card reader sends: one track, or track 1
// followed by track 2. The track forms are those of ISO/IEC 7813 (Identification cards —
// Financial transaction cards, the track 1 and track 2 layouts):
//
//   - track 1: %B<PAN>^<NAME>^<YYMM><service code and discretionary data>?
//   - track 2: ;<PAN>=<YYMM><service code and discretionary data>?
//
// A reader that reads both tracks sends them in track order with nothing between them, each
// with its own sentinels: %B…?;…?. Then track 1 gives the result (it also has the name), and
// track 2 must parse and carry the same PAN and expiry, or the input is refused.
//
// The PAN has 12 to 19 digits and the expiry is YYMM with a month from 01 to 12. On track 1
// the name field has at most 26 characters, and what follows the expiry is printable ASCII.
// On track 2 it is digits only. Each track is at most its ISO length long (79 and 40
// characters), the end sentinel '?' ends the input, and white space around the whole input is
// ignored. The PAN is not Luhn-checked here; the caller validates it like any other number.
//
// The name is trimmed. ISO/IEC 7813 writes it SURNAME/GIVEN NAMES (for example
// "SMITH/JOHN Q"), and ParseTrack turns that into "JOHN Q SMITH"; a name without '/' is kept
// as it is.
//
// Anything else returns ErrTrack, whose text does not contain the input.
func ParseTrack(s string) (Track, error) {
	s = strings.TrimSpace(s)
	var (
		t  Track
		ok bool
	)
	switch {
	case strings.HasPrefix(s, "%B"):
		// Track 1 holds no '?' before its end sentinel, so the first one ends it; what follows
		// is track 2 or nothing.
		t1, t2, ended := strings.Cut(s, "?")
		t, ok = parseTrack1(t1 + "?")
		ok = ok && ended
		if ok && t2 != "" {
			u, ok2 := parseTrack2(t2)
			ok = ok2 && u.PAN == t.PAN && u.Expiry == t.Expiry
		}
	case strings.HasPrefix(s, ";"):
		t, ok = parseTrack2(s)
	}
	if !ok {
		return Track{}, ErrTrack
	}
	return t, nil
}

// parseTrack1 parses a whole track 1 string that starts with "%B".
func parseTrack1(s string) (Track, bool) {
	if len(s) > maxTrack1 || !strings.HasSuffix(s, "?") {
		return Track{}, false
	}
	body := s[2 : len(s)-1]
	for i := 0; i < len(body); i++ {
		if c := body[i]; c < ' ' || c > '~' || c == '?' || c == '%' {
			return Track{}, false
		}
	}
	pan, rest, ok := strings.Cut(body, "^")
	if !ok || !trackPAN(pan) {
		return Track{}, false
	}
	name, rest, ok := strings.Cut(rest, "^")
	if !ok || len(name) > 26 || len(rest) < 4 {
		return Track{}, false
	}
	exp, ok := parseYYMM(rest[:4])
	if !ok {
		return Track{}, false
	}
	return Track{PAN: pan, Name: trackName(name), Expiry: exp}, true
}

// parseTrack2 parses a whole track 2 string, from ';' to '?'.
func parseTrack2(s string) (Track, bool) {
	if len(s) < 2 || len(s) > maxTrack2 || s[0] != ';' || !strings.HasSuffix(s, "?") {
		return Track{}, false
	}
	body := s[1 : len(s)-1]
	pan, rest, ok := strings.Cut(body, "=")
	if !ok || !trackPAN(pan) || len(rest) < 4 || !Digits(rest) {
		return Track{}, false
	}
	exp, ok := parseYYMM(rest[:4])
	if !ok {
		return Track{}, false
	}
	return Track{PAN: pan, Expiry: exp}, true
}

// trackPAN reports whether s is a PAN as a track carries it: 12 to 19 ASCII digits.
func trackPAN(s string) bool {
	return len(s) >= 12 && len(s) <= 19 && Digits(s)
}

// trackName turns a track 1 name field into a display name: "SMITH/JOHN Q" becomes
// "JOHN Q SMITH", and a name without '/' is only trimmed.
func trackName(s string) string {
	surname, given, ok := strings.Cut(s, "/")
	if !ok {
		return strings.TrimSpace(s)
	}
	surname, given = strings.TrimSpace(surname), strings.TrimSpace(given)
	switch {
	case given == "":
		return surname
	case surname == "":
		return given
	}
	return given + " " + surname
}

// maskPAN returns pan with all but its last four characters replaced by '*'. A number of
// eight characters or fewer is masked whole.
func maskPAN(pan string) string {
	if len(pan) <= 8 {
		return strings.Repeat("*", len(pan))
	}
	return strings.Repeat("*", len(pan)-4) + pan[len(pan)-4:]
}
