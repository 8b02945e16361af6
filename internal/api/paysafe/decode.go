package paysafe

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/payvault/payvault/internal/card"
)

// This file is the loose JSON layer of §1.3–1.4. A body is decoded into generic values with
// UseNumber and read through typed accessors that coerce scalars, record fieldErrors under
// dotted paths, treat null (and "" for optional strings) as absent and ignore unknown fields.
// No error built here ever contains request text, which may be a card number.

// readObject reads the request body as a JSON object. An empty body is {}; malformed JSON or
// a top level that is not an object is 400/5023 with the parser's position in details, and an
// oversize body is 413/5023. A compressed body (Content-Encoding other than identity), which
// no SDK sends, is 400/5023 saying so, rather than a parser position in binary.
func readObject(r *http.Request) (obj, error) {
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(strings.TrimSpace(ce), "identity") {
		return obj{}, &apiError{Code: "5023", Details: []string{"Content-Encoding is not supported: send the body uncompressed"}}
	}
	var b []byte
	if r.Body != nil {
		var err error
		if b, err = io.ReadAll(r.Body); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return obj{}, tooLarge(mbe.Limit)
			}
			return obj{}, newError("5023")
		}
	}
	m, err := parseObject(b)
	if err != nil {
		return obj{}, err
	}
	return obj{m: m, errs: &fieldErrs{}}, nil
}

// parseObject parses b as one JSON object; empty input is {}.
func parseObject(b []byte) (map[string]any, error) {
	// A leading UTF-8 byte order mark is not part of the text (RFC 8259 §8.1 lets a parser
	// ignore it, and the vendor's does); positions are counted after it.
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(b)) == 0 {
		return map[string]any{}, nil
	}
	if !utf8.Valid(b) {
		// JSON text is UTF-8 (RFC 8259); the decoder would silently replace bad bytes.
		return nil, parseError("Invalid UTF-8", b, invalidUTF8At(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			off := max(se.Offset-1, 0)
			if int(off) >= len(bytes.TrimRight(b, " \t\r\n")) {
				return nil, parseError("Unexpected end-of-input", b, len(b))
			}
			return nil, parseError("Unexpected character", b, int(off))
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, parseError("Unexpected end-of-input", b, len(b))
		}
		return nil, parseError("Malformed JSON", b, int(dec.InputOffset()))
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, parseError("Expected a JSON object", b, firstNonSpace(b))
	}
	rest := int(dec.InputOffset())
	if i := firstNonSpace(b[rest:]); rest+i < len(b) {
		return nil, parseError("Unexpected data after the JSON object", b, rest+i)
	}
	return m, nil
}

// parseError is a 5023 whose details give the position of the fault as line and column
// (1-based, in characters) and nothing of the input.
func parseError(what string, b []byte, off int) *apiError {
	off = min(off, len(b))
	line, col := 1, 1
	for i := 0; i < off; {
		r, n := utf8.DecodeRune(b[i:])
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += n
	}
	return &apiError{Code: "5023", Details: []string{what + " at [line: " + strconv.Itoa(line) + ", column: " + strconv.Itoa(col) + "]"}}
}

// invalidUTF8At returns the offset of the first byte of b that is not valid UTF-8.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

func firstNonSpace(b []byte) int {
	for i, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return i
		}
	}
	return len(b)
}

// fieldErrs collects the fieldErrors of one request.
type fieldErrs struct{ list []fieldError }

// add records a field error.
func (f *fieldErrs) add(field, msg string) {
	f.list = append(f.list, fieldError{Field: field, Error: msg})
}

// err returns the 5068 for the collected errors, or nil.
func (f *fieldErrs) err() error {
	if len(f.list) == 0 {
		return nil
	}
	return invalid(f.list...)
}

// has reports whether any error was recorded for field.
func (f *fieldErrs) has(field string) bool {
	for _, e := range f.list {
		if e.Field == field {
			return true
		}
	}
	return false
}

// state is what an accessor found.
type state uint8

const (
	absent  state = iota // absent: missing or null
	present              // present: a value of the wanted type, after coercion
	bad                  // bad: not coercible; "Invalid value" is recorded
)

// obj is a JSON object being read, with its dotted path and the request's error list.
type obj struct {
	m    map[string]any
	path string
	errs *fieldErrs
}

// emptyObj returns an object with no members that records into errs (an absent part).
func emptyObj(path string, errs *fieldErrs) obj {
	return obj{m: map[string]any{}, path: path, errs: errs}
}

// field returns the dotted path of a member.
func (o obj) field(name string) string { return o.path + name }

// fail records msg for a member.
func (o obj) fail(name, msg string) { o.errs.add(o.field(name), msg) }

// raw returns a member's value, absent when missing or null.
func (o obj) raw(name string) (any, bool) {
	v, ok := o.m[name]
	if !ok || v == nil {
		return nil, false
	}
	return v, true
}

// has reports whether a member is present and not null.
func (o obj) has(name string) bool { _, ok := o.raw(name); return ok }

// str reads a string, coercing numbers (as plain decimals) and booleans.
func (o obj) str(name string) (string, state) {
	v, ok := o.raw(name)
	if !ok {
		return "", absent
	}
	if s, ok := looseString(v); ok {
		return s, present
	}
	o.fail(name, msgInvalidValue)
	return "", bad
}

// looseString coerces a decoded JSON value to a string (§1.4): a string, a number as a plain
// decimal, or a boolean. A string holding a NUL (\u0000) is never a valid value.
func looseString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, strings.IndexByte(v, 0) < 0
	case json.Number:
		return plainDecimal(v)
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// optString reads an optional string: "" and whitespace-only read as absent; longer than
// maxLen characters is "size must be between 0 and maxLen".
func (o obj) optString(name string, maxLen int) string {
	s, st := o.str(name)
	if st != present || strings.TrimSpace(s) == "" {
		return ""
	}
	if utf8.RuneCountInString(s) > maxLen {
		o.fail(name, "size must be between 0 and "+strconv.Itoa(maxLen))
	}
	return s
}

