package paysafe

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/payvault/payvault/internal/bank"
	"github.com/payvault/payvault/internal/vault"
)

// bankKind describes one of the four bank account collections (§2.5–2.9).
type bankKind struct {
	kind      string // kind is the core instrument kind.
	path      string // path is the collection's path segment.
	tokenKind string // tokenKind is the single-use token kind it accepts, if any.
	minLen    int    // minLen and maxLen bound the account number's digits.
	maxLen    int
}

// bankKinds returns the four bank account collections.
func bankKinds() []bankKind {
	return []bankKind{
		{kind: vault.KindACH, path: "achbankaccounts", tokenKind: vault.TokenACH, minLen: 4, maxLen: 17},
		{kind: vault.KindBACS, path: "bacsbankaccounts", minLen: 4, maxLen: 10},
		{kind: vault.KindEFT, path: "eftbankaccounts", tokenKind: vault.TokenEFT, minLen: 4, maxLen: 12},
		{kind: vault.KindSEPA, path: "sepabankaccounts"},
	}
}

// maxNewMandates is the most mandates a BACS or SEPA account create may carry (Paysafe sets
// none; an account has one in practice, and more are added through the mandates route).
const maxNewMandates = 50

// hasMandates reports whether the kind carries mandates (BACS and SEPA).
func (k bankKind) hasMandates() bool { return k.kind == vault.KindBACS || k.kind == vault.KindSEPA }

// bankAccountRoutes registers the bank account routes of every kind.
func (a *API) bankAccountRoutes() {
	for _, k := range bankKinds() {
		coll := "/customervault/v1/profiles/{p}/" + k.path
		a.handle(http.MethodPost, coll, serverOnly, a.handleBankAccountCreate(k))
		a.handle(http.MethodGet, coll+"/{id}", serverOnly, a.handleBankAccountGet(k))
		a.handle(http.MethodPut, coll+"/{id}", serverOnly, a.handleBankAccountUpdate(k))
		a.handle(http.MethodDelete, coll+"/{id}", serverOnly, a.handleBankAccountDelete(k))
	}
}

// bankInput is a bank account object read from a request. Identity fields are empty when
// absent; on PUT that keeps the stored value.
type bankInput struct {
	in       vault.Instrument
	number   string
	token    string
	mandates []string
}

// optIdentity reads a bank identity field that may be absent (PUT, or a token create); when
// present it must satisfy ok.
func (o obj) optIdentity(name, msg string, ok func(string) bool) string {
	s, st := o.str(name)
	if st != present || strings.TrimSpace(s) == "" {
		return ""
	}
	if !ok(s) {
		o.fail(name, msg)
		return ""
	}
	return s
}

// readBank reads a bank account of kind k. create says whether identity fields are required;
// on a create with a singleUseToken they come from the token instead, and the body's are
// ignored.
func (a *API) readBank(o obj, k bankKind, p *vault.Principal, create bool) bankInput {
	var b bankInput
	b.in.Kind = k.kind
	if create && k.tokenKind != "" {
		if tok, st := o.str("singleUseToken"); st == present && strings.TrimSpace(tok) != "" {
			b.token = tok
		}
	}
	required := create && b.token == ""
	// identity reads a field required on create and kept when absent otherwise. With a
	// single-use token the token is the account: the body's identity fields are ignored, as
	// cardNum is with a card token (§2.4).
	identity := func(name, msg string, ok func(string) bool) string {
		if b.token != "" {
			return ""
		}
		if required {
			return o.readDigits(name, msg, ok)
		}
		return o.optIdentity(name, msg, ok)
	}
	if b.token == "" {
		b.in.HolderName = o.reqString("accountHolderName", 1, 160)
		b.in.BillingAddressID = o.reqID("billingAddressId")
	} else {
		b.in.HolderName = o.optString("accountHolderName", 160)
		b.in.BillingAddressID, _ = o.str("billingAddressId")
	}
	b.in.NickName = o.optString("nickName", 50)
	b.in.MerchantRefNum = o.optString("merchantRefNum", 255)
	if k.kind != vault.KindSEPA {
		b.number = identity("accountNumber", "Invalid account number", accountNumberRule(k.minLen, k.maxLen))
	}
	switch k.kind {
	case vault.KindACH:
		b.in.RoutingNumber = identity("routingNumber", "Invalid routing number", func(s string) bool {
			return vault.CheckRouting(p.Merchant, s) == nil // nine digits; live merchants also the ABA checksum
		})
		if b.token == "" {
			b.in.AccountType = o.reqEnum("accountType", "Invalid Account Type", "CHECKING", "SAVINGS", "LOAN")
		} else {
			b.in.AccountType = o.enum("accountType", "Invalid Account Type", "CHECKING", "SAVINGS", "LOAN")
		}
	case vault.KindBACS:
		sc := identity("sortCode", "Invalid sort code", sortCodeRule)
		b.in.SortCode, _ = bank.SortCode(sc)
	case vault.KindEFT:
		b.in.TransitNumber = identity("transitNumber", "Invalid transit number", bank.Transit)
		b.in.InstitutionID = identity("institutionId", "Invalid institution ID", bank.Institution)
	case vault.KindSEPA:
		b.number = identity("iban", "Invalid IBAN", ibanRule)
		b.in.BIC = strings.ToUpper(o.optIdentity("bic", "Invalid BIC", bicRule))
	}
	if create && k.hasMandates() {
		ms := o.objects("mandates")
		if len(ms) > maxNewMandates {
			// One create makes its mandates in one transaction, and every GET of the account
			// answers them all: a 1 MiB body would make some 55,000.
			o.fail("mandates", "size must be between 0 and "+strconv.Itoa(maxNewMandates))
			ms = nil
		}
		for _, m := range ms {
			b.mandates = append(b.mandates, m.reqString("reference", 1, vault.MaxMandateReference))
		}
	}
	return b
}

