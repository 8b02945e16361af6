package chaos

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/payvault/payvault/internal/keys"
)

// worker is one client writing through the real APIs until its node dies or ctx ends. Every
// acknowledged write goes into the ledger; an unexpected answer fails the test.
type worker struct {
	t   *testing.T
	l   *ledger
	c   *client
	rng *rand.Rand
}

// op is one kind of write and its weight.
type op struct {
	weight int
	run    func(w *worker, ctx context.Context) error
}

var ops = []op{
	{14, (*worker).profileWithCard},
	{3, (*worker).profileAlone},
	{8, (*worker).cardCreate},
	{8, (*worker).sutCreate},
	{6, (*worker).authBySUT},
	{4, (*worker).cardFromSUT},
	{14, (*worker).authByCard},
	{10, (*worker).settle},
	{8, (*worker).refund},
	{8, (*worker).fortisVault},
	{4, (*worker).fortisTicketVault},
	{7, (*worker).fortisSale},
	{5, (*worker).fortisRefund},
	{5, (*worker).replay},
}

var opWeights = func() int {
	n := 0
	for _, o := range ops {
		n += o.weight
	}
	return n
}()

// run writes until a request is cut off (the node died) or ctx ends.
func (w *worker) run(ctx context.Context) {
	for ctx.Err() == nil {
		n := w.rng.IntN(opWeights)
		var o op
		for _, o = range ops {
			if n < o.weight {
				break
			}
			n -= o.weight
		}
		if err := o.run(w, ctx); err != nil {
			w.l.mu.Lock()
			w.l.unknown++
			w.l.mu.Unlock()
			return
		}
	}
}

// unexpected reports an answer no correct server gives.
func (w *worker) unexpected(what string, r reply) {
	w.t.Errorf("%s: unexpected answer %s", what, r)
}

func (w *worker) pan() string {
	p := newPAN(w.rng)
	w.l.mu.Lock()
	w.l.pans = append(w.l.pans, p)
	w.l.mu.Unlock()
	return p
}

func (w *worker) ref(prefix string) string { return prefix + "-" + keys.RandomString(16, keys.Alnum) }

// idemKey returns an Idempotency-Key for about a third of the requests, else "".
func (w *worker) idemKey() string {
	if w.rng.IntN(3) != 0 {
		return ""
	}
	return "chaos-" + keys.RandomString(24, keys.Alnum)
}

// postPaysafe sends a Paysafe POST with an optional Idempotency-Key.
func (w *worker) postPaysafe(ctx context.Context, path, body, key string) (reply, error) {
	if key == "" {
		return w.c.paysafe(ctx, "POST", path, body)
	}
	return w.c.paysafe(ctx, "POST", path, body, "Idempotency-Key", key)
}

// remember records an acknowledged idempotent request. The caller holds the ledger lock.
func (w *worker) remember(key, path, body string, r reply) {
	if key != "" {
		w.l.idem = append(w.l.idem, &idemRec{key: key, path: path, body: body, status: r.status, id: r.str("id"), cycle: w.l.cycle})
	}
}

// profileWithCard creates a profile with a nested card and billing address: all or nothing.
func (w *worker) profileWithCard(ctx context.Context) error {
	pan, mcid, key := w.pan(), w.ref("pc"), w.idemKey()
	body := `{"merchantCustomerId":"` + mcid + `","locale":"en_US","firstName":"Chaos","lastName":"Monkey","email":"chaos@example.com",` +
		`"card":{"cardNum":"` + pan + `","cardExpiry":{"month":12,"year":2040},"billingAddress":{"street":"10 Main St","city":"NYC","country":"US","state":"NY","zip":"10014"}}}`
	const path = "/customervault/v1/profiles"
	r, err := w.postPaysafe(ctx, path, body, key)
	if err != nil {
		return err
	}
	cards, _ := r.body["cards"].([]any)
	if r.status != 201 || len(cards) != 1 {
		w.unexpected("profile with card", r)
		return nil
	}
	cd := reply{body: cards[0].(map[string]any)}
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	p := &profileRec{id: r.str("id"), mcid: mcid, withCard: true, cycle: w.l.cycle}
	w.l.profiles = append(w.l.profiles, p)
	w.l.cards = append(w.l.cards, &cardRec{id: cd.str("id"), profileID: p.id, token: cd.str("paymentToken"), last4: pan[12:], cycle: w.l.cycle})
	w.l.ack("profile+card")
	w.remember(key, path, body, r)
	return nil
}

