package vault

import (
	"context"
	"strings"
	"time"

	"github.com/payvault/payvault/internal/bank"
	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/token"
)

// Source says where a new instrument's account data comes from. The first set field wins,
// in this order: Number, Token, InstrumentID, InstrumentAPIID, TransactionID, TransactionAPIID.
type Source struct {
	Number string      // Number is a raw PAN, bank account number or IBAN.
	Expiry card.Expiry // Expiry goes with a raw PAN.

	Token      string   // Token is a single-use token or ticket value; it is consumed.
	TokenKinds []string // TokenKinds are the one-time token kinds the caller accepts.

	InstrumentID    string // InstrumentID copies another active instrument's account data.
	InstrumentAPIID string // InstrumentAPIID copies the active instrument with this api id in the new one's location.

	TransactionID    string // TransactionID copies a transaction's account data.
	TransactionAPIID string // TransactionAPIID copies the transaction with this api id in the new one's location.
	// TransactionAPI, when set, limits TransactionID and TransactionAPIID to transactions made
	// through that vendor API; another API's are unusable, as unknown ones are.
	TransactionAPI string

	SSN4     string // SSN4 is sealed alongside (Fortis).
	DLNumber string // DLNumber is sealed alongside (Fortis).
}

// AccountData is account data copied from a transaction by a TransactionSource.
type AccountData struct {
	Kind          string
	Number        string
	Expiry        card.Expiry
	RoutingNumber string
	AccountType   string
	ACHSecCode    string
	HolderName    string
	BillingStreet string
	BillingCity   string
	BillingState  string
	BillingZip    string
	BillingPhone  string
}

// TransactionSource reads the account data of a stored transaction, made through vendor API
// api when api is set. The payments package provides it, so that the vault need not know
// transactions. Kinds: NotFound.
type TransactionSource interface {
	AccountData(ctx context.Context, tx Tx, merchantID, locationID, id, apiID, api string) (*AccountData, error)
}

// SetTransactionSource installs the reader of transactions' account data.
func (s *Service) SetTransactionSource(ts TransactionSource) { s.txSource = ts }

// CreateOptions are the per-API rules of an instrument create.
type CreateOptions struct {
	// CheckDuplicate refuses a card number already on a card of the same profile (Paysafe 7503).
	CheckDuplicate bool
	// Default sets the default-card flag; nil makes a profile's first card its default.
	Default *bool
	// NewBillingAddress is stored as a new address of the profile and linked to the instrument.
	NewBillingAddress *Address
	// TokenBillingAsAddress stores a token's billing address as a new linked address when the
	// instrument names no billing address.
	TokenBillingAsAddress bool
	// RequireBillingAddress fails when, after the token's address is applied, no billing address is linked.
	RequireBillingAddress bool
	// Mandates are the references of mandates created with a BACS or SEPA account, in its
	// transaction (BACS ones start PENDING, SEPA ones ACTIVE).
	Mandates []string
	// NewMandates, when set, receives the mandates the create stored (those of Mandates, in
	// order; a new instrument has no others): an answer that shows them needs no read after
	// the commit, which a database going away could fail although the create is stored.
	NewMandates *[]*Mandate
	// Before runs inside the transaction after validation and before the insert (e.g. a
	// verification), with the opened account data. An error aborts the create.
	Before func(ctx context.Context, tx Tx, in *Instrument, number string) error
	// Addresses, when set, receives the profile's addresses as CreateProfileWithInstrument's
	// write leaves them, read in that write: an answer that shows them needs no read after
	// the commit, which a database going away could fail although the create is stored.
	Addresses *[]*Address

	pre *presealed // pre is the crypto done before the write (preseal.go).
}

// Secret is opened account data; it lives only inside a service call.
type Secret struct {
	Number string
	CVV    string
}

// CreateInstrument validates, seals and stores a card or bank account in one transaction.
// in carries the non-secret fields the API set; the account data comes from src.
// Kinds: Invalid (with Field), Conflict (duplicate card, with ID; api_id), NotFound.
func (s *Service) CreateInstrument(ctx context.Context, p *Principal, in *Instrument, src Source, opt CreateOptions) (*Instrument, error) {
	const op = "vault.CreateInstrument"
	var out *Instrument
	ctx = s.sealing(ctx) // before preseal
	opt.pre = s.preseal(p, in, src)
	err := s.write(profileLockOrder(ctx, in.ProfileID), func(tx Tx) error {
		v := *in
		if err := s.createInstrument(ctx, tx, p, &v, src, opt); err != nil {
			return err
		}
		out = &v
		return nil
	})
	if err != nil {
		return nil, E(op, err)
	}
	return out, nil
}

