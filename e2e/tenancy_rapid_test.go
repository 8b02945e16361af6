package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/payvault/payvault/internal/storetest"
)

// TestTenantIsolationRandomized (issue 10, point 7) runs random operations by three merchants
// over HTTP against the real server: Paysafe profiles, addresses, cards, bank accounts,
// single-use tokens and card payments; Fortis contacts, vaults and tickets made by users with
// different location access (one merchant has a second location, a user for each and a user
// for both). Between them it aims every kind of access at records the caller may not reach:
// reads, updates and deletes by id, sub-resources under a foreign parent, foreign tokens and
// tickets in payments and creates, foreign ids as body references, lists scoped to a foreign
// location. Each attempt must get the vendor's not-found or invalid answer, must commit
// nothing (the database's data_version stays put; a refused card payment adds only its FAILED
// record), and must leave the record as its owner reads it. At the end of each check the
// owners still use every single-use token and ticket the attackers tried.
//
// CI runs 50 checks; run more with -rapid.checks=N (or RAPID_CHECKS).
func TestTenantIsolationRandomized(t *testing.T) {
	if f := flag.Lookup("rapid.checks"); f != nil && os.Getenv("RAPID_CHECKS") == "" {
		set := false
		flag.Visit(func(g *flag.Flag) { set = set || g.Name == "rapid.checks" })
		if !set {
			f.Value.Set("50")
			t.Cleanup(func() { f.Value.Set(f.DefValue) })
		}
	}
	s := mustBadServer(t, false)
	w := newTenancyWorld(t, s)
	rapid.Check(t, func(rt *rapid.T) {
		c := &tenancyCheck{w: w, t: rt}
		rt.Repeat(map[string]func(*rapid.T){
			"psProfile": c.psProfile,
			"psAddress": c.psAddress,
			"psCard":    c.psCard,
			"psBank":    c.psBank,
			"psSUT":     c.psSUT,
			"psAuth":    c.psAuth,
			"fxContact": c.fxContact,
			"fxVault":   c.fxVault,
			"fxTicket":  c.fxTicket,
			"fxSale":    c.fxSale,
			"attack":    c.attack,
			"attack ":   c.attack, // attacks are drawn three times as often as any other action
			"attack  ":  c.attack,
			"listLeak":  c.listLeak,
		})
		c.ownersStillUseTheirTokens()
	})
	t.Logf("%d refused cross-tenant attempts: %v", w.attempts, w.byKind)
}

// tenant is a merchant as the test holds it.
type tenant struct {
	n       int
	basic   string // basic is the Paysafe server credential.
	sutKey  string // sutKey is the single-use-token credential.
	acct    string // acct is the card-payments account number.
	loc     string // loc is the default location.
	profile string // profile is a long-lived profile, for attacks that need a parent of one's own.
}

// String names the tenant in rapid's output, which must not show its credentials.
func (tn *tenant) String() string { return fmt.Sprintf("merchant %d", tn.n) }

// fortisUser is a Fortis user and the locations it reaches.
type fortisUser struct {
	name     string
	merchant int
	header   map[string]string
	locs     []string
}

// String names the user in rapid's output, which must not show its key.
func (u *fortisUser) String() string { return u.name }

// tenancyWorld is the server and its tenants, shared by every check.
type tenancyWorld struct {
	s       *badServer
	outer   *testing.T
	watch   *storetest.Watch
	tenants []*tenant
	users   []*fortisUser
	seq     int
	// attempts counts the cross-tenant accesses made, byKind by target kind.
	attempts int
	byKind   map[string]int
}

