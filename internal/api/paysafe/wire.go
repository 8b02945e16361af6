package paysafe

import (
	"time"

	"github.com/payvault/payvault/internal/vault"
)

// This file holds the response documents of the vault resources and their conversion from
// core records. Unset optional fields are omitted, never null (§1.5); vault entities carry no
// links (§1.3.14).

// expiryJSON is a cardExpiry.
type expiryJSON struct {
	Month int `json:"month"`
	Year  int `json:"year"`
}

// dobJSON is a dateOfBirth.
type dobJSON struct {
	Year  int `json:"year"`
	Month int `json:"month"`
	Day   int `json:"day"`
}

// profileJSON is a profile, with the subcomponents that fields asked for.
type profileJSON struct {
	ID                 string   `json:"id"`
	Status             string   `json:"status"`
	MerchantCustomerID string   `json:"merchantCustomerId"`
	Locale             string   `json:"locale"`
	FirstName          string   `json:"firstName,omitempty"`
	MiddleName         string   `json:"middleName,omitempty"`
	LastName           string   `json:"lastName,omitempty"`
	DateOfBirth        *dobJSON `json:"dateOfBirth,omitempty"`
	IP                 string   `json:"ip,omitempty"`
	Gender             string   `json:"gender,omitempty"`
	Nationality        string   `json:"nationality,omitempty"`
	Email              string   `json:"email,omitempty"`
	Phone              string   `json:"phone,omitempty"`
	CellPhone          string   `json:"cellPhone,omitempty"`
	PaymentToken       string   `json:"paymentToken"`

	Addresses        *[]addressJSON `json:"addresses,omitempty"`
	Cards            *[]cardJSON    `json:"cards,omitempty"`
	ACHBankAccounts  *[]bankJSON    `json:"achBankAccounts,omitempty"`
	BACSBankAccounts *[]bankJSON    `json:"bacsBankAccounts,omitempty"`
	EFTBankAccounts  *[]bankJSON    `json:"eftBankAccounts,omitempty"`
	SEPABankAccounts *[]bankJSON    `json:"sepaBankAccounts,omitempty"`
}

// addressJSON is an address.
type addressJSON struct {
	ID                              string `json:"id"`
	NickName                        string `json:"nickName,omitempty"`
	Street                          string `json:"street,omitempty"`
	Street2                         string `json:"street2,omitempty"`
	City                            string `json:"city,omitempty"`
	Country                         string `json:"country"`
	State                           string `json:"state,omitempty"`
	Zip                             string `json:"zip,omitempty"`
	RecipientName                   string `json:"recipientName,omitempty"`
	Phone                           string `json:"phone,omitempty"`
	DefaultShippingAddressIndicator bool   `json:"defaultShippingAddressIndicator"`
	Status                          string `json:"status"`
}

// cardJSON is a card. cardNum is never echoed.
type cardJSON struct {
	Status                      string      `json:"status"`
	ID                          string      `json:"id"`
	NickName                    string      `json:"nickName,omitempty"`
	MerchantRefNum              string      `json:"merchantRefNum,omitempty"`
	HolderName                  string      `json:"holderName,omitempty"`
	CardBin                     string      `json:"cardBin"`
	LastDigits                  string      `json:"lastDigits"`
	CardExpiry                  *expiryJSON `json:"cardExpiry,omitempty"`
	BillingAddressID            string      `json:"billingAddressId,omitempty"`
	CardType                    string      `json:"cardType,omitempty"`
	CardCategory                string      `json:"cardCategory,omitempty"`
	PaymentToken                string      `json:"paymentToken"`
	StoredCredentialTokenStatus string      `json:"storedCredentialTokenStatus,omitempty"`
	DefaultCardIndicator        bool        `json:"defaultCardIndicator"`
	SingleUseToken              string      `json:"singleUseToken,omitempty"`
}

// bankJSON is an ACH, BACS, EFT or SEPA bank account; each kind sets its own fields. The
// account number is never echoed and the IBAN only masked.
type bankJSON struct {
	ID                string        `json:"id"`
	Status            string        `json:"status"`
	NickName          string        `json:"nickName,omitempty"`
	MerchantRefNum    string        `json:"merchantRefNum,omitempty"`
	AccountHolderName string        `json:"accountHolderName,omitempty"`
	AccountType       string        `json:"accountType,omitempty"`
	RoutingNumber     string        `json:"routingNumber,omitempty"`
	SortCode          string        `json:"sortCode,omitempty"`
	TransitNumber     string        `json:"transitNumber,omitempty"`
	InstitutionID     string        `json:"institutionId,omitempty"`
	IBAN              string        `json:"iban,omitempty"`
	BIC               string        `json:"bic,omitempty"`
	LastDigits        string        `json:"lastDigits"`
	BillingAddressID  string        `json:"billingAddressId,omitempty"`
	PaymentToken      string        `json:"paymentToken"`
	Mandates          []mandateJSON `json:"mandates,omitempty"`
}