// CreateInstrumentIn is CreateInstrument inside a write transaction the caller holds (a
// payment's completion that saves its account data, Fortis save_account and run_avs), so the
// instrument commits or rolls back with the caller's writes. Kinds: as CreateInstrument.
func (s *Service) CreateInstrumentIn(ctx context.Context, tx Tx, p *Principal, in *Instrument, src Source, opt CreateOptions) (*Instrument, error) {
	v := *in
	if err := s.createInstrument(ctx, tx, p, &v, src, opt); err != nil {
		return nil, E("vault.CreateInstrumentIn", err)
	}
	return &v, nil
}

// CreateProfileWithInstrument stores a profile and its first instrument atomically
// (Paysafe's profile create with a nested card). Kinds: as CreateProfile and CreateInstrument.
func (s *Service) CreateProfileWithInstrument(ctx context.Context, p *Principal, prof *Profile, in *Instrument, src Source, opt CreateOptions) (*Profile, *Instrument, error) {
	const op = "vault.CreateProfileWithInstrument"
	if err := s.prepareProfile(op, p, prof); err != nil {
		return nil, nil, err
	}
	var out *Instrument
	ctx = s.sealing(ctx) // before preseal
	opt.pre = s.preseal(p, in, src)
	err := s.write(ctx, func(tx Tx) error {
		if err := tx.InsertProfile(ctx, prof); err != nil {
			return err
		}
		v := *in
		v.ProfileID = prof.ID
		if err := s.createInstrument(ctx, tx, p, &v, src, opt); err != nil {
			return err
		}
		if opt.Addresses != nil {
			list, err := tx.ListAddresses(ctx, p.MerchantID(), prof.ID)
			if err != nil {
				return err
			}
			*opt.Addresses = list
		}
		out = &v
		return nil
	})
	if err != nil {
		return nil, nil, E(op, err)
	}
	return prof, out, nil
}

