package token

import (
	"strings"
	"testing"
)

func TestNewAndParse(t *testing.T) {
	for _, k := range []Kind{Profile, Card, Bank, Mandate, SUTCard, SUTACH, SUTEFT} {
		tok := New(k)
		if len(tok) != len(k)+14 || !strings.HasPrefix(tok, string(k)) {
			t.Errorf("New(%s) = %q", k, tok)
		}
		if got := Parse(tok); got != k {
			t.Errorf("Parse(%q) = %q, want %q", tok, got, k)
		}
		if New(k) == tok {
			t.Errorf("New(%s) repeated a token", k)
		}
	}
	for _, bad := range []string{"", "C", "C123", "X1234567890abcd", "C1234567890abc!", "SX1234567890abcd", "4111111111111111"} {
		if got := Parse(bad); got != Unknown {
			t.Errorf("Parse(%q) = %q, want Unknown", bad, got)
		}
	}
	if !SUTCard.SingleUse() || Card.SingleUse() {
		t.Error("SingleUse wrong")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("CyfdZmKLGQq0kD7")
	f.Add("SCCtUl97MFABvPm3")
	f.Fuzz(func(t *testing.T, s string) {
		if k := Parse(s); k != Unknown && !strings.HasPrefix(s, string(k)) {
			t.Errorf("Parse(%q) = %q", s, k)
		}
	})
}
