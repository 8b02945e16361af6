package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// ledger is what the clients were told: every acknowledged write (a 2xx whose body arrived in
// full), with the cycle it was acknowledged in. The server must keep all of it.
type ledger struct {
	mu       sync.Mutex
	cycle    int
	profiles []*profileRec
	cards    []*cardRec
	suts     []*sutRec
	auths    []*authRec
	settles  []*settleRec
	refunds  []*refundRec
	vaults   []*vaultRec
	tickets  []*ticketRec
	sales    []*saleRec
	frefunds []*refundRec
	idem     []*idemRec
	pans     []string // pans are every card number sent, to look for in the logs.

	acked   map[string]int // acked counts acknowledged writes by kind.
	refused map[string]int // refused counts expected refusals (a settlement beyond what is left).
	unknown int            // unknown counts requests cut off by a kill.
}

func newLedger() *ledger {
	return &ledger{acked: map[string]int{}, refused: map[string]int{}}
}

type profileRec struct {
	id, mcid string
	withCard bool
	cycle    int
}

type cardRec struct {
	id, profileID, token, last4 string
	cycle                       int
}

// SUT states.
const (
	sutFresh    = iota // acknowledged, never used
	sutInFlight        // a request using it is running
	sutConsumed        // an acknowledged write consumed it
	sutUnknown         // a request using it was cut off
)

type sutRec struct {
	token string
	state int
	cycle int
}

type authRec struct {
	id     string
	amount int64
	swa    bool // swa: settled with auth; its settlement shows under the auth's id.
	// left is what the client believes is left to settle: the amount less acknowledged
	// settlements. Cut-off settlements may have taken more.
	left  int64
	cycle int
}

type settleRec struct {
	id, authID string
	amount     int64
	left       int64 // left is what the client believes is left to refund.
	cycle      int
}

type refundRec struct {
	id, settleID string
	amount       int64
	cycle        int
}

// saleRec is an acknowledged Fortis sale, in cents.
type saleRec struct {
	id     string
	amount int64
	left   int64 // left is what the client believes is left to refund.
	cycle  int
}

type vaultRec struct {
	id, last4 string
	cycle     int
}

type ticketRec struct {
	id       string
	consumed bool // consumed by an acknowledged vault creation
	cycle    int
}

// idemRec is an acknowledged request sent with an Idempotency-Key: sent again, it must be
// answered the same without running again.
type idemRec struct {
	key, path, body string
	status          int
	id              string
	sut             bool // sut: sent with the single-use-token key (not replayable: secrets).
	cycle           int
}

func (l *ledger) ack(kind string) { l.acked[kind]++ }

// pick returns a random element of s matching ok, or nil.
func pick[T any](rng *rand.Rand, s []*T, ok func(*T) bool) *T {
	if len(s) == 0 {
		return nil
	}
	start := rng.IntN(len(s))
	for i := range min(len(s), 64) {
		v := s[(start+i)%len(s)]
		if ok == nil || ok(v) {
			return v
		}
	}
	return nil
}

// total is the number of acknowledged writes.
func (l *ledger) total() int {
	n := 0
	for _, v := range l.acked {
		n += v
	}
	return n
}

func (l *ledger) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	kinds := make([]string, 0, len(l.acked))
	for k := range l.acked {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	s := ""
	for _, k := range kinds {
		s += fmt.Sprintf(" %s=%d", k, l.acked[k])
	}
	return fmt.Sprintf("acknowledged %d writes (%s); %d cut off by kills; expected refusals %v", l.total(), s[1:], l.unknown, l.refused)
}

// sampler decides which records a verification after cycle now checks: everything from the
// last two cycles, a sample of about 300 of the rest, and everything when full.
type sampler struct {
	rng  *rand.Rand
	now  int
	full bool
	odds float64 // odds are the chance an older record is checked.
}