func (s *Service) createInstrument(ctx context.Context, tx Tx, p *Principal, in *Instrument, src Source, opt CreateOptions) error {
	mid := p.MerchantID()
	now := s.Now()
	if opt.pre != nil {
		in.ID = opt.pre.id
	} else {
		in.ID = newID()
	}
	in.MerchantID = mid
	in.Status = "ACTIVE"
	in.Created, in.Modified, in.Deleted = now, now, time.Time{}
	if p.User != nil && in.CreatedUserID == "" {
		in.CreatedUserID = p.User.ID
	}

	// The profile, when there is one, fixes the location.
	var prof *Profile
	if in.ProfileID != "" {
		loc, err := tx.LockProfileLocation(ctx, mid, in.ProfileID)
		if err != nil {
			if KindOf(err) == NotFound {
				return E(Invalid, Field("profile_id"), ErrUnusable, ID(in.ProfileID))
			}
			return err
		}
		prof = &Profile{ID: in.ProfileID, LocationID: loc}
		if in.LocationID == "" {
			in.LocationID = prof.LocationID
		}
	}
	if in.LocationID == "" {
		in.LocationID = p.defaultLocation()
	}
	if !p.CanReach(in.LocationID) {
		return E(Invalid, Field("location_id"), ErrUnusable)
	}
	if prof != nil && (prof.LocationID != in.LocationID || !p.CanReach(prof.LocationID)) {
		return E(Invalid, Field("profile_id"), ErrUnusable, ID(in.ProfileID))
	}

	secret, err := s.resolveSource(ctx, tx, p, in, &src, &opt)
	if err != nil {
		return err
	}
	if err := s.validateAccount(p, in, secret); err != nil {
		return err
	}
	if err := in.CheckNames(); err != nil {
		return err
	}
	if in.BillingAddressID != "" {
		if in.ProfileID == "" {
			return E(Invalid, Field("billing_address_id"), ErrNotInProfile)
		}
		if _, err := tx.GetAddress(ctx, mid, in.ProfileID, in.BillingAddressID); err != nil {
			if KindOf(err) == NotFound {
				return E(Invalid, Field("billing_address_id"), ErrNotInProfile, ID(in.BillingAddressID))
			}
			return err
		}
	}
	if opt.NewBillingAddress != nil && in.BillingAddressID == "" && in.ProfileID != "" {
		a := *opt.NewBillingAddress
		a.ID, a.MerchantID, a.ProfileID, a.Status, a.Created = newID(), mid, in.ProfileID, "ACTIVE", now
		if err := tx.InsertAddress(ctx, &a); err != nil {
			return err
		}
		in.BillingAddressID = a.ID
	}
	if opt.RequireBillingAddress && in.BillingAddressID == "" {
		return E(Invalid, Field("billing_address_id"), ErrRequired)
	}

	s.derive(in, secret.Number)
	pre := opt.pre
	if !pre.matches(in, secret.Number, src.SSN4, src.DLNumber) {
		pre = nil
	}
	if pre != nil {
		in.Token = pre.token // the fields were sealed bound to it
	} else {
		in.Token = newInstrumentToken(in.Kind)
	}
	var fps []string
	if pre != nil {
		fps = pre.fps
	} else {
		fps = s.keys.Fingerprints(mid, normalizedNumber(in.Kind, secret.Number))
	}
	in.Fingerprint = fps[0]
	if pre != nil {
		in.Sealed, in.HasSSN4, in.HasDLNumber = pre.sealed, pre.hasSSN4, pre.hasDL
	} else if err := s.sealInstrument(in, secret.Number, src.SSN4, src.DLNumber); err != nil {
		return err
	}
	in.DefaultCard = false
	// A card on a profile asks two questions: is the number already on one of its cards
	// (7503), and is this its first card (the default). One statement answers both, and,
	// when no hook must run before the insert, inserts the card as well (one round trip on
	// PostgreSQL). It must not be the statement that locks the profile (above): on
	// PostgreSQL a statement's snapshot is taken before the lock it waits for, so it would
	// miss a card another node committed meanwhile (TestManyNodes caught that when the two
	// were joined).
	hasCards, inserted := false, false
	if in.Kind == KindCard && in.ProfileID != "" && (opt.CheckDuplicate || opt.Default == nil) {
		var dupFPs []string
		if opt.CheckDuplicate {
			dupFPs = fps
		}
		var dupID string
		var err error
		if opt.Before == nil {
			dupID, err = tx.InsertProfileCard(ctx, in, dupFPs, opt.Default == nil)
			inserted = err == nil && dupID == ""
		} else {
			dupID, hasCards, err = tx.CheckProfileInstruments(ctx, mid, in.ProfileID, KindCard, dupFPs)
		}
		if err != nil {
			return err
		}
		if dupID != "" {
			return E(Conflict, Field("number"), ErrDuplicate, ID(dupID))
		}
	}
	if opt.Before != nil {
		if err := opt.Before(ctx, tx, in, secret.Number); err != nil {
			return err
		}
	}
	makeDefault := false
	if in.Kind == KindCard && in.ProfileID != "" {
		if opt.Default != nil {
			makeDefault = *opt.Default
		} else if !inserted {
			makeDefault = !hasCards // when inserted, the store made it the default or not
		}
	}
	if !inserted {
		if err := tx.InsertInstrument(ctx, in); err != nil {
			return err
		}
	}
	ms, err := s.insertMandates(ctx, tx, in, opt.Mandates)
	if err != nil {
		return err
	}
	if opt.NewMandates != nil {
		*opt.NewMandates = ms
	}
	if makeDefault {
		if err := tx.SetDefaultCard(ctx, mid, in.ProfileID, in.ID); err != nil {
			return err
		}
		in.DefaultCard = true
	}
	return nil
}

// SourceInstrument reads the instrument a source names: by id, or by api id in locationID.
// field is the source's field, instrument_id or instrument_api_id. Whether the instrument may
// be used is Instrument.UsableBy. Kinds: Invalid (Field field, ErrUnusable) when there is
// none; Unavailable, Internal.
func SourceInstrument(ctx context.Context, r Reader, merchantID, locationID, id, apiID string) (in *Instrument, field string, err error) {
	field = "instrument_id"
	if id != "" {
		in, err = r.GetInstrument(ctx, merchantID, id)
	} else {
		field = "instrument_api_id"
		in, err = r.GetInstrumentByAPIID(ctx, merchantID, locationID, apiID)
	}
	if KindOf(err) == NotFound {
		return nil, field, E(Invalid, Field(field), ErrUnusable)
	}
	return in, field, err
}

