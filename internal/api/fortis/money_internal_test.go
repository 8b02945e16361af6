package fortis

import (
	"math/big"
	"regexp"
	"strings"
	"testing"
)

// moneyShape is what moneyText makes of a number: two decimals, no leading zeros.
var moneyShape = regexp.MustCompile(`^-?(0|[1-9][0-9]*)\.[0-9]{2}$`)

// FuzzMoneyText checks that moneyText leaves text that is not a number alone and turns a
// number into two-decimal money within half a cent of it, rounding half away from zero.
func FuzzMoneyText(f *testing.F) {
	for _, s := range []string{"", "12.5", "10", "-3.1", "0007.10", "1.005", "99.995", "-0.001", "-0.005", "ten", "1e2", ".5", "-", "123456789012"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got := moneyText(v)
		if !numberPattern.MatchString(v) {
			if got != v {
				t.Fatalf("moneyText(%q) = %q, want it unchanged", v, got)
			}
			return
		}
		if !moneyShape.MatchString(got) {
			t.Fatalf("moneyText(%q) = %q, not two-decimal money", v, got)
		}
		in, _ := new(big.Rat).SetString(v)
		out, _ := new(big.Rat).SetString(got)
		// want = round-half-away-from-zero(in × 100) / 100
		cents := new(big.Rat).Mul(in, big.NewRat(100, 1))
		half := big.NewRat(1, 2)
		if cents.Sign() < 0 {
			half.Neg(half)
		}
		cents.Add(cents, half)
		q := new(big.Int).Quo(cents.Num(), cents.Denom()) // truncates toward zero
		want := new(big.Rat).SetFrac(q, big.NewInt(100))
		if out.Cmp(want) != 0 {
			t.Fatalf("moneyText(%q) = %q, want %s", v, got, want.FloatString(2))
		}
	})
}

// FuzzBalanceText checks that balanceText takes what Yii's NumberValidator takes and gives
// the number as two-decimal money (moneyText's rounding), a value of 10^12 or more as more
// than maxBalanceWhole whole digits, without writing out a large exponent.
func FuzzBalanceText(f *testing.F) {
	for _, s := range []string{"12.5", ".5", "-.5", "+5", "1e5", "1.5E-1", "1e-999999999", "9e999999999", "5.", "1e", "0x1A", "99.995e10", "0.0000e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, ok := balanceText(v)
		if ok != yiiNumber.MatchString(v) {
			t.Fatalf("balanceText(%q) ok = %v, want %v", v, ok, !ok)
		}
		if !ok {
			return
		}
		if !moneyShape.MatchString(got) || len(got) > 20 {
			t.Fatalf("balanceText(%q) = %q, not short two-decimal money", v, got)
		}
		if m := yiiNumber.FindStringSubmatch(v); len(m[4]) > 3 {
			return // big.Rat would write the exponent out
		}
		in, ok := new(big.Rat).SetString(v)
		if !ok {
			t.Fatalf("big.Rat cannot read %q", v)
		}
		cents := new(big.Rat).Mul(in, big.NewRat(100, 1))
		half := big.NewRat(1, 2)
		if cents.Sign() < 0 {
			half.Neg(half)
		}
		cents.Add(cents, half)
		q := new(big.Int).Quo(cents.Num(), cents.Denom())
		want := new(big.Rat).SetFrac(q, big.NewInt(100))
		limit := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(maxBalanceWhole), nil))
		if new(big.Rat).Abs(want).Cmp(limit) >= 0 {
			if whole, _, _ := strings.Cut(strings.TrimPrefix(got, "-"), "."); len(whole) <= maxBalanceWhole {
				t.Fatalf("balanceText(%q) = %q, want more than %d whole digits", v, got, maxBalanceWhole)
			}
			return
		}
		out, _ := new(big.Rat).SetString(got)
		if out.Cmp(want) != 0 {
			t.Fatalf("balanceText(%q) = %q, want %s", v, got, want.FloatString(2))
		}
	})
}
