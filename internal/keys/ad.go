package keys

import "encoding/binary"

// adPrefix starts every encoded AD. It names the format and its version.
const adPrefix = "payvault/v1"

// AD is the associated data that binds a sealed field to where it is
// stored: the merchant that owns it, the id of the record and the name of
// the field. A ciphertext opens only with the AD it was sealed with, so a
// ciphertext copied to another row, column or merchant does not decrypt.
//
// All three parts must be non-empty and at most 64 KiB long.
type AD struct {
	// Merchant is the id of the merchant that owns the record.
	Merchant string
	// Record is the id of the row that holds the ciphertext.
	Record string
	// Field names the column or attribute, such as "card.pan".
	Field string
}

// maxADPart bounds each part of an AD, so that its length always fits the
// uint32 length prefix with room to spare.
const maxADPart = 64 << 10

// valid reports whether every part of a is set and not too long.
func (a AD) valid() bool {
	for _, s := range [...]string{a.Merchant, a.Record, a.Field} {
		if s == "" || len(s) > maxADPart {
			return false
		}
	}
	return true
}

// encode returns the unambiguous byte form of a:
//
//	"payvault/v1" || u32be(len(Merchant)) || Merchant
//	              || u32be(len(Record))   || Record
//	              || u32be(len(Field))    || Field
func (a AD) encode() []byte {
	b := make([]byte, 0, len(adPrefix)+12+len(a.Merchant)+len(a.Record)+len(a.Field))
	b = append(b, adPrefix...)
	b = appendField(b, a.Merchant)
	b = appendField(b, a.Record)
	b = appendField(b, a.Field)
	return b
}

// appendField appends s to b, preceded by its length as a big-endian uint32.
func appendField(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}
