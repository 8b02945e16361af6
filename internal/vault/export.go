package vault

import (
	"context"
	"errors"
	"time"
)

// ExportRecord is one live instrument as `payvault export` writes it: its ids, its customer,
// and its opened account data. Unreadable records (their sealed data does not open) carry
// their ids and no data. An ExportRecord holds plaintext account data: it must only be
// written into the encrypted export, never logged or put in an error.
type ExportRecord struct {
	Kind           string         `json:"kind"`
	ID             string         `json:"id"`
	PaymentToken   string         `json:"paymentToken"`
	FortisAPIID    string         `json:"fortisApiId,omitempty"`
	LocationID     string         `json:"locationId"`
	Unreadable     bool           `json:"unreadable,omitempty"`
	Profile        *ExportProfile `json:"profile,omitempty"`
	HolderName     string         `json:"holderName,omitempty"`
	NickName       string         `json:"nickName,omitempty"`
	Title          string         `json:"title,omitempty"`
	Card           *ExportCard    `json:"card,omitempty"`
	BankAccount    *ExportBank    `json:"bankAccount,omitempty"`
	BillingAddress *ExportAddress `json:"billingAddress,omitempty"`
	Default        bool           `json:"default"`
	Status         string         `json:"status"`
	Created        time.Time      `json:"created"`
}

// ExportProfile is the customer (Paysafe profile, Fortis contact) an exported instrument
// belongs to.
type ExportProfile struct {
	ID                 string `json:"id"`
	PaymentToken       string `json:"paymentToken,omitempty"`
	MerchantCustomerID string `json:"merchantCustomerId,omitempty"`
	ContactAPIID       string `json:"contactApiId,omitempty"`
	FirstName          string `json:"firstName,omitempty"`
	MiddleName         string `json:"middleName,omitempty"`
	LastName           string `json:"lastName,omitempty"`
	CompanyName        string `json:"companyName,omitempty"`
	Email              string `json:"email,omitempty"`
	Phone              string `json:"phone,omitempty"`
}

// ExportCard is an exported card's data. There is never a CVV.
type ExportCard struct {
	Number   string `json:"number"`
	ExpMonth int    `json:"expMonth"`
	ExpYear  int    `json:"expYear"`
	Brand    string `json:"brand"`
	LastFour string `json:"lastFour"`
}

// ExportBank is an exported bank account's data; the fields that do not apply to its kind
// are empty and left out.
type ExportBank struct {
	AccountNumber string `json:"accountNumber,omitempty"`
	RoutingNumber string `json:"routingNumber,omitempty"`
	TransitNumber string `json:"transitNumber,omitempty"`
	InstitutionID string `json:"institutionId,omitempty"`
	SortCode      string `json:"sortCode,omitempty"`
	IBAN          string `json:"iban,omitempty"`
	BIC           string `json:"bic,omitempty"`
	AccountType   string `json:"accountType,omitempty"`
	// Mandates are a BACS or SEPA account's mandates, whatever their status, oldest first.
	Mandates []ExportMandate `json:"mandates,omitempty"`
}

// ExportMandate is a mandate of an exported bank account, as the Paysafe API shows it (its
// time-based transition applied), with its creation time. It holds no account data.
type ExportMandate struct {
	ID               string    `json:"id"`
	Reference        string    `json:"reference"`
	PaymentToken     string    `json:"paymentToken"`
	Status           string    `json:"status"`
	StatusChangeDate time.Time `json:"statusChangeDate"`
	StatusReasonCode string    `json:"statusReasonCode,omitempty"`
	StatusReason     string    `json:"statusReason,omitempty"`
	Created          time.Time `json:"created"`
}

// ExportAddress is an exported instrument's billing address: the profile's address it links
// to, or the address fields stored on the instrument itself (Fortis).
type ExportAddress struct {
	ID      string `json:"id,omitempty"`
	Street  string `json:"street,omitempty"`
	Street2 string `json:"street2,omitempty"`
	City    string `json:"city,omitempty"`
	State   string `json:"state,omitempty"`
	Country string `json:"country,omitempty"`
	Zip     string `json:"zip,omitempty"`
	Phone   string `json:"phone,omitempty"`
}

// ExportKinds are the instrument kinds an export counts, in the order it lists them.
var ExportKinds = []string{KindCard, KindACH, KindBACS, KindEFT, KindSEPA}