// profileAlone creates a profile without a card.
func (w *worker) profileAlone(ctx context.Context) error {
	mcid, key := w.ref("p"), w.idemKey()
	body := `{"merchantCustomerId":"` + mcid + `","locale":"en_GB","firstName":"Solo"}`
	const path = "/customervault/v1/profiles"
	r, err := w.postPaysafe(ctx, path, body, key)
	if err != nil {
		return err
	}
	if r.status != 201 {
		w.unexpected("profile", r)
		return nil
	}
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	w.l.profiles = append(w.l.profiles, &profileRec{id: r.str("id"), mcid: mcid, cycle: w.l.cycle})
	w.l.ack("profile")
	w.remember(key, path, body, r)
	return nil
}

// cardCreate adds a raw card to an acknowledged profile.
func (w *worker) cardCreate(ctx context.Context) error {
	w.l.mu.Lock()
	p := pick(w.rng, w.l.profiles, nil)
	w.l.mu.Unlock()
	if p == nil {
		return w.profileAlone(ctx)
	}
	pan, key := w.pan(), w.idemKey()
	path := "/customervault/v1/profiles/" + p.id + "/cards"
	body := `{"cardNum":"` + pan + `","cardExpiry":{"month":11,"year":2041},"nickName":"chaos","holderName":"Chaos Monkey"}`
	r, err := w.postPaysafe(ctx, path, body, key)
	if err != nil {
		return err
	}
	if r.status != 201 {
		w.unexpected("card create", r)
		return nil
	}
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	w.l.cards = append(w.l.cards, &cardRec{id: r.str("id"), profileID: p.id, token: r.str("paymentToken"), last4: pan[12:], cycle: w.l.cycle})
	w.l.ack("card")
	w.remember(key, path, body, r)
	return nil
}

// sutCreate creates a single-use card token with the single-use-token key.
func (w *worker) sutCreate(ctx context.Context) error {
	pan := w.pan()
	r, err := w.c.paysafeSUT(ctx, "POST", "/customervault/v1/singleusetokens",
		`{"card":{"cardNum":"`+pan+`","cardExpiry":{"month":10,"year":2042},"cvv":"123"},"billingAddress":{"street":"10 Main St","country":"US","zip":"10014"}}`)
	if err != nil {
		return err
	}
	if r.status != 200 || r.str("paymentToken") == "" {
		w.unexpected("single-use token create", r)
		return nil
	}
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	w.l.suts = append(w.l.suts, &sutRec{token: r.str("paymentToken"), cycle: w.l.cycle})
	w.l.ack("single-use token")
	return nil
}

// takeSUT marks a fresh acknowledged token in flight and returns it, or nil.
func (w *worker) takeSUT() *sutRec {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	s := pick(w.rng, w.l.suts, func(s *sutRec) bool { return s.state == sutFresh })
	if s != nil {
		s.state = sutInFlight
	}
	return s
}

// addAuth records an acknowledged auth and, when it settled with the auth, its settlement.
// The caller holds the ledger lock.
func (w *worker) addAuth(r reply, amount int64, swa bool) {
	a := &authRec{id: r.str("id"), amount: amount, swa: swa, left: amount, cycle: w.l.cycle}
	if swa {
		a.left = 0
		w.l.settles = append(w.l.settles, &settleRec{id: a.id, authID: a.id, amount: amount, left: amount, cycle: w.l.cycle})
	}
	w.l.auths = append(w.l.auths, a)
}

// authBySUT authorizes with a single-use token, which consumes it.
func (w *worker) authBySUT(ctx context.Context) error {
	s := w.takeSUT()
	if s == nil {
		return w.sutCreate(ctx)
	}
	amount, swa := safeAmount(w.rng), w.rng.IntN(2) == 0
	r, err := w.c.paysafe(ctx, "POST", w.c.txn("auths"),
		`{"merchantRefNum":"`+w.ref("sut")+`","amount":`+itoa(amount)+`,"settleWithAuth":`+boolText(swa)+`,"card":{"paymentToken":"`+s.token+`"}}`)
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	if err != nil {
		s.state = sutUnknown
		return err
	}
	if r.status != 200 || r.num("amount") != amount {
		s.state = sutUnknown
		w.unexpected("auth by single-use token "+s.token, r)
		return nil
	}
	s.state = sutConsumed
	w.addAuth(r, amount, swa)
	w.l.ack("auth")
	return nil
}

// cardFromSUT vaults a single-use token as a card of an acknowledged profile.
func (w *worker) cardFromSUT(ctx context.Context) error {
	w.l.mu.Lock()
	p := pick(w.rng, w.l.profiles, nil)
	w.l.mu.Unlock()
	if p == nil {
		return w.profileWithCard(ctx)
	}
	s := w.takeSUT()
	if s == nil {
		return w.sutCreate(ctx)
	}
	r, err := w.c.paysafe(ctx, "POST", "/customervault/v1/profiles/"+p.id+"/cards", `{"singleUseToken":"`+s.token+`"}`)
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	if err != nil {
		s.state = sutUnknown
		return err
	}
	if r.status != 201 {
		s.state = sutUnknown
		w.unexpected("card from single-use token "+s.token, r)
		return nil
	}
	s.state = sutConsumed
	w.l.cards = append(w.l.cards, &cardRec{id: r.str("id"), profileID: p.id, token: r.str("paymentToken"), last4: r.str("lastDigits"), cycle: w.l.cycle})
	w.l.ack("card")
	return nil
}

