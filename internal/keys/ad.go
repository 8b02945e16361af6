package keys

import "encoding/binary"

// adPrefix starts every encoded AD without a token, adPrefixToken every one with a token. Each
// names the format and its version.
const (
	adPrefix      = "payvault/v1"
	adPrefixToken = "payvault/v2"
)

// AD is the associated data that binds a sealed field to where it is
// stored: the merchant that owns it, the id of the record, the name of
// the field and, for a record that a payment token names, that token. A
// ciphertext opens only with the AD it was sealed with, so a ciphertext
// copied to another row, column or merchant does not decrypt, and a token
// moved to another row no longer opens that row's data.
//
// Merchant, Record and Field must be non-empty, and every part at most
// 64 KiB long. Token may be empty: the AD then encodes exactly as it did
// before tokens were bound (v1), so everything sealed then still opens.
type AD struct {
	// Merchant is the id of the merchant that owns the record.
	Merchant string
	// Record is the id of the row that holds the ciphertext.
	Record string
	// Field names the column or attribute, such as "card.pan".
	Field string
	// Token is the payment token that finds the record, when it is not
	// the record id itself; "" binds none (the v1 form).
	Token string
}

// maxADPart bounds each part of an AD, so that its length always fits the
// uint32 length prefix with room to spare.
const maxADPart = 64 << 10

// valid reports whether every required part of a is set and no part is too long.
func (a AD) valid() bool {
	for _, s := range [...]string{a.Merchant, a.Record, a.Field} {
		if s == "" || len(s) > maxADPart {
			return false
		}
	}
	return len(a.Token) <= maxADPart
}

// encode returns the unambiguous byte form of a. Without a token (v1):
//
//	"payvault/v1" || u32be(len(Merchant)) || Merchant
//	              || u32be(len(Record))   || Record
//	              || u32be(len(Field))    || Field
//
// With one (v2), the same parts under another prefix, then the token:
//
//	"payvault/v2" || … || u32be(len(Token)) || Token
func (a AD) encode() []byte {
	prefix := adPrefix
	n := len(adPrefix) + 12 + len(a.Merchant) + len(a.Record) + len(a.Field)
	if a.Token != "" {
		prefix = adPrefixToken
		n += 4 + len(a.Token)
	}
	b := make([]byte, 0, n)
	b = append(b, prefix...)
	b = appendField(b, a.Merchant)
	b = appendField(b, a.Record)
	b = appendField(b, a.Field)
	if a.Token != "" {
		b = appendField(b, a.Token)
	}
	return b
}

// appendField appends s to b, preceded by its length as a big-endian uint32.
func appendField(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}
