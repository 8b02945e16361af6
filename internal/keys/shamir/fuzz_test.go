package shamir

import (
	"errors"
	"strings"
	"testing"
)

// parseErrors is every error text ParseShare may return. FuzzParseShare
// checks each error against this list rather than checking that the error
// does not contain the input: an error drawn from a fixed list cannot depend
// on the input at all, which is the stronger property, and it does not fail
// on inputs such as "share" that happen to be words of a fixed message. A
// new message must be added here, and reviewed, before the fuzz target
// passes.
var parseErrors = map[string]bool{
	`shamir: text does not start with "payvault-share-"`:                       true,
	"shamir: share version is not v1":                                          true,
	"shamir: share does not have 5 colon-separated fields":                     true,
	"shamir: share checksum is not 8 lowercase hex digits":                     true,
	"shamir: share checksum does not match: the share was mistyped or damaged": true,
	"shamir: share threshold is not a number from 2 to 255":                    true,
	"shamir: share x is not a number from 1 to 255":                            true,
	"shamir: share value is not unpadded base64url":                            true,
	"shamir: share value is too short to hold a secret":                        true,
}

func FuzzParseShare(f *testing.F) {
	for _, s := range katText {
		f.Add(s)
		f.Add(strings.ToUpper(s))
		f.Add(" " + s + "\n")
	}
	for _, s := range []string{
		"",
		"payvault-share-v1",
		"payvault-share-v1::::",
		"payvault-share-v1:3:1:mRBMlC9pO3Q8DCu8",
		"payvault-share-v1:2:9:AAAAAAAAAA",
		"payvault-share-v2:3:1:mRBMlC9pO3Q8DCu8:00000000",
		withChecksum("payvault-share-v1:03:1:mRBMlC9pO3Q8DCu8"),
		withChecksum("payvault-share-v1:3:1:AAAAAAB"),
		withChecksum("payvault-share-v1:255:255:AAAAAAA"),
		"payvault-share-v1:3:1:mRBMlC9pO3Q8DCu8:1748e7ac\x00",
		"payvault-share-\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkParse(t, in)
		// Most inputs fail the checksum; also parse the input with a
		// correct checksum appended so the field parsers get fuzzed too.
		checkParse(t, withChecksum(in))
	})
}

// checkParse checks one ParseShare call: an error comes from the fixed list
// and has a kind, and an accepted share is valid and prints back as its text.
func checkParse(tb testing.TB, in string) {
	tb.Helper()
	s, err := ParseShare(in)
	if err != nil {
		if !parseErrors[err.Error()] {
			tb.Fatalf("ParseShare returned an unlisted error %q", err)
		}
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrChecksum) {
			tb.Fatalf("error %q is neither ErrMalformed nor ErrChecksum", err)
		}
		return
	}
	if s.X == 0 || s.Threshold < 2 || s.Threshold > 255 || len(s.Y) <= digestLen {
		tb.Fatalf("ParseShare accepted an impossible share {X: %d, Threshold: %d, len(Y): %d}", s.X, s.Threshold, len(s.Y))
	}
	if got := s.String(); got != strings.TrimSpace(in) {
		tb.Fatalf("String() does not give back the accepted text")
	}
}
