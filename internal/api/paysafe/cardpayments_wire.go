package paysafe

import (
	"net/http"
	"strings"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/vault"
)

// This file holds the card-payment documents (§2.12–§2.17): what a request carries, what the
// core keeps of it as the transaction's extras, and the response objects.

// maxPaymentAmount is the largest amount Paysafe accepts, in minor units (§2.12).
const maxPaymentAmount = 99999999

// descriptorJSON is a merchantDescriptor.
type descriptorJSON struct {
	DynamicDescriptor string `json:"dynamicDescriptor,omitempty"`
	Phone             string `json:"phone,omitempty"`
}

// billingJSON is a billingDetails or shippingDetails object.
type billingJSON struct {
	RecipientName string `json:"recipientName,omitempty"`
	Street        string `json:"street,omitempty"`
	Street2       string `json:"street2,omitempty"`
	City          string `json:"city,omitempty"`
	State         string `json:"state,omitempty"`
	Country       string `json:"country,omitempty"`
	Zip           string `json:"zip,omitempty"`
	Phone         string `json:"phone,omitempty"`
}

// storedCredentialJSON is a storedCredential.
type storedCredentialJSON struct {
	Type       string `json:"type,omitempty"`
	Occurrence string `json:"occurrence,omitempty"`
}

// customerJSON is the profile block of a transaction made with a vault or profile token.
type customerJSON struct {
	FirstName string `json:"firstName,omitempty"`
	LastName  string `json:"lastName,omitempty"`
	Email     string `json:"email,omitempty"`
}

// txnCardJSON is the card of a transaction.
type txnCardJSON struct {
	Type       string      `json:"type,omitempty"`
	LastDigits string      `json:"lastDigits,omitempty"`
	CardExpiry *expiryJSON `json:"cardExpiry,omitempty"`
}

// txnExtras are the request fields the core keeps for Paysafe without interpreting them, and
// the field errors of a request refused with 5068, under the keys where the core looks for
// them to drop the values they name (payments.WithoutRefused).
type txnExtras struct {
	Recurring          string                `json:"recurring,omitempty"`
	StoredCredential   *storedCredentialJSON `json:"storedCredential,omitempty"`
	ShippingDetails    *billingJSON          `json:"shippingDetails,omitempty"`
	CustomerIP         string                `json:"customerIp,omitempty"`
	Description        string                `json:"description,omitempty"`
	Keywords           []string              `json:"keywords,omitempty"`
	MerchantDescriptor *descriptorJSON       `json:"merchantDescriptor,omitempty"`
	DupCheck           bool                  `json:"dupCheck,omitempty"`
	FieldErrors        []fieldError          `json:"fieldErrors,omitempty"`
	ErrorMessage       string                `json:"errorMessage,omitempty"`
}

// paymentCard is the card of a payment request: a token, or a raw card. A raw card has no
// holderName (§2.12; nor has the SDKs' card-payment Card): one sent is an unknown field,
// ignored (§1.3).
type paymentCard struct {
	token   string
	pan     string
	expiry  card.Expiry
	cvv     string
	brand   card.Brand // brand is a raw number's brand by the Paysafe table (§3).
	noBrand bool       // noBrand marks a valid raw number no Paysafe brand accepts (3002).
}

// txnInput is a transaction-creating request as read.
type txnInput struct {
	ref            string
	amount         int64
	settleWithAuth bool
	dupCheck       bool
	card           paymentCard
	billing        *payments.Billing
	extras         txnExtras
}

// readAmount reads an amount in minor units, 1–99999999; absent is 0 (and "may not be null"
// when required). An integer past any int range (past 2^53 with a zero fraction, past int64)
// is out of that range too, and gets the range's error, not "Invalid value".
func (o obj) readAmount(name string, required bool) int64 {
	const tooLow, tooHigh = "must be greater than or equal to 1", "must be less than or equal to 99999999"
	if v, ok := o.raw(name); ok {
		switch hugeSign(v) {
		case 1:
			o.fail(name, tooHigh)
			return 0
		case -1:
			o.fail(name, tooLow)
			return 0
		}
	}
	n, st := o.integer(name)
	switch {
	case st == absent:
		if required {
			o.fail(name, msgNull)
		}
		return 0
	case st == bad:
		return 0
	case n < 1:
		o.fail(name, tooLow)
		return 0
	case n > maxPaymentAmount:
		o.fail(name, tooHigh)
		return 0
	}
	return int64(n)
}