// resolveSource finds the account data, merging what the source supplies into the fields the
// caller left empty.
func (s *Service) resolveSource(ctx context.Context, tx Tx, p *Principal, in *Instrument, src *Source, opt *CreateOptions) (Secret, error) {
	mid := p.MerchantID()
	switch {
	case src.Number != "":
		if in.Kind == KindCard {
			in.ExpMonth, in.ExpYear = src.Expiry.Month, src.Expiry.Year
		}
		return Secret{Number: src.Number}, nil

	case src.Token != "":
		t, sec, err := s.consumeToken(ctx, tx, p, src.Token, in.LocationID, src.TokenKinds)
		if err != nil {
			return Secret{}, err
		}
		if !t.Fits(in.Kind) {
			return Secret{}, E(Invalid, Field("token"), ErrUnusable)
		}
		m := t.Meta
		switch t.Kind {
		case TokenCard, TokenTicket:
			in.ExpMonth, in.ExpYear = m.ExpMonth, m.ExpYear
			setIfEmpty(&in.HolderName, m.HolderName)
			setIfEmpty(&in.BillingZip, m.BillingZip)
		case TokenACH, TokenEFT:
			setIfEmpty(&in.HolderName, m.AccountHolder)
			setIfEmpty(&in.AccountType, m.AccountType)
			// The token's account number is the account, so its routing, transit and
			// institution numbers are too: the caller's never replace them.
			in.RoutingNumber = m.RoutingNumber
			in.TransitNumber, in.InstitutionID = m.TransitNumber, m.InstitutionID
		}
		if opt.TokenBillingAsAddress && m.Billing != nil && in.BillingAddressID == "" && opt.NewBillingAddress == nil {
			opt.NewBillingAddress = m.Billing
		}
		return Secret{Number: sec.Number}, nil

	case src.InstrumentID != "" || src.InstrumentAPIID != "":
		from, field, err := SourceInstrument(ctx, tx, mid, in.LocationID, src.InstrumentID, src.InstrumentAPIID)
		if err != nil {
			return Secret{}, err
		}
		if !from.UsableBy(p, in.Kind, in.LocationID) {
			return Secret{}, E(Invalid, Field(field), ErrUnusable)
		}
		number, err := s.openInstrument("vault.resolveSource", from, "number", from.Sealed.Number)
		if err != nil {
			return Secret{}, err
		}
		copyAccountFields(in, from)
		if src.SSN4 == "" && from.HasSSN4 {
			if src.SSN4, err = s.openInstrument("vault.resolveSource", from, "ssn4", from.Sealed.SSN4); err != nil {
				return Secret{}, err
			}
		}
		if src.DLNumber == "" && from.HasDLNumber {
			if src.DLNumber, err = s.openInstrument("vault.resolveSource", from, "dl_number", from.Sealed.DLNumber); err != nil {
				return Secret{}, err
			}
		}
		return Secret{Number: number}, nil

	case src.TransactionID != "" || src.TransactionAPIID != "":
		field := "transaction_id"
		if src.TransactionID == "" {
			field = "transaction_api_id"
		}
		if s.txSource == nil {
			return Secret{}, E(Invalid, Field(field), ErrUnusable)
		}
		ad, err := s.txSource.AccountData(ctx, tx, mid, in.LocationID, src.TransactionID, src.TransactionAPIID, src.TransactionAPI)
		if err != nil {
			if KindOf(err) == NotFound {
				return Secret{}, E(Invalid, Field(field), ErrUnusable)
			}
			return Secret{}, err
		}
		if ad.Kind != in.Kind {
			return Secret{}, E(Invalid, Field(field), ErrUnusable)
		}
		if in.Kind == KindCard {
			in.ExpMonth, in.ExpYear = ad.Expiry.Month, ad.Expiry.Year
		}
		in.RoutingNumber = ad.RoutingNumber
		setIfEmpty(&in.AccountType, ad.AccountType)
		setIfEmpty(&in.ACHSecCode, ad.ACHSecCode)
		setIfEmpty(&in.HolderName, ad.HolderName)
		setIfEmpty(&in.BillingStreet, ad.BillingStreet)
		setIfEmpty(&in.BillingCity, ad.BillingCity)
		setIfEmpty(&in.BillingState, ad.BillingState)
		setIfEmpty(&in.BillingZip, ad.BillingZip)
		setIfEmpty(&in.BillingPhone, ad.BillingPhone)
		return Secret{Number: ad.Number}, nil
	}
	return Secret{}, E(Invalid, Field("number"), ErrRequired)
}

