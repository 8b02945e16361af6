package hosted_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/api/paysafe"
	"github.com/payvault/payvault/internal/app"
	"github.com/payvault/payvault/internal/payments"
)

// openDemo opens the demo checkout and returns the fields' frame once they show.
func openDemo(t *testing.T, ctx context.Context, s *vaultServer) *chromedp.Node {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL+"/demo/checkout")); err != nil {
		t.Fatal(err)
	}
	return MustFrame(t, ctx)
}

// fillDemo types a card into the demo's fields, sets the amount (when not empty) and clicks Pay.
func fillDemo(t *testing.T, ctx context.Context, frame *chromedp.Node, amount, pan, expiry, cvv string) {
	t.Helper()
	if amount != "" {
		if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("amount"), amount)); err != nil {
			t.Fatal(err)
		}
	}
	MustType(t, ctx, frame, "#pv-number", pan)
	MustType(t, ctx, frame, "#pv-expiry", expiry)
	MustType(t, ctx, frame, "#pv-cvv", cvv)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("pay"))); err != nil {
		t.Fatal(err)
	}
}

// outcome waits for the demo's outcome (not its "Processing" note) and returns its text.
func outcome(t *testing.T, ctx context.Context) string {
	t.Helper()
	return MustPoll[string](t, ctx, `(o => o.classList.contains('pending') ? '' : o.innerText)(document.getElementById('outcome'))`, 20*time.Second)
}

var authIDPattern = regexp.MustCompile(`Auth id: ([0-9a-f-]{36})`)

// TestDemoApproval types a card on the demo checkout, pays the default 10.00 and sees the
// approval with its auth id, which is a real approved authorization of the sandbox merchant.
func TestDemoApproval(t *testing.T) {
	t.Parallel()
	s := MustVault(t, true)
	ctx := MustTab(t)
	rec := MustRecord(t, ctx)
	sec := MustSecurityLog(t, ctx)
	frame := openDemo(t, ctx, s)
	if got := MustEval[string](t, ctx, `document.getElementById('amount').value`); got != "10.00" {
		t.Errorf("default amount = %q, want 10.00", got)
	}
	exp, _, _ := futureExpiry()
	fillDemo(t, ctx, frame, "", panVisa, exp, cvvTest)
	out := outcome(t, ctx)
	if !strings.Contains(out, "Payment approved") {
		t.Fatalf("outcome = %q, want Payment approved", out)
	}
	m := authIDPattern.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no auth id in %q", out)
	}
	tx, err := s.Main.Store.GetTransaction(context.Background(), s.Creds.MerchantID, m[1])
	if err != nil {
		t.Fatalf("the auth is not stored: %v", err)
	}
	type summary struct {
		Type     payments.Type
		Approved bool
		Amount   int64
		LastFour string
	}
	want := summary{payments.TypeAuth, true, 1000, "1111"}
	if d := cmp.Diff(want, summary{tx.Type, tx.Approved(), tx.Amount, tx.Card.LastFour}); d != "" {
		t.Errorf("auth (-want +got)\n%s", d)
	}
	// The fields clear after an approval.
	if v := MustEval[string](t, ctx, `document.querySelector('iframe').contentDocument.getElementById('pv-number').value`); v != "" {
		t.Errorf("card number field = %q after approval, want empty", v)
	}
	if len(rec.Requests(s.URL+"/v2/cardtickets")) != 1 || len(rec.Requests(s.URL+"/demo/checkout/pay")) != 1 {
		t.Errorf("want one ticket and one pay request")
	}
	rec.CheckNoPAN(t, panVisa)
	// Neither the demo page nor the fields broke their own Content-Security-Policy.
	if log := sec.String(); log != "" {
		t.Errorf("security log: %s", log)
	}
}

// TestDemoDecline pays the Paysafe sandbox's decline amount, 5 in minor units (0.05), and sees
// its decline message.
func TestDemoDecline(t *testing.T) {
	t.Parallel()
	s := MustVault(t, true)
	ctx := MustTab(t)
	rec := MustRecord(t, ctx)
	frame := openDemo(t, ctx, s)
	exp, _, _ := futureExpiry()
	fillDemo(t, ctx, frame, "0.05", panVisa, exp, cvvTest)
	out := outcome(t, ctx)
	for _, want := range []string{"Payment declined", "Your request has been declined by the issuing bank.", "Code: 3009"} {
		if !strings.Contains(out, want) {
			t.Errorf("outcome = %q, want %q in it", out, want)
		}
	}
	if strings.Contains(out, "Payment approved") {
		t.Errorf("outcome = %q", out)
	}
	rec.CheckNoPAN(t, panVisa)
}

