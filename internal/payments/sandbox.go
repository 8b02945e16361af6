package payments

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/payvault/payvault/internal/keys"
)

// Triggers is a sandbox trigger table: the magic amounts, addresses and CVVs that make the
// simulated processor decline, fail, wait or report check results. Each vendor API package
// supplies its own as data (Paysafe's in cents, Fortis's in dollars converted to cents); the
// Sandbox evaluates any of them the same way:
//
//  1. A Fixed outcome for the transaction's type answers at once.
//  2. The first Amounts rule that applies waits its delay, then decides: a decline or a fault
//     ends the evaluation; an approval or Continue goes on.
//  3. AVS computes the address result; the first matching rule with a DeclineCode declines.
//  4. CVV computes the security code result; with Request.AutoDeclineCVV a result listed in
//     DeclineOn declines.
//  5. Otherwise the transaction is approved with the Approval for its type.
type Triggers struct {
	Fixed     map[Type]Outcome  // Fixed answers every transaction of a type (a Fortis refund is always approved).
	Amounts   []AmountTrigger   // Amounts are tried in order; the first that applies wins.
	AVS       AVSTable          // AVS is the address check.
	CVV       CVVTable          // CVV is the security code check.
	Approval  Approval          // Approval is how an approval reads.
	Approvals map[Type]Approval // Approvals overrides Approval per type.
}

// AmountTrigger reacts to amounts between Min and Max (inclusive, in minor units).
type AmountTrigger struct {
	Types    []Type // Types are the transaction types it applies to; empty means every type.
	Min, Max int64  // Max below Min means exactly Min.
	// Delay is waited before the decision; DelayStep is added once per minor unit above Min,
	// so Paysafe's 90–95 (5 s to 30 s) is Delay 5 s, DelayStep 5 s.
	Delay, DelayStep time.Duration
	Decision         Decision // Decision is Approved, Declined, Fault, or "" to go on with the checks.
	Code             string   // Code is the reason code reported with the decision.
	Message          string
}

// Matcher tests one address field, ignoring case and collapsing white space. A Matcher with
// neither field set is not tested; an absent value never matches.
type Matcher struct {
	Prefix string // Prefix matches a value starting with it.
	Equal  string // Equal matches the whole value.
}

// AVSRule matches when every Matcher it sets matches; an absent value never matches.
type AVSRule struct {
	Street      Matcher
	Zip         Matcher
	Result      AVSResult
	DeclineCode string // DeclineCode, when set, declines the transaction with this code.
	Message     string
}

// AVSTable computes an AVS result from the billing street and zip.
type AVSTable struct {
	Types   []Type    // Types are the transaction types that get an AVS result.
	Rules   []AVSRule // Rules are tried in order; the first match wins.
	Default AVSResult // Default is the result when no rule matches.
}

// CVVRule maps one CVV value, optionally for some brands only, to a result.
type CVVRule struct {
	Brands    []string // Brands are the card.Brand values it applies to; empty means every brand.
	NotBrands []string // NotBrands are card.Brand values it never applies to.
	Value     string
	Result    CVVResult
}

// CVVTable computes a CVV result from the given CVV.
type CVVTable struct {
	Types       []Type      // Types are the transaction types that get a CVV result.
	Rules       []CVVRule   // Rules are tried in order; the first match wins.
	Default     CVVResult   // Default is the result for any other value.
	Absent      CVVResult   // Absent is the result when no CVV was given.
	DeclineOn   []CVVResult // DeclineOn are the results that decline under Request.AutoDeclineCVV.
	DeclineCode string
	Message     string
}

// Approval is how an approval reads.
type Approval struct {
	Code       string
	Message    string
	NoAuthCode bool // NoAuthCode leaves AuthCode empty (a Fortis avsonly).
}

// SandboxConfig tunes the simulated processor.
type SandboxConfig struct {
	// DelayScale multiplies every trigger delay (Paysafe's simulatorDelayScale); 0 means no delays.
	DelayScale float64
	// MaxDelay caps a scaled delay; 0 means no cap. Tests set it.
	MaxDelay time.Duration
	// AuthCode returns an approval code; six crypto/rand digits when nil.
	AuthCode func() string
}

// Sandbox is the built-in simulated processor. It evaluates the trigger table of the API
// named in each request; an API without a table gets plain approvals.
type Sandbox struct {
	tables map[string]*Triggers
	cfg    SandboxConfig
}

var _ Processor = (*Sandbox)(nil)

// NewSandbox returns a sandbox processor over the vendor APIs' trigger tables, keyed by API name.
func NewSandbox(tables map[string]*Triggers, cfg SandboxConfig) *Sandbox {
	if cfg.AuthCode == nil {
		cfg.AuthCode = func() string { return keys.RandomDigits(6) }
	}
	return &Sandbox{tables: tables, cfg: cfg}
}

