package vault

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/payvault/payvault/internal/token"
)

// AuditAccountImport is `payvault import`: a merchant's account data was imported from an
// export. Each instrument is also recorded as it is created (AuditAccountCreate); this one
// record names the source merchant and the counts, never data.
const AuditAccountImport = "account_data.import"

// ImportAction is what importing one record does.
type ImportAction int

// The import actions.
const (
	// ImportCreate creates the instrument (with its profile and address when new).
	ImportCreate ImportAction = iota + 1
	// ImportSkipUnreadable skips a record exported without data.
	ImportSkipUnreadable
	// ImportAlreadyDone skips a record a previous run imported: the target holds an active
	// instrument with the same payment token, kind, profile and number.
	ImportAlreadyDone
)

// ImportProblem is why a record cannot be imported: it names the record by id and the field,
// never a value.
type ImportProblem struct {
	ID     string // ID is the record's instrument id in the export.
	Field  string
	Reason string
	// Collision is set when the record is valid but something of the target is in its way.
	Collision bool
	// OtherMerchant is set on a collision with a record of another merchant of this store:
	// payment tokens and ids are unique in the whole store, not per merchant.
	OtherMerchant bool
}

func (p *ImportProblem) Error() string {
	kind := "invalid"
	if p.Collision {
		kind = "collision"
	}
	return fmt.Sprintf("%s: instrument %s: %s: %s", kind, p.ID, p.Field, p.Reason)
}

// Importer imports the records of an export into one merchant of this store. It checks
// each record against the target and against the records it saw before (in O(1) memory per
// record: a 64-bit hash of each payment token, mandate id and Fortis api id, and the last
// id), and writes batches of prepared records, each batch in one transaction. Use a new
// Importer for each pass over a file.
type Importer struct {
	s        *Service
	p        *Principal
	mer      *Merchant
	locs     map[string]bool // the target merchant's locations seen, and whether they exist
	seed     maphash.Seed
	tokens   map[uint64]struct{}
	apiIDs   map[uint64]struct{}
	profiles map[uint64]struct{}
	// mandateIDs holds a hash of each mandate id of the file; a mandate's token is in tokens.
	mandateIDs map[uint64]struct{}
	// customers maps a hash of each merchantCustomerId and location+contactApiId of the file
	// to the hash of the profile id it came with.
	customers map[uint64]uint64
	lastID    string
	// found holds the target's instruments Prefetch found, by "t:"+token and "i:"+id, and
	// mandates the mandates, by "mt:"+token and "mi:"+id; held the instruments, profiles and
	// addresses of any merchant holding a record's token or id, by holderKey; asked what it
	// asked.
	found    map[string]*Instrument
	mandates map[string]*Mandate
	held     map[string]*Holder
	asked    map[string]bool
	// profileSeen caches each profile's check (nil: it exists as the record's; else the
	// profile to create), bounded.
	profileSeen map[string]*Profile
	// NewIDs counts the records that get a new instrument id because theirs is taken, and
	// NewMandateIDs the mandates.
	NewIDs        int
	NewMandateIDs int
	// Profiles counts the distinct profiles of the records checked.
	Profiles int
}

// NewImporter returns an Importer into merchantID. Kinds: NotFound (the merchant).
func (s *Service) NewImporter(ctx context.Context, merchantID string) (*Importer, error) {
	mer, err := s.store.GetMerchant(ctx, merchantID)
	if err != nil {
		return nil, E("vault.NewImporter", err)
	}
	return &Importer{s: s, p: &Principal{Merchant: mer, Kind: "cli"}, mer: mer, locs: map[string]bool{},
		seed: maphash.MakeSeed(), tokens: map[uint64]struct{}{}, profileSeen: map[string]*Profile{}, apiIDs: map[uint64]struct{}{}, profiles: map[uint64]struct{}{}, customers: map[uint64]uint64{},
		mandateIDs: map[uint64]struct{}{}, found: map[string]*Instrument{}, mandates: map[string]*Mandate{}, held: map[string]*Holder{}, asked: map[string]bool{}}, nil
}

