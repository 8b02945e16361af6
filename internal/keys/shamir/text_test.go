package shamir

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"
)

// katText is the text form of the shares in TestSplitWithReaderKnownAnswer,
// computed with the same independent Python reference (bitwise CRC-32C).
var katText = []string{
	"payvault-share-v1:3:1:mRBMlC9pO3Q8DCu8:1748e7ac",
	"payvault-share-v1:3:2:I1MT8AkX5nz7Lij7:3671371e",
	"payvault-share-v1:3:3:yiImEkcLsXycz5mJ:8bb8f098",
	"payvault-share-v1:3:4:iGitHkzC80SjGOTN:00194826",
	"payvault-share-v1:3:5:YRmY_ALepETE-VW_:779848d2",
}

// withChecksum appends a correct checksum to body, so tests can build text
// that passes the checksum and fails a later check.
func withChecksum(body string) string {
	return fmt.Sprintf("%s:%08x", body, crc32.Checksum([]byte(body), crc32.MakeTable(crc32.Castagnoli)))
}

func TestShareStringKnownAnswer(t *testing.T) {
	shares, err := SplitWithReader([]byte("payvault"), 5, 3, newSeededReader("payvault shamir kat 1"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range shares {
		got = append(got, s.String())
	}
	if d := cmp.Diff(katText, got); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	var parsed []Share
	for _, line := range katText[1:4] {
		s, err := ParseShare(line)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, s)
	}
	secret, err := Combine(parsed)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff("payvault", string(secret)); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}

func TestChecksumKnownAnswer(t *testing.T) {
	// The CRC-32C check value from RFC 3720 appendix B.4 and the CRC catalogue.
	if d := cmp.Diff("e3069283", checksum("123456789")); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}

func TestParseShare(t *testing.T) {
	y := mustHex(t, "99104c942f693b743c0c2bbc")
	tests := []struct {
		name    string
		in      string
		want    Share
		wantErr error
	}{
		{"ok", katText[0], Share{X: 1, Y: y, Threshold: 3}, nil},
		{"ok/surrounding-space", " \t" + katText[0] + "\r\n", Share{X: 1, Y: y, Threshold: 3}, nil},
		{"ok/limits", withChecksum("payvault-share-v1:255:255:AAAAAAA"), Share{X: 255, Y: make([]byte, 5), Threshold: 255}, nil},
		{"fail/empty", "", Share{}, ErrMalformed},
		{"fail/other-text", "correct horse battery staple", Share{}, ErrMalformed},
		{"fail/prefix-case", strings.ToUpper(katText[0][:1]) + katText[0][1:], Share{}, ErrMalformed},
		{"fail/version-2", withChecksum("payvault-share-v2:3:1:mRBMlC9pO3Q8DCu8"), Share{}, ErrMalformed},
		{"fail/no-version", "payvault-share-", Share{}, ErrMalformed},
		{"fail/too-few-fields", "payvault-share-v1:3:1:1748e7ac", Share{}, ErrMalformed},
		{"fail/too-many-fields", withChecksum("payvault-share-v1:3:1:mRBMlC9pO3Q8DCu8:x"), Share{}, ErrMalformed},
		{"fail/inner-space", strings.Replace(katText[0], ":", ": ", 1), Share{}, ErrChecksum},
		{"fail/checksum-mismatch", katText[0][:len(katText[0])-8] + "1748e7ad", Share{}, ErrChecksum},
		{"fail/checksum-of-other-share", katText[0][:len(katText[0])-8] + katText[1][len(katText[1])-8:], Share{}, ErrChecksum},
		{"fail/checksum-uppercase", katText[0][:len(katText[0])-8] + "1748E7AC", Share{}, ErrMalformed},
		{"fail/checksum-short", katText[0][:len(katText[0])-1], Share{}, ErrMalformed},
		{"fail/checksum-long", katText[0] + "0", Share{}, ErrMalformed},
		{"fail/checksum-not-hex", katText[0][:len(katText[0])-8] + "1748e7ag", Share{}, ErrMalformed},
		{"fail/threshold-leading-zero", withChecksum("payvault-share-v1:03:1:mRBMlC9pO3Q8DCu8"), Share{}, ErrMalformed},
		{"fail/threshold-sign", withChecksum("payvault-share-v1:+3:1:mRBMlC9pO3Q8DCu8"), Share{}, ErrMalformed},
		{"fail/threshold-one", withChecksum("payvault-share-v1:1:1:mRBMlC9pO3Q8DCu8"), Share{}, ErrMalformed},
		{"fail/threshold-256", withChecksum("payvault-share-v1:256:1:mRBMlC9pO3Q8DCu8"), Share{}, ErrMalformed},
		{"fail/threshold-empty", withChecksum("payvault-share-v1::1:mRBMlC9pO3Q8DCu8"), Share{}, ErrMalformed},
		{"fail/threshold-long", withChecksum("payvault-share-v1:0003:1:mRBMlC9pO3Q8DCu8"), Share{}, ErrMalformed},
		{"fail/x-zero", withChecksum("payvault-share-v1:3:0:mRBMlC9pO3Q8DCu8"), Share{}, ErrMalformed},
		{"fail/x-256", withChecksum("payvault-share-v1:3:256:mRBMlC9pO3Q8DCu8"), Share{}, ErrMalformed},
		{"fail/x-hex", withChecksum("payvault-share-v1:3:0x1:mRBMlC9pO3Q8DCu8"), Share{}, ErrMalformed},
		{"fail/y-padded", withChecksum("payvault-share-v1:3:1:AAAAAAA="), Share{}, ErrMalformed},
		{"fail/y-std-alphabet", withChecksum("payvault-share-v1:3:5:YRmY/ALepETE+VW/"), Share{}, ErrMalformed},
		{"fail/y-trailing-bits", withChecksum("payvault-share-v1:3:1:AAAAAAB"), Share{}, ErrMalformed},
		{"fail/y-impossible-length", withChecksum("payvault-share-v1:3:1:AAAAA"), Share{}, ErrMalformed},
		{"fail/y-empty", withChecksum("payvault-share-v1:3:1:"), Share{}, ErrMalformed},
		{"fail/y-only-digest", withChecksum("payvault-share-v1:3:1:AAAAAA"), Share{}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseShare(tt.in)
			if d := cmp.Diff(tt.wantErr, err, cmpopts.EquateErrors()); d != "" {
				t.Fatalf("error: (-want +got)\n%s", d)
			}
			if d := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestParseShareCatchesEveryOneCharacterTypo(t *testing.T) {
	const bodyStart = len("payvault-share-v1:")
	for _, line := range katText {
		sumStart := len(line) - checksumHex
		for i := range len(line) {
			for c := byte(' '); c <= '~'; c++ {
				if c == line[i] {
					continue
				}
				typo := line[:i] + string(c) + line[i+1:]
				_, err := ParseShare(typo)
				if err == nil {
					t.Fatalf("ParseShare accepted a typo at %d", i)
				}
				// Past the prefix, any change that keeps the fields intact
				// must be reported as a checksum error.
				inBody := i >= bodyStart && i < sumStart-1 && line[i] != ':' && c != ':'
				inSum := i >= sumStart && strings.IndexByte("0123456789abcdef", c) >= 0
				if (inBody || inSum) && !errors.Is(err, ErrChecksum) {
					t.Errorf("typo %q at %d in %q: got %v, want a checksum error", c, i, line, err)
				}
			}
		}
		// Swapping two adjacent characters is also a typo.
		for i := bodyStart; i+1 < sumStart-1; i++ {
			if line[i] == line[i+1] || line[i] == ':' || line[i+1] == ':' {
				continue
			}
			swapped := line[:i] + string(line[i+1]) + string(line[i]) + line[i+2:]
			if _, err := ParseShare(swapped); !errors.Is(err, ErrChecksum) {
				t.Errorf("swap at %d in %q: got %v, want a checksum error", i, line, err)
			}
		}
	}
}

func TestPropertyTextRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		secret, shares := drawSplit(t, 1)
		var parsed []Share
		for _, s := range shares {
			line := s.String()
			if strings.ContainsAny(line, " \t\r\n") {
				t.Fatalf("share text contains white space")
			}
			p, err := ParseShare(line)
			if err != nil {
				t.Fatalf("ParseShare(String()): %v", err)
			}
			if d := cmp.Diff(s, p); d != "" {
				t.Fatalf("(-want +got)\n%s", d)
			}
			if d := cmp.Diff(line, p.String()); d != "" {
				t.Fatalf("String is not canonical: (-want +got)\n%s", d)
			}
			parsed = append(parsed, p)
		}
		got, err := Combine(rapid.Permutation(parsed).Draw(t, "order"))
		if err != nil {
			t.Fatalf("Combine: %v", err)
		}
		if d := cmp.Diff(secret, got); d != "" {
			t.Fatalf("(-want +got)\n%s", d)
		}
	})
}

func TestShareLogValueRedacts(t *testing.T) {
	secret := []byte("SECRET-SECRET-SECRET-SECRET-0001")
	shares, err := SplitWithReader(secret, 3, 2, constReader(0))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.LogAttrs(context.Background(), slog.LevelInfo, "share", slog.Any("share", shares[1]))
	out := buf.String()
	for _, leak := range []string{shares[1].String(), hex.EncodeToString(shares[1].Y[:8]), "U0VDUkVU"} {
		if strings.Contains(out, leak) {
			t.Errorf("log line %q contains the share", out)
		}
	}
	if !strings.Contains(out, `"x":2`) || !strings.Contains(out, `"threshold":2`) {
		t.Errorf("log line %q lacks x and threshold", out)
	}
}