// InstrumentPager pages through a merchant's active instruments in id order, so that a walk
// over millions of them holds one page at a time and each page costs the same. The SQL store
// implements it.
type InstrumentPager interface {
	// ListActiveInstrumentsAfter returns up to limit of the merchant's active instruments
	// whose id is greater than afterID ("" for the first page), in id order.
	// Kinds: Unavailable, Internal.
	ListActiveInstrumentsAfter(ctx context.Context, merchantID, afterID string, limit int) ([]*Instrument, error)
	// ListMandatesOf returns the mandates of the merchant's instruments whose id is among
	// instrumentIDs (a page of them), by instrument, each instrument's oldest first.
	// Kinds: Unavailable, Internal.
	ListMandatesOf(ctx context.Context, merchantID string, instrumentIDs []string) ([]*Mandate, error)
}

// exportPage is how many instruments Export reads at a time.
const exportPage = 500

// exportProfileCache bounds how many profiles Export remembers between instruments.
const exportProfileCache = 4096

// CountActiveInstruments returns how many active instruments a merchant has of each kind in
// ExportKinds. Kinds: NotFound (the merchant), Unavailable, Internal.
func (s *Service) CountActiveInstruments(ctx context.Context, merchantID string) (map[string]int, error) {
	const op = "vault.CountActiveInstruments"
	if _, err := s.store.GetMerchant(ctx, merchantID); err != nil {
		return nil, E(op, err)
	}
	out := map[string]int{}
	for _, k := range ExportKinds {
		_, n, err := s.store.ListInstruments(ctx, merchantID, Query{Filters: []Filter{{Field: "kind", Op: OpIn, Values: []string{k}}}, Limit: 1})
		if err != nil {
			return nil, E(op, err)
		}
		out[k] = n
	}
	return out, nil
}