func newTenancyWorld(t *testing.T, s *badServer) *tenancyWorld {
	w := &tenancyWorld{s: s, outer: t, byKind: map[string]int{}}
	c := s.main.Credentials
	add := func(basic, sut, acct, loc, dev, user, key string) {
		n := len(w.tenants)
		tn := &tenant{n: n, basic: basic, sutKey: sut, acct: acct, loc: loc}
		w.tenants = append(w.tenants, tn)
		w.users = append(w.users, &fortisUser{name: fmt.Sprintf("m%d-default", n), merchant: n,
			header: map[string]string{"developer-id": dev, "user-id": user, "user-api-key": key}, locs: []string{loc}})
	}
	add(basicAuth(c.Paysafe.APIKeyID, c.Paysafe.APIKeySecret), basicAuth(c.Paysafe.SingleUseKeyID, c.Paysafe.SingleUseKeySecret),
		c.Paysafe.AccountNumber, c.Fortis.LocationID, c.Fortis.DeveloperID, c.Fortis.UserID, c.Fortis.UserAPIKey)
	admin := "Bearer e2e-admin-token-0123456789abcdef"
	for i := 1; i <= 2; i++ {
		m := s.must(t, "POST", "/admin/v1/merchants", fmt.Sprintf(`{"name":"Tenant %d"}`, i), admin, nil)
		p, f := m["paysafe"].(map[string]any), m["fortis"].(map[string]any)
		str := func(m map[string]any, k string) string { return m[k].(string) }
		s.forbid(str(p, "api_key_secret"), str(p, "single_use_key_secret"), str(f, "user_api_key"), str(f, "ticket_hash_key"))
		add(basicAuth(str(p, "api_key_id"), str(p, "api_key_secret")), basicAuth(str(p, "single_use_key_id"), str(p, "single_use_key_secret")),
			str(p, "account_number"), str(f, "location_id"), str(f, "developer_id"), str(f, "user_id"), str(f, "user_api_key"))
	}
	// Merchant 0's second location, its own user, and a user for both locations.
	l2 := s.must(t, "POST", "/admin/v1/merchants/"+c.MerchantID+"/locations", `{"name":"Second"}`, admin, nil)
	s.forbid(l2["ticket_hash_key"].(string))
	loc2 := l2["id"].(string)
	for _, u := range []struct {
		name string
		body string
		locs []string
	}{
		{"m0-second", `{"username":"second","primary_location_id":"` + loc2 + `"}`, []string{loc2}},
		{"m0-both", `{"username":"both","primary_location_id":"` + c.Fortis.LocationID + `","location_ids":["` + c.Fortis.LocationID + `","` + loc2 + `"]}`, []string{c.Fortis.LocationID, loc2}},
	} {
		r := s.must(t, "POST", "/admin/v1/merchants/"+c.MerchantID+"/users", u.body, admin, nil)
		s.forbid(r["user_api_key"].(string))
		w.users = append(w.users, &fortisUser{name: u.name, merchant: 0, locs: u.locs,
			header: map[string]string{"developer-id": c.Fortis.DeveloperID, "user-id": r["id"].(string), "user-api-key": r["user_api_key"].(string)}})
	}
	for _, tn := range w.tenants {
		tn.profile = s.must(t, "POST", "/customervault/v1/profiles", fmt.Sprintf(`{"merchantCustomerId":"home-%d","locale":"en_US"}`, tn.n), tn.basic, nil)["id"].(string)
	}
	s.forbid(tenancyPANs...)
	s.forbid("3366570418", "DE89370400440532013000")
	w.watch = storetest.MustWatch(t, s.main.Store.DB())
	return w
}

// tenancyPANs are the card numbers the checks vault.
var tenancyPANs = []string{"4111111111111111", "5454545454545454", "4012888888881881", "371449635398431", "6011000995500000", "5200400000000009", "4530910000012345"}

// record is something one tenant created.
type record struct {
	kind     string // profile, address, card, bank, sut, auth, contact, vault, ticket
	owner    int
	loc      string // loc is the record's location.
	id       string
	token    string
	profile  string // profile is a Paysafe sub-record's parent.
	creator  *fortisUser
	used     bool // used marks a single-use token or ticket its owner has consumed.
	attacked bool
}

// String describes the record in rapid's output.
func (r *record) String() string {
	return fmt.Sprintf("%s %s of merchant %d", r.kind, r.id+r.token, r.owner)
}

// tenancyCheck is one rapid check's records.
type tenancyCheck struct {
	w       *tenancyWorld
	t       *rapid.T
	records []*record
}

