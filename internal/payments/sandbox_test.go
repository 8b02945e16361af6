package payments_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/payments"
)

// fortisShaped is a trigger table in the shape of the Fortis sandbox rules (§3.7), amounts in
// cents. It proves the table type expresses them; the real table lives in the Fortis package.
var fortisShaped = payments.Triggers{
	Fixed: map[payments.Type]payments.Outcome{
		payments.TypeRefund: {Decision: payments.Approved, Code: "1000", Message: "APPROVED"},
		payments.TypeDebit:  {Decision: payments.Approved, Code: "1000", Message: "PENDING", Pending: true},
	},
	Amounts: []payments.AmountTrigger{
		{Types: saleAuth, Min: 500, Decision: payments.Declined, Code: "1500", Message: "DENY"},
		{Types: saleAuth, Min: 616, Decision: payments.Declined, Code: "1616", Message: "INSUFFICIENT_FUNDS"},
		{Types: saleAuth, Min: 800, Max: 809, DelayStep: time.Second},
		{Types: saleAuth, Min: 810, Max: 899, Decision: payments.Declined, Code: "1500", Message: "DENY"},
	},
	AVS: payments.AVSTable{
		Types: []payments.Type{payments.TypeSale, payments.TypeAuth, payments.TypeAVSOnly},
		Rules: []payments.AVSRule{
			{Street: payments.Matcher{Equal: "2831 NW 41st St STE J"}, Result: payments.AVSNoMatch, DeclineCode: "1655", Message: "DECLINE"},
			{Zip: payments.Matcher{Prefix: "32615"}, Result: payments.AVSNoMatch, DeclineCode: "1655", Message: "DECLINE"},
			{Street: payments.Matcher{Equal: "5800 NW 39th AVE"}, Zip: payments.Matcher{Prefix: "32606"}, Result: payments.AVSMatch},
			{Street: payments.Matcher{Equal: "5800 NW 39th AVE"}, Result: payments.AVSAddressOnly},
			{Zip: payments.Matcher{Prefix: "32606"}, Result: payments.AVSZipOnly},
		},
		Default: payments.AVSNoMatch,
	},
	CVV: payments.CVVTable{
		Types: []payments.Type{payments.TypeSale, payments.TypeAuth, payments.TypeAVSOnly},
		Rules: []payments.CVVRule{
			{Brands: []string{"amex"}, Value: "1234", Result: payments.CVVMatch},
			{Brands: []string{"amex"}, Value: "9998", Result: payments.CVVNotProcessed},
			{NotBrands: amex, Value: "999", Result: payments.CVVMatch},
			{NotBrands: amex, Value: "123", Result: payments.CVVNoMatch},
			{NotBrands: amex, Value: "124", Result: payments.CVVNotProcessed},
			{NotBrands: amex, Value: "125", Result: payments.CVVShouldBePresent},
			{NotBrands: amex, Value: "126", Result: payments.CVVIssuerUnable},
			{NotBrands: amex, Value: "127", Result: payments.CVVUnknown},
		},
		Default:     payments.CVVNoMatch,
		Absent:      payments.CVVNoMatch,
		DeclineOn:   []payments.CVVResult{payments.CVVNotProcessed, payments.CVVShouldBePresent, payments.CVVIssuerUnable, payments.CVVUnknown},
		DeclineCode: "1656", Message: "DECLINE",
	},
	Approval:  payments.Approval{Code: "1000", Message: "APPROVED"},
	Approvals: map[payments.Type]payments.Approval{payments.TypeAVSOnly: {Code: "1000", Message: "APPROVAL", NoAuthCode: true}},
}

var amex = []string{"amex"}

var saleAuth = []payments.Type{payments.TypeSale, payments.TypeAuth}