// Export walks every active instrument of a merchant, across both APIs, opens its account
// data and calls fn with it, one at a time and in id order; memory stays bounded whatever
// their number. A record whose sealed number does not open (a destroyed key, an erased or
// altered record) is passed with Unreadable set and no data. fn's error stops the walk and
// is returned as it is. Kinds: NotFound (the merchant), Unavailable, Internal.
func (s *Service) Export(ctx context.Context, merchantID string, fn func(*ExportRecord) error) error {
	const op = "vault.Export"
	pager, ok := s.store.(InstrumentPager)
	if !ok {
		return E(op, Internal, errNoPager)
	}
	if _, err := s.store.GetMerchant(ctx, merchantID); err != nil {
		return E(op, err)
	}
	profiles := map[string]*ExportProfile{}
	after := ""
	for {
		page, err := pager.ListActiveInstrumentsAfter(ctx, merchantID, after, exportPage)
		if err != nil {
			return E(op, err)
		}
		mandates, err := s.pageMandates(ctx, pager, merchantID, page)
		if err != nil {
			return E(op, err)
		}
		for _, in := range page {
			rec, err := s.exportRecord(ctx, in, profiles)
			if err != nil {
				return E(op, err)
			}
			if rec.BankAccount != nil {
				rec.BankAccount.Mandates = mandates[in.ID]
			}
			if err := fn(rec); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

var errNoPager = errors.New("the store cannot page through instruments")

// pageMandates returns the export's mandates of a page's BACS and SEPA accounts, by
// instrument id, read in one statement.
func (s *Service) pageMandates(ctx context.Context, pager InstrumentPager, merchantID string, page []*Instrument) (map[string][]ExportMandate, error) {
	var ids []string
	for _, in := range page {
		if in.Kind == KindBACS || in.Kind == KindSEPA {
			ids = append(ids, in.ID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	list, err := pager.ListMandatesOf(ctx, merchantID, ids)
	if err != nil {
		return nil, err
	}
	out := map[string][]ExportMandate{}
	for _, m := range list {
		m = s.effective(m)
		out[m.InstrumentID] = append(out[m.InstrumentID], ExportMandate{ID: m.ID, Reference: m.Reference, PaymentToken: m.Token, Status: m.Status,
			StatusChangeDate: m.StatusChanged, StatusReasonCode: m.StatusReasonCode, StatusReason: m.StatusReason, Created: m.Created})
	}
	return out, nil
}

// exportRecord builds in's export record; profiles caches the profiles seen (bounded).
func (s *Service) exportRecord(ctx context.Context, in *Instrument, profiles map[string]*ExportProfile) (*ExportRecord, error) {
	rec := &ExportRecord{Kind: in.Kind, ID: in.ID, PaymentToken: in.Token, FortisAPIID: in.APIID, LocationID: in.LocationID,
		Default: in.DefaultCard, Status: in.Status, Created: in.Created}
	number, err := s.openInstrument("vault.Export", in, "number", in.Sealed.Number)
	if err != nil || number == "" {
		// The error names the key and the record, never data; the caller counts the record.
		rec.Unreadable = true
		return rec, nil
	}
	rec.HolderName, rec.NickName, rec.Title = in.HolderName, in.NickName, in.Title
	switch in.Kind {
	case KindCard:
		rec.Card = &ExportCard{Number: number, ExpMonth: in.ExpMonth, ExpYear: in.ExpYear, Brand: in.Brand, LastFour: in.LastFour}
	case KindSEPA:
		rec.BankAccount = &ExportBank{IBAN: number, BIC: in.BIC}
	default:
		rec.BankAccount = &ExportBank{AccountNumber: number, RoutingNumber: in.RoutingNumber, TransitNumber: in.TransitNumber,
			InstitutionID: in.InstitutionID, SortCode: in.SortCode, BIC: in.BIC, AccountType: in.AccountType}
	}
	if in.ProfileID != "" {
		p, ok := profiles[in.ProfileID]
		if !ok {
			prof, err := s.store.GetProfile(ctx, in.MerchantID, in.ProfileID)
			switch {
			case err == nil:
				p = &ExportProfile{ID: prof.ID, PaymentToken: prof.Token, MerchantCustomerID: prof.MerchantCustomerID, ContactAPIID: prof.ContactAPIID,
					FirstName: prof.FirstName, MiddleName: prof.MiddleName, LastName: prof.LastName, CompanyName: prof.CompanyName,
					Email: prof.Email, Phone: prof.Phone}
			case KindOf(err) != NotFound:
				return nil, err
			}
			if len(profiles) >= exportProfileCache {
				clear(profiles)
			}
			profiles[in.ProfileID] = p
		}
		rec.Profile = p
	}
	if in.BillingAddressID != "" && in.ProfileID != "" {
		a, err := s.store.GetAddress(ctx, in.MerchantID, in.ProfileID, in.BillingAddressID)
		switch {
		case err == nil:
			rec.BillingAddress = &ExportAddress{ID: a.ID, Street: a.Street, Street2: a.Street2, City: a.City, State: a.State,
				Country: a.Country, Zip: a.Zip, Phone: a.Phone}
		case KindOf(err) != NotFound:
			return nil, err
		}
	}
	if rec.BillingAddress == nil && in.BillingStreet+in.BillingCity+in.BillingState+in.BillingZip+in.BillingPhone != "" {
		rec.BillingAddress = &ExportAddress{Street: in.BillingStreet, City: in.BillingCity, State: in.BillingState,
			Zip: in.BillingZip, Phone: in.BillingPhone}
	}
	return rec, nil
}

// InstrumentFinder looks up many instruments and mandates at once, for an import that
// checks thousands of records against the store: one statement a batch rather than two a
// record. The SQL store implements it.
type InstrumentFinder interface {
	// FindInstruments returns the merchant's instruments, deleted or not, whose payment token
	// is among tokens or whose id is among ids, each once, in no order.
	// Kinds: Unavailable, Internal.
	FindInstruments(ctx context.Context, merchantID string, tokens, ids []string) ([]*Instrument, error)
	// FindMandates returns the mandates of any merchant (a mandate's token and id are unique
	// in the whole store) whose payment token is among tokens or whose id is among ids, each
	// once, in no order. Kinds: Unavailable, Internal.
	FindMandates(ctx context.Context, tokens, ids []string) ([]*Mandate, error)
	// FindHolders returns the rows of table ("instruments", "profiles" or "addresses") of
	// any merchant, deleted or not, whose payment token is among tokens or whose id is among
	// ids, each once, in no order: their tokens and ids are unique in the whole store, not
	// per merchant, so an import must not take one another merchant holds. Addresses have no
	// token. Kinds: Invalid (another table), Unavailable, Internal.
	FindHolders(ctx context.Context, table string, tokens, ids []string) ([]Holder, error)
}

// Holder is a record holding a payment token or id that is unique in the whole store.
type Holder struct {
	ID, Token, MerchantID string
	// ProfileID is an address's profile.
	ProfileID string
	Deleted   bool
}