// readPaymentCard reads a required card: {paymentToken, cvv?} or {cardNum, cardExpiry, cvv?}.
func (a *API) readPaymentCard(o obj, name string) paymentCard {
	var c paymentCard
	co, st := o.object(name)
	if st == absent {
		o.fail(name, msgNull)
	}
	if st != present {
		return c
	}
	c.cvv = co.readCVV("cvv")
	if tok, st := co.str("paymentToken"); st == present && strings.TrimSpace(tok) != "" {
		c.token = tok
		return c
	}
	pan, ok := co.readPAN("cardNum")
	c.expiry = co.readExpiry("cardExpiry")
	c.pan = pan
	if r, found := a.brands.Match(pan); found {
		c.brand = r.Brand
	}
	c.noBrand = ok && c.brand == ""
	return c
}

// readBilling reads an optional billingDetails or shippingDetails object.
func (o obj) readBilling(name string, shipping bool) *billingJSON {
	bo, st := o.object(name)
	if st != present {
		return nil
	}
	b := &billingJSON{
		Street: bo.optString("street", 50), Street2: bo.optString("street2", 50), City: bo.optString("city", 40),
		State: bo.optString("state", 40), Zip: bo.optString("zip", 10), Phone: bo.optString("phone", 40),
	}
	if shipping {
		b.RecipientName = bo.optString("recipientName", 255)
	}
	if c, st := bo.str("country"); st == present && strings.TrimSpace(c) != "" {
		b.Country = bo.readCountry("country") // optional here, with the §3 country rule alone
	}
	if *b == (billingJSON{}) {
		return nil
	}
	return b
}

// readStoredCredential reads an optional storedCredential.
func (o obj) readStoredCredential(name string) *storedCredentialJSON {
	so, st := o.object(name)
	if st != present {
		return nil
	}
	sc := &storedCredentialJSON{
		Type:       so.enum("type", msgInvalidValue, "ADHOC", "TOPUP", "RECURRING"),
		Occurrence: so.enum("occurrence", msgInvalidValue, "INITIAL", "SUBSEQUENT"),
	}
	if *sc == (storedCredentialJSON{}) {
		return nil
	}
	return sc
}

// readDescriptor reads an optional merchantDescriptor.
func (o obj) readDescriptor(name string) *descriptorJSON {
	do, st := o.object(name)
	if st != present {
		return nil
	}
	d := &descriptorJSON{DynamicDescriptor: do.optString("dynamicDescriptor", 20), Phone: do.optString("phone", 13)}
	if *d == (descriptorJSON{}) {
		return nil
	}
	return d
}

// readKeywords reads an optional array of strings, each coerced as str coerces one (§1.4).
func (o obj) readKeywords(name string) []string {
	v, ok := o.raw(name)
	if !ok {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		o.fail(name, msgInvalidValue)
		return nil
	}
	var out []string
	for _, e := range arr {
		s, ok := looseString(e)
		if !ok {
			o.fail(name, msgInvalidValue)
			return nil
		}
		out = append(out, s)
	}
	return out
}

// readCommon reads the fields every transaction-creating request has: merchantRefNum and
// dupCheck.
func (o obj) readCommon(in *txnInput) {
	in.ref = o.reqString("merchantRefNum", 1, 255)
	if b := o.boolean("dupCheck"); b != nil {
		in.dupCheck = *b
	}
	in.extras.DupCheck = in.dupCheck
}

// readAuth reads an auth or a verification request (§2.13, §2.17).
func (a *API) readAuth(o obj, verification bool) txnInput {
	var in txnInput
	o.readCommon(&in)
	if !verification {
		in.amount = o.readAmount("amount", true)
		if b := o.boolean("settleWithAuth"); b != nil {
			in.settleWithAuth = *b
		}
		in.extras.Recurring = o.enum("recurring", msgInvalidValue, "INITIAL", "RECURRING")
		in.extras.ShippingDetails = o.readBilling("shippingDetails", true)
		in.extras.Keywords = o.readKeywords("keywords")
		in.extras.MerchantDescriptor = o.readDescriptor("merchantDescriptor")
	}
	// The configured descriptor is kept with the transaction, which shows it for good.
	in.extras.MerchantDescriptor = a.descriptorOf(in.extras)
	in.card = a.readPaymentCard(o, "card")
	if b := o.readBilling("billingDetails", false); b != nil {
		in.billing = &payments.Billing{Street: b.Street, Street2: b.Street2, City: b.City, State: b.State, Country: b.Country, Zip: b.Zip, Phone: b.Phone}
	}
	in.extras.StoredCredential = o.readStoredCredential("storedCredential")
	in.extras.CustomerIP = o.readIP("customerIp")
	in.extras.Description = o.optString("description", 255)
	return in
}