// Prefetch looks up, in one statement, the instruments of any merchant holding the tokens
// and ids of the records Check is about to be given (in a second, when the target holds
// some, the target's in full), in one each the profiles and addresses holding their
// profiles' and addresses' tokens and ids, and in a few more the store's mandates with the
// tokens and ids of their mandates, so that it need not ask for each (on PostgreSQL each
// lookup is a round trip). It forgets the previous batch's.
func (im *Importer) Prefetch(ctx context.Context, recs []*ExportRecord) error {
	const op = "vault.Importer.Prefetch"
	finder, ok := im.s.store.(InstrumentFinder)
	im.found, im.mandates, im.held, im.asked = map[string]*Instrument{}, map[string]*Mandate{}, map[string]*Holder{}, map[string]bool{}
	if !ok {
		return nil
	}
	tokens, ids := make([]string, 0, len(recs)), make([]string, 0, len(recs))
	var mtokens, mids, ptokens, pids, aids []string
	for _, r := range recs {
		tokens, ids = append(tokens, r.PaymentToken), append(ids, r.ID)
		im.asked["t:"+r.PaymentToken], im.asked["i:"+r.ID] = true, true
		if r.BankAccount != nil {
			for _, m := range r.BankAccount.Mandates {
				mtokens, mids = append(mtokens, m.PaymentToken), append(mids, m.ID)
			}
		}
		if p := r.Profile; p != nil {
			pids = append(pids, p.ID)
			if p.PaymentToken != "" {
				ptokens = append(ptokens, p.PaymentToken)
			}
			if a := r.BillingAddress; a != nil && a.ID != "" {
				aids = append(aids, a.ID)
			}
		}
	}
	// Tokens and ids are unique in the whole store: who holds each, of any merchant, then
	// the target's instruments among them in full.
	hs, err := im.findHolders(ctx, "instruments", tokens, ids)
	if err != nil {
		return E(op, err)
	}
	var mine, mineIDs []string
	for _, h := range hs {
		if h.MerchantID == im.mer.ID {
			mine, mineIDs = append(mine, h.Token), append(mineIDs, h.ID)
		}
	}
	if len(mine) > 0 {
		list, err := finder.FindInstruments(ctx, im.mer.ID, mine, mineIDs)
		if err != nil {
			return E(op, err)
		}
		for _, in := range list {
			im.found["t:"+in.Token], im.found["i:"+in.ID] = in, in
		}
	}
	if _, err := im.findHolders(ctx, "profiles", ptokens, pids); err != nil {
		return E(op, err)
	}
	if _, err := im.findHolders(ctx, "addresses", nil, aids); err != nil {
		return E(op, err)
	}
	// A line holds many mandates at most: the lookups go in chunks, each a statement of
	// bounded size.
	const chunk = 500
	for i := 0; i < len(mtokens); i += chunk {
		t, d := mtokens[i:min(i+chunk, len(mtokens))], mids[i:min(i+chunk, len(mids))]
		ms, err := finder.FindMandates(ctx, t, d)
		if err != nil {
			return E(op, err)
		}
		for _, m := range ms {
			im.mandates["mt:"+m.Token], im.mandates["mi:"+m.ID] = m, m
		}
		for j := range t {
			im.asked["mt:"+t[j]], im.asked["mi:"+d[j]] = true, true
		}
	}
	return nil
}

// mandateBy returns the store's mandate (of any merchant) with a payment token (by "t") or
// an id (by "i"), or nil.
func (im *Importer) mandateBy(ctx context.Context, by, v string) (*Mandate, error) {
	key := "m" + by + ":" + v
	if im.asked[key] {
		return im.mandates[key], nil
	}
	finder, ok := im.s.store.(InstrumentFinder)
	if !ok {
		return nil, E(Internal, errNoFinder)
	}
	var tokens, ids []string
	if by == "t" {
		tokens = []string{v}
	} else {
		ids = []string{v}
	}
	list, err := finder.FindMandates(ctx, tokens, ids)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	return list[0], nil
}

var errNoFinder = errors.New("the store cannot look up mandates by token")

// holderKey is where findHolders keeps the holder of a table's token (by "t") or id (by "i").
func holderKey(table, by, v string) string {
	return "h" + table[:1] + by + ":" + v
}

// findHolders looks up the rows of table (of any merchant, deleted or not) holding one of
// tokens or ids, keeps them for heldBy, and returns them.
func (im *Importer) findHolders(ctx context.Context, table string, tokens, ids []string) ([]Holder, error) {
	if len(tokens)+len(ids) == 0 {
		return nil, nil
	}
	finder, ok := im.s.store.(InstrumentFinder)
	if !ok {
		return nil, E(Internal, errNoFinder)
	}
	hs, err := finder.FindHolders(ctx, table, tokens, ids)
	if err != nil {
		return nil, err
	}
	for _, v := range tokens {
		im.asked[holderKey(table, "t", v)] = true
	}
	for _, v := range ids {
		im.asked[holderKey(table, "i", v)] = true
	}
	for i := range hs {
		h := &hs[i]
		if h.Token != "" {
			im.held[holderKey(table, "t", h.Token)] = h
		}
		im.held[holderKey(table, "i", h.ID)] = h
	}
	return hs, nil
}