// copyAccountFields copies a source instrument's account and billing data into the empty
// fields of in; the number, routing and method always come from the source.
func copyAccountFields(in, from *Instrument) {
	in.ExpMonth, in.ExpYear = from.ExpMonth, from.ExpYear
	in.RoutingNumber = from.RoutingNumber
	in.SortCode, in.TransitNumber, in.InstitutionID, in.BIC = from.SortCode, from.TransitNumber, from.InstitutionID, from.BIC
	setIfEmpty(&in.AccountType, from.AccountType)
	setIfEmpty(&in.ACHSecCode, from.ACHSecCode)
	setIfEmpty(&in.HolderName, from.HolderName)
	setIfEmpty(&in.BillingStreet, from.BillingStreet)
	setIfEmpty(&in.BillingCity, from.BillingCity)
	setIfEmpty(&in.BillingState, from.BillingState)
	setIfEmpty(&in.BillingZip, from.BillingZip)
	setIfEmpty(&in.BillingPhone, from.BillingPhone)
	setIfEmpty(&in.CustomerID, from.CustomerID)
	setIfEmpty(&in.DLState, from.DLState)
	setIfEmpty(&in.DOBYear, from.DOBYear)
	if !in.IsCompany {
		in.IsCompany = from.IsCompany
	}
}