// TestDemoDelayedAmounts pays the Paysafe sandbox's delayed amounts on the demo, with the
// delays scaled down (serve --simulator-delay-scale 0.01): 0.90 and 0.95 are approved, and
// 0.96 is a processor error shown as a decline with code 1007, as the page's note says.
func TestDemoDelayedAmounts(t *testing.T) {
	t.Parallel()
	scale := 0.01
	s := MustVaultConfig(t, app.Config{Demo: true, SimulatorDelayScale: &scale})
	exp, _, _ := futureExpiry()
	for _, tt := range []struct{ amount, want string }{
		{"0.90", "Payment approved"},
		{"0.95", "Payment approved"},
		{"0.96", "Payment declined\n\nAn internal error occurred.\n\nCode: 1007"},
	} {
		t.Run(tt.amount, func(t *testing.T) {
			ctx := MustTab(t)
			fillDemo(t, ctx, openDemo(t, ctx, s), tt.amount, panVisa, exp, cvvTest)
			if out := outcome(t, ctx); !strings.HasPrefix(out, tt.want) {
				t.Errorf("outcome = %q, want it to start %q", out, tt.want)
			}
		})
	}
}

// TestDemoShowsProcessing: while the payment runs (a delayed amount: 0.92 waits 15 s, scaled
// here to 1.5 s), the demo says so, and the pay button waits; then the outcome replaces the
// note.
func TestDemoShowsProcessing(t *testing.T) {
	t.Parallel()
	scale := 0.1
	s := MustVaultConfig(t, app.Config{Demo: true, SimulatorDelayScale: &scale})
	exp, _, _ := futureExpiry()
	ctx := MustTab(t)
	fillDemo(t, ctx, openDemo(t, ctx, s), "0.92", panVisa, exp, cvvTest)
	note := MustPoll[string](t, ctx, `(o => o.classList.contains('pending') ? o.innerText : '')(document.getElementById('outcome'))`, 5*time.Second)
	if note != "Processing the payment…" {
		t.Errorf("while the payment runs, the outcome reads %q", note)
	}
	if !MustEval[bool](t, ctx, `document.getElementById('pay').disabled`) {
		t.Error("the pay button is enabled while the payment runs")
	}
	if out := outcome(t, ctx); !strings.HasPrefix(out, "Payment approved") {
		t.Errorf("outcome = %q, want an approval", out)
	}
}

