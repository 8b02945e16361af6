package fortis

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/payvault/payvault/internal/card"
)

// input is a request's attributes: the object inside the resource wrapper, with its values
// still raw so that each field can apply the type rules of §1.5.
type input struct {
	raw  map[string]json.RawMessage
	errs *fieldErrors
}

// readBody reads a request body of the form {"<wrapper>":{…}}. It is parsed whatever the
// Content-Type; an empty body counts as {} and a missing wrapper as no attributes. Invalid JSON
// or a body or wrapper that is not an object is a 400, an oversize body a 413.
func readBody(r *http.Request, wrapper string, order []string) (*input, error) {
	in := &input{raw: map[string]json.RawMessage{}, errs: newFieldErrors(order)}
	if r.Body == nil {
		return in, nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errStatus(http.StatusRequestEntityTooLarge, msgTooLarge)
		}
		return nil, errStatus(http.StatusBadRequest, msgBadJSON)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return in, nil
	}
	if !utf8.Valid(b) {
		// JSON text is UTF-8 (RFC 8259); the decoder would silently replace bad bytes.
		return nil, errStatus(http.StatusBadRequest, msgBadJSON)
	}
	top, ok := decodeObject(b)
	if !ok {
		return nil, errStatus(http.StatusBadRequest, msgBadJSON)
	}
	inner, present := top[wrapper]
	if !present || isNull(inner) {
		return in, nil
	}
	attrs, ok := decodeObject(inner)
	if !ok {
		return nil, errStatus(http.StatusBadRequest, msgBadJSON)
	}
	in.raw = attrs
	return in, nil
}

// decodeObject decodes exactly one JSON object with raw values.
func decodeObject(b []byte) (map[string]json.RawMessage, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return m, true
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// has reports whether the key is in the body at all (null included).
func (in *input) has(key string) bool { _, ok := in.raw[key]; return ok }

// str returns a string field: a JSON string (trimmed) or a JSON integer's literal digits.
// null, "" and a missing key give "". A string holding a NUL (\u0000) records "is invalid.";
// any other type records "must be a string."; both return ok false.
func (in *input) str(field string) (v string, ok bool) {
	raw, present := in.raw[field]
	if !present {
		return "", true
	}
	v, ok = rawString(raw)
	if !ok {
		if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '"' {
			in.errs.add(field, msgInvalid(field))
		} else {
			in.errs.add(field, msgString(field))
		}
	}
	return v, ok
}

// strFor is str for a field that a vault's payment method may ignore (§2.2 "ign."): when
// used is false the field is not read at all, whatever its JSON type, as an ignored source is
// not, and strFor returns "", true.
func (in *input) strFor(used bool, field string) (v string, ok bool) {
	if !used {
		return "", true
	}
	return in.str(field)
}

// rawString converts a raw JSON value under the string rules of §1.5.
func rawString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || isNull(raw) {
		return "", true
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil || strings.IndexByte(s, 0) >= 0 {
			return "", false
		}
		return strings.TrimSpace(s), true
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		s := string(raw)
		if !integerLiteral(s) {
			return "", false
		}
		return s, true
	}
	return "", false
}

// integerLiteral reports whether s is a JSON integer (no fraction, no exponent).
func integerLiteral(s string) bool {
	s = strings.TrimPrefix(s, "-")
	return s != "" && card.Digits(s)
}

// boolean returns a boolean field: true/false, 1/0, "1"/"0" or "true"/"false". set is false
// when the field is missing, null or "". Anything else records `must be either "1" or "0".`.
func (in *input) boolean(field string) (v, set, ok bool) {
	raw, present := in.raw[field]
	if !present {
		return false, false, true
	}
	v, set, ok = rawBool(raw)
	if !ok {
		in.errs.add(field, msgBool(field))
	}
	return v, set, ok
}

// rawBool converts a raw JSON value under the boolean rules of §1.5. A JSON string is
// decoded and trimmed first, as every string is: "\u0031" and " 1 " are "1", and " " is ""
// (not provided).
func rawBool(raw json.RawMessage) (v, set, ok bool) {
	s := string(bytes.TrimSpace(raw))
	switch {
	case s == "null":
		return false, false, true
	case strings.HasPrefix(s, `"`):
		if err := json.Unmarshal(raw, &s); err != nil {
			return false, false, false
		}
		if s = strings.TrimSpace(s); s == "" {
			return false, false, true
		}
	}
	switch s {
	case "true", "1":
		return true, true, true
	case "false", "0":
		return false, true, true
	}
	return false, false, false
}

// integer returns an integer field: a JSON integer or a string of digits. set is false when
// the field is missing, null or "". Anything else records "must be an integer.".
func (in *input) integer(field string) (v int64, set, ok bool) {
	raw, present := in.raw[field]
	if !present {
		return 0, false, true
	}
	v, set, ok = rawInt(raw)
	if !ok {
		in.errs.add(field, msgInteger(field))
	}
	return v, set, ok
}

func rawInt(raw json.RawMessage) (v int64, set, ok bool) {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		return 0, false, true
	}
	s := string(raw)
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, false, false
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return 0, false, true
		}
	}
	if !integerLiteral(s) || len(s) > 18 {
		return 0, false, false
	}
	neg := strings.HasPrefix(s, "-")
	for _, c := range strings.TrimPrefix(s, "-") {
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true, true
}

// length applies the min/max rule to a provided value and reports whether it passed.
func (in *input) length(field, v string, min, max int) bool {
	n := utf8.RuneCountInString(v)
	switch {
	case min > 0 && min == max && n != min:
		in.errs.add(field, msgExact(field, min))
	case min > 0 && n < min:
		in.errs.add(field, msgMin(field, min))
	case max > 0 && n > max:
		in.errs.add(field, msgMax(field, max))
	default:
		return true
	}
	return false
}

// text reads an optional string field with a length rule; "" means not provided.
func (in *input) text(field string, min, max int) string {
	v, ok := in.str(field)
	if !ok || v == "" {
		return ""
	}
	if !in.length(field, v, min, max) {
		return ""
	}
	return v
}

// allLetters reports whether s is one or more ASCII letters.
func allLetters(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// alnum reports whether s is one or more ASCII letters and digits.
func alnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9') && !((c|0x20) >= 'a' && (c|0x20) <= 'z') {
			return false
		}
	}
	return true
}

// zipChars reports whether s holds only letters, digits, spaces and dashes.
func zipChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9') && !((c|0x20) >= 'a' && (c|0x20) <= 'z') && c != ' ' && c != '-' {
			return false
		}
	}
	return s != ""
}