// heldBy returns the row of table, of any merchant, deleted or not, holding a token (by "t")
// or an id (by "i"), or nil.
func (im *Importer) heldBy(ctx context.Context, table, by, v string) (*Holder, error) {
	key := holderKey(table, by, v)
	if !im.asked[key] {
		tokens, ids := []string{v}, []string(nil)
		if by == "i" {
			tokens, ids = nil, tokens
		}
		if _, err := im.findHolders(ctx, table, tokens, ids); err != nil {
			return nil, err
		}
	}
	return im.held[key], nil
}

// byToken returns the target's instrument (deleted or not) holding a payment token, or nil.
func (im *Importer) byToken(ctx context.Context, tok string) (*Instrument, error) {
	return im.find("t:"+tok, func() (*Instrument, error) { return im.s.store.GetInstrumentByToken(ctx, im.mer.ID, tok) })
}

// find answers a lookup Prefetch made (key), or runs get; not found is nil, no error.
func (im *Importer) find(key string, get func() (*Instrument, error)) (*Instrument, error) {
	if im.asked[key] {
		return im.found[key], nil
	}
	in, err := get()
	if err != nil && KindOf(err) == NotFound {
		return nil, nil
	}
	return in, err
}

// importNames are the export's names of the name fields the vault refuses a card number in
// (names.go), by their core names.
var importNames = map[string]string{"holder_name": "holderName", "nick_name": "nickName", "title": "title",
	"first_name": "firstName", "middle_name": "middleName", "last_name": "lastName", "company_name": "companyName"}

// importNameWithCardNumber applies the APIs' rule that no name or label holds a card number
// (names.go) to an imported record: it returns the export's name of the first field of the
// instrument (holder name, nickname, title) or of its profile (first, middle, last and
// company names, as "profile.firstName"...) that holds one, or "".
func importNameWithCardNumber(in *Instrument, rp *ExportProfile) string {
	if fs := Fields(in.CheckNames()); len(fs) > 0 {
		return importNames[fs[0]]
	}
	if rp == nil {
		return ""
	}
	prof := Profile{FirstName: rp.FirstName, MiddleName: rp.MiddleName, LastName: rp.LastName, CompanyName: rp.CompanyName}
	if fs := Fields(prof.checkNames()); len(fs) > 0 {
		return "profile." + importNames[fs[0]]
	}
	return ""
}

// ImportItem is a checked record ready to be written: its instrument sealed under the
// target's keys. It holds no plaintext.
type ImportItem struct {
	in      *Instrument
	profile *Profile
	// newProfile: this item's Check found the profile absent from the target, so no earlier
	// batch of the run created it, and WriteImport need not look it up.
	newProfile bool
	address    *Address
	// newAddress: Check found the address absent from the store, and WriteImport need not
	// look it up.
	newAddress bool
	mandates   []*Mandate
	// keys are the keys the item was fingerprinted and sealed under, read before (Sealing).
	keys KeyStates
}

// location is where a record goes in the target: the location with the same id when the
// target merchant has it, else the merchant's default location.
func (im *Importer) location(ctx context.Context, id string) (string, error) {
	if id == "" {
		return im.mer.DefaultLocationID, nil
	}
	ok, seen := im.locs[id]
	if !seen {
		_, err := im.s.store.GetLocation(ctx, im.mer.ID, id)
		switch {
		case err == nil:
			ok = true
		case KindOf(err) != NotFound:
			return "", err
		}
		if len(im.locs) < 1024 {
			im.locs[id] = ok
		}
	}
	if ok {
		return id, nil
	}
	return im.mer.DefaultLocationID, nil
}

func (im *Importer) hash(parts ...string) uint64 {
	return maphash.String(im.seed, strings.Join(parts, "\x00"))
}