// TestDemoRefusedInBrowser shows that a card the fields refuse gets an inline, accessible
// message and makes no network call at all: no ticket, no payment.
func TestDemoRefusedInBrowser(t *testing.T) {
	t.Parallel()
	exp, _, _ := futureExpiry()
	tests := []struct {
		name    string
		pan     string
		expiry  string
		field   string
		message string
	}{
		{"fail/luhn", panBadLuhn, exp, "number", "The card number is not valid."},
		{"fail/expired", panVisa, "01/20", "expiry", "The card has expired."},
		{"fail/bad-month", panVisa, "13/30", "expiry", "Enter the expiry as MM/YY."},
		{"fail/short-number", "411111111111", exp, "number", "The card number is incomplete."},
	}
	s := MustVault(t, true)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := MustTab(t)
			rec := MustRecord(t, ctx)
			frame := openDemo(t, ctx, s)
			before := len(rec.Requests(""))
			fillDemo(t, ctx, frame, "", tt.pan, tt.expiry, cvvTest)
			errSel := "#pv-" + tt.field + "-error"
			if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('iframe').contentDocument.querySelector('`+errSel+`').textContent !== ''`,
				chromedp.WithPollingTimeout(5*time.Second))); err != nil {
				t.Fatalf("no inline error: %v", err)
			}
			if got := frameText(t, ctx, frame, errSel); got != tt.message {
				t.Errorf("inline error = %q, want %q", got, tt.message)
			}
			input := "#pv-" + tt.field
			if got := frameAttr(t, ctx, frame, input, "aria-invalid"); got != "true" {
				t.Errorf("aria-invalid = %q, want true", got)
			}
			if got := frameAttr(t, ctx, frame, errSel, "role"); got != "alert" {
				t.Errorf("error role = %q, want alert", got)
			}
			if got := frameAttr(t, ctx, frame, input, "aria-describedby"); !strings.Contains(got, "pv-"+tt.field+"-error") {
				t.Errorf("aria-describedby = %q, want the error's id in it", got)
			}
			// Give a wrongly sent request time to show, then check none was.
			time.Sleep(300 * time.Millisecond)
			for _, q := range rec.Requests("")[before:] {
				if !strings.HasSuffix(q.URL, "/favicon.ico") {
					t.Errorf("network call after Pay: %s %s", q.Method, q.URL)
				}
			}
			if out := MustEval[string](t, ctx, `document.getElementById('outcome').innerText`); out != "" {
				t.Errorf("outcome = %q, want none", out)
			}
			rec.CheckNoPAN(t, tt.pan)
		})
	}
}

// TestDemoPage checks the demo's labels and button, and the fields' accessible names.
func TestDemoPage(t *testing.T) {
	t.Parallel()
	s := MustVault(t, true)
	ctx := MustTab(t)
	frame := openDemo(t, ctx, s)
	labels := map[string]string{}
	for _, id := range []string{"pv-number", "pv-expiry", "pv-cvv"} {
		labels[id] = frameText(t, ctx, frame, `label[for="`+id+`"]`)
	}
	want := map[string]string{"pv-number": "Card number", "pv-expiry": "Expiry (MM/YY)", "pv-cvv": "CVV"}
	if d := cmp.Diff(want, labels); d != "" {
		t.Errorf("labels (-want +got)\n%s", d)
	}
	if got := MustEval[string](t, ctx, `document.getElementById('pay').textContent.trim()`); got != "Pay" {
		t.Errorf("button = %q, want Pay", got)
	}
	if got := MustEval[string](t, ctx, `document.querySelector('label[for=amount]').textContent.trim()`); got != "Amount (USD)" {
		t.Errorf("amount label = %q", got)
	}
	if got := MustEval[string](t, ctx, `document.querySelector('iframe').title`); got == "" {
		t.Error("the iframe has no title")
	}
}

// TestDemoNoteNamesTestAmounts reads the demo page's note: it names every amount of the
// Paysafe sandbox table that declines or fails at once, in dollars, as docs/hosted-fields.md
// lists them, and every delayed amount with what it does and after how long.
func TestDemoNoteNamesTestAmounts(t *testing.T) {
	t.Parallel()
	s := MustVault(t, true)
	_, _, page := get(t, http.MethodGet, s.URL+"/demo/checkout", "")
	note := regexp.MustCompile(`(?s)<p class="note">(.*?)</p>`).FindStringSubmatch(page)
	if note == nil {
		t.Fatalf("no note on the demo page:\n%s", page)
	}
	text := strings.Join(strings.Fields(note[1]), " ")
	dollars := func(cents int64) string { return fmt.Sprintf("%d.%02d", cents/100, cents%100) }
	seconds := func(at payments.AmountTrigger, cents int64) string {
		return fmt.Sprint(int64((at.Delay + time.Duration(cents-at.Min)*at.DelayStep) / time.Second))
	}
	for _, at := range paysafe.SandboxTriggers().Amounts {
		if at.Delay == 0 {
			if at.Max >= at.Min || (at.Decision != payments.Declined && at.Decision != payments.Fault) {
				continue
			}
			if amount := dollars(at.Min); !regexp.MustCompile(`\b` + regexp.QuoteMeta(amount) + `\b`).MatchString(text) {
				t.Errorf("the note does not name %s (%s %s): %s", amount, at.Decision, at.Code, text)
			}
			continue
		}
		// A delayed amount: "0.90 to 0.95 are approved after 5 to 30 seconds",
		// "0.96 is a processor error after 35 seconds".
		outcome := map[payments.Decision]string{payments.Approved: "approved", payments.Declined: "declined", payments.Fault: "a processor error"}[at.Decision]
		want := fmt.Sprintf("%s is %s after %s seconds", dollars(at.Min), outcome, seconds(at, at.Min))
		if at.Max > at.Min {
			want = fmt.Sprintf("%s to %s are %s after %s to %s seconds", dollars(at.Min), dollars(at.Max), outcome, seconds(at, at.Min), seconds(at, at.Max))
		}
		want = strings.Replace(want, "are a processor error", "are processor errors", 1)
		if !strings.Contains(text, want) {
			t.Errorf("the note does not say %q: %s", want, text)
		}
	}
}