func (l *ledger) sampler(seed uint64, full bool) *sampler {
	n := len(l.profiles) + len(l.cards) + len(l.auths) + len(l.settles) + len(l.refunds) + len(l.vaults) +
		len(l.sales) + len(l.frefunds) + len(l.suts) + len(l.tickets) + len(l.idem)
	return &sampler{rng: rand.New(rand.NewPCG(seed, uint64(l.cycle))), now: l.cycle, full: full, odds: min(0.125, 300/float64(max(n, 1)))}
}

func (s *sampler) take(cycle int) bool {
	return s.full || cycle >= s.now-1 || s.rng.Float64() < s.odds
}

// verifyAPI checks through the APIs that every acknowledged write is there and consistent,
// that consumed one-time tokens stay consumed, and that acknowledged idempotent requests
// replay. It returns how many records it checked.
func (l *ledger) verifyAPI(ctx context.Context, t *testing.T, c *client, seed uint64, full bool) int {
	l.mu.Lock()
	smp := l.sampler(seed, full)
	var checks []func() error
	add := func(f func() error) { checks = append(checks, f) }
	for _, p := range l.profiles {
		if !smp.take(p.cycle) {
			continue
		}
		add(func() error {
			r, err := c.paysafe(ctx, "GET", "/customervault/v1/profiles/"+p.id, "")
			if err != nil {
				return err
			}
			if r.status != 200 || r.str("merchantCustomerId") != p.mcid {
				t.Errorf("acknowledged profile %s (mcid %s): %s", p.id, p.mcid, r)
			}
			return nil
		})
	}
	for _, cd := range l.cards {
		if !smp.take(cd.cycle) {
			continue
		}
		add(func() error {
			r, err := c.paysafe(ctx, "GET", "/customervault/v1/profiles/"+cd.profileID+"/cards/"+cd.id, "")
			if err != nil {
				return err
			}
			if r.status != 200 || r.str("paymentToken") != cd.token || r.str("lastDigits") != cd.last4 {
				t.Errorf("acknowledged card %s: %s", cd.id, r)
			}
			return nil
		})
	}
	// Vault tokens work: an auth opens the card's sealed number, whichever key sealed it.
	tokens := 0
	for _, cd := range l.cards {
		if tokens == 20 || !smp.take(cd.cycle) {
			continue
		}
		tokens++
		add(func() error {
			r, err := c.paysafe(ctx, "POST", c.txn("auths"), `{"merchantRefNum":"verify-`+cd.id+`","amount":1200,"card":{"paymentToken":"`+cd.token+`"}}`)
			if err != nil {
				return err
			}
			if r.status != 200 || r.str("status") != "COMPLETED" {
				t.Errorf("acknowledged card %s: its token does not pay: %s", cd.id, r)
			}
			return nil
		})
	}
	for _, a := range l.auths {
		if !smp.take(a.cycle) {
			continue
		}
		add(func() error {
			r, err := c.paysafe(ctx, "GET", c.txn("auths/"+a.id), "")
			if err != nil {
				return err
			}
			if r.status != 200 || r.num("amount") != a.amount || r.str("status") != "COMPLETED" {
				t.Errorf("acknowledged auth %s: %s", a.id, r)
			}
			if a.swa {
				s, err := c.paysafe(ctx, "GET", c.txn("settlements/"+a.id), "")
				if err != nil {
					return err
				}
				if s.status != 200 || s.num("amount") != a.amount {
					t.Errorf("the settlement of acknowledged auth %s (settleWithAuth): %s", a.id, s)
				}
			}
			return nil
		})
	}
	for _, s := range l.settles {
		if !smp.take(s.cycle) || s.id == s.authID {
			continue
		}
		add(func() error {
			r, err := c.paysafe(ctx, "GET", c.txn("settlements/"+s.id), "")
			if err != nil {
				return err
			}
			if r.status != 200 || r.num("amount") != s.amount || (r.str("status") != "PENDING" && r.str("status") != "COMPLETED") {
				t.Errorf("acknowledged settlement %s: %s", s.id, r)
			}
			return nil
		})
	}
	for _, rf := range l.refunds {
		if !smp.take(rf.cycle) {
			continue
		}
		add(func() error {
			r, err := c.paysafe(ctx, "GET", c.txn("refunds/"+rf.id), "")
			if err != nil {
				return err
			}
			if r.status != 200 || r.num("amount") != rf.amount {
				t.Errorf("acknowledged refund %s: %s", rf.id, r)
			}
			return nil
		})
	}
	for _, v := range l.vaults {
		if !smp.take(v.cycle) {
			continue
		}
		add(func() error {
			r, err := c.fortis(ctx, "GET", "/v2/accountvaults/"+v.id, "")
			if err != nil {
				return err
			}
			if r.status != 200 || r.obj("accountvault").str("last_four") != v.last4 {
				t.Errorf("acknowledged account vault %s: %s", v.id, r)
			}
			return nil
		})
	}
	for _, sl := range l.sales {
		if !smp.take(sl.cycle) {
			continue
		}
		add(func() error { return checkFortisTxn(ctx, t, c, sl.id, sl.amount, 101) })
	}
	for _, rf := range l.frefunds {
		if !smp.take(rf.cycle) {
			continue
		}
		add(func() error { return checkFortisTxn(ctx, t, c, rf.id, rf.amount, 111) })
	}
	// A consumed single-use token stays consumed: using it again is 5500.
	for _, s := range l.suts {
		if s.state != sutConsumed || !smp.take(s.cycle) {
			continue
		}
		add(func() error {
			r, err := c.paysafe(ctx, "POST", c.txn("auths"), `{"merchantRefNum":"reuse-`+s.token+`","amount":1500,"card":{"paymentToken":"`+s.token+`"}}`)
			if err != nil {
				return err
			}
			if r.status != 400 || r.errCode() != "5500" {
				t.Errorf("a consumed single-use token was usable again: %s", r)
			}
			return nil
		})
	}
	// A consumed ticket stays consumed.
	for _, tk := range l.tickets {
		if !tk.consumed || !smp.take(tk.cycle) {
			continue
		}
		add(func() error {
			r, err := c.fortis(ctx, "POST", "/v2/accountvaults", `{"accountvault":{"payment_method":"cc","ticket":"`+tk.id+`","location_id":"`+c.creds.Fortis.LocationID+`"}}`)
			if err != nil {
				return err
			}
			if r.status != 422 {
				t.Errorf("a consumed ticket was usable again: %s", r)
			}
			return nil
		})
	}
	// Acknowledged idempotent requests replay the same answer.
	for _, k := range l.idem {
		if !smp.take(k.cycle) {
			continue
		}
		add(func() error { return checkReplay(ctx, t, c, k) })
	}
	l.mu.Unlock()

	// Run the checks on a few connections at once.
	var wg sync.WaitGroup
	next := make(chan func() error)
	errc := make(chan error, 1)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range next {
				if err := f(); err != nil {
					select {
					case errc <- err:
					default:
					}
				}
			}
		}()
	}
	for _, f := range checks {
		next <- f
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatalf("verification after restart: %v", err)
	default:
	}
	return len(checks)
}

// checkReplay sends an acknowledged idempotent request again and wants the same answer.
func checkReplay(ctx context.Context, t *testing.T, c *client, k *idemRec) error {
	r, err := c.paysafe(ctx, "POST", k.path, k.body, "Idempotency-Key", k.key)
	if err != nil {
		return err
	}
	id := r.str("id")
	if r.status != k.status || id != k.id || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("idempotent request %s %s: replay = %s (replayed %q); first answer %d id %s",
			k.key, k.path, r, r.header.Get("Idempotent-Replayed"), k.status, k.id)
	}
	return nil
}

// checkFortisTxn wants an acknowledged Fortis transaction with its amount and status.
func checkFortisTxn(ctx context.Context, t *testing.T, c *client, id string, cents int64, status int) error {
	r, err := c.fortis(ctx, "GET", "/v2/transactions/"+id, "")
	if err != nil {
		return err
	}
	v := r.obj("transaction")
	if r.status != 200 || v.str("transaction_amount") != dollars(cents) || v.num("status_id") != int64(status) {
		t.Errorf("acknowledged Fortis transaction %s (%s, status %d): %s", id, dollars(cents), status, r)
	}
	return nil
}