// Check validates a record as the API would and checks it against the target store and the
// records checked before, its account's mandates with it: the target merchant's records,
// and every merchant's for the tokens and ids unique in the whole store (an *ImportProblem
// with OtherMerchant when another merchant holds one). It returns the action, and for ImportCreate the item to write. A
// record that cannot be imported returns an *ImportProblem; other errors are the store's.
func (im *Importer) Check(ctx context.Context, rec *ExportRecord) (ImportAction, *ImportItem, error) {
	var held KeyStates // read before the fingerprints and seals
	held.Data, held.MAC = im.s.keys.KeyStates()
	bad := func(field, reason string) (ImportAction, *ImportItem, error) {
		return 0, nil, &ImportProblem{ID: rec.ID, Field: field, Reason: reason}
	}
	hit := func(field, reason string) (ImportAction, *ImportItem, error) {
		return 0, nil, &ImportProblem{ID: rec.ID, Field: field, Reason: reason, Collision: true}
	}
	elsewhere := func(field, what string) (ImportAction, *ImportItem, error) {
		return 0, nil, &ImportProblem{ID: rec.ID, Field: field, Reason: "held by " + what + " of another merchant of this store", Collision: true, OtherMerchant: true}
	}
	if rec.ID == "" {
		return bad("id", "missing")
	}
	if rec.ID <= im.lastID {
		return bad("id", "not after the previous record's id (an export lists each instrument once, in id order)")
	}
	im.lastID = rec.ID
	if !validKind(rec.Kind) {
		return bad("kind", "unknown")
	}
	want := token.Bank
	if rec.Kind == KindCard {
		want = token.Card
	}
	if token.Parse(rec.PaymentToken) != want {
		return bad("paymentToken", "not a payment token of the record's kind")
	}
	th := im.hash(rec.PaymentToken)
	if _, dup := im.tokens[th]; dup {
		return bad("paymentToken", "on an earlier record of the file too")
	}
	im.tokens[th] = struct{}{}
	if rec.Unreadable {
		return ImportSkipUnreadable, nil, nil
	}
	if rec.Status != "" && rec.Status != "ACTIVE" {
		return bad("status", "not ACTIVE")
	}
	loc, err := im.location(ctx, rec.LocationID)
	if err != nil {
		return 0, nil, err
	}
	mid := im.mer.ID
	now := im.s.Now()
	in := &Instrument{ID: rec.ID, MerchantID: mid, LocationID: loc, Token: rec.PaymentToken, Kind: rec.Kind, Status: "ACTIVE",
		HolderName: rec.HolderName, NickName: rec.NickName, Title: rec.Title, APIID: rec.FortisAPIID, DefaultCard: rec.Default,
		Created: rec.Created.UTC().Truncate(time.Millisecond), Modified: now, StoredCredentialStatus: ""}
	if in.Created.IsZero() {
		in.Created = now
	}
	var number string
	switch {
	case rec.Kind == KindCard:
		if rec.Card == nil || rec.BankAccount != nil {
			return bad("card", "missing")
		}
		number = rec.Card.Number
		in.ExpMonth, in.ExpYear = rec.Card.ExpMonth, rec.Card.ExpYear
	default:
		if rec.BankAccount == nil || rec.Card != nil {
			return bad("bankAccount", "missing")
		}
		b := rec.BankAccount
		number = b.AccountNumber
		if rec.Kind == KindSEPA {
			number = b.IBAN
		}
		in.RoutingNumber, in.TransitNumber, in.InstitutionID, in.SortCode, in.BIC = b.RoutingNumber, b.TransitNumber, b.InstitutionID, b.SortCode, b.BIC
		in.AccountType = strings.ToUpper(b.AccountType)
	}
	if err := im.s.validateAccount(im.p, in, Secret{Number: number}); err != nil {
		field := "number"
		if fs := Fields(err); len(fs) > 0 {
			field = fs[0]
		}
		return bad(field, "fails the API's checks")
	}
	if field := importNameWithCardNumber(in, rec.Profile); field != "" {
		return bad(field, ErrCardNumber.Error())
	}
	im.s.derive(in, number)
	in.Token = rec.PaymentToken // the export's token is kept
	if rec.Kind == KindCard {
		if rec.Card.Brand != "" && rec.Card.Brand != in.Brand {
			return bad("brand", "not the number's brand")
		}
		if rec.Card.LastFour != "" && rec.Card.LastFour != in.LastFour {
			return bad("lastFour", "not the number's last four digits")
		}
	}
	if field, reason := im.checkMandateFields(rec); field != "" {
		return bad(field, reason)
	}
	fps := im.s.keys.Fingerprints(mid, normalizedNumber(in.Kind, number))
	in.Fingerprint = fps[0]

	// A previous run imported it: same token, kind, profile and number (its fingerprint under
	// any enabled key: the fingerprint key may have been rotated since that run).
	cur, err := im.byToken(ctx, rec.PaymentToken)
	if err != nil {
		return 0, nil, err
	}
	if cur != nil {
		if cur.Active() && cur.Kind == in.Kind && slices.Contains(fps, cur.Fingerprint) && (rec.Profile == nil) == (cur.ProfileID == "") &&
			(rec.Profile == nil || cur.ProfileID == rec.Profile.ID) {
			return ImportAlreadyDone, nil, nil
		}
		if !cur.Active() {
			return hit("paymentToken", "held by a deleted instrument of the target merchant")
		}
		return hit("paymentToken", "held by another instrument of the target merchant")
	}
	// Payment tokens and ids are unique in the whole store.
	if h, err := im.heldBy(ctx, "instruments", "t", rec.PaymentToken); err != nil {
		return 0, nil, err
	} else if h != nil && h.MerchantID != mid {
		return elsewhere("paymentToken", "an instrument")
	} else if h != nil {
		return hit("paymentToken", "held by a deleted instrument of the target merchant")
	}
	if h, err := im.heldBy(ctx, "instruments", "i", rec.ID); err != nil {
		return 0, nil, err
	} else if h != nil {
		in.ID = newID() // the id is taken: the token, which payments use, is kept
		im.NewIDs++
	}
	if in.APIID != "" {
		ah := im.hash(loc, in.APIID)
		if _, dup := im.apiIDs[ah]; dup {
			return bad("fortisApiId", "on an earlier record of the same location too")
		}
		im.apiIDs[ah] = struct{}{}
		cur, err := im.s.store.GetInstrumentByAPIID(ctx, mid, loc, in.APIID)
		switch {
		case err == nil && cur.Active():
			return hit("fortisApiId", "held by an active account vault of the target location")
		case err != nil && KindOf(err) != NotFound:
			return 0, nil, err
		}
	}

	it := &ImportItem{in: in, keys: held}
	if it.mandates, err = im.importMandates(ctx, rec, in); err != nil {
		if p, ok := err.(*ImportProblem); ok {
			p.ID = rec.ID
		}
		return 0, nil, err
	}
	if rp := rec.Profile; rp != nil {
		if rp.ID == "" {
			return bad("profile.id", "missing")
		}
		if rp.PaymentToken != "" && token.Parse(rp.PaymentToken) != token.Profile {
			return bad("profile.paymentToken", "not a profile payment token")
		}
		in.ProfileID = rp.ID
		prof := &Profile{ID: rp.ID, Token: rp.PaymentToken, MerchantID: mid, LocationID: loc, Status: "ACTIVE", MerchantCustomerID: rp.MerchantCustomerID,
			ContactAPIID: rp.ContactAPIID, FirstName: rp.FirstName, MiddleName: rp.MiddleName, LastName: rp.LastName,
			CompanyName: rp.CompanyName, Email: rp.Email, Phone: rp.Phone, Created: in.Created}
		ph := im.hash(rp.ID)
		if _, seen := im.profiles[ph]; !seen {
			im.profiles[ph] = struct{}{}
			im.Profiles++
			// A customer id is unique per merchant, a contact api id per location: two
			// profiles of the file with one would fail a batch on the store's unique index.
			for _, k := range [][2]string{{"profile.merchantCustomerId", "m\x00" + rp.MerchantCustomerID}, {"profile.contactApiId", "c\x00" + loc + "\x00" + rp.ContactAPIID},
				{"profile.paymentToken", "t\x00" + rp.PaymentToken}} {
				if strings.HasSuffix(k[1], "\x00") {
					continue
				}
				kh := im.hash(k[1])
				if other, dup := im.customers[kh]; dup && other != ph {
					return bad(k[0], "on another profile of the file too")
				}
				im.customers[kh] = ph
			}
		}
		create, seen := im.profileSeen[rp.ID]
		if seen && create != nil {
			v := *create
			// Another record of the profile, with the same fields (a token the file does not
			// give was made here).
			v.Token, v.Created = prof.Token, prof.Created
			seen = v == *prof
		}
		if !seen {
			create, err = im.checkProfile(ctx, prof)
			if p, ok := err.(*ImportProblem); ok {
				p.ID = rec.ID
				return 0, nil, p
			}
			if err != nil {
				return 0, nil, err
			}
			if len(im.profileSeen) >= 4096 {
				clear(im.profileSeen)
			}
			im.profileSeen[rp.ID] = create
			it.newProfile = create != nil
		}
		it.profile = create
	}
	if a := rec.BillingAddress; a != nil {
		switch {
		case a.ID != "" && in.ProfileID != "":
			in.BillingAddressID = a.ID
			it.address = &Address{ID: a.ID, MerchantID: mid, ProfileID: in.ProfileID, Street: a.Street, Street2: a.Street2,
				City: a.City, State: a.State, Country: a.Country, Zip: a.Zip, Phone: a.Phone, Status: "ACTIVE", Created: in.Created}
		case a.ID != "":
			return bad("billingAddress.id", "an address without a profile")
		default:
			in.BillingStreet, in.BillingCity, in.BillingState, in.BillingZip, in.BillingPhone = a.Street, a.City, a.State, a.Zip, a.Phone
		}
	}
	if in.Kind == KindCard && in.ProfileID == "" {
		in.DefaultCard = false
	}
	if a := it.address; a != nil {
		switch h, err := im.heldBy(ctx, "addresses", "i", a.ID); {
		case err != nil:
			return 0, nil, err
		case h == nil:
			it.newAddress = true
		case h.MerchantID != mid:
			return elsewhere("billingAddress.id", "an address")
		case h.ProfileID != a.ProfileID:
			return hit("billingAddress.id", "held by an address of another profile of the target merchant")
		default:
			it.address = nil // imported before, by this run or another
		}
	}
	if err := im.s.sealInstrument(in, number, "", ""); err != nil {
		return 0, nil, err
	}
	return ImportCreate, it, nil
}