// readFollowUp reads a settlement, voidauth or refund request: merchantRefNum, an optional
// amount and dupCheck.
func readFollowUp(o obj) txnInput {
	var in txnInput
	o.readCommon(&in)
	in.amount = o.readAmount("amount", false)
	return in
}

// source is the core source of a payment card.
func (c paymentCard) source() payments.Source {
	if c.token != "" {
		return payments.Source{Token: c.token, TokenKinds: []string{vault.TokenCard}, CVV: c.cvv}
	}
	return payments.Source{Number: c.pan, Expiry: c.expiry, Brand: c.brand, CVV: c.cvv}
}

// txnPath is the collection of a transaction type under an account.
func txnPath(ty payments.Type) string {
	switch ty {
	case payments.TypeAuth:
		return "auths"
	case payments.TypeSettlement:
		return "settlements"
	case payments.TypeVoid:
		return "voidauths"
	case payments.TypeRefund:
		return "refunds"
	case payments.TypeVerification:
		return "verifications"
	}
	return "transactions"
}

// wireID is the id Paysafe shows: a settlement made with its auth carries the auth's id.
func wireID(t *payments.Transaction) string {
	if t.Type == payments.TypeSettlement && t.SettleWithAuth && t.ParentID != "" {
		return t.ParentID
	}
	return t.ID
}

// selfLink is a transaction's self link.
func (a *API) selfLink(r *http.Request, t *payments.Transaction) link {
	return link{Rel: "self", Href: a.baseURL(r) + "/cardpayments/v1/accounts/" + t.AccountNumber + "/" + txnPath(t.Type) + "/" + wireID(t)}
}

// authJSON is an auth (§2.13), in the vendor's key order.
type authJSON struct {
	Links                  []link                `json:"links"`
	ID                     string                `json:"id"`
	MerchantRefNum         string                `json:"merchantRefNum,omitempty"`
	TxnTime                string                `json:"txnTime"`
	Status                 string                `json:"status"`
	Amount                 int64                 `json:"amount"`
	SettleWithAuth         bool                  `json:"settleWithAuth"`
	PreAuth                bool                  `json:"preAuth"`
	AvailableToSettle      int64                 `json:"availableToSettle"`
	Card                   *txnCardJSON          `json:"card,omitempty"`
	AuthCode               string                `json:"authCode,omitempty"`
	Profile                *customerJSON         `json:"profile,omitempty"`
	BillingDetails         *billingJSON          `json:"billingDetails,omitempty"`
	ShippingDetails        *billingJSON          `json:"shippingDetails,omitempty"`
	MerchantDescriptor     *descriptorJSON       `json:"merchantDescriptor,omitempty"`
	VisaAdditionalAuthData *struct{}             `json:"visaAdditionalAuthData,omitempty"`
	CurrencyCode           string                `json:"currencyCode"`
	AvsResponse            string                `json:"avsResponse,omitempty"`
	CvvVerification        string                `json:"cvvVerification,omitempty"`
	Recurring              string                `json:"recurring,omitempty"`
	StoredCredential       *storedCredentialJSON `json:"storedCredential,omitempty"`
	CustomerIP             string                `json:"customerIp,omitempty"`
	Description            string                `json:"description,omitempty"`
	Keywords               []string              `json:"keywords,omitempty"`
	Error                  *errorObject          `json:"error,omitempty"`
	Settlements            []settlementJSON      `json:"settlements,omitempty"`
}

// settlementJSON is a settlement (§2.14).
type settlementJSON struct {
	Links             []link       `json:"links"`
	ID                string       `json:"id"`
	MerchantRefNum    string       `json:"merchantRefNum,omitempty"`
	TxnTime           string       `json:"txnTime"`
	Status            string       `json:"status"`
	Amount            int64        `json:"amount"`
	AvailableToRefund int64        `json:"availableToRefund"`
	Error             *errorObject `json:"error,omitempty"`
}

// simpleTxnJSON is a voidauth or a refund (§2.15, §2.16).
type simpleTxnJSON struct {
	Links          []link       `json:"links"`
	ID             string       `json:"id"`
	MerchantRefNum string       `json:"merchantRefNum,omitempty"`
	TxnTime        string       `json:"txnTime"`
	Status         string       `json:"status"`
	Amount         int64        `json:"amount"`
	Error          *errorObject `json:"error,omitempty"`
}