// mandatesOf returns a BACS or SEPA account's mandates, nil for other kinds.
func (a *API) mandatesOf(ctx context.Context, p *vault.Principal, in *vault.Instrument) ([]*vault.Mandate, error) {
	if in.Kind != vault.KindBACS && in.Kind != vault.KindSEPA {
		return nil, nil
	}
	return a.vault.ListMandates(ctx, p, in.ID)
}

// handleBankAccountCreate answers POST /customervault/v1/profiles/{p}/{ach,bacs,eft,sepa}bankaccounts.
// BACS and SEPA accounts may carry mandates, created in the same transaction; ACH and EFT
// accounts may come from a single-use token.
func (a *API) handleBankAccountCreate(k bankKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
		pid := r.PathValue("p")
		if _, err := a.vault.GetProfile(r.Context(), p, pid); err != nil {
			return err
		}
		o, err := readObject(r)
		if err != nil {
			return err
		}
		b := a.readBank(o, k, p, true)
		if err := o.errs.err(); err != nil {
			return err
		}
		in := b.in
		in.ProfileID = pid
		src := vault.Source{Number: b.number}
		var ms []*vault.Mandate // as the create stored them: a read after it could fail a stored create
		opt := vault.CreateOptions{Mandates: b.mandates, NewMandates: &ms, RequireBillingAddress: true}
		if b.token != "" {
			src = vault.Source{Token: b.token, TokenKinds: []string{k.tokenKind}}
			opt.TokenBillingAsAddress = true
		}
		out, err := a.vault.CreateInstrument(r.Context(), p, &in, src, opt)
		if err != nil {
			return wireCtx{kind: k.kind}.wrap(err)
		}
		a.writeCreated(w, r, "/customervault/v1/profiles/"+pid+"/"+k.path+"/"+out.ID, toBankJSON(out, ms))
		return nil
	}
}

// handleBankAccountGet answers GET /customervault/v1/profiles/{p}/{kind}bankaccounts/{id}.
func (a *API) handleBankAccountGet(k bankKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
		in, err := a.vault.GetProfileInstrument(r.Context(), p, r.PathValue("p"), r.PathValue("id"), k.kind)
		if err != nil {
			return err
		}
		ms, err := a.mandatesOf(r.Context(), p, in)
		if err != nil {
			return err
		}
		writeOK(w, toBankJSON(in, ms))
		return nil
	}
}

// handleBankAccountUpdate answers PUT /customervault/v1/profiles/{p}/{kind}bankaccounts/{id}:
// the mutable fields are replaced; identity fields are kept when absent and validated and
// replaced when present (§1.9).
func (a *API) handleBankAccountUpdate(k bankKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
		pid, id := r.PathValue("p"), r.PathValue("id")
		cur, err := a.vault.GetProfileInstrument(r.Context(), p, pid, id, k.kind)
		if err != nil {
			return err
		}
		o, err := readObject(r)
		if err != nil {
			return err
		}
		if k.kind == vault.KindSEPA {
			o.ignoreEcho("iban", cur.IBANMasked) // a GET body PUT back keeps the IBAN (§1.3, §2.5)
		}
		b := a.readBank(o, k, p, false)
		if err := o.errs.err(); err != nil {
			return err
		}
		var su vault.SecretUpdate
		if b.number != "" {
			su.Number = &b.number
		}
		var ms []*vault.Mandate // read in the update's write: a read after it could fail a stored update
		var uo vault.UpdateOptions
		if k.hasMandates() {
			uo.Mandates = &ms
		}
		out, err := a.vault.UpdateInstrumentWith(r.Context(), p, id, func(in *vault.Instrument) error {
			if err := belongs(in, pid, k.kind); err != nil {
				return err
			}
			in.HolderName, in.BillingAddressID = b.in.HolderName, b.in.BillingAddressID
			in.NickName, in.MerchantRefNum = b.in.NickName, b.in.MerchantRefNum
			keep(&in.AccountType, b.in.AccountType)
			keep(&in.RoutingNumber, b.in.RoutingNumber)
			keep(&in.SortCode, b.in.SortCode)
			keep(&in.TransitNumber, b.in.TransitNumber)
			keep(&in.InstitutionID, b.in.InstitutionID)
			keep(&in.BIC, b.in.BIC)
			return nil
		}, su, uo)
		if err != nil {
			return wireCtx{kind: k.kind}.wrap(err)
		}
		writeOK(w, toBankJSON(out, ms))
		return nil
	}
}

// ignoreEcho treats a string member equal to echoed, the masked value a GET renders for it,
// as absent, so that a client may PUT back the document it read (response fields echoed back
// are ignored, §1.3). Any other value is read as usual.
func (o obj) ignoreEcho(name, echoed string) {
	if s, st := o.str(name); st == present && echoed != "" && s == echoed {
		delete(o.m, name)
	}
}

// keep replaces *dst with v unless v is empty.
func keep(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

// handleBankAccountDelete answers DELETE /customervault/v1/profiles/{p}/{kind}bankaccounts/{id}
// and removes the account's mandates with it.
func (a *API) handleBankAccountDelete(k bankKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
		in, err := a.vault.GetProfileInstrument(r.Context(), p, r.PathValue("p"), r.PathValue("id"), k.kind)
		if err != nil {
			return err
		}
		if err := a.vault.DeleteInstrument(r.Context(), p, in.ID); err != nil {
			return err
		}
		writeDeleted(w)
		return nil
	}
}
