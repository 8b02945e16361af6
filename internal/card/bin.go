package card

import (
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// binCSV is the embedded BIN range data: ranges.csv of the public repository binlist/data at
// commit 7400e175f00daaf64f239101fc382f988c20d46e, under the Apache License 2.0, "Copyright
// 2014 binlist.net" (see bindata/NOTICE). It is only read, by LoadBINs.
//
//go:embed bindata/binlist-ranges.csv
var binCSV string

// BINInfo is what the BIN range data says about the issuer of a card. Any field may be empty
// when the data does not say.
type BINInfo struct {
	Scheme  string // the network, lower-case: "visa", "mastercard", "amex", …
	Brand   string // the product, for example "Visa/Dankort"
	Type    string // "debit" or "credit"
	Prepaid bool
	Country string // ISO 3166-1 alpha-2
	Bank    string // the issuer's name
}

// binDigits is the number of digits every range is widened to: the longest IIN in the data.
const binDigits = 8

// binRange is one row of the data, widened to binDigits digits.
type binRange struct {
	lo, hi uint32 // inclusive
	info   int32  // index into BINTable.infos
	parent int32  // the narrowest other range that contains this one, or -1
}

// BINTable answers issuer questions from the BIN range data. Build it once with LoadBINs and
// share it; it is never modified after that, so concurrent use is safe.
type BINTable struct {
	infos  []BINInfo
	ranges []binRange
	// The ranges cut into disjoint segments, sorted: segment i covers segLo[i] to segHi[i]
	// and belongs to ranges[segRange[i]], the narrowest range that covers it.
	segLo, segHi []uint32
	segRange     []int32
}

// LoadBINs parses the embedded BIN range data. The data is a fixed part of the binary, so an
// error means a broken build; call it once at start-up and keep the table.
func LoadBINs() (*BINTable, error) {
	return parseBINs(strings.NewReader(binCSV))
}

// Len returns the number of ranges in t.
func (t *BINTable) Len() int { return len(t.ranges) }

// Lookup returns the issuer information for the card number pan, from the narrowest range
// that contains it. It needs at least the first six digits of pan and reads up to eight; a
// shorter prefix such as a six-digit BIN matches only ranges that contain every number it
// could start. It returns false when pan does not start with six ASCII digits, or when no
// range matches. Lookup does not allocate.
func (t *BINTable) Lookup(pan string) (BINInfo, bool) {
	n := min(len(pan), binDigits)
	if n < 6 {
		return BINInfo{}, false
	}
	var key uint32
	for i := 0; i < n; i++ {
		c := pan[i]
		if c < '0' || c > '9' {
			return BINInfo{}, false
		}
		key = key*10 + uint32(c-'0')
	}
	// The numbers pan may start are lo to hi on binDigits digits.
	scale := uint32(1)
	for i := n; i < binDigits; i++ {
		scale *= 10
	}
	lo, hi := key*scale, key*scale+scale-1

	// Find the first segment that ends at or after lo.
	i, j := 0, len(t.segHi)
	for i < j {
		m := int(uint(i+j) >> 1)
		if t.segHi[m] < lo {
			i = m + 1
		} else {
			j = m
		}
	}
	if i == len(t.segHi) || t.segLo[i] > lo {
		return BINInfo{}, false
	}
	// Every range that contains lo is on the parent chain of the segment's range, from the
	// narrowest out; take the first that also contains hi.
	for r := t.segRange[i]; r >= 0; r = t.ranges[r].parent {
		if t.ranges[r].hi >= hi {
			return t.infos[t.ranges[r].info], true
		}
	}
	return BINInfo{}, false
}

// parseBINs reads BIN range data in the binlist CSV format: a header line naming the
// columns, then one range per line. It uses the columns iin_start, iin_end, scheme, brand,
// type, prepaid, country and bank_name, and ignores the others. iin_start has six to eight
// digits; iin_end is empty for a single prefix, or has as many digits as iin_start. Ranges
// may nest, but two ranges may not overlap partly or be the same.
func parseBINs(r io.Reader) (*BINTable, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("card: bin data header: %w", err)
	}
	col := map[string]int{}
	for i, name := range header {
		col[name] = i
	}
	need := []string{"iin_start", "iin_end", "scheme", "brand", "type", "prepaid", "country", "bank_name"}
	idx := make([]int, len(need))
	for i, name := range need {
		c, ok := col[name]
		if !ok {
			return nil, fmt.Errorf("card: bin data has no %s column", name)
		}
		idx[i] = c
	}

	t := &BINTable{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("card: bin data: %w", err)
		}
		line, _ := cr.FieldPos(0)
		field := func(i int) string { return rec[idx[i]] }
		lo, hi, err := binBounds(field(0), field(1))
		if err != nil {
			return nil, fmt.Errorf("card: bin data line %d: %w", line, err)
		}
		info := BINInfo{
			Scheme:  field(2),
			Brand:   field(3),
			Type:    field(4),
			Country: field(6),
			Bank:    field(7),
		}
		switch field(5) {
		case "y", "Y":
			info.Prepaid = true
		case "", "n", "N":
		default:
			return nil, fmt.Errorf("card: bin data line %d: prepaid is neither y nor n", line)
		}
		if c := info.Country; c != "" && (len(c) != 2 || !upperAlpha(c[0]) || !upperAlpha(c[1])) {
			return nil, fmt.Errorf("card: bin data line %d: country is not an alpha-2 code", line)
		}
		t.infos = append(t.infos, info)
		t.ranges = append(t.ranges, binRange{lo: lo, hi: hi, info: int32(len(t.infos) - 1), parent: -1})
	}
	if len(t.ranges) == 0 {
		return nil, errors.New("card: bin data has no ranges")
	}
	if err := t.index(); err != nil {
		return nil, err
	}
	return t, nil
}