func setIfEmpty(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

// validateAccount checks the account data against the rules every API shares. Vendor field
// formats (lengths, messages) are checked by the API packages before the call.
func (s *Service) validateAccount(p *Principal, in *Instrument, sec Secret) error {
	n := sec.Number
	switch in.Kind {
	case KindCard:
		if !card.Digits(n) {
			return E(Invalid, Field("number"), ErrFormat)
		}
		if len(n) < 12 || len(n) > 19 {
			return E(Invalid, Field("number"), ErrLength)
		}
		if !card.Luhn(n) {
			return E(Invalid, Field("number"), ErrLuhn)
		}
		if !(card.Expiry{Month: in.ExpMonth, Year: in.ExpYear}).Valid() {
			return E(Invalid, Field("expiry"), ErrExpiry)
		}
	case KindACH:
		if !bank.AccountNumber(n, 4, 19) {
			return E(Invalid, Field("number"), ErrFormat)
		}
		if err := CheckRouting(p.Merchant, in.RoutingNumber); err != nil {
			return err
		}
		switch strings.ToUpper(in.AccountType) {
		case "CHECKING", "SAVINGS", "LOAN":
		default:
			return E(Invalid, Field("account_type"), ErrFormat)
		}
	case KindBACS:
		if !bank.AccountNumber(n, 4, 10) {
			return E(Invalid, Field("number"), ErrFormat)
		}
		sc, ok := bank.SortCode(in.SortCode)
		if !ok {
			return E(Invalid, Field("sort_code"), ErrFormat)
		}
		in.SortCode = sc
	case KindEFT:
		if !bank.AccountNumber(n, 4, 12) {
			return E(Invalid, Field("number"), ErrFormat)
		}
		if !bank.Transit(in.TransitNumber) {
			return E(Invalid, Field("transit_number"), ErrFormat)
		}
		if !bank.Institution(in.InstitutionID) {
			return E(Invalid, Field("institution_id"), ErrFormat)
		}
	case KindSEPA:
		if !bank.ValidIBAN(bank.NormalizeIBAN(n)) {
			return E(Invalid, Field("number"), ErrFormat)
		}
		if in.BIC != "" {
			in.BIC = strings.ToUpper(in.BIC)
			if !bank.ValidBIC(in.BIC) {
				return E(Invalid, Field("bic"), ErrFormat)
			}
		}
	default:
		return E(Invalid, Field("kind"), ErrFormat)
	}
	return nil
}

// CheckRouting applies the ABA rule for a merchant: every merchant needs nine digits; a live
// merchant's routing number must also pass the ABA checksum, while a sandbox merchant's need
// not, as in the vendors' own sandboxes. Kinds: Invalid (Field routing_number).
func CheckRouting(m *Merchant, routing string) error {
	if !bank.RoutingFormat(routing) {
		return E(Invalid, Field("routing_number"), ErrRouting)
	}
	if m.Live && !bank.ABAChecksum(routing) {
		return E(Invalid, Field("routing_number"), ErrRouting)
	}
	return nil
}

// derive fills in the display fields that follow from the number. The payment token is the
// caller's to draw (newInstrumentToken) or keep.
func (s *Service) derive(in *Instrument, number string) {
	switch in.Kind {
	case KindCard:
		in.BIN = card.BIN(number)
		in.LastFour = card.Last4(number)
		in.PANLength = len(number)
		in.Brand, in.Category = "", ""
		if b, ok := card.DefaultBrand(number); ok {
			in.Brand = string(b)
		}
		if s.bins != nil {
			if info, ok := s.bins.Lookup(number); ok {
				in.Category = strings.ToLower(info.Type)
			}
		}
		if in.StoredCredentialStatus == "" {
			in.StoredCredentialStatus = "UNVERIFIED"
		}
	case KindSEPA:
		iban := bank.NormalizeIBAN(number)
		in.IBANMasked = bank.MaskIBAN(iban)
		in.LastFour = iban[len(iban)-4:]
	default:
		in.LastFour = number[len(number)-4:]
		in.BIN = ""
	}
}

// newInstrumentToken draws a payment token for an instrument of kind: C… for a card, B… for a
// bank account.
func newInstrumentToken(kind string) string {
	if kind == KindCard {
		return token.New(token.Card)
	}
	return token.New(token.Bank)
}

// normalizedNumber is the number as sealed and fingerprinted.
func normalizedNumber(kind, number string) string {
	if kind == KindSEPA {
		return bank.NormalizeIBAN(number)
	}
	return number
}

// sealInstrument seals the instrument's secret fields under the primary data key, bound to its
// id and its payment token (ADv2), which must be set.
func (s *Service) sealInstrument(in *Instrument, number, ssn4, dl string) error {
	const op = "vault.sealInstrument"
	sealed := Sealed{ADVersion: ADv2}
	kid, err := s.sealRecord(op,
		sealedField{instrumentAD(in, "number"), []byte(normalizedNumber(in.Kind, number)), &sealed.Number},
		sealedField{instrumentAD(in, "ssn4"), []byte(ssn4), &sealed.SSN4},
		sealedField{instrumentAD(in, "dl_number"), []byte(dl), &sealed.DLNumber})
	if err != nil {
		return err
	}
	sealed.KeyID = kid
	in.Sealed = sealed
	in.HasSSN4, in.HasDLNumber = ssn4 != "", dl != ""
	return nil
}

// GetInstrument returns an instrument the principal can reach, deleted or not.
// Kinds: NotFound.
func (s *Service) GetInstrument(ctx context.Context, p *Principal, id string) (*Instrument, error) {
	const op = "vault.GetInstrument"
	in, err := s.store.GetInstrument(ctx, p.MerchantID(), id)
	if err != nil {
		return nil, E(op, err)
	}
	if !p.CanReach(in.LocationID) {
		return nil, E(op, NotFound, ID(id))
	}
	return in, nil
}

// GetProfileInstrument returns the active instrument id of a kind under profile profileID.
// Kinds: NotFound, naming the profile when it is missing or out of reach, else the
// instrument; Unavailable.
func (s *Service) GetProfileInstrument(ctx context.Context, p *Principal, profileID, id, kind string) (*Instrument, error) {
	const op = "vault.GetProfileInstrument"
	in, err := s.GetInstrument(ctx, p, id)
	if err == nil && in.Active() && in.ProfileID == profileID && in.Kind == kind && p.Allowed == nil {
		// One read: deleting a profile deletes or detaches its instruments in the same
		// transaction, so an active instrument of the profile proves the profile exists, and
		// a merchant-wide principal reaches every location.
		return in, nil
	}
	if k := KindOf(err); k == Unavailable || k == Internal {
		// The store could not answer: checking the profile would ask it again, and on a
		// database that stopped answering wait out a second read bound.
		return nil, err
	}
	if err := s.CheckProfile(ctx, p, profileID); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	if !in.Active() || in.ProfileID != profileID || in.Kind != kind {
		return nil, E(op, NotFound, ID(id))
	}
	return in, nil
}

// SecretUpdate replaces sealed fields on update; a nil field keeps its value and an empty
// one clears it.
type SecretUpdate struct {
	Number   *string
	SSN4     *string
	DLNumber *string
}

// UpdateOptions are the per-API rules of an instrument update.
type UpdateOptions struct {
	// Default sets a card's default flag in the same transaction: true makes it the profile's
	// only default card, false clears it, nil leaves it unchanged.
	Default *bool
	// Mandates, when set, receives the instrument's mandates as the update's write reads them
	// (oldest first, time-based transitions applied): an answer that shows them needs no read
	// after the commit, which a database going away could fail although the update is stored.
	Mandates *[]*Mandate
}

// UpdateInstrument applies mutate to a copy of an active instrument, replaces any secrets
// given, validates and stores it. Identity fields cannot change. Kinds: NotFound, Gone,
// Invalid, Conflict, and whatever mutate returns.
func (s *Service) UpdateInstrument(ctx context.Context, p *Principal, id string, mutate func(*Instrument) error, su SecretUpdate) (*Instrument, error) {
	return s.UpdateInstrumentWith(ctx, p, id, mutate, su, UpdateOptions{})
}

// UpdateInstrumentWith is UpdateInstrument with per-API options, applied in the same
// transaction. Kinds: as UpdateInstrument.
func (s *Service) UpdateInstrumentWith(ctx context.Context, p *Principal, id string, mutate func(*Instrument) error, su SecretUpdate, opt UpdateOptions) (*Instrument, error) {
	const op = "vault.UpdateInstrument"
	mid := p.MerchantID()
	var out *Instrument
	err := s.write(ctx, func(tx Tx) error {
		cur, err := tx.GetInstrument(ctx, mid, id)
		if err != nil {
			return err
		}
		if cur.ProfileID != "" {
			if _, err := tx.LockProfile(ctx, mid, cur.ProfileID); err != nil && KindOf(err) != NotFound {
				return err
			}
			if cur, err = tx.GetInstrument(ctx, mid, id); err != nil {
				return err
			}
		}
		if !p.CanReach(cur.LocationID) {
			return E(NotFound, ID(id))
		}
		if !cur.Active() {
			return E(Gone, ID(id))
		}
		next := *cur
		if err := mutate(&next); err != nil {
			return err
		}
		next.ID, next.MerchantID, next.Token, next.Kind, next.Created, next.Deleted = cur.ID, cur.MerchantID, cur.Token, cur.Kind, cur.Created, cur.Deleted
		next.Sealed, next.Fingerprint, next.LocationID, next.CreatedUserID = cur.Sealed, cur.Fingerprint, cur.LocationID, cur.CreatedUserID
		next.DefaultCard = cur.DefaultCard
		if err := next.CheckNames(); err != nil {
			return err
		}
		if next.ProfileID != cur.ProfileID && next.ProfileID != "" {
			prof, err := tx.LockProfile(ctx, mid, next.ProfileID)
			if err != nil || prof.LocationID != next.LocationID {
				return E(Invalid, Field("profile_id"), ErrUnusable)
			}
		}
		if next.BillingAddressID != "" && next.BillingAddressID != cur.BillingAddressID {
			if _, err := tx.GetAddress(ctx, mid, next.ProfileID, next.BillingAddressID); err != nil {
				if KindOf(err) == NotFound {
					return E(Invalid, Field("billing_address_id"), ErrNotInProfile, ID(next.BillingAddressID))
				}
				return err
			}
		}
		// Re-seal when a secret changes (or when the current key is not the primary).
		if su.Number != nil || su.SSN4 != nil || su.DLNumber != nil {
			number, err := s.openInstrument(op, cur, "number", cur.Sealed.Number)
			if err != nil {
				return err
			}
			ssn4, err := s.openInstrument(op, cur, "ssn4", cur.Sealed.SSN4)
			if err != nil {
				return err
			}
			dl, err := s.openInstrument(op, cur, "dl_number", cur.Sealed.DLNumber)
			if err != nil {
				return err
			}
			if su.Number != nil {
				number = *su.Number
			}
			if su.SSN4 != nil {
				ssn4 = *su.SSN4
			}
			if su.DLNumber != nil {
				dl = *su.DLNumber
			}
			if err := s.validateAccount(p, &next, Secret{Number: number}); err != nil {
				return err
			}
			if su.Number != nil {
				s.derive(&next, number)
				next.Fingerprint = s.keys.Fingerprints(mid, normalizedNumber(next.Kind, number))[0]
			}
			if err := s.sealInstrument(&next, number, ssn4, dl); err != nil {
				return err
			}
		} else if err := s.validateAccount(p, &next, Secret{Number: placeholderNumber(&next)}); err != nil {
			return err
		}
		next.Modified = s.Now()
		if err := tx.UpdateInstrument(ctx, &next); err != nil {
			return err
		}
		if opt.Default != nil && next.Kind == KindCard && next.ProfileID != "" {
			switch {
			case *opt.Default:
				err = tx.SetDefaultCard(ctx, mid, next.ProfileID, next.ID)
			case next.DefaultCard:
				err = tx.SetDefaultCard(ctx, mid, next.ProfileID, "")
			}
			if err != nil {
				return err
			}
			next.DefaultCard = *opt.Default
		}
		if opt.Mandates != nil {
			list, err := tx.ListMandates(ctx, mid, next.ID)
			if err != nil {
				return err
			}
			for i, m := range list {
				list[i] = s.effective(m)
			}
			*opt.Mandates = list
		}
		out = &next
		return nil
	})
	if err != nil {
		return nil, E(op, err)
	}
	return out, nil
}

// placeholderNumber is a valid stand-in number of the instrument's kind, so that an update
// that keeps the number can run the other account checks without opening it.
func placeholderNumber(in *Instrument) string {
	switch in.Kind {
	case KindCard:
		return "4111111111111111"
	case KindSEPA:
		return "DE89370400440532013000"
	default:
		return "12345678"
	}
}

// SetDefaultCard makes a card its profile's default (true) or clears it (false).
// Kinds: NotFound, Gone.
func (s *Service) SetDefaultCard(ctx context.Context, p *Principal, id string, def bool) error {
	const op = "vault.SetDefaultCard"
	mid := p.MerchantID()
	return Wrap(op, s.write(ctx, func(tx Tx) error {
		in, err := tx.GetInstrument(ctx, mid, id)
		if err != nil {
			return err
		}
		if !in.Active() {
			return E(Gone, ID(id))
		}
		if in.Kind != KindCard || in.ProfileID == "" {
			return nil
		}
		if _, err := tx.LockProfile(ctx, mid, in.ProfileID); err != nil {
			return err
		}
		switch {
		case def:
			return tx.SetDefaultCard(ctx, mid, in.ProfileID, id)
		case in.DefaultCard:
			return tx.SetDefaultCard(ctx, mid, in.ProfileID, "")
		}
		return nil
	}))
}

// DeleteInstrument deletes an active instrument and its mandates. When it was its profile's
// default card, the oldest remaining card becomes the default. Kinds: NotFound, Gone.
func (s *Service) DeleteInstrument(ctx context.Context, p *Principal, id string) error {
	const op = "vault.DeleteInstrument"
	mid := p.MerchantID()
	return Wrap(op, s.write(ctx, func(tx Tx) error {
		in, err := tx.GetInstrument(ctx, mid, id)
		if err != nil {
			return err
		}
		if !p.CanReach(in.LocationID) {
			return E(NotFound, ID(id))
		}
		if !in.Active() {
			return E(Gone, ID(id))
		}
		if in.ProfileID != "" {
			if _, err := tx.LockProfile(ctx, mid, in.ProfileID); err != nil && KindOf(err) != NotFound {
				return err
			}
		}
		if err := tx.DeleteMandatesOf(ctx, mid, in.ProfileID, in.ID); err != nil {
			return err
		}
		if err := tx.DeleteInstrument(ctx, mid, id, s.Now()); err != nil {
			return err
		}
		if in.DefaultCard && in.ProfileID != "" {
			cards, err := tx.ListProfileInstruments(ctx, mid, in.ProfileID, KindCard)
			if err != nil {
				return err
			}
			if len(cards) > 0 {
				return tx.SetDefaultCard(ctx, mid, in.ProfileID, cards[0].ID)
			}
		}
		return nil
	}))
}

// RevealNumber opens an instrument's account number for a payment. It must only be called
// inside a service call whose result never carries the number. Kinds: Internal.
func (s *Service) RevealNumber(in *Instrument) (string, error) {
	return s.openInstrument("vault.RevealNumber", in, "number", in.Sealed.Number)
}
