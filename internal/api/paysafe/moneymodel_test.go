package paysafe_test

import (
	"strconv"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// moneySettlement is the model of a settlement (§2.14).
type moneySettlement struct {
	id        string // id is the wire id (the auth's for a settlement made with it).
	amount    int64
	available int64
	cancelled bool
	refunds   []*moneyRefund
}

// moneyRefund is the model of a refund (§2.16).
type moneyRefund struct {
	id        string
	amount    int64
	cancelled bool
}

// TestMoneyRulesModel drives random sequences of settlements, voidauths, refunds, cancels
// and batches against one auth through the wire, and checks every answer against a model of
// §2.14–§2.16: the status and code of each refusal (3203, 3204, 3402, 3404, 3415, 3501,
// 3502), the amount each success took (the default is all that is left), and after every
// step the auth's availableToSettle, each settlement's availableToRefund and status, and the
// §2.16 invariants.
func TestMoneyRulesModel(t *testing.T) {
	e := mustPayEnv(t)
	n := 0
	rapid.Check(t, func(rt *rapid.T) {
		n++
		ref := "model-" + strconv.Itoa(n)
		total := rapid.Int64Range(100, 2000).Draw(rt, "amount") // above the magic amounts (§2.18)
		swa := rapid.Bool().Draw(rt, "settleWithAuth")
		auth := e.must(t, 200, call{method: "POST", path: e.path("auths"), body: `{"merchantRefNum":"` + ref + `","amount":` + strconv.FormatInt(total, 10) +
			`,"settleWithAuth":` + strconv.FormatBool(swa) + `,"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}}}`})
		aid := auth.str("id")
		available := total
		batched := false // batched: every PENDING settlement and refund made so far is COMPLETED
		var settlements []*moneySettlement
		if swa {
			settlements = append(settlements, &moneySettlement{id: aid, amount: total, available: total})
			available = 0
		}
		// pending reports whether a settlement or refund is still PENDING: not cancelled, and
		// made since the last batch.
		madeAfter := map[string]bool{} // madeAfter holds the ids made since the last batch
		pending := func(id string, cancelled bool) bool { return !cancelled && (!batched || madeAfter[id]) }
		amountOf := func(rt *rapid.T, left int64) (string, int64) {
			switch rapid.IntRange(0, 4).Draw(rt, "amount-kind") {
			case 0:
				return "", left // absent: all that is left
			case 1:
				return `,"amount":1`, 1
			case 2:
				return `,"amount":` + strconv.FormatInt(left+1, 10), left + 1
			case 3:
				return `,"amount":` + strconv.FormatInt(max(left, 1), 10), max(left, 1)
			}
			a := rapid.Int64Range(1, 2000).Draw(rt, "amount-value")
			return `,"amount":` + strconv.FormatInt(a, 10), a
		}
		// expect checks an answer: 200 when code is "", else 402 with code. It reports
		// whether the request succeeded.
		expect := func(rt *rapid.T, what string, r reply, code string) bool {
			rt.Helper()
			switch {
			case code == "" && r.status != 200:
				rt.Fatalf("%s: %d %s, want 200", what, r.status, r.raw)
			case code != "" && (r.status != 402 || r.code() != code):
				rt.Fatalf("%s: %d %s, want 402/%s", what, r.status, r.raw, code)
			}
			return code == ""
		}
		for step := range rapid.IntRange(1, 12).Draw(rt, "steps") {
			body := func(extra string) string {
				return `{"merchantRefNum":"` + ref + `-` + strconv.Itoa(step) + `"` + extra + `}`
			}
			switch op := rapid.SampledFrom([]string{"settle", "void", "refund", "cancel-settlement", "cancel-refund", "batch"}).Draw(rt, "op"); op {
			case "settle":
				extra, amt := amountOf(rt, available)
				r := e.do(t, call{method: "POST", path: e.path("auths/" + aid + "/settlements"), body: body(extra)})
				if expect(rt, op, r, refusal(available, amt, "3203", "3204")) {
					if r.body["amount"] != float64(amt) || r.body["availableToRefund"] != float64(amt) || r.str("status") != "PENDING" {
						rt.Fatalf("settlement of %d = %s", amt, r.raw)
					}
					available -= amt
					settlements = append(settlements, &moneySettlement{id: r.str("id"), amount: amt, available: amt})
					madeAfter[r.str("id")] = true
				}
			case "void":
				extra, amt := amountOf(rt, available)
				r := e.do(t, call{method: "POST", path: e.path("auths/" + aid + "/voidauths"), body: body(extra)})
				live := false
				for _, s := range settlements {
					live = live || !s.cancelled
				}
				nothing := "3203"
				if live {
					nothing = "3502"
				}
				if expect(rt, op, r, refusal(available, amt, nothing, "3501")) {
					if r.body["amount"] != float64(amt) || r.str("status") != "COMPLETED" {
						rt.Fatalf("voidauth of %d = %s", amt, r.raw)
					}
					available -= amt
				}
			case "refund":
				if len(settlements) == 0 {
					continue
				}
				s := rapid.SampledFrom(settlements).Draw(rt, "settlement")
				extra, amt := amountOf(rt, s.available)
				r := e.do(t, call{method: "POST", path: e.path("settlements/" + s.id + "/refunds"), body: body(extra)})
				if expect(rt, op, r, refusal(s.available, amt, "3404", "3402")) {
					if r.body["amount"] != float64(amt) || r.str("status") != "PENDING" {
						rt.Fatalf("refund of %d = %s", amt, r.raw)
					}
					s.available -= amt
					s.refunds = append(s.refunds, &moneyRefund{id: r.str("id"), amount: amt})
					madeAfter[r.str("id")] = true
				}
			case "cancel-settlement":
				if len(settlements) == 0 {
					continue
				}
				s := rapid.SampledFrom(settlements).Draw(rt, "settlement")
				r := e.do(t, call{method: "PUT", path: e.path("settlements/" + s.id), body: `{"status":"CANCELLED"}`})
				refunded := false
				for _, rf := range s.refunds {
					refunded = refunded || !rf.cancelled
				}
				if !pending(s.id, s.cancelled) || refunded {
					expect(rt, op, r, "3415")
					continue
				}
				expect(rt, op, r, "")
				if r.str("status") != "CANCELLED" || r.body["availableToRefund"] != 0.0 || r.str("id") != s.id {
					rt.Fatalf("cancelled settlement = %s", r.raw)
				}
				s.cancelled, s.available = true, 0
				available += s.amount
			case "cancel-refund":
				var all []*moneyRefund
				owner := map[*moneyRefund]*moneySettlement{}
				for _, s := range settlements {
					for _, rf := range s.refunds {
						all = append(all, rf)
						owner[rf] = s
					}
				}
				if len(all) == 0 {
					continue
				}
				rf := rapid.SampledFrom(all).Draw(rt, "refund")
				r := e.do(t, call{method: "PUT", path: e.path("refunds/" + rf.id), body: `{"status":"CANCELLED"}`})
				if !pending(rf.id, rf.cancelled) {
					expect(rt, op, r, "3415")
					continue
				}
				expect(rt, op, r, "")
				if r.str("status") != "CANCELLED" {
					rt.Fatalf("cancelled refund = %s", r.raw)
				}
				rf.cancelled = true
				owner[rf].available += rf.amount
			case "batch":
				e.clock.Add(24*time.Hour + time.Second)
				batched, madeAfter = true, map[string]bool{}
			}
			// The state after every step.
			if g := e.must(t, 200, call{method: "GET", path: e.path("auths/" + aid)}); g.body["availableToSettle"] != float64(available) || g.str("status") != "COMPLETED" {
				rt.Fatalf("auth = %s, want availableToSettle %d", g.raw, available)
			}
			for _, s := range settlements {
				g := e.must(t, 200, call{method: "GET", path: e.path("settlements/" + s.id)})
				want := "COMPLETED"
				switch {
				case s.cancelled:
					want = "CANCELLED"
				case pending(s.id, false):
					want = "PENDING"
				}
				if g.body["availableToRefund"] != float64(s.available) || g.str("status") != want {
					rt.Fatalf("settlement %s = %s, want availableToRefund %d, status %s", s.id, g.raw, s.available, want)
				}
				left := s.amount
				for _, rf := range s.refunds {
					if !rf.cancelled {
						left -= rf.amount
					}
				}
				if s.cancelled {
					left = 0
				}
				if s.available != left || left < 0 {
					rt.Fatalf("model broke §2.16: settlement %s available %d, amount less refunds %d", s.id, s.available, left)
				}
			}
		}
	})
}

// refusal is the code refusing to draw amount on a transaction with left available: nothing
// when nothing is left, over when the amount is more than is left, "" when it may be drawn.
func refusal(left, amount int64, nothing, over string) string {
	switch {
	case left == 0:
		return nothing
	case amount > left:
		return over
	}
	return ""
}