// reqString reads a required string of minLen to maxLen characters: absent or blank is
// "may not be empty". "" breaks both §3 rules, so it is also the size error when minLen is
// above 0, as §2.2 spells out for merchantCustomerId.
func (o obj) reqString(name string, minLen, maxLen int) string {
	s, st := o.str(name)
	size := "size must be between " + strconv.Itoa(minLen) + " and " + strconv.Itoa(maxLen)
	switch {
	case st == bad:
		return ""
	case st == absent || strings.TrimSpace(s) == "":
		o.fail(name, msgEmpty)
		if st == present && s == "" && minLen > 0 {
			o.fail(name, size)
		}
		return ""
	}
	if n := utf8.RuneCountInString(s); n < minLen || n > maxLen {
		o.fail(name, size)
	}
	return s
}

// integer reads an integer: a JSON integer, a number with a zero fraction, or a string of
// optionally signed digits.
func (o obj) integer(name string) (int, state) {
	v, ok := o.raw(name)
	if !ok {
		return 0, absent
	}
	if n, ok := toInt(v); ok {
		return n, present
	}
	o.fail(name, msgInvalidValue)
	return 0, bad
}

// toInt coerces a decoded JSON value to an int (§1.4).
func toInt(v any) (int, bool) {
	switch v := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return int(n), true
		}
		// A number with a zero fraction (2006.0, 2.006e3), judged on its decimal digits: a
		// fraction that binary floating point rounds away (9.9999999999999999) is refused.
		d, ok := plainDecimal(v)
		if !ok {
			return 0, false
		}
		whole, frac, _ := strings.Cut(d, ".")
		if strings.Trim(frac, "0") != "" {
			return 0, false
		}
		n, err := strconv.ParseInt(whole, 10, 64)
		if err != nil || n > 1<<53 || n < -(1<<53) {
			return 0, false
		}
		return int(n), true
	case string:
		digits := v
		if digits != "" && (digits[0] == '+' || digits[0] == '-') {
			digits = digits[1:]
		}
		if !card.Digits(digits) {
			return 0, false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false
		}
		return int(n), true
	}
	return 0, false
}

// hugeSign returns the sign (1 or -1) of v when v is a whole number in a form toInt reads
// (an integer, a number with a zero fraction, a string of optionally signed digits) that is
// too large for toInt, and 0 otherwise: such a number is out of any range, not an invalid value.
func hugeSign(v any) int {
	var d string
	switch v := v.(type) {
	case json.Number:
		p, ok := plainDecimal(v)
		if !ok {
			return 0
		}
		whole, frac, _ := strings.Cut(p, ".")
		if strings.Trim(frac, "0") != "" {
			return 0
		}
		d = whole
	case string:
		d = v
	default:
		return 0
	}
	sign := 1
	if d != "" && (d[0] == '+' || d[0] == '-') {
		if d[0] == '-' {
			sign = -1
		}
		d = d[1:]
	}
	if _, ok := toInt(v); ok || d == "" || !card.Digits(d) {
		return 0
	}
	return sign
}

// boolean reads a boolean: true/false, or "true"/"false" in any case. Absent gives nil.
func (o obj) boolean(name string) *bool {
	v, ok := o.raw(name)
	if !ok {
		return nil
	}
	switch v := v.(type) {
	case bool:
		return &v
	case string:
		switch strings.ToLower(v) {
		case "true":
			t := true
			return &t
		case "false":
			f := false
			return &f
		}
	}
	o.fail(name, msgInvalidValue)
	return nil
}

// object reads a nested object; its members' paths are prefixed with name + ".".
func (o obj) object(name string) (obj, state) {
	v, ok := o.raw(name)
	if !ok {
		return emptyObj(o.field(name)+".", o.errs), absent
	}
	m, ok := v.(map[string]any)
	if !ok {
		o.fail(name, msgInvalidValue)
		return emptyObj(o.field(name)+".", o.errs), bad
	}
	return obj{m: m, path: o.field(name) + ".", errs: o.errs}, present
}

// objects reads an array of objects, or a single object as an array of one (the Python SDK's
// BACS mandates). Elements are addressed as name[i].
func (o obj) objects(name string) []obj {
	v, ok := o.raw(name)
	if !ok {
		return nil
	}
	switch v := v.(type) {
	case map[string]any:
		return []obj{{m: v, path: o.field(name) + "[0].", errs: o.errs}}
	case []any:
		out := make([]obj, 0, len(v))
		for i, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				o.errs.add(o.field(name)+"["+strconv.Itoa(i)+"]", msgInvalidValue)
				continue
			}
			out = append(out, obj{m: m, path: o.field(name) + "[" + strconv.Itoa(i) + "].", errs: o.errs})
		}
		return out
	}
	o.fail(name, msgInvalidValue)
	return nil
}

// plainDecimal writes a JSON number as a plain decimal: 796134762 stays as it is and 1e3
// becomes 1000. An exponent beyond ±64 is refused rather than expanded.
func plainDecimal(n json.Number) (string, bool) {
	s := string(n)
	i := strings.IndexAny(s, "eE")
	if i < 0 {
		return s, true
	}
	if exp, err := strconv.Atoi(s[i+1:]); err != nil || exp > 64 || exp < -64 {
		return "", false
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return "", false
	}
	if r.IsInt() {
		return r.Num().String(), true
	}
	return strings.TrimRight(strings.TrimRight(r.FloatString(64+len(s)), "0"), "."), true
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