// authByCard authorizes with a vault card token, sometimes settling with the auth.
func (w *worker) authByCard(ctx context.Context) error {
	w.l.mu.Lock()
	cd := pick(w.rng, w.l.cards, nil)
	w.l.mu.Unlock()
	if cd == nil {
		return w.profileWithCard(ctx)
	}
	amount, swa, key := safeAmount(w.rng), w.rng.IntN(3) == 0, w.idemKey()
	path := w.c.txn("auths")
	body := `{"merchantRefNum":"` + w.ref("card") + `","amount":` + itoa(amount) + `,"settleWithAuth":` + boolText(swa) +
		`,"card":{"paymentToken":"` + cd.token + `"}}`
	r, err := w.postPaysafe(ctx, path, body, key)
	if err != nil {
		return err
	}
	if r.status != 200 || r.num("amount") != amount {
		w.unexpected("auth by card token", r)
		return nil
	}
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	w.addAuth(r, amount, swa)
	w.l.ack("auth")
	w.remember(key, path, body, r)
	return nil
}

// settle settles part or all of what an acknowledged auth has left.
func (w *worker) settle(ctx context.Context) error {
	w.l.mu.Lock()
	a := pick(w.rng, w.l.auths, func(a *authRec) bool { return a.left > 0 })
	left := int64(0)
	if a != nil {
		left = a.left
	}
	w.l.mu.Unlock()
	if a == nil {
		return w.authByCard(ctx)
	}
	amount := int64(0) // the rest
	body := `{"merchantRefNum":"` + w.ref("settle") + `"}`
	if w.rng.IntN(4) != 0 {
		amount = 1 + w.rng.Int64N(left)
		body = `{"merchantRefNum":"` + w.ref("settle") + `","amount":` + itoa(amount) + `}`
	}
	r, err := w.c.paysafe(ctx, "POST", w.c.txn("auths/"+a.id+"/settlements"), body)
	if err != nil {
		return err
	}
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	switch {
	case r.status == 200:
		got := r.num("amount")
		if amount != 0 && got != amount || got > a.amount {
			w.unexpected("settlement of "+itoa(amount), r)
		}
		a.left = max(0, a.left-got)
		w.l.settles = append(w.l.settles, &settleRec{id: r.str("id"), authID: a.id, amount: got, left: got, cycle: w.l.cycle})
		w.l.ack("settlement")
	case r.status == 402 && (r.errCode() == "3203" || r.errCode() == "3204"):
		// A settlement cut off by a kill took part of it.
		w.l.refused["settlement beyond what is left"]++
	default:
		w.unexpected("settlement", r)
	}
	return nil
}

// refund refunds part or all of what an acknowledged settlement has left.
func (w *worker) refund(ctx context.Context) error {
	w.l.mu.Lock()
	s := pick(w.rng, w.l.settles, func(s *settleRec) bool { return s.left > 0 })
	left := int64(0)
	if s != nil {
		left = s.left
	}
	w.l.mu.Unlock()
	if s == nil {
		return w.settle(ctx)
	}
	amount := 1 + w.rng.Int64N(left)
	r, err := w.c.paysafe(ctx, "POST", w.c.txn("settlements/"+s.id+"/refunds"),
		`{"merchantRefNum":"`+w.ref("refund")+`","amount":`+itoa(amount)+`}`)
	if err != nil {
		return err
	}
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	switch {
	case r.status == 200 && r.num("amount") == amount:
		s.left = max(0, s.left-amount)
		w.l.refunds = append(w.l.refunds, &refundRec{id: r.str("id"), settleID: s.id, amount: amount, cycle: w.l.cycle})
		w.l.ack("refund")
	case r.status == 402 && (r.errCode() == "3402" || r.errCode() == "3404"):
		w.l.refused["refund beyond what is left"]++
	default:
		w.unexpected("refund", r)
	}
	return nil
}