// checkMandateFields checks a bank record's mandates as the API would, and against the
// mandates of the records checked before: the field and reason of the first problem, or "".
func (im *Importer) checkMandateFields(rec *ExportRecord) (field, reason string) {
	if rec.BankAccount == nil {
		return "", ""
	}
	ms := rec.BankAccount.Mandates
	if len(ms) > 0 && rec.Kind != KindBACS && rec.Kind != KindSEPA {
		return "bankAccount.mandates", "only BACS and SEPA accounts have mandates"
	}
	for i, m := range ms {
		f := fmt.Sprintf("bankAccount.mandates[%d].", i)
		switch {
		case m.ID == "":
			return f + "id", "missing"
		case strings.TrimSpace(m.Reference) == "" || utf8.RuneCountInString(m.Reference) > MaxMandateReference:
			return f + "reference", fmt.Sprintf("not 1 to %d characters", MaxMandateReference)
		case token.Parse(m.PaymentToken) != token.Mandate:
			return f + "paymentToken", "not a mandate payment token"
		case !slices.Contains(mandateStatuses, m.Status):
			return f + "status", "unknown"
		case m.Status == MandatePending && rec.Kind != KindBACS:
			return f + "status", "PENDING on an account other than BACS"
		}
		th := im.hash(m.PaymentToken) // M…: never an instrument's token
		if _, dup := im.tokens[th]; dup {
			return f + "paymentToken", "on an earlier mandate of the file too"
		}
		im.tokens[th] = struct{}{}
		ih := im.hash(m.ID)
		if _, dup := im.mandateIDs[ih]; dup {
			return f + "id", "on an earlier mandate of the file too"
		}
		im.mandateIDs[ih] = struct{}{}
	}
	return "", ""
}

