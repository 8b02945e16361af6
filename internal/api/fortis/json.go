package fortis

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// member is one key of an object.
type member struct {
	Key string
	Val any
}

// object is a JSON object whose keys keep their order, as the vendor's documents show them.
type object []member

// MarshalJSON writes the members in order.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.Key)
		b.Write(k)
		b.WriteByte(':')
		v, err := marshal(m.Val)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
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

// marshal encodes v without HTML escaping.
func marshal(v any) ([]byte, error) {
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
