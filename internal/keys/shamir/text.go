package shamir

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"log/slog"
	"strconv"
	"strings"
)

// The text form of a share is one line:
//
//	payvault-share-v1:<threshold>:<x>:<y>:<checksum>
//
// threshold and x are decimal without leading zeros, y is Share.Y in
// unpadded base64url, and checksum is the CRC-32C (Castagnoli) of everything
// before the last colon as eight lowercase hex digits.
//
// The checksum is there to catch typos when an operator types a share back
// in, not to resist tampering: anyone who can edit a share can recompute any
// unkeyed checksum, and Combine's digest check is what detects a share that
// does not belong. A CRC is better at the job than a truncated hash: a
// truncated SHA-256 misses any given typo with probability 2^-32, while
// CRC-32C is guaranteed to catch every error confined to 32 consecutive
// bits, which covers every single-character substitution and every swap of
// two adjacent characters.
const (
	textPrefix   = "payvault-share-"
	textVersion  = "v1"
	checksumHex  = 8
	fieldCount   = 5
	fieldsBefore = textPrefix + textVersion + ":"
)

// String returns the share as one line of text for an operator to print or
// store, in the form "payvault-share-v1:<threshold>:<x>:<y>:<checksum>";
// see ParseShare. The text is as secret as the share: it must never be
// logged. Go strings cannot be wiped, so the text stays in memory until the
// garbage collector reuses it.
func (s Share) String() string {
	var b strings.Builder
	b.Grow(len(fieldsBefore) + 8 + base64.RawURLEncoding.EncodedLen(len(s.Y)) + 1 + checksumHex)
	b.WriteString(fieldsBefore)
	b.WriteString(strconv.Itoa(s.Threshold))
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(int(s.X)))
	b.WriteByte(':')
	b.WriteString(base64.RawURLEncoding.EncodeToString(s.Y))
	body := b.String()
	return body + ":" + checksum(body)
}

// LogValue keeps the share's value out of structured logs: it logs x and
// the threshold only.
func (s Share) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("x", int(s.X)),
		slog.Int("threshold", s.Threshold),
		slog.String("y", "REDACTED"),
	)
}

var _ slog.LogValuer = Share{}

// ParseShare reads a share written by Share.String. It ignores leading and
// trailing white space. It checks the checksum before it interprets any
// field, so a typo is reported as a checksum error wherever it is. Errors
// wrap ErrMalformed or ErrChecksum; their text is fixed and never repeats
// any of line.
func ParseShare(line string) (Share, error) {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, textPrefix) {
		return Share{}, errorf(ErrMalformed, "text does not start with %q", textPrefix)
	}
	fields := strings.Split(line, ":")
	if fields[0] != textPrefix+textVersion {
		return Share{}, errorf(ErrMalformed, "share version is not %s", textVersion)
	}
	if len(fields) != fieldCount {
		return Share{}, errorf(ErrMalformed, "share does not have %d colon-separated fields", fieldCount)
	}
	sum := fields[4]
	if len(sum) != checksumHex || strings.Trim(sum, "0123456789abcdef") != "" {
		return Share{}, errorf(ErrMalformed, "share checksum is not %d lowercase hex digits", checksumHex)
	}
	body := line[:len(line)-len(sum)-1]
	if checksum(body) != sum {
		return Share{}, errorf(ErrChecksum, "share checksum does not match: the share was mistyped or damaged")
	}

	threshold, ok := parseDecimal(fields[1], 2, maxShares)
	if !ok {
		return Share{}, errorf(ErrMalformed, "share threshold is not a number from 2 to %d", maxShares)
	}
	x, ok := parseDecimal(fields[2], 1, maxShares)
	if !ok {
		return Share{}, errorf(ErrMalformed, "share x is not a number from 1 to %d", maxShares)
	}
	y, err := base64.RawURLEncoding.Strict().DecodeString(fields[3])
	if err == nil && strings.ContainsAny(fields[3], "\r\n") {
		err = errors.New("line break inside") // the decoder skips CR and LF, even in strict mode
	}
	if err != nil {
		// The decoder's error names an offset into the share; drop it.
		return Share{}, errorf(ErrMalformed, "share value is not unpadded base64url")
	}
	if len(y) <= digestLen {
		return Share{}, errorf(ErrMalformed, "share value is too short to hold a secret")
	}
	return Share{X: byte(x), Y: y, Threshold: threshold}, nil
}

// parseDecimal parses s as a decimal number from lo to hi written without
// sign or leading zeros, so that every share has exactly one text form.
func parseDecimal(s string, lo, hi int) (int, bool) {
	if s == "" || len(s) > 3 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, lo <= n && n <= hi
}

// checksum returns the CRC-32C of body as eight lowercase hex digits.
func checksum(body string) string {
	b := []byte(body)
	sum := crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
	clear(b)
	return hex.EncodeToString([]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
}