// importMandates checks a record's mandates against the store and returns them, on in, to
// create: each keeps its id, unless the id is taken, and its token, reference, status and
// dates. A token held by any mandate of the store is an *ImportProblem.
func (im *Importer) importMandates(ctx context.Context, rec *ExportRecord, in *Instrument) ([]*Mandate, error) {
	if rec.BankAccount == nil || len(rec.BankAccount.Mandates) == 0 {
		return nil, nil
	}
	var out []*Mandate
	for i, m := range rec.BankAccount.Mandates {
		cur, err := im.mandateBy(ctx, "t", m.PaymentToken)
		if err != nil {
			return nil, err
		}
		if cur != nil {
			p := &ImportProblem{Field: fmt.Sprintf("bankAccount.mandates[%d].paymentToken", i), Reason: "held by another mandate of the target merchant", Collision: true}
			if cur.MerchantID != in.MerchantID {
				p.Reason, p.OtherMerchant = "held by a mandate of another merchant of this store", true
			}
			return nil, p
		}
		v := &Mandate{ID: m.ID, MerchantID: in.MerchantID, InstrumentID: in.ID, Token: m.PaymentToken,
			Reference: m.Reference, Status: m.Status, StatusChanged: m.StatusChangeDate.UTC().Truncate(time.Millisecond),
			StatusReasonCode: m.StatusReasonCode, StatusReason: m.StatusReason, Created: m.Created.UTC().Truncate(time.Millisecond)}
		if rec.Profile != nil {
			v.ProfileID = rec.Profile.ID // the instrument's, set later by Check
		}
		if v.Created.IsZero() {
			v.Created = in.Created
		}
		if v.StatusChanged.IsZero() {
			v.StatusChanged = v.Created
		}
		if cur, err := im.mandateBy(ctx, "i", m.ID); err != nil {
			return nil, err
		} else if cur != nil {
			v.ID = newID() // the id is taken: the token, which payments use, is kept
			im.NewMandateIDs++
		}
		out = append(out, v)
	}
	return out, nil
}