func TestSandboxFortisShaped(t *testing.T) {
	sb := payments.NewSandbox(map[string]*payments.Triggers{"fortis": &fortisShaped},
		payments.SandboxConfig{AuthCode: func() string { return "654321" }})
	approved := func(avs payments.AVSResult, cvv payments.CVVResult) payments.Outcome {
		return payments.Outcome{Decision: payments.Approved, Code: "1000", Message: "APPROVED", AuthCode: "654321", AVS: avs, CVV: cvv}
	}
	declined := func(code, msg string, avs payments.AVSResult, cvv payments.CVVResult) payments.Outcome {
		return payments.Outcome{Decision: payments.Declined, Code: code, Message: msg, AVS: avs, CVV: cvv}
	}
	tests := []struct {
		name string
		req  payments.Request
		want payments.Outcome
	}{
		{"ok/plain", payments.Request{Type: payments.TypeSale, Amount: 201}, approved(payments.AVSNoMatch, payments.CVVNoMatch)},
		{"ok/avs-both", payments.Request{Type: payments.TypeSale, Amount: 100, Billing: payments.Billing{Street: " 5800  nw 39th ave", Zip: "32606-1234"}, CVV: "999"}, approved(payments.AVSMatch, payments.CVVMatch)},
		{"ok/avs-street", payments.Request{Type: payments.TypeSale, Amount: 100, Billing: payments.Billing{Street: "5800 NW 39th AVE", Zip: "10001"}}, approved(payments.AVSAddressOnly, payments.CVVNoMatch)},
		{"ok/avs-zip", payments.Request{Type: payments.TypeAuth, Amount: 100, Billing: payments.Billing{Zip: "32606"}}, approved(payments.AVSZipOnly, payments.CVVNoMatch)},
		{"ok/cvv-amex", payments.Request{Type: payments.TypeSale, Amount: 100, Brand: "amex", CVV: "1234"}, approved(payments.AVSNoMatch, payments.CVVMatch)},
		{"ok/cvv-amex-999-is-other", payments.Request{Type: payments.TypeSale, Amount: 100, Brand: "amex", CVV: "999"}, approved(payments.AVSNoMatch, payments.CVVNoMatch)},
		{"ok/cvv-p-without-auto-decline", payments.Request{Type: payments.TypeSale, Amount: 100, CVV: "124"}, approved(payments.AVSNoMatch, payments.CVVNotProcessed)},
		{"ok/delay-8.05", payments.Request{Type: payments.TypeSale, Amount: 805}, func() payments.Outcome {
			o := approved(payments.AVSNoMatch, payments.CVVNoMatch)
			o.Delay = 5 * time.Second
			return o
		}()},
		{"ok/refund-fixed", payments.Request{Type: payments.TypeRefund, Amount: 500}, payments.Outcome{Decision: payments.Approved, Code: "1000", Message: "APPROVED", AuthCode: "654321"}},
		{"ok/debit-pending", payments.Request{Type: payments.TypeDebit, Amount: 500}, payments.Outcome{Decision: payments.Approved, Code: "1000", Message: "PENDING", AuthCode: "654321", Pending: true}},
		{"ok/avsonly", payments.Request{Type: payments.TypeAVSOnly, Billing: payments.Billing{Street: "1 Elm"}}, payments.Outcome{Decision: payments.Approved, Code: "1000", Message: "APPROVAL", AVS: payments.AVSNoMatch, CVV: payments.CVVNoMatch}},
		{"fail/amount-5.00", payments.Request{Type: payments.TypeSale, Amount: 500}, declined("1500", "DENY", "", "")},
		{"fail/amount-6.16", payments.Request{Type: payments.TypeAuth, Amount: 616}, declined("1616", "INSUFFICIENT_FUNDS", "", "")},
		{"fail/amount-8.42", payments.Request{Type: payments.TypeSale, Amount: 842}, declined("1500", "DENY", "", "")},
		{"fail/avs-denial-street", payments.Request{Type: payments.TypeAVSOnly, Billing: payments.Billing{Street: "2831 nw 41ST st  ste j"}}, declined("1655", "DECLINE", payments.AVSNoMatch, "")},
		{"fail/avs-denial-zip", payments.Request{Type: payments.TypeSale, Amount: 100, Billing: payments.Billing{Zip: "32615"}}, declined("1655", "DECLINE", payments.AVSNoMatch, "")},
		{"fail/cvv-auto-decline", payments.Request{Type: payments.TypeSale, Amount: 100, CVV: "125", AutoDeclineCVV: true}, declined("1656", "DECLINE", payments.AVSNoMatch, payments.CVVShouldBePresent)},
		{"fail/cvv-amex-auto-decline", payments.Request{Type: payments.TypeSale, Amount: 100, Brand: "amex", CVV: "9998", AutoDeclineCVV: true}, declined("1656", "DECLINE", payments.AVSNoMatch, payments.CVVNotProcessed)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.API = "fortis"
			got, err := sb.Process(context.Background(), &tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, *got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestSandboxUnknownAPIApproves(t *testing.T) {
	sb := payments.NewSandbox(nil, payments.SandboxConfig{})
	got, err := sb.Process(context.Background(), &payments.Request{API: "nope", Type: payments.TypeAuth, Amount: 5})
	if err != nil || got.Decision != payments.Approved || len(got.AuthCode) != 6 {
		t.Errorf("got %+v, %v", got, err)
	}
}

func TestSandboxDelays(t *testing.T) {
	table := &payments.Triggers{Amounts: []payments.AmountTrigger{
		{Min: 96, Delay: 35 * time.Second, Decision: payments.Fault, Code: "1007"},
	}}
	req := &payments.Request{API: "p", Type: payments.TypeAuth, Amount: 96}
	t.Run("ok/capped", func(t *testing.T) {
		sb := payments.NewSandbox(map[string]*payments.Triggers{"p": table}, payments.SandboxConfig{DelayScale: 1, MaxDelay: time.Millisecond})
		// The cap, not the 35 s, bounds the wait: the deadline would end an uncapped wait.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		got, err := sb.Process(ctx, req)
		if err != nil || got.Decision != payments.Fault || got.Code != "1007" || got.Delay != 35*time.Second {
			t.Errorf("got %+v, %v", got, err)
		}
	})
	t.Run("fail/cancelled", func(t *testing.T) {
		sb := payments.NewSandbox(map[string]*payments.Triggers{"p": table}, payments.SandboxConfig{DelayScale: 1})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := sb.Process(ctx, req); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("ok/scale-zero", func(t *testing.T) {
		sb := payments.NewSandbox(map[string]*payments.Triggers{"p": table}, payments.SandboxConfig{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // no wait happens, so a dead context does not matter
		if got, err := sb.Process(ctx, req); err != nil || got.Decision != payments.Fault {
			t.Errorf("got %+v, %v", got, err)
		}
	})
}

func TestRequestLogValueHasNoSecrets(t *testing.T) {
	r := &payments.Request{API: "p", Number: "4111111111111111", CVV: "737", Amount: 100}
	s := r.String()
	for _, secret := range []string{"4111111111111111", "737"} {
		if strings.Contains(s, secret) {
			t.Errorf("%q leaks %q", s, secret)
		}
	}
}