// answer is one HTTP answer.
type answer struct {
	status int
	raw    []byte
	body   map[string]any
}

func (a answer) code() string {
	e, _ := a.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// call makes one request as a Paysafe tenant (auth) or a Fortis user (header).
func (c *tenancyCheck) call(method, path, body, auth string, header map[string]string) answer {
	status, _, raw := c.w.s.send(c.w.outer, method, path, body, auth, header)
	a := answer{status: status, raw: raw}
	json.Unmarshal(raw, &a.body)
	if status >= 500 {
		c.t.Fatalf("%s %s: %d %s", method, path, status, raw)
	}
	return a
}

func (c *tenancyCheck) uniq(prefix string) string {
	c.w.seq++
	return fmt.Sprintf("%s-%d", prefix, c.w.seq)
}

func (c *tenancyCheck) tenant(label string) *tenant {
	return rapid.SampledFrom(c.w.tenants).Draw(c.t, label)
}

// pick draws one of the check's records that satisfies ok, or skips the action.
func (c *tenancyCheck) pick(label string, ok func(*record) bool) *record {
	var rs []*record
	for _, r := range c.records {
		if ok(r) {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		c.t.Skip("no record to use")
	}
	return rapid.SampledFrom(rs).Draw(c.t, label)
}

func (c *tenancyCheck) psProfile(t *rapid.T) { c.newProfile(c.tenant("merchant")) }

// newProfile creates a profile for tn.
func (c *tenancyCheck) newProfile(tn *tenant) *record {
	a := c.call("POST", "/customervault/v1/profiles", `{"merchantCustomerId":"`+c.uniq("mc")+`","locale":"en_US"}`, tn.basic, nil)
	c.want(a, 201, "create profile")
	r := &record{kind: "profile", owner: tn.n, loc: tn.loc, id: a.body["id"].(string), token: a.body["paymentToken"].(string)}
	c.records = append(c.records, r)
	return r
}

// parent returns one of the check's records of kind, or a new one made by create.
func (c *tenancyCheck) parent(kind string, create func() *record) *record {
	var rs []*record
	for _, r := range c.records {
		if r.kind == kind {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 || rapid.Bool().Draw(c.t, "new "+kind) {
		return create()
	}
	return rapid.SampledFrom(rs).Draw(c.t, kind)
}

func (c *tenancyCheck) profileParent() *record {
	return c.parent("profile", func() *record { return c.newProfile(c.tenant("merchant")) })
}

func (c *tenancyCheck) psAddress(t *rapid.T) { c.newAddress(c.profileParent()) }

// newAddress creates an address under profile p.
func (c *tenancyCheck) newAddress(p *record) *record {
	a := c.call("POST", "/customervault/v1/profiles/"+p.id+"/addresses", `{"country":"US","zip":"10014"}`, c.w.tenants[p.owner].basic, nil)
	c.want(a, 201, "create address")
	r := &record{kind: "address", owner: p.owner, loc: p.loc, id: a.body["id"].(string), profile: p.id}
	c.records = append(c.records, r)
	return r
}

func (c *tenancyCheck) psCard(t *rapid.T) { c.newCard(c.profileParent()) }

// newCard creates a card under profile p (or skips when p already holds the number drawn).
func (c *tenancyCheck) newCard(p *record) *record {
	pan := rapid.SampledFrom(tenancyPANs).Draw(c.t, "pan")
	a := c.call("POST", "/customervault/v1/profiles/"+p.id+"/cards", `{"cardNum":"`+pan+`","cardExpiry":{"month":12,"year":2045}}`, c.w.tenants[p.owner].basic, nil)
	if a.status == 409 {
		c.t.Skip("the profile already holds this number")
	}
	c.want(a, 201, "create card")
	r := &record{kind: "card", owner: p.owner, loc: p.loc, id: a.body["id"].(string), token: a.body["paymentToken"].(string), profile: p.id}
	c.records = append(c.records, r)
	return r
}

func (c *tenancyCheck) psBank(t *rapid.T) {
	ad := c.parent("address", func() *record { return c.newAddress(c.profileParent()) })
	tn := c.w.tenants[ad.owner]
	body := `{"accountHolderName":"T","accountNumber":"3366570418","routingNumber":"211589828","accountType":"CHECKING","billingAddressId":"` + ad.id + `"}`
	kind := "achbankaccounts"
	if rapid.Bool().Draw(t, "sepa") {
		kind, body = "sepabankaccounts", `{"accountHolderName":"T","iban":"DE89370400440532013000","billingAddressId":"`+ad.id+`"}`
	}
	a := c.call("POST", "/customervault/v1/profiles/"+ad.profile+"/"+kind, body, tn.basic, nil)
	c.want(a, 201, "create bank account")
	c.records = append(c.records, &record{kind: "bank/" + kind, owner: ad.owner, loc: ad.loc, id: a.body["id"].(string), token: a.body["paymentToken"].(string), profile: ad.profile})
}

func (c *tenancyCheck) psSUT(t *rapid.T) {
	tn := c.tenant("merchant")
	pan := rapid.SampledFrom(tenancyPANs).Draw(t, "pan")
	a := c.call("POST", "/customervault/v1/singleusetokens", `{"card":{"cardNum":"`+pan+`","cardExpiry":{"month":12,"year":2045}}}`, tn.sutKey, nil)
	c.want(a, 200, "create single-use token")
	c.records = append(c.records, &record{kind: "sut", owner: tn.n, loc: tn.loc, token: a.body["paymentToken"].(string)})
}

func (c *tenancyCheck) psAuth(t *rapid.T) {
	card := c.parent("card", func() *record { return c.newCard(c.profileParent()) })
	tn := c.w.tenants[card.owner]
	a := c.call("POST", "/cardpayments/v1/accounts/"+tn.acct+"/auths", `{"merchantRefNum":"`+c.uniq("ref")+`","amount":1000,"card":{"paymentToken":"`+card.token+`"}}`, tn.basic, nil)
	c.want(a, 200, "auth")
	c.records = append(c.records, &record{kind: "auth", owner: card.owner, loc: card.loc, id: a.body["id"].(string)})
}

func (c *tenancyCheck) user(label string) (*fortisUser, string) {
	u := rapid.SampledFrom(c.w.users).Draw(c.t, label)
	return u, rapid.SampledFrom(u.locs).Draw(c.t, label+"-location")
}

func (c *tenancyCheck) fxContact(t *rapid.T) {
	u, loc := c.user("user")
	a := c.call("POST", "/v2/contacts", `{"contact":{"location_id":"`+loc+`","last_name":"`+c.uniq("ln")+`"}}`, "", u.header)
	c.want(a, 201, "create contact")
	c.records = append(c.records, &record{kind: "contact", owner: u.merchant, loc: loc, id: a.body["contact"].(map[string]any)["id"].(string), creator: u})
}

func (c *tenancyCheck) fxVault(t *rapid.T) {
	u, loc := c.user("user")
	pan := rapid.SampledFrom(tenancyPANs).Draw(t, "pan")
	a := c.call("POST", "/v2/accountvaults", `{"accountvault":{"location_id":"`+loc+`","payment_method":"cc","account_number":"`+pan+`","exp_date":"1245"}}`, "", u.header)
	c.want(a, 201, "create vault")
	c.records = append(c.records, &record{kind: "vault", owner: u.merchant, loc: loc, id: a.body["accountvault"].(map[string]any)["id"].(string), creator: u})
}

func (c *tenancyCheck) fxTicket(t *rapid.T) {
	u, loc := c.user("user")
	a := c.call("POST", "/v2/cardtickets", `{"cardticket":{"location_id":"`+loc+`","account_number":"4012888888881881","exp_date":"1245"}}`, "", u.header)
	c.want(a, 201, "create ticket")
	c.records = append(c.records, &record{kind: "ticket", owner: u.merchant, loc: loc, id: a.body["cardticket"].(map[string]any)["id"].(string), creator: u})
}

func (c *tenancyCheck) fxSale(t *rapid.T) {
	u, loc := c.user("user")
	pan := rapid.SampledFrom(tenancyPANs).Draw(t, "pan")
	a := c.call("POST", "/v2/transactions", `{"transaction":{"location_id":"`+loc+`","action":"sale","payment_method":"cc","transaction_amount":"12.00","account_number":"`+pan+`","exp_date":"1245"}}`, "", u.header)
	c.want(a, 201, "sale")
	c.records = append(c.records, &record{kind: "sale", owner: u.merchant, loc: loc, id: a.body["transaction"].(map[string]any)["id"].(string), creator: u})
}

func (c *tenancyCheck) want(a answer, status int, what string) {
	if a.status != status {
		c.t.Fatalf("%s: %d, want %d: %s", what, a.status, status, a.raw)
	}
}

// reaches reports whether a Fortis user may use a record.
func (u *fortisUser) reaches(r *record) bool {
	return u.merchant == r.owner && slices.Contains(u.locs, r.loc)
}

// ownerRead returns the record as its owner reads it, or nil for tokens and tickets.
func (c *tenancyCheck) ownerRead(r *record) []byte {
	tn := c.w.tenants[r.owner]
	var a answer
	switch r.kind {
	case "profile":
		a = c.call("GET", "/customervault/v1/profiles/"+r.id+"?fields=cards,addresses", "", tn.basic, nil)
	case "address":
		a = c.call("GET", "/customervault/v1/profiles/"+r.profile+"/addresses/"+r.id, "", tn.basic, nil)
	case "card":
		a = c.call("GET", "/customervault/v1/profiles/"+r.profile+"/cards/"+r.id, "", tn.basic, nil)
	case "bank/achbankaccounts", "bank/sepabankaccounts":
		a = c.call("GET", "/customervault/v1/profiles/"+r.profile+"/"+strings.TrimPrefix(r.kind, "bank/")+"/"+r.id, "", tn.basic, nil)
	case "auth":
		a = c.call("GET", "/cardpayments/v1/accounts/"+tn.acct+"/auths/"+r.id, "", tn.basic, nil)
	case "contact":
		a = c.call("GET", "/v2/contacts/"+r.id, "", "", r.creator.header)
	case "vault":
		a = c.call("GET", "/v2/accountvaults/"+r.id, "", "", r.creator.header)
	case "sale":
		a = c.call("GET", "/v2/transactions/"+r.id, "", "", r.creator.header)
	default:
		return nil
	}
	if a.status != 200 {
		c.t.Fatalf("the owner cannot read its %s %s: %d %s", r.kind, r.id, a.status, a.raw)
	}
	return a.raw
}

// attempt is one access aimed at a record the caller may not reach, with the answer the
// vendor documents for it.
type attempt struct {
	name               string
	method, path, body string
	auth               string
	header             map[string]string
	status             int
	code               string // code is the Paysafe code; for Fortis, the 422 field (or "").
	payment            bool   // payment marks a refused card payment, which §2.12 stores as FAILED.
}

// attack aims a random access at a random record from a caller that may not reach it.
func (c *tenancyCheck) attack(t *rapid.T) {
	r := c.pick("target", func(*record) bool { return true })
	var attempts []attempt
	// Paysafe callers: every other merchant.
	for _, tn := range c.w.tenants {
		if tn.n == r.owner {
			continue
		}
		attempts = append(attempts, c.paysafeAttempts(tn, r)...)
	}
	// Fortis callers: users of other merchants, and users of the owner without the location.
	for _, u := range c.w.users {
		if u.reaches(r) {
			continue
		}
		attempts = append(attempts, c.fortisAttempts(u, r)...)
	}
	if len(attempts) == 0 {
		t.Skip("no attack applies")
	}
	at := rapid.SampledFrom(attempts).Draw(t, "attempt")
	before := c.ownerRead(r)
	version := c.w.watch.Version(c.w.outer)
	a := c.call(at.method, at.path, at.body, at.auth, at.header)
	if a.status != at.status {
		t.Fatalf("%s on %s %s: %d, want %d: %s", at.name, r.kind, r.id+r.token, a.status, at.status, a.raw)
	}
	if at.auth != "" && a.code() != at.code {
		t.Fatalf("%s on %s: code %q, want %q: %s", at.name, r.kind, a.code(), at.code, a.raw)
	}
	if at.auth == "" && at.status == 422 {
		errs, _ := a.body["errors"].(map[string]any)
		if _, ok := errs[at.code]; !ok || len(errs) != 1 {
			t.Fatalf("%s on %s: want a 422 on %s only: %s", at.name, r.kind, at.code, a.raw)
		}
	}
	if strings.Contains(string(a.raw), r.token) && r.token != "" {
		t.Fatalf("%s on %s: the answer shows the record's token: %s", at.name, r.kind, a.raw)
	}
	if !at.payment && c.w.watch.Version(c.w.outer) != version {
		t.Fatalf("%s on %s %s was refused but committed a change", at.name, r.kind, r.id+r.token)
	}
	if after := c.ownerRead(r); string(after) != string(before) {
		t.Fatalf("%s changed the %s as its owner reads it:\n%s\n%s", at.name, r.kind, before, after)
	}
	r.attacked = true
	c.w.attempts++
	c.w.byKind[r.kind]++
}

// paysafeAttempts are the Paysafe accesses merchant tn may try on another merchant's record.
func (c *tenancyCheck) paysafeAttempts(tn *tenant, r *record) []attempt {
	prof := "/customervault/v1/profiles/"
	own := prof + tn.profile
	acct := "/cardpayments/v1/accounts/" + tn.acct
	nf := func(name, method, path, body string) attempt {
		return attempt{name: name, method: method, path: path, body: body, auth: tn.basic, status: 404, code: "5269"}
	}
	var out []attempt
	switch r.kind {
	case "profile", "contact":
		out = append(out,
			nf("get profile", "GET", prof+r.id, ""),
			nf("put profile", "PUT", prof+r.id, `{"merchantCustomerId":"x","locale":"en_US"}`),
			nf("delete profile", "DELETE", prof+r.id, ""),
			nf("add address", "POST", prof+r.id+"/addresses", `{"country":"US"}`),
			nf("add card", "POST", prof+r.id+"/cards", `{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":2045}}`))
		if r.token != "" {
			out = append(out, attempt{name: "pay with profile token", method: "POST", path: acct + "/auths", body: `{"merchantRefNum":"x","amount":1,"card":{"paymentToken":"` + r.token + `"}}`,
				auth: tn.basic, status: 400, code: "5500", payment: true})
		}
	case "address":
		out = append(out,
			nf("get address", "GET", prof+r.profile+"/addresses/"+r.id, ""),
			nf("delete address", "DELETE", prof+r.profile+"/addresses/"+r.id, ""),
			nf("address under own profile", "GET", own+"/addresses/"+r.id, ""),
			attempt{name: "billing address", method: "POST", path: own + "/cards", body: `{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":2045},"billingAddressId":"` + r.id + `"}`,
				auth: tn.basic, status: 400, code: "7511"})
	case "card":
		out = append(out,
			nf("get card", "GET", prof+r.profile+"/cards/"+r.id, ""),
			nf("put card", "PUT", prof+r.profile+"/cards/"+r.id, `{"cardExpiry":{"month":1,"year":2046}}`),
			nf("delete card", "DELETE", prof+r.profile+"/cards/"+r.id, ""),
			nf("card under own profile", "GET", own+"/cards/"+r.id, ""),
			nf("delete card under own profile", "DELETE", own+"/cards/"+r.id, ""),
			attempt{name: "pay with card token", method: "POST", path: acct + "/auths", body: `{"merchantRefNum":"x","amount":1,"card":{"paymentToken":"` + r.token + `"}}`,
				auth: tn.basic, status: 400, code: "5500", payment: true},
			attempt{name: "verify card token", method: "POST", path: acct + "/verifications", body: `{"merchantRefNum":"x","card":{"paymentToken":"` + r.token + `"}}`,
				auth: tn.basic, status: 400, code: "5500", payment: true})
	case "bank/achbankaccounts", "bank/sepabankaccounts":
		kind := strings.TrimPrefix(r.kind, "bank/")
		out = append(out,
			nf("get bank account", "GET", prof+r.profile+"/"+kind+"/"+r.id, ""),
			nf("delete bank account", "DELETE", prof+r.profile+"/"+kind+"/"+r.id, ""),
			nf("bank account under own profile", "GET", own+"/"+kind+"/"+r.id, ""))
	case "sut":
		out = append(out,
			attempt{name: "vault foreign token", method: "POST", path: own + "/cards", body: `{"singleUseToken":"` + r.token + `"}`, auth: tn.basic, status: 400, code: "5068"},
			attempt{name: "profile with foreign token", method: "POST", path: "/customervault/v1/profiles", body: `{"merchantCustomerId":"x-` + r.token + `","locale":"en_US","card":{"singleUseToken":"` + r.token + `"}}`, auth: tn.basic, status: 400, code: "5068"},
			attempt{name: "pay with foreign token", method: "POST", path: acct + "/auths", body: `{"merchantRefNum":"x","amount":1,"card":{"paymentToken":"` + r.token + `"}}`,
				auth: tn.basic, status: 400, code: "5500", payment: true})
	case "auth":
		owner := "/cardpayments/v1/accounts/" + c.w.tenants[r.owner].acct
		out = append(out,
			nf("get auth", "GET", acct+"/auths/"+r.id, ""),
			nf("settle auth", "POST", acct+"/auths/"+r.id+"/settlements", `{"merchantRefNum":"x","amount":1}`),
			nf("void auth", "POST", acct+"/auths/"+r.id+"/voidauths", `{"merchantRefNum":"x","amount":1}`),
			attempt{name: "owner's account", method: "GET", path: owner + "/auths/" + r.id, auth: tn.basic, status: 403, code: "5270"})
	case "vault":
		out = append(out, nf("vault as a card", "GET", own+"/cards/"+r.id, ""))
	case "sale":
		out = append(out, nf("sale as an auth", "GET", acct+"/auths/"+r.id, ""),
			nf("settle a sale", "POST", acct+"/auths/"+r.id+"/settlements", `{"merchantRefNum":"x","amount":1}`))
	case "ticket":
		out = append(out, attempt{name: "ticket as a token", method: "POST", path: acct + "/auths", body: `{"merchantRefNum":"x","amount":1,"card":{"paymentToken":"` + r.id + `"}}`,
			auth: tn.basic, status: 400, code: "5500", payment: true})
	}
	return out
}

// fortisAttempts are the Fortis accesses user u may try on a record it may not reach.
func (c *tenancyCheck) fortisAttempts(u *fortisUser, r *record) []attempt {
	loc := u.locs[0]
	nf := func(name, method, path, body string) attempt {
		return attempt{name: name, method: method, path: path, body: body, header: u.header, status: 404}
	}
	bad := func(name, field, body string) attempt {
		return attempt{name: name, method: "POST", path: "/v2/accountvaults", body: body, header: u.header, status: 422, code: field}
	}
	vault := func(fields string) string {
		return `{"accountvault":{"location_id":"` + loc + `","payment_method":"cc"` + fields + `}}`
	}
	sale := func(fields string) string {
		return `{"transaction":{"location_id":"` + loc + `","action":"sale","payment_method":"cc","transaction_amount":"1.00"` + fields + `}}`
	}
	badTxn := func(name, field, body string) attempt {
		return attempt{name: name, method: "POST", path: "/v2/transactions", body: body, header: u.header, status: 422, code: field}
	}
	var out []attempt
	switch r.kind {
	case "profile", "contact":
		out = append(out,
			badTxn("sale for foreign contact", "contact_id", sale(`,"account_number":"4111111111111111","exp_date":"1245","contact_id":"`+r.id+`"`)),
			nf("get contact", "GET", "/v2/contacts/"+r.id, ""),
			nf("put contact", "PUT", "/v2/contacts/"+r.id, `{"contact":{"last_name":"x"}}`),
			nf("delete contact", "DELETE", "/v2/contacts/"+r.id, ""),
			bad("vault for foreign contact", "contact_id", vault(`,"account_number":"4111111111111111","exp_date":"1245","contact_id":"`+r.id+`"`)))
	case "card", "vault":
		out = append(out,
			nf("get vault", "GET", "/v2/accountvaults/"+r.id, ""),
			nf("bininfo", "GET", "/v2/accountvaults/"+r.id+"/bininfo", ""),
			nf("put vault", "PUT", "/v2/accountvaults/"+r.id, `{"accountvault":{"title":"x"}}`),
			nf("delete vault", "DELETE", "/v2/accountvaults/"+r.id, ""),
			bad("copy foreign vault", "previous_account_vault_id", vault(`,"previous_account_vault_id":"`+r.id+`"`)),
			badTxn("sale from foreign vault", "account_vault_id", sale(`,"account_vault_id":"`+r.id+`"`)))
	case "ticket":
		out = append(out, bad("vault from foreign ticket", "ticket", vault(`,"ticket":"`+r.id+`"`)),
			badTxn("sale from foreign ticket", "ticket", sale(`,"ticket":"`+r.id+`"`)))
	case "sale", "auth":
		out = append(out,
			nf("get transaction", "GET", "/v2/transactions/"+r.id, ""),
			nf("transaction bininfo", "GET", "/v2/transactions/"+r.id+"/bininfo", ""),
			badTxn("refund foreign transaction", "previous_transaction_id", `{"transaction":{"location_id":"`+loc+`","action":"refund","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"`+r.id+`"}}`),
			bad("vault from foreign transaction", "previous_transaction_id", vault(`,"previous_transaction_id":"`+r.id+`"`)))
	}
	if r.loc != "" && !slices.Contains(u.locs, r.loc) && (r.kind == "vault" || r.kind == "contact" || r.kind == "sale") {
		out = append(out, attempt{name: "list foreign location", method: "GET", path: "/v2/accountvaults?location_id=" + r.loc, header: u.header, status: 422, code: "location_id"},
			attempt{name: "list foreign location's transactions", method: "GET", path: "/v2/transactions?location_id=" + r.loc, header: u.header, status: 422, code: "location_id"})
	}
	return out
}

// listLeak lists as a random Fortis user and checks that no record it may not reach shows.
func (c *tenancyCheck) listLeak(t *rapid.T) {
	u := rapid.SampledFrom(c.w.users).Draw(t, "user")
	coll := rapid.SampledFrom([]string{"accountvaults", "contacts", "transactions"}).Draw(t, "collection")
	a := c.call("GET", "/v2/"+coll+"?location_id="+strings.Join(u.locs, ",")+"&page_size=5000", "", "", u.header)
	c.want(a, 200, "list")
	for _, r := range c.records {
		if r.id != "" && !u.reaches(r) && strings.Contains(string(a.raw), r.id) {
			t.Fatalf("%s's %s list shows a %s of merchant %d in %s", u.name, coll, r.kind, r.owner, r.loc)
		}
	}
}

// ownersStillUseTheirTokens vaults, as its owner, every single-use token and ticket of the
// check: the refused foreign attempts must not have consumed them.
func (c *tenancyCheck) ownersStillUseTheirTokens() {
	for _, r := range c.records {
		switch {
		case r.kind == "sut":
			tn := c.w.tenants[r.owner]
			a := c.call("POST", "/customervault/v1/profiles", `{"merchantCustomerId":"`+c.uniq("sut")+`","locale":"en_US","card":{"singleUseToken":"`+r.token+`"}}`, tn.basic, nil)
			if a.status != 201 {
				c.t.Fatalf("the owner cannot vault its single-use token (attacked %v): %d %s", r.attacked, a.status, a.raw)
			}
		case r.kind == "ticket":
			a := c.call("POST", "/v2/accountvaults", `{"accountvault":{"location_id":"`+r.loc+`","payment_method":"cc","ticket":"`+r.id+`"}}`, "", r.creator.header)
			if a.status != 201 {
				c.t.Fatalf("the owner cannot vault its ticket (attacked %v): %d %s", r.attacked, a.status, a.raw)
			}
		}
	}
}