// Process implements Processor. It waits out trigger delays (scaled and capped) unless ctx ends.
func (s *Sandbox) Process(ctx context.Context, r *Request) (*Outcome, error) {
	t := s.tables[r.API]
	if t == nil {
		t = &Triggers{}
	}
	if o, ok := t.Fixed[r.Type]; ok {
		if o.Decision == Approved && o.AuthCode == "" {
			o.AuthCode = s.cfg.AuthCode()
		}
		return &o, nil
	}
	out := &Outcome{}
	if at, ok := t.amountTrigger(r); ok {
		d := at.Delay
		if at.DelayStep > 0 {
			d += time.Duration(r.Amount-at.Min) * at.DelayStep
		}
		if err := s.wait(ctx, d); err != nil {
			return nil, err
		}
		out.Delay = d
		switch at.Decision {
		case Declined, Fault:
			out.Decision, out.Code, out.Message = at.Decision, at.Code, at.Message
			return out, nil
		}
	}
	if slices.Contains(t.AVS.Types, r.Type) {
		rule, ok := t.AVS.match(r.Billing)
		out.AVS = t.AVS.Default
		if ok {
			out.AVS = rule.Result
			if rule.DeclineCode != "" {
				out.Decision, out.Code, out.Message = Declined, rule.DeclineCode, rule.Message
				return out, nil
			}
		}
	}
	if slices.Contains(t.CVV.Types, r.Type) {
		out.CVV = t.CVV.result(r.Brand, r.CVV)
		if r.AutoDeclineCVV && slices.Contains(t.CVV.DeclineOn, out.CVV) {
			out.Decision, out.Code, out.Message = Declined, t.CVV.DeclineCode, t.CVV.Message
			return out, nil
		}
	}
	ap, ok := t.Approvals[r.Type]
	if !ok {
		ap = t.Approval
	}
	out.Decision, out.Code, out.Message = Approved, ap.Code, ap.Message
	if !ap.NoAuthCode {
		out.AuthCode = s.cfg.AuthCode()
	}
	return out, nil
}

// wait sleeps for d scaled and capped, or until ctx ends.
func (s *Sandbox) wait(ctx context.Context, d time.Duration) error {
	d = time.Duration(float64(d) * s.cfg.DelayScale)
	if s.cfg.MaxDelay > 0 && d > s.cfg.MaxDelay {
		d = s.cfg.MaxDelay
	}
	if d <= 0 {
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sandbox: %w", ctx.Err())
	}
}

// amountTrigger returns the first amount rule that applies to r.
func (t *Triggers) amountTrigger(r *Request) (AmountTrigger, bool) {
	for _, at := range t.Amounts {
		if len(at.Types) > 0 && !slices.Contains(at.Types, r.Type) {
			continue
		}
		hi := at.Max
		if hi < at.Min {
			hi = at.Min
		}
		if r.Amount >= at.Min && r.Amount <= hi {
			return at, true
		}
	}
	return AmountTrigger{}, false
}

// match returns the first rule whose matchers all match b.
func (a *AVSTable) match(b Billing) (AVSRule, bool) {
	for _, rule := range a.Rules {
		set := false
		ok := true
		for _, m := range []struct {
			m Matcher
			v string
		}{{rule.Street, b.Street}, {rule.Zip, b.Zip}} {
			if m.m == (Matcher{}) {
				continue
			}
			set = true
			if !m.m.matches(m.v) {
				ok = false
			}
		}
		if set && ok {
			return rule, true
		}
	}
	return AVSRule{}, false
}

// matches reports whether v fits m; an absent v never does.
func (m Matcher) matches(v string) bool {
	v = normalizeSpace(v)
	if v == "" {
		return false
	}
	if m.Equal != "" && !strings.EqualFold(v, normalizeSpace(m.Equal)) {
		return false
	}
	if m.Prefix != "" {
		p := normalizeSpace(m.Prefix)
		if len(v) < len(p) || !strings.EqualFold(v[:len(p)], p) {
			return false
		}
	}
	return true
}

// normalizeSpace trims s and collapses runs of white space to one space.
func normalizeSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// result computes the CVV result for a card brand and a given CVV.
func (c *CVVTable) result(brand, cvv string) CVVResult {
	if cvv == "" {
		return c.Absent
	}
	for _, rule := range c.Rules {
		if (len(rule.Brands) > 0 && !slices.Contains(rule.Brands, brand)) || slices.Contains(rule.NotBrands, brand) {
			continue
		}
		if rule.Value == cvv {
			return rule.Result
		}
	}
	return c.Default
}