// verificationJSON is a verification (§2.17).
type verificationJSON struct {
	Links                  []link                `json:"links"`
	ID                     string                `json:"id"`
	MerchantRefNum         string                `json:"merchantRefNum,omitempty"`
	TxnTime                string                `json:"txnTime"`
	Status                 string                `json:"status"`
	Card                   *txnCardJSON          `json:"card,omitempty"`
	AuthCode               string                `json:"authCode,omitempty"`
	Profile                *customerJSON         `json:"profile,omitempty"`
	BillingDetails         *billingJSON          `json:"billingDetails,omitempty"`
	MerchantDescriptor     *descriptorJSON       `json:"merchantDescriptor,omitempty"`
	VisaAdditionalAuthData *struct{}             `json:"visaAdditionalAuthData,omitempty"`
	CurrencyCode           string                `json:"currencyCode"`
	AvsResponse            string                `json:"avsResponse,omitempty"`
	CvvVerification        string                `json:"cvvVerification,omitempty"`
	StoredCredential       *storedCredentialJSON `json:"storedCredential,omitempty"`
	CustomerIP             string                `json:"customerIp,omitempty"`
	Description            string                `json:"description,omitempty"`
	Error                  *errorObject          `json:"error,omitempty"`
}

// txnErrorJSON is the card-payment error envelope (§1.7): the failed transaction's id,
// reference and self link around the error.
type txnErrorJSON struct {
	Links          []link      `json:"links"`
	ID             string      `json:"id"`
	MerchantRefNum string      `json:"merchantRefNum,omitempty"`
	Error          errorObject `json:"error"`
	RiskReasonCode []int       `json:"riskReasonCode,omitempty"`
	SettleWithAuth *bool       `json:"settleWithAuth,omitempty"`
}

// render says how much of a transaction a document shows.
type render uint8

const (
	renderGet    render = iota // renderGet is a lookup or a list entry.
	renderCreate               // renderCreate is the answer to the POST that made it.
)

// txnCard is a transaction's card block.
func (a *API) txnCard(t *payments.Transaction) *txnCardJSON {
	if t.Card.LastFour == "" {
		return nil
	}
	c := &txnCardJSON{Type: a.storedCardType(t.Card.BIN, t.Card.PANLength), LastDigits: t.Card.LastFour}
	if t.Card.ExpMonth != 0 {
		c.CardExpiry = &expiryJSON{Month: t.Card.ExpMonth, Year: t.Card.ExpYear}
	}
	return c
}

// visaData is the empty visaAdditionalAuthData shown on create for Visa cards.
func visaData(c *txnCardJSON, mode render) *struct{} {
	if mode != renderCreate || c == nil {
		return nil
	}
	switch c.Type {
	case "VI", "VD", "VE":
		return &struct{}{}
	}
	return nil
}

func billingOf(b *payments.Billing) *billingJSON {
	if b == nil {
		return nil
	}
	return &billingJSON{Street: b.Street, Street2: b.Street2, City: b.City, State: b.State, Country: b.Country, Zip: b.Zip, Phone: b.Phone}
}

func customerOf(c *vault.Customer) *customerJSON {
	if c == nil {
		return nil
	}
	return &customerJSON{FirstName: c.FirstName, LastName: c.LastName, Email: c.Email}
}

// descriptorOf is the request's merchantDescriptor or the configured one (§1.10): the one
// configured when the transaction was made, or now for one made before it was kept.
func (a *API) descriptorOf(x txnExtras) *descriptorJSON {
	if x.MerchantDescriptor != nil {
		return x.MerchantDescriptor
	}
	return &descriptorJSON{DynamicDescriptor: a.cfg.DescriptorName, Phone: a.cfg.DescriptorPhone}
}

// storedCredentialOf is the storedCredential sent, or the one derived from recurring.
func storedCredentialOf(x txnExtras) *storedCredentialJSON {
	switch {
	case x.StoredCredential != nil:
		return x.StoredCredential
	case x.Recurring == "RECURRING":
		return &storedCredentialJSON{Type: "RECURRING", Occurrence: "SUBSEQUENT"}
	case x.Recurring == "INITIAL":
		return &storedCredentialJSON{Type: "RECURRING", Occurrence: "INITIAL"}
	}
	return nil
}

// txnError is the error object of a FAILED transaction, or nil.
func (a *API) txnError(r *http.Request, t *payments.Transaction) *errorObject {
	if t.Status != payments.StatusFailed {
		return nil
	}
	e := a.failure(t)
	o := e.object(r)
	return &o
}

