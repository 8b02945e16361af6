package payments_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/payments"
)

// TestWithoutRefused: the values the extras' own field errors name are dropped, the errors
// and every other value kept (numbers with their digits); extras with nothing to drop come
// back byte for byte, so a second pass changes nothing.
func TestWithoutRefused(t *testing.T) {
	const pan = "4111111111111111"
	tests := []struct {
		name, in, want string
	}{
		{"ok/refused-values",
			`{"shippingDetails":{"city":"Town","zip":"` + pan + `"},"customerIp":"` + pan + `","description":"tea","merchantDescriptor":{"dynamicDescriptor":"SHOP","phone":"` + pan + `"},` +
				`"fieldErrors":[{"field":"customerIp","error":"Invalid IP Address"},{"field":"merchantDescriptor.phone","error":"size must be between 0 and 13"},{"field":"shippingDetails.zip","error":"size must be between 0 and 10"}],"errorMessage":"Field validation error."}`,
			`{"description":"tea","errorMessage":"Field validation error.","fieldErrors":[{"error":"Invalid IP Address","field":"customerIp"},{"error":"size must be between 0 and 13","field":"merchantDescriptor.phone"},{"error":"size must be between 0 and 10","field":"shippingDetails.zip"}],"merchantDescriptor":{"dynamicDescriptor":"SHOP"},"shippingDetails":{"city":"Town"}}`},
		{"ok/index-drops-the-array", `{"keywords":["a","` + pan + `"],"n":12345678901234567890,"fieldErrors":[{"field":"keywords[1]","error":"x"}]}`,
			`{"fieldErrors":[{"error":"x","field":"keywords[1]"}],"n":12345678901234567890}`},
		{"ok/errors-never-dropped", `{"fieldErrors":[{"field":"fieldErrors","error":"x"},{"field":"errorMessage","error":"y"}],"errorMessage":"m"}`, ""},
		{"ok/no-errors", `{"customerIp":"10.0.0.1","description":"tea"}`, ""},
		{"ok/named-value-absent", `{"description":"tea","fieldErrors":[{"field":"amount","error":"x"},{"field":"shippingDetails.zip","error":"y"}]}`, ""},
		{"ok/odd-errors", `{"description":"tea","fieldErrors":["customerIp",{"field":7}]}`, ""},
		{"ok/not-an-object", `[1,2]`, ""},
		{"ok/empty", ``, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == "" {
				want = tt.in // unchanged, byte for byte
			}
			got := payments.WithoutRefused(json.RawMessage(tt.in))
			if d := cmp.Diff(want, string(got)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
			if again := payments.WithoutRefused(got); string(again) != string(got) {
				t.Errorf("a second pass changed it: %s", again)
			}
		})
	}
}
