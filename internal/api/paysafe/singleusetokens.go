package paysafe

import (
	"net/http"

	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/bank"
	"github.com/payvault/payvault/internal/vault"
)

// singleUseTokenRoutes registers the token endpoints (§2.11) and their CORS preflights. They
// accept the single-use-token key and the merchant's server credentials.
func (a *API) singleUseTokenRoutes() {
	for _, t := range []struct {
		path string
		h    handlerFunc
	}{
		{"/customervault/v1/singleusetokens", a.handleCardTokenCreate},
		{"/customervault/v1/achsingleusetokens", a.handleACHTokenCreate},
		{"/customervault/v1/eftsingleusetokens", a.handleEFTTokenCreate},
	} {
		a.handle(http.MethodPost, t.path, tokenCreation, a.withCORS(t.h))
		a.handle(http.MethodOptions, t.path, public, a.handleTokenPreflight)
	}
}

// handleTokenPreflight answers the CORS preflight (OPTIONS) of a token endpoint. A preflight
// carries no credentials, so it cannot name a merchant: it is answered for any origin, and
// the POST that follows enforces the merchant's allowed origins before anything is stored.
func (a *API) handleTokenPreflight(w http.ResponseWriter, r *http.Request, _ *vault.Principal) error {
	h := w.Header()
	h.Set("Allow", "OPTIONS, POST")
	if origin := r.Header.Get("Origin"); origin != "" {
		if _, ok := vault.NormalizeOrigin(origin); ok {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
		}
		h.Add("Vary", "Origin")
	}
	writeDeleted(w) // 200, empty body
	return nil
}

// withCORS enforces the merchant's allowed origins on a browser request to a token endpoint:
// an Origin the merchant (or its default location) does not allow is 403/5270 and nothing is
// created; an allowed one is echoed in Access-Control-Allow-Origin. A sandbox merchant with no
// origins configured allows any origin. Requests without an Origin (servers) pass, and so do
// requests from payvault's own origin: the hosted payment fields, whose page checked the
// merchant page's origin before it was served.
func (a *API) withCORS(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
		origin := r.Header.Get("Origin")
		if origin == "" {
			return h(w, r, p)
		}
		w.Header().Add("Vary", "Origin")
		loc, err := a.vault.Store().GetLocation(r.Context(), p.MerchantID(), p.DefaultLocation())
		if err != nil && vault.KindOf(err) != vault.NotFound {
			return err
		}
		if !httpx.SameOrigin(r, a.cfg.PublicBaseURL, origin) && !vault.OriginAllowed(p.Merchant, loc, origin) {
			return newError("5270")
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		return h(w, r, p)
	}
}

// tokenJSON is a single-use token response.
type tokenJSON struct {
	ID                string           `json:"id"`
	PaymentToken      string           `json:"paymentToken"`
	TimeToLiveSeconds int              `json:"timeToLiveSeconds"`
	Profile           *tokenProfile    `json:"profile,omitempty"`
	BillingAddress    *tokenAddress    `json:"billingAddress,omitempty"`
	Card              *tokenCard       `json:"card,omitempty"`
	ACHBankAccount    *tokenBankDetail `json:"achBankAccount,omitempty"`
	EFTBankAccount    *tokenBankDetail `json:"eftBankAccount,omitempty"`
}

// tokenCard is the card of a card token; holderName is stored but not echoed.
type tokenCard struct {
	CardBin      string     `json:"cardBin"`
	LastDigits   string     `json:"lastDigits"`
	CardExpiry   expiryJSON `json:"cardExpiry"`
	CardType     string     `json:"cardType,omitempty"`
	CardCategory string     `json:"cardCategory,omitempty"`
}

// tokenBankDetail is the bank account of an ACH or EFT token, with lastDigits for the number.
type tokenBankDetail struct {
	AccountHolderName string `json:"accountHolderName,omitempty"`
	LastDigits        string `json:"lastDigits"`
	RoutingNumber     string `json:"routingNumber,omitempty"`
	AccountType       string `json:"accountType,omitempty"`
	TransitNumber     string `json:"transitNumber,omitempty"`
	InstitutionID     string `json:"institutionId,omitempty"`
}

// tokenProfile is the customer block of a bank token.
type tokenProfile struct {
	FirstName string `json:"firstName,omitempty"`
	LastName  string `json:"lastName,omitempty"`
	Email     string `json:"email,omitempty"`
}

// tokenAddress is a token's billing address, echoed as sent (normalised).
type tokenAddress struct {
	NickName      string `json:"nickName,omitempty"`
	Street        string `json:"street,omitempty"`
	Street2       string `json:"street2,omitempty"`
	City          string `json:"city,omitempty"`
	Country       string `json:"country"`
	State         string `json:"state,omitempty"`
	Zip           string `json:"zip,omitempty"`
	RecipientName string `json:"recipientName,omitempty"`
	Phone         string `json:"phone,omitempty"`
}

func toTokenAddress(ad *vault.Address) *tokenAddress {
	if ad == nil {
		return nil
	}
	return &tokenAddress{NickName: ad.NickName, Street: ad.Street, Street2: ad.Street2, City: ad.City, Country: ad.Country,
		State: ad.State, Zip: ad.Zip, RecipientName: ad.RecipientName, Phone: ad.Phone}
}

// readTokenBilling reads an optional billingAddress (country required when present).
func readTokenBilling(o obj) *vault.Address {
	bo, st := o.object("billingAddress")
	if st != present {
		return nil
	}
	var ad vault.Address
	bo.readAddress(&ad)
	return &ad
}

