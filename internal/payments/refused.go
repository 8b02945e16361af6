package payments

import (
	"bytes"
	"encoding/json"
	"strings"
)

// A refused request's transaction (RecordFailed) keeps the field errors of the refusal in its
// Extras, under these keys: "fieldErrors" [{"field": "shippingDetails.zip", "error": …}] and
// "errorMessage" (Paysafe's, which stores every refused POST as FAILED).
const (
	extrasFieldErrors  = "fieldErrors"
	extrasErrorMessage = "errorMessage"
)

// WithoutRefused returns extras without the values its field errors (extras' "fieldErrors")
// name: a value refused for its field (a card number sent as the customerIp, say) is not
// kept with the FAILED transaction, which every GET and list shows. A field is a dotted path
// into extras ("merchantDescriptor.phone"); an index drops the whole array ("keywords[1]"
// drops the keywords). The errors themselves, which name only the field, are kept. Extras
// with nothing to drop, or that are not a JSON object, are returned as they are, so the
// result of a second call is the first's.
func WithoutRefused(extras json.RawMessage) json.RawMessage {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(extras))
	dec.UseNumber() // the kept values keep their digits
	if dec.Decode(&m) != nil {
		return extras
	}
	errs, _ := m[extrasFieldErrors].([]any)
	dropped := false
	for _, fe := range errs {
		obj, _ := fe.(map[string]any)
		field, _ := obj["field"].(string)
		if field == "" {
			continue
		}
		cur := m
		parts := strings.Split(field, ".")
		for i, part := range parts {
			part, _, _ = strings.Cut(part, "[")
			if part == extrasFieldErrors || part == extrasErrorMessage {
				break
			}
			if i == len(parts)-1 {
				if _, ok := cur[part]; ok {
					delete(cur, part)
					dropped = true
				}
				break
			}
			next, ok := cur[part].(map[string]any)
			if !ok {
				break
			}
			cur = next
		}
	}
	if !dropped {
		return extras
	}
	b, err := json.Marshal(m)
	if err != nil {
		return extras
	}
	return b
}