// failure is the Paysafe error a FAILED transaction carries.
func (a *API) failure(t *payments.Transaction) *apiError {
	x := payments.DecodeExtras[txnExtras](t)
	code := t.ErrorCode
	if _, ok := codeTable[code]; !ok {
		code = "1000"
	}
	return &apiError{Code: code, Message: x.ErrorMessage, FieldErrors: x.FieldErrors}
}

// toAuthJSON renders an auth; settlement is its settlement-on-approval, shown on create.
func (a *API) toAuthJSON(r *http.Request, t *payments.Transaction, settlement *payments.Transaction, mode render) authJSON {
	x := payments.DecodeExtras[txnExtras](t)
	c := a.txnCard(t)
	out := authJSON{
		Links: []link{a.selfLink(r, t)}, ID: t.ID, MerchantRefNum: t.MerchantRefNum, TxnTime: timestamp(t.TxnTime),
		Status: string(t.Status), Amount: t.Amount, SettleWithAuth: t.SettleWithAuth, AvailableToSettle: t.Available,
		Card: c, AuthCode: t.AuthCode, Profile: customerOf(t.Customer), BillingDetails: billingOf(t.Billing),
		ShippingDetails: x.ShippingDetails, MerchantDescriptor: a.descriptorOf(x), VisaAdditionalAuthData: visaData(c, mode),
		CurrencyCode: t.Currency, AvsResponse: avsResponse(t.AVS), CvvVerification: cvvVerification(t.CVV),
		Recurring: x.Recurring, CustomerIP: x.CustomerIP, Description: x.Description, Keywords: x.Keywords,
		Error: a.txnError(r, t),
	}
	if t.SettleWithAuth && t.Approved() {
		out.Links = append([]link{{Rel: "settlement", Href: a.baseURL(r) + "/cardpayments/v1/accounts/" + t.AccountNumber + "/settlements/" + t.ID}}, out.Links...)
	}
	if mode == renderGet {
		out.StoredCredential = storedCredentialOf(x)
	} else if settlement != nil {
		out.Settlements = []settlementJSON{a.toSettlementJSON(r, settlement)}
	}
	return out
}

// toSettlementJSON renders a settlement.
func (a *API) toSettlementJSON(r *http.Request, t *payments.Transaction) settlementJSON {
	return settlementJSON{
		Links: []link{a.selfLink(r, t)}, ID: wireID(t), MerchantRefNum: t.MerchantRefNum, TxnTime: timestamp(t.TxnTime),
		Status: string(t.Status), Amount: t.Amount, AvailableToRefund: t.Available, Error: a.txnError(r, t),
	}
}

// toSimpleJSON renders a voidauth or a refund.
func (a *API) toSimpleJSON(r *http.Request, t *payments.Transaction) simpleTxnJSON {
	return simpleTxnJSON{
		Links: []link{a.selfLink(r, t)}, ID: t.ID, MerchantRefNum: t.MerchantRefNum, TxnTime: timestamp(t.TxnTime),
		Status: string(t.Status), Amount: t.Amount, Error: a.txnError(r, t),
	}
}

// toVerificationJSON renders a verification.
func (a *API) toVerificationJSON(r *http.Request, t *payments.Transaction, mode render) verificationJSON {
	x := payments.DecodeExtras[txnExtras](t)
	c := a.txnCard(t)
	out := verificationJSON{
		Links: []link{a.selfLink(r, t)}, ID: t.ID, MerchantRefNum: t.MerchantRefNum, TxnTime: timestamp(t.TxnTime),
		Status: string(t.Status), Card: c, AuthCode: t.AuthCode, Profile: customerOf(t.Customer),
		BillingDetails: billingOf(t.Billing), MerchantDescriptor: a.descriptorOf(x), VisaAdditionalAuthData: visaData(c, mode),
		CurrencyCode: t.Currency, AvsResponse: avsResponse(t.AVS), CvvVerification: cvvVerification(t.CVV),
		CustomerIP: x.CustomerIP, Description: x.Description, Error: a.txnError(r, t),
	}
	if mode == renderGet {
		out.StoredCredential = x.StoredCredential
	}
	return out
}

// toTxnJSON renders any Paysafe transaction type for a lookup or a list.
func (a *API) toTxnJSON(r *http.Request, t *payments.Transaction) any {
	switch t.Type {
	case payments.TypeAuth:
		return a.toAuthJSON(r, t, nil, renderGet)
	case payments.TypeSettlement:
		return a.toSettlementJSON(r, t)
	case payments.TypeVerification:
		return a.toVerificationJSON(r, t, renderGet)
	}
	return a.toSimpleJSON(r, t)
}