// tokenBase renders what every token response has; timeToLiveSeconds follows from its expiry.
func tokenBase(t *vault.OneTimeToken) tokenJSON {
	return tokenJSON{ID: t.ID, PaymentToken: t.Token, TimeToLiveSeconds: int(t.Expires.Sub(t.Created).Seconds())}
}

// handleCardTokenCreate answers POST /customervault/v1/singleusetokens: a card (cardNum and
// cardExpiry required; cvv, holderName and billingAddress optional) behind an SC… token that
// lives 899 s. The CVV is sealed and destroyed when the token is consumed or expires.
func (a *API) handleCardTokenCreate(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	o, err := readObject(r)
	if err != nil {
		return err
	}
	co, st := o.object("card")
	if st == absent {
		o.fail("card", msgNull)
	}
	var c cardInput
	if st == present {
		c = a.readCard(co, cardToken)
	}
	if err := o.errs.err(); err != nil {
		return err
	}
	if err := c.brandError(); err != nil {
		return err
	}
	t, err := a.vault.CreateOneTimeToken(r.Context(), p, vault.NewOneTimeToken{
		Kind: vault.TokenCard, Number: c.pan, Expiry: c.expiry, CVV: c.cvv,
		Meta: vault.TokenMeta{HolderName: c.holderName, Billing: c.billing},
	})
	if err != nil {
		return wireCtx{kind: vault.KindCard, prefix: "card."}.wrap(err)
	}
	body := tokenBase(t)
	ct := a.storedCardType(t.Meta.BIN, t.Meta.PANLength)
	body.Card = &tokenCard{CardBin: t.Meta.BIN, LastDigits: t.Meta.LastFour,
		CardExpiry: expiryJSON{Month: t.Meta.ExpMonth, Year: t.Meta.ExpYear}, CardType: ct, CardCategory: cardCategory(ct)}
	body.BillingAddress = toTokenAddress(t.Meta.Billing)
	writeOK(w, body)
	return nil
}

// readTokenProfile reads a bank token's optional profile {firstName, lastName, email}.
func readTokenProfile(o obj) *vault.Customer {
	po, st := o.object("profile")
	if st != present {
		return nil
	}
	c := &vault.Customer{FirstName: po.optString("firstName", 80), LastName: po.optString("lastName", 80), Email: po.readEmail("email")}
	if *c == (vault.Customer{}) {
		return nil
	}
	return c
}

// handleACHTokenCreate answers POST /customervault/v1/achsingleusetokens: achBankAccount
// {accountHolderName, accountNumber, routingNumber, accountType} with optional profile and
// billingAddress, behind an SA… token.
func (a *API) handleACHTokenCreate(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	return a.bankTokenCreate(w, r, p, bankKinds()[0], "achBankAccount")
}

// handleEFTTokenCreate answers POST /customervault/v1/eftsingleusetokens: eftBankAccount
// {accountHolderName, accountNumber, transitNumber, institutionId} with optional profile and
// billingAddress, behind an SE… token.
func (a *API) handleEFTTokenCreate(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	return a.bankTokenCreate(w, r, p, bankKinds()[2], "eftBankAccount")
}

func (a *API) bankTokenCreate(w http.ResponseWriter, r *http.Request, p *vault.Principal, k bankKind, member string) error {
	o, err := readObject(r)
	if err != nil {
		return err
	}
	bo, st := o.object(member)
	if st == absent {
		o.fail(member, msgNull)
	}
	var d tokenBankDetail
	var number string
	if st == present {
		d.AccountHolderName = bo.reqString("accountHolderName", 1, 160)
		number = bo.readDigits("accountNumber", "Invalid account number", accountNumberRule(k.minLen, k.maxLen))
		if k.kind == vault.KindACH {
			d.RoutingNumber = bo.readDigits("routingNumber", "Invalid routing number", func(s string) bool { return vault.CheckRouting(p.Merchant, s) == nil })
			d.AccountType = bo.reqEnum("accountType", "Invalid Account Type", "CHECKING", "SAVINGS", "LOAN")
		} else {
			d.TransitNumber = bo.readDigits("transitNumber", "Invalid transit number", bank.Transit)
			d.InstitutionID = bo.readDigits("institutionId", "Invalid institution ID", bank.Institution)
		}
	}
	prof := readTokenProfile(o)
	billing := readTokenBilling(o)
	if err := o.errs.err(); err != nil {
		return err
	}
	kind := vault.TokenACH
	if k.kind == vault.KindEFT {
		kind = vault.TokenEFT
	}
	t, err := a.vault.CreateOneTimeToken(r.Context(), p, vault.NewOneTimeToken{
		Kind: kind, Number: number,
		Meta: vault.TokenMeta{AccountHolder: d.AccountHolderName, AccountType: d.AccountType, RoutingNumber: d.RoutingNumber,
			TransitNumber: d.TransitNumber, InstitutionID: d.InstitutionID, Billing: billing, Profile: prof},
	})
	if err != nil {
		return wireCtx{kind: k.kind, prefix: member + ".", profile: "profile."}.wrap(err)
	}
	d.LastDigits = t.Meta.LastFour
	body := tokenBase(t)
	if k.kind == vault.KindACH {
		body.ACHBankAccount = &d
	} else {
		body.EFTBankAccount = &d
	}
	if prof != nil {
		body.Profile = &tokenProfile{FirstName: prof.FirstName, LastName: prof.LastName, Email: prof.Email}
	}
	body.BillingAddress = toTokenAddress(billing)
	writeOK(w, body)
	return nil
}