// fortisVault creates a Fortis card account vault.
func (w *worker) fortisVault(ctx context.Context) error {
	pan := w.pan()
	r, err := w.c.fortis(ctx, "POST", "/v2/accountvaults",
		`{"accountvault":{"payment_method":"cc","account_number":"`+pan+`","exp_date":"1230","account_holder_name":"Chaos Monkey","location_id":"`+w.c.creds.Fortis.LocationID+`"}}`)
	if err != nil {
		return err
	}
	v := r.obj("accountvault")
	if r.status != 201 || v.str("id") == "" {
		w.unexpected("account vault create", r)
		return nil
	}
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	w.l.vaults = append(w.l.vaults, &vaultRec{id: v.str("id"), last4: pan[12:], cycle: w.l.cycle})
	w.l.ack("account vault")
	return nil
}

// fortisTicketVault creates a card ticket and vaults it, which consumes it.
func (w *worker) fortisTicketVault(ctx context.Context) error {
	pan, loc := w.pan(), w.c.creds.Fortis.LocationID
	r, err := w.c.fortis(ctx, "POST", "/v2/cardtickets", `{"cardticket":{"account_number":"`+pan+`","exp_date":"0931","location_id":"`+loc+`"}}`)
	if err != nil {
		return err
	}
	tk := r.obj("cardticket").str("id")
	if r.status != 201 || tk == "" {
		w.unexpected("card ticket", r)
		return nil
	}
	w.l.mu.Lock()
	rec := &ticketRec{id: tk, cycle: w.l.cycle}
	w.l.tickets = append(w.l.tickets, rec)
	w.l.ack("card ticket")
	w.l.mu.Unlock()
	r, err = w.c.fortis(ctx, "POST", "/v2/accountvaults", `{"accountvault":{"payment_method":"cc","ticket":"`+tk+`","location_id":"`+loc+`","title":"from ticket"}}`)
	if err != nil {
		return err
	}
	v := r.obj("accountvault")
	if r.status != 201 || v.str("id") == "" {
		w.unexpected("account vault from ticket", r)
		return nil
	}
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	rec.consumed = true
	w.l.vaults = append(w.l.vaults, &vaultRec{id: v.str("id"), last4: pan[12:], cycle: w.l.cycle})
	w.l.ack("account vault")
	return nil
}

// fortisSale runs a Fortis sale on an acknowledged account vault.
func (w *worker) fortisSale(ctx context.Context) error {
	w.l.mu.Lock()
	v := pick(w.rng, w.l.vaults, nil)
	w.l.mu.Unlock()
	if v == nil {
		return w.fortisVault(ctx)
	}
	cents := fortisAmount(w.rng)
	r, err := w.c.fortis(ctx, "POST", "/v2/transactions",
		`{"transaction":{"action":"sale","payment_method":"cc","transaction_amount":"`+dollars(cents)+`","account_vault_id":"`+v.id+`"}}`)
	if err != nil {
		return err
	}
	t := r.obj("transaction")
	if r.status != 201 || t.num("status_id") != 101 || t.str("transaction_amount") != dollars(cents) {
		w.unexpected("Fortis sale", r)
		return nil
	}
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	w.l.sales = append(w.l.sales, &saleRec{id: t.str("id"), amount: cents, left: cents, cycle: w.l.cycle})
	w.l.ack("Fortis sale")
	return nil
}

// fortisRefund refunds part of an acknowledged Fortis sale.
func (w *worker) fortisRefund(ctx context.Context) error {
	w.l.mu.Lock()
	sl := pick(w.rng, w.l.sales, func(s *saleRec) bool { return s.left > 0 })
	left := int64(0)
	if sl != nil {
		left = sl.left
	}
	w.l.mu.Unlock()
	if sl == nil {
		return w.fortisSale(ctx)
	}
	cents := 1 + w.rng.Int64N(left)
	r, err := w.c.fortis(ctx, "POST", "/v2/transactions",
		`{"transaction":{"action":"refund","payment_method":"cc","transaction_amount":"`+dollars(cents)+`","previous_transaction_id":"`+sl.id+`"}}`)
	if err != nil {
		return err
	}
	t := r.obj("transaction")
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	switch {
	case r.status == 201 && t.num("status_id") == 111 && t.str("transaction_amount") == dollars(cents):
		sl.left = max(0, sl.left-cents)
		w.l.frefunds = append(w.l.frefunds, &refundRec{id: t.str("id"), settleID: sl.id, amount: cents, cycle: w.l.cycle})
		w.l.ack("Fortis refund")
	case r.status == 422 && strings.Contains(string(r.raw), "transaction_amount"):
		w.l.refused["Fortis refund beyond what is left"]++
	default:
		w.unexpected("Fortis refund", r)
	}
	return nil
}

// replay sends an acknowledged idempotent request again.
func (w *worker) replay(ctx context.Context) error {
	w.l.mu.Lock()
	k := pick(w.rng, w.l.idem, nil)
	w.l.mu.Unlock()
	if k == nil {
		return w.authByCard(ctx)
	}
	return checkReplay(ctx, w.t, w.c, k)
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