// checkProfile checks a record's profile against the target: nil when the target holds it
// already (imported before), else the profile to create (with its exported profile token, or
// a new one when the export has none), or an *ImportProblem when its id, merchantCustomerId
// or contactApiId is taken.
func (im *Importer) checkProfile(ctx context.Context, prof *Profile) (*Profile, error) {
	mid := im.mer.ID
	hit := func(field, reason string) (*Profile, error) {
		return nil, &ImportProblem{Field: field, Reason: reason, Collision: true}
	}
	// held refuses a profile id or token held by a profile of another merchant (they are
	// unique in the whole store), or by a deleted or other profile of the target.
	held := func(by, v, field string) (*Profile, error) {
		h, err := im.heldBy(ctx, "profiles", by, v)
		switch {
		case err != nil:
			return nil, err
		case h == nil:
			return nil, nil
		case h.MerchantID != mid:
			return nil, &ImportProblem{Field: field, Reason: "held by a profile of another merchant of this store", Collision: true, OtherMerchant: true}
		case h.Deleted:
			return hit(field, "held by a deleted profile of the target merchant")
		}
		return hit(field, "held by another profile of the target merchant")
	}
	// The holder of the id, of any merchant, is known (Prefetch asks for a batch's at once):
	// the profile itself is read only when the target holds it.
	if h, err := im.heldBy(ctx, "profiles", "i", prof.ID); err != nil {
		return nil, err
	} else if h != nil && h.MerchantID == mid && !h.Deleted {
		cur, err := im.s.store.GetProfile(ctx, mid, prof.ID)
		if err != nil {
			return nil, err
		}
		if !sameImportedProfile(cur, prof) {
			return hit("profile.id", "held by another profile of the target merchant")
		}
		return nil, nil
	}
	if _, err := held("i", prof.ID, "profile.id"); err != nil {
		return nil, err
	}
	if prof.MerchantCustomerID != "" {
		if _, err := im.s.store.GetProfileBy(ctx, mid, "merchant_customer_id", prof.MerchantCustomerID, ""); err == nil {
			return hit("profile.merchantCustomerId", "held by another profile of the target merchant")
		} else if KindOf(err) != NotFound {
			return nil, err
		}
	}
	if prof.ContactAPIID != "" {
		if _, err := im.s.store.GetProfileBy(ctx, mid, "contact_api_id", prof.ContactAPIID, prof.LocationID); err == nil {
			return hit("profile.contactApiId", "held by another contact of the target location")
		} else if KindOf(err) != NotFound {
			return nil, err
		}
	}
	v := *prof
	if v.Token == "" {
		v.Token = token.New(token.Profile) // an export without profile tokens
	} else if _, err := held("t", v.Token, "profile.paymentToken"); err != nil {
		return nil, err
	}
	return &v, nil
}

// sameImportedProfile reports whether cur is the profile a record's profile p would create:
// one imported earlier (by this run's previous batches, or a run that stopped).
func sameImportedProfile(cur, p *Profile) bool {
	return cur.ID == p.ID && (p.Token == "" || cur.Token == p.Token) && cur.MerchantCustomerID == p.MerchantCustomerID && cur.ContactAPIID == p.ContactAPIID &&
		cur.FirstName == p.FirstName && cur.LastName == p.LastName && cur.Email == p.Email && cur.LocationID == p.LocationID
}

func validKind(k string) bool {
	for _, v := range ExportKinds {
		if k == v {
			return true
		}
	}
	return false
}

// Written tells the Importer that WriteImport committed items: their profiles now exist as
// their records', so the later records of a profile need not have it looked up again, in
// the check or in their batch's write (the records of one profile are often spread over
// the file, one batch each).
func (im *Importer) Written(items []*ImportItem) {
	for _, it := range items {
		if p := it.profile; p != nil {
			if _, ok := im.profileSeen[p.ID]; ok {
				im.profileSeen[p.ID] = nil
			}
			// The holders Prefetch found for the records still to check predate the write.
			h := &Holder{ID: p.ID, Token: p.Token, MerchantID: p.MerchantID}
			im.held[holderKey("profiles", "i", p.ID)], im.held[holderKey("profiles", "t", p.Token)] = h, h
		}
		if a := it.address; a != nil {
			im.held[holderKey("addresses", "i", a.ID)] = &Holder{ID: a.ID, MerchantID: a.MerchantID, ProfileID: a.ProfileID}
		}
	}
}

