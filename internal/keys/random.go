package keys

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Alnum is the alphabet of upper- and lower-case ASCII letters and digits.
const Alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// Digits is the alphabet of the ASCII decimal digits.
const Digits = "0123456789"

// mustRead fills b from crypto/rand and panics if it fails.
func mustRead(b []byte) {
	if _, err := rand.Read(b); err != nil {
		panic("keys: crypto/rand failed: " + err.Error())
	}
}

// RandomString returns n characters drawn uniformly and independently from
// alphabet, using crypto/rand. Each character of alphabet (a rune, so
// non-ASCII alphabets work) is equally likely: bytes that would bias the
// choice are rejected and redrawn.
//
// It returns "" for n <= 0. It panics if alphabet is empty or has more than
// 256 characters, which is a programming error, and if crypto/rand fails.
func RandomString(n int, alphabet string) string {
	if n <= 0 {
		return ""
	}
	runes := []rune(alphabet)
	size := len(runes)
	if size == 0 || size > 256 {
		panic("keys: RandomString needs an alphabet of 1 to 256 characters")
	}
	// Accept a byte b only below the largest multiple of size that fits in
	// a byte, so that b % size is uniform.
	limit := 256 - 256%size
	singleByte := len(alphabet) == size // no multi-byte runes: index bytes
	var sb strings.Builder
	if singleByte {
		sb.Grow(n)
	} else {
		sb.Grow(n * utf8.UTFMax)
	}
	buf := make([]byte, n+n/2+8)
	for count := 0; count < n; {
		mustRead(buf)
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			if singleByte {
				sb.WriteByte(alphabet[int(b)%size])
			} else {
				sb.WriteRune(runes[int(b)%size])
			}
			if count++; count == n {
				break
			}
		}
	}
	return sb.String()
}

// RandomDigits returns n random decimal digits from crypto/rand.
func RandomDigits(n int) string {
	return RandomString(n, Digits)
}

// RandomHex returns nBytes random bytes from crypto/rand as lower-case
// hex, 2*nBytes characters long.
func RandomHex(nBytes int) string {
	if nBytes <= 0 {
		return ""
	}
	b := make([]byte, nBytes)
	mustRead(b)
	return hex.EncodeToString(b)
}

// NewUUIDv7 returns an RFC 9562 version 7 UUID in lower-case dashed form:
// 48 bits of Unix time in milliseconds, the version 7, a 12-bit counter
// that starts at a random value below 2048 in each millisecond, the variant
// 10 and 62 bits from crypto/rand. Ids sort by creation time, as strings
// and as bytes, within a process even inside one millisecond (uuidGen).
func NewUUIDv7() string {
	return uuidClock.next(time.Now())
}

// uuidClock orders the UUIDs of this process.
var uuidClock uuidGen

// uuidGen makes version 7 UUIDs that strictly increase within a process, as RFC 9562 §6.2
// (method 1) describes: the 12 bits after the version hold a counter, which starts at a random
// value below 2048 in each new millisecond and counts up for each further id of the same
// millisecond (or of a clock that stepped back). When it overflows, the timestamp moves one
// millisecond ahead. The 62 bits after the variant are random. Records sort by id in creation
// order, even when many are created within one millisecond.
type uuidGen struct {
	mu  sync.Mutex
	ms  int64
	seq uint16
}

func (g *uuidGen) next(now time.Time) string {
	var u [16]byte
	mustRead(u[6:])
	g.mu.Lock()
	if m := now.UnixMilli(); m > g.ms {
		g.ms, g.seq = m, binary.BigEndian.Uint16(u[6:8])&0x7ff
	} else if g.seq++; g.seq > 0xfff {
		g.ms, g.seq = g.ms+1, 0
	}
	ms, seq := g.ms, g.seq
	g.mu.Unlock()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(ms))
	copy(u[:6], b[2:])
	u[6] = 0x70 | byte(seq>>8) // version 7, counter high bits
	u[7] = byte(seq)
	u[8] = 0x80 | u[8]&0x3f // variant 10
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], u[10:16])
	return string(s[:])
}