// binBounds returns the range from start to end widened to binDigits digits. An empty end
// means the single prefix start.
func binBounds(start, end string) (lo, hi uint32, err error) {
	if len(start) < 6 || len(start) > binDigits || !Digits(start) {
		return 0, 0, errors.New("iin_start is not 6 to 8 digits")
	}
	if end == "" {
		end = start
	}
	if len(end) != len(start) || !Digits(end) {
		return 0, 0, errors.New("iin_end does not have as many digits as iin_start")
	}
	if end < start {
		return 0, 0, errors.New("iin_end is before iin_start")
	}
	scale := uint32(1)
	for i := len(start); i < binDigits; i++ {
		scale *= 10
	}
	s, e := atou32(start), atou32(end)
	return s * scale, e*scale + scale - 1, nil
}

// atou32 returns the value of a string of at most nine ASCII digits.
func atou32(s string) uint32 {
	var v uint32
	for i := 0; i < len(s); i++ {
		v = v*10 + uint32(s[i]-'0')
	}
	return v
}

// index sorts the ranges, links each to its parent and cuts them into disjoint segments. It
// fails if two ranges overlap partly or are the same, since then no range would be the most
// specific.
func (t *BINTable) index() error {
	rs := t.ranges
	// Outer ranges before the ranges they contain.
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].lo != rs[j].lo {
			return rs[i].lo < rs[j].lo
		}
		return rs[i].hi > rs[j].hi
	})

	// emit appends the segment lo to hi for range r, merging it with the previous segment
	// when that one continues it for the same range.
	emit := func(lo, hi uint32, r int32) {
		if n := len(t.segHi); n > 0 && t.segRange[n-1] == r && t.segHi[n-1]+1 == lo {
			t.segHi[n-1] = hi
			return
		}
		t.segLo = append(t.segLo, lo)
		t.segHi = append(t.segHi, hi)
		t.segRange = append(t.segRange, r)
	}

	// Walk the ranges in order with a stack of the ranges that contain the current point.
	// next is the first number not yet given to a segment.
	var stack []int32
	var next uint32
	// pop closes the innermost open range: what is left of it after its children becomes a
	// segment.
	pop := func() {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if next <= rs[top].hi {
			emit(next, rs[top].hi, top)
			next = rs[top].hi + 1
		}
	}
	for i := range rs {
		r := &rs[i]
		for len(stack) > 0 && rs[stack[len(stack)-1]].hi < r.lo {
			pop()
		}
		if len(stack) > 0 {
			top := &rs[stack[len(stack)-1]]
			if top.lo == r.lo && top.hi == r.hi {
				return errors.New("card: bin data has the same range twice")
			}
			if r.hi > top.hi {
				return errors.New("card: bin data has ranges that overlap partly")
			}
			r.parent = stack[len(stack)-1]
			if next < r.lo {
				emit(next, r.lo-1, stack[len(stack)-1])
			}
		}
		next = r.lo
		stack = append(stack, int32(i))
	}
	for len(stack) > 0 {
		pop()
	}
	return nil
}

// upperAlpha reports whether c is an ASCII upper-case letter.
func upperAlpha(c byte) bool { return 'A' <= c && c <= 'Z' }
