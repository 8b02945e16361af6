package hosted_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
)

// TestBankFields mounts the ACH and EFT variants in Paysafe mode: the page gets an SA… or
// SE… single-use token and the last four digits, never the account number.
func TestBankFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, kind, prefix string
		typed              map[string]string
		accountType        string
	}{
		{"ok/ach", "ach", "SA", map[string]string{"#pv-account": "000123456789", "#pv-routing": "011000015", "#pv-name": "Ada Lovelace", "#pv-postal": "10001"}, "SAVINGS"},
		{"ok/eft", "eft", "SE", map[string]string{"#pv-account": "0987654321", "#pv-transit": "12345", "#pv-institution": "001", "#pv-name": "Ada Lovelace"}, ""},
	}
	s := MustVault(t, false)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := MustTab(t)
			rec := MustRecord(t, ctx)
			opts := paysafeOptions(s, map[string]any{"kind": tt.kind})
			if tt.kind == "ach" {
				opts["postalCode"] = true
			}
			frame := openShop(t, ctx, s, opts)
			for sel, v := range tt.typed {
				MustType(t, ctx, frame, sel, v)
			}
			if tt.accountType != "" {
				if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#pv-type"), tt.accountType, chromedp.FromNode(frame))); err != nil {
					t.Fatal(err)
				}
			}
			res := tokenize(t, ctx)
			if !res.OK || !strings.HasPrefix(res.Result.Token, tt.prefix) {
				t.Fatalf("tokenize = %+v, want a %s… token", res, tt.prefix)
			}
			acct := tt.typed["#pv-account"]
			want := struct{ LastFour, AccountType string }{acct[len(acct)-4:], tt.accountType}
			if d := cmp.Diff(want, struct{ LastFour, AccountType string }{res.Result.BankAccount.LastFour, res.Result.BankAccount.AccountType}); d != "" {
				t.Errorf("masked account (-want +got)\n%s", d)
			}
			rec.CheckNoPAN(t, acct)
		})
	}
}