// mandateJSON is a mandate.
type mandateJSON struct {
	ID               string `json:"id"`
	Reference        string `json:"reference"`
	BankAccountID    string `json:"bankAccountId"`
	Status           string `json:"status"`
	StatusChangeDate string `json:"statusChangeDate"`
	StatusReasonCode string `json:"statusReasonCode,omitempty"`
	StatusReason     string `json:"statusReason,omitempty"`
	PaymentToken     string `json:"paymentToken"`
}

// timestamp formats a time as ISO-8601 UTC to the second (§1.6).
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func toProfileJSON(p *vault.Profile) profileJSON {
	out := profileJSON{
		ID: p.ID, Status: p.Status, MerchantCustomerID: p.MerchantCustomerID, Locale: p.Locale,
		FirstName: p.FirstName, MiddleName: p.MiddleName, LastName: p.LastName, IP: p.IP, Gender: p.Gender,
		Nationality: p.Nationality, Email: p.Email, Phone: p.Phone, CellPhone: p.CellPhone, PaymentToken: p.Token,
	}
	if !p.DOB.IsZero() {
		out.DateOfBirth = &dobJSON{Year: p.DOB.Year, Month: p.DOB.Month, Day: p.DOB.Day}
	}
	return out
}

func toAddressJSON(a *vault.Address) addressJSON {
	return addressJSON{
		ID: a.ID, NickName: a.NickName, Street: a.Street, Street2: a.Street2, City: a.City, Country: a.Country,
		State: a.State, Zip: a.Zip, RecipientName: a.RecipientName, Phone: a.Phone,
		DefaultShippingAddressIndicator: a.DefaultShipping, Status: statusOr(a.Status),
	}
}

func (a *API) toCardJSON(in *vault.Instrument) cardJSON {
	ct := a.storedCardType(in.BIN, in.PANLength)
	out := cardJSON{
		Status: statusOr(in.Status), ID: in.ID, NickName: in.NickName, MerchantRefNum: in.MerchantRefNum,
		HolderName: in.HolderName, CardBin: in.BIN, LastDigits: in.LastFour, BillingAddressID: in.BillingAddressID,
		CardType: ct, CardCategory: cardCategory(ct), PaymentToken: in.Token,
		StoredCredentialTokenStatus: in.StoredCredentialStatus, DefaultCardIndicator: in.DefaultCard,
	}
	if in.ExpMonth != 0 {
		out.CardExpiry = &expiryJSON{Month: in.ExpMonth, Year: in.ExpYear}
	}
	return out
}

func toBankJSON(in *vault.Instrument, mandates []*vault.Mandate) bankJSON {
	out := bankJSON{
		ID: in.ID, Status: statusOr(in.Status), NickName: in.NickName, MerchantRefNum: in.MerchantRefNum,
		AccountHolderName: in.HolderName, LastDigits: in.LastFour, BillingAddressID: in.BillingAddressID, PaymentToken: in.Token,
	}
	switch in.Kind {
	case vault.KindACH:
		out.AccountType, out.RoutingNumber = in.AccountType, in.RoutingNumber
	case vault.KindBACS:
		out.SortCode = in.SortCode
	case vault.KindEFT:
		out.TransitNumber, out.InstitutionID = in.TransitNumber, in.InstitutionID
	case vault.KindSEPA:
		out.IBAN, out.BIC = in.IBANMasked, in.BIC
	}
	for _, m := range mandates {
		out.Mandates = append(out.Mandates, toMandateJSON(m))
	}
	return out
}

func toMandateJSON(m *vault.Mandate) mandateJSON {
	return mandateJSON{
		ID: m.ID, Reference: m.Reference, BankAccountID: m.InstrumentID, Status: m.Status,
		StatusChangeDate: timestamp(m.StatusChanged), StatusReasonCode: m.StatusReasonCode,
		StatusReason: m.StatusReason, PaymentToken: m.Token,
	}
}

func statusOr(s string) string {
	if s == "" {
		return "ACTIVE"
	}
	return s
}