// Recheck is for a batch WriteImport refused with Conflict: another import of the same file
// into the target, running at once, found the same records free and wrote some first. It
// looks up the batch's payment tokens in the target: an item the target now holds as its
// record (an active instrument of the same kind, number and profile) is dropped and
// counted, as a rerun counts it; the rest are returned to write again, their profiles to be
// looked up in the write (the other import may have made them). An item whose token is
// held otherwise is an *ImportProblem. Kinds: Unavailable, Internal.
func (im *Importer) Recheck(ctx context.Context, items []*ImportItem) (rest []*ImportItem, already int, err error) {
	const op = "vault.Importer.Recheck"
	finder, ok := im.s.store.(InstrumentFinder)
	if !ok {
		return nil, 0, E(op, Internal, errNoFinder)
	}
	tokens := make([]string, len(items))
	for i, it := range items {
		tokens[i] = it.in.Token
	}
	list, err := finder.FindInstruments(ctx, im.mer.ID, tokens, nil)
	if err != nil {
		return nil, 0, E(op, err)
	}
	cur := make(map[string]*Instrument, len(list))
	for _, in := range list {
		cur[in.Token] = in
	}
	var done []*ImportItem
	for _, it := range items {
		in, c := it.in, cur[it.in.Token]
		switch {
		case c == nil:
			it.newProfile, it.newAddress = false, false
			rest = append(rest, it)
		case c.Active() && c.Kind == in.Kind && c.Fingerprint == in.Fingerprint && c.ProfileID == in.ProfileID:
			done = append(done, it)
		default:
			return nil, 0, &ImportProblem{ID: in.ID, Field: "paymentToken", Reason: "held by another instrument of the target merchant, written since the check", Collision: true}
		}
	}
	im.Written(done) // their profiles exist now
	return rest, len(done), nil
}

// ImportWritten is what WriteImport created.
type ImportWritten struct {
	Instruments, Profiles, Addresses, Mandates int
}

// WriteImport writes a batch of checked records in one transaction: for each, its profile
// (created once: the first record of a profile creates it, with the profile token Check
// chose), its billing address (created once), its instrument and its mandates, recorded on the audit
// chain and counted as any create. Check has found the tokens free; one taken meanwhile
// (another import running at once) fails the batch on the store's unique index, and
// Recheck then sorts out what the other wrote. The batch
// is all or nothing: an account is never written without its mandates. Kinds: Conflict
// (something taken meanwhile), Unavailable, Internal.
func (s *Service) WriteImport(ctx context.Context, merchantID string, items []*ImportItem) (ImportWritten, error) {
	const op = "vault.WriteImport"
	var n ImportWritten
	if len(items) > 0 {
		// The first item was checked first, under the oldest keys of the batch.
		ctx = WithKeyStates(ctx, items[0].keys)
	}
	// Its inserts need no answer: a store may send them together (WithBulk).
	err := s.write(WithBulk(ctx), func(tx Tx) error {
		n = ImportWritten{}
		done := map[string]bool{} // the profiles and addresses this batch has seen
		for _, it := range items {
			in := *it.in
			if p := it.profile; p != nil && !done["p:"+p.ID] {
				done["p:"+p.ID] = true
				cur, err := (*Profile)(nil), error(E(NotFound))
				if !it.newProfile {
					// An earlier batch of the run may have created it.
					cur, err = tx.GetProfile(ctx, merchantID, p.ID)
				}
				switch {
				case err == nil:
					if !sameImportedProfile(cur, p) {
						return E(Conflict, Field("profile_id"), ID(p.ID))
					}
				case KindOf(err) != NotFound:
					return err
				default:
					v := *p
					if err := tx.InsertProfile(ctx, &v); err != nil {
						return err
					}
					n.Profiles++
				}
			}
			if a := it.address; a != nil && !done["a:"+a.ID] {
				done["a:"+a.ID] = true
				err := error(E(NotFound))
				if !it.newAddress {
					_, err = tx.GetAddress(ctx, merchantID, a.ProfileID, a.ID)
				}
				if err != nil {
					if KindOf(err) != NotFound {
						return err
					}
					v := *a
					if err := tx.InsertAddress(ctx, &v); err != nil {
						return err
					}
					n.Addresses++
				}
			}
			if err := tx.InsertInstrument(ctx, &in); err != nil {
				return err
			}
			n.Instruments++
			for _, m := range it.mandates {
				v := *m
				if err := tx.InsertMandate(ctx, &v); err != nil {
					return err
				}
				n.Mandates++
			}
		}
		return nil
	})
	if err != nil {
		return ImportWritten{}, E(op, err)
	}
	return n, nil
}
