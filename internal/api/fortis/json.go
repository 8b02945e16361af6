package fortis

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// member is one key of an object.
type member struct {
	Key string
	Val any
}

// object is a JSON object whose keys keep their order, as the vendor's documents show them.
type object []member

// MarshalJSON writes the members in order.
func (o object) MarshalJSON() ([]byte, error) { return o.appendJSON(nil) }

// appendJSON appends o to b. Nested objects and lists of objects are appended in place: through
// encoding/json, every level's Marshaler output was validated and compacted again by the level
// above, which cost a Fortis vault answer about 30 µs.
func (o object) appendJSON(b []byte) ([]byte, error) {
	b = append(b, '{')
	for i, m := range o {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, m.Key)
		b = append(b, ':')
		var err error
		if b, err = appendValue(b, m.Val); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendValue appends v as encoding/json (HTML characters unescaped) would.
func appendValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case object:
		return x.appendJSON(b)
	case []object:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, o := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = o.appendJSON(b); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	v2, err := marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, v2...), nil
}

// appendString appends s as a JSON string exactly as encoding/json's encoder with
// SetEscapeHTML(false) writes it: short escapes for \b \f \n \r \t, \u00XX for other control
// characters, U+FFFD for invalid UTF-8, and U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// get returns the value of key and whether it is present.
func (o object) get(key string) (any, bool) {
	for _, m := range o {
		if m.Key == key {
			return m.Val, true
		}
	}
	return nil, false
}

// withBefore returns o with extra inserted before the key "_links".
func (o object) withBefore(key string, extra object) object {
	if len(extra) == 0 {
		return o
	}
	out := make(object, 0, len(o)+len(extra))
	for i, m := range o {
		if m.Key == key {
			out = append(out, extra...)
			return append(out, o[i:]...)
		}
		out = append(out, m)
	}
	return append(out, extra...)
}

// marshal encodes v without HTML escaping. An object (every answer's top level) is appended
// directly: through encoding/json its MarshalJSON output was validated and compacted again,
// a tenth of a Fortis list page's CPU.
func marshal(v any) ([]byte, error) {
	switch v.(type) {
	case object, []object:
		return appendValue(nil, v)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// str returns s, or nil for an empty string: every defined field is present, and a missing
// value is null.
func str(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// links is a record's _links block.
func links(href string) object {
	return object{{"self", object{{"href", href}}}}
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"name":"Internal Server Error","message":"An internal server error occurred.","code":0,"status":500}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}
