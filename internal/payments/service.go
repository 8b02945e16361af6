package payments

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/vault"
)

// SandboxName is the vault.Merchant.Processor value of the built-in simulated processor.
// It never serves a live merchant.
const SandboxName = "sandbox"

// Keyring seals and opens a transaction's account number. *keys.Keyring implements it.
type Keyring interface {
	vault.KeyHolder
	// Seal encrypts plaintext bound to ad under the primary data key.
	Seal(plaintext []byte, ad keys.AD) ([]byte, error)
	// Open decrypts a ciphertext made by Seal with the same ad.
	Open(ciphertext []byte, ad keys.AD) ([]byte, error)
}

// Config holds the payments tunables.
type Config struct {
	// Processors are the configured processors by name (vault.Merchant.Processor and
	// vault.ProductTransaction.Processor values); SandboxName is the simulator.
	Processors map[string]Processor
	// BatchDelay is how long a settlement or refund stays PENDING (Paysafe batchDelaySeconds, 24 h by default).
	BatchDelay time.Duration
	// ProcessorTimeout bounds one processor call (2 min by default). Recover fails only
	// RECEIVED transactions older than it, which no live node can still be completing.
	ProcessorTimeout time.Duration
	// Now is the clock; time.Now by default.
	Now func() time.Time
	// Node names this node; it is recorded on every transaction this node records RECEIVED.
	// Empty for a process that does not serve (a CLI tool).
	Node string
	// NodeAlive reports whether a node that recorded transactions still runs. With it,
	// Recover resolves at once the RECEIVED transactions of a node that is gone, instead of
	// waiting out ProcessorTimeout. It may return errors of Kind Unavailable or Internal.
	NodeAlive func(ctx context.Context, node string) (bool, error)
	// CompleteRetry is how long a node that holds a processor's answer keeps trying to record
	// it while the store is unavailable (a database restarting or failing over), before it
	// answers the call as in flight (ErrInFlight) and leaves the transaction to Recover, which
	// without a Querier can only fail it (20 s by default; negative: no retry).
	CompleteRetry time.Duration
}

// DefaultProcessorTimeout is Config.ProcessorTimeout's default.
const DefaultProcessorTimeout = 2 * time.Minute

// Service owns the payment rules. It is safe for concurrent use.
type Service struct {
	store Store
	vault *vault.Service
	keys  Keyring
	cfg   Config
	// early: reusable sources are resolved before the write (see Authorize).
	early bool
	// ahead: the store reads a card token's instrument ahead in its batch (see Authorize).
	ahead bool
}

// ReadsInWrite is implemented by a store that says whether a read inside its write
// transaction costs less than one before it. Without it, reads are done before the write.
type ReadsInWrite interface {
	ReadsInWrite() bool
}

// TokenReadsAhead is implemented by a store that says whether it reads the instruments of
// its writes marked with vault.WithTokenRead together, inside their batch's transaction, so
// that reading a card token's instrument in the write costs less than reading it before.
type TokenReadsAhead interface {
	ReadsTokensAhead() bool
}

// NewService returns a Service over store. It installs itself as the vault's
// TransactionSource, so that instruments can be created from a transaction's account data.
func NewService(store Store, v *vault.Service, kr Keyring, cfg Config) *Service {
	if cfg.BatchDelay == 0 {
		cfg.BatchDelay = 24 * time.Hour
	}
	if cfg.ProcessorTimeout == 0 {
		cfg.ProcessorTimeout = DefaultProcessorTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CompleteRetry == 0 {
		cfg.CompleteRetry = 20 * time.Second
	}
	s := &Service{store: store, vault: v, keys: kr, cfg: cfg, early: true}
	if r, ok := store.(ReadsInWrite); ok {
		s.early = !r.ReadsInWrite()
	}
	if r, ok := store.(TokenReadsAhead); ok {
		s.ahead = r.ReadsTokensAhead()
	}
	v.SetTransactionSource(s)
	return s
}

// Now returns the service clock's time in UTC, truncated to milliseconds as stored.
func (s *Service) Now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

// Config returns the service configuration.
func (s *Service) Config() Config { return s.cfg }

// ErrInFlight marks a failure after the processor call: the transaction is recorded RECEIVED,
// the processor may have acted on it, and its outcome could not be recorded, even after
// Config.CompleteRetry (recovery completes it later). Its answer must be kept for idempotent
// replays: a retry that ran it again would reach the processor twice.
var ErrInFlight = errors.New("the processor was called and its outcome is not recorded yet")

// inFlight is an ErrInFlight failure of the transaction id: err is why its outcome could not
// be recorded.
type inFlight struct {
	id  string
	err error
}

func (e *inFlight) Error() string   { return ErrInFlight.Error() + ": " + e.err.Error() }
func (e *inFlight) Unwrap() []error { return []error{ErrInFlight, e.err} }

// insertReceived stores t, RECEIVED before its processor call. With bind (t is what its
// request makes, not a step of it: AuthRequest.Step), it binds the Idempotency-Key the request
// holds, if any, to t in the same write: were this node to die during the call, a retry with
// the key is answered from t once recovery has completed it, and never runs the payment again
// (idempotency.Claim). Once the write has committed, the caller says so to the request's key
// (idempotency.Made), for the same reason while this node lives.
func insertReceived(ctx context.Context, tx Tx, t *Transaction, bind bool) error {
	if err := tx.InsertTransaction(ctx, t); err != nil {
		return err
	}
	if c, ok := idempotency.Claimed(ctx); ok && bind {
		return tx.BindIdempotencyKey(ctx, c, t.ID)
	}
	return nil
}

// InFlightID returns the id of the transaction an ErrInFlight failure left RECEIVED (its final
// answer comes once recovery completes it), or "" when err is not one.
func InFlightID(err error) string {
	var e *inFlight
	if errors.As(err, &e) {
		return e.id
	}
	return ""
}

// Reasons a money rule refuses a transaction. Their Kind is Conflict; each API maps them,
// together with the operation, to its own codes.
var (
	// ErrNotApproved means the transaction drawn on was declined, failed or is in flight.
	ErrNotApproved = errors.New("the transaction drawn on is not approved")
	// ErrNothingLeft means nothing is left to settle, void or refund.
	ErrNothingLeft = errors.New("nothing is left to draw on")
	// ErrHasSettlements means an auth with nothing left to settle has settlements (a void is refused).
	ErrHasSettlements = errors.New("the authorization has settlements")
	// ErrExceedsAvailable means the amount is more than what is left.
	ErrExceedsAvailable = errors.New("the amount exceeds what is available")
	// ErrNotPending means the transaction can no longer be cancelled.
	ErrNotPending = errors.New("the transaction is no longer pending")
	// ErrDuplicateRef means a merchant reference under dupCheck was used before.
	ErrDuplicateRef = errors.New("the merchant reference was already used")
	// ErrTxUnsupported means the store's write transactions do not serve payments.
	ErrTxUnsupported = errors.New("the store's transactions do not implement payments.Tx")
)

// write runs fn in one store transaction seen as a payments Tx. It carries the keys fn seals
// under (vault.Sealing): fn seals the account number, and saves an account (Fortis), in it.
func (s *Service) write(ctx context.Context, fn func(Tx) error) error {
	return s.store.Write(vault.Sealing(ctx, s.keys), func(vt vault.Tx) error {
		t, ok := vt.(Tx)
		if !ok {
			return vault.E(vault.Internal, ErrTxUnsupported)
		}
		return fn(t)
	})
}

// Account returns the location owning a payment account number when the principal may use it.
// Any other number, including one of another merchant, is Forbidden (Paysafe 5270).
func (s *Service) Account(ctx context.Context, p *vault.Principal, accountNumber string) (*vault.Location, error) {
	const op = "payments.Account"
	loc, err := s.vault.LocationByAccount(ctx, accountNumber)
	if err != nil {
		if vault.KindOf(err) == vault.NotFound {
			return nil, vault.E(op, vault.Forbidden)
		}
		return nil, vault.E(op, err)
	}
	if loc.MerchantID != p.MerchantID() || !p.CanReach(loc.ID) {
		return nil, vault.E(op, vault.Forbidden)
	}
	return loc, nil
}

// processor returns the processor serving a merchant, or a product transaction's when it
// names one. A merchant without one (a live merchant by default) gets Unavailable with
// vault.ErrNotConfigured.
func (s *Service) processor(m *vault.Merchant, name string) (Processor, error) {
	if name == "" {
		name = m.Processor
	}
	p, ok := s.cfg.Processors[name]
	if name == "" || !ok || (m.Live && name == SandboxName) {
		return nil, vault.E(vault.Unavailable, vault.ErrNotConfigured)
	}
	return p, nil
}

// Get returns a transaction the principal can reach, with batching applied. locationID, when
// set, must be the transaction's location, and types, when given, must include its type;
// anything else is NotFound, like an id that never existed.
func (s *Service) Get(ctx context.Context, p *vault.Principal, locationID, id string, types ...Type) (*Transaction, error) {
	const op = "payments.Get"
	t, err := s.store.GetTransaction(ctx, p.MerchantID(), id)
	if err != nil {
		return nil, vault.E(op, err)
	}
	if !s.visible(p, t, locationID, types) {
		return nil, vault.E(op, vault.NotFound, vault.ID(id))
	}
	t.applyBatch(s.Now())
	return t, nil
}

// GetByAPIID returns the transaction with an api id in a location, like Get. Kinds: NotFound.
func (s *Service) GetByAPIID(ctx context.Context, p *vault.Principal, locationID, apiID string, types ...Type) (*Transaction, error) {
	const op = "payments.GetByAPIID"
	t, err := s.store.GetTransactionByAPIID(ctx, p.MerchantID(), locationID, apiID)
	if err != nil {
		return nil, vault.E(op, err)
	}
	if !s.visible(p, t, locationID, types) {
		return nil, vault.E(op, vault.NotFound, vault.ID(apiID))
	}
	t.applyBatch(s.Now())
	return t, nil
}

// visible reports whether p may see t under the location and type constraints.
func (s *Service) visible(p *vault.Principal, t *Transaction, locationID string, types []Type) bool {
	if t.MerchantID != p.MerchantID() || !p.CanReach(t.LocationID) {
		return false
	}
	if locationID != "" && t.LocationID != locationID {
		return false
	}
	return len(types) == 0 || slices.Contains(types, t.Type)
}

// Settlement returns a settlement by its id or, for an auth settled on approval, by the auth's
// id (Paysafe shows such a settlement under its auth's id). Kinds: NotFound.
func (s *Service) Settlement(ctx context.Context, p *vault.Principal, locationID, id string) (*Transaction, error) {
	const op = "payments.Settlement"
	t, err := s.Get(ctx, p, locationID, id, TypeSettlement, TypeAuth)
	if err != nil {
		return nil, vault.E(op, err)
	}
	if t.Type == TypeSettlement {
		return t, nil
	}
	if !t.SettleWithAuth {
		return nil, vault.E(op, vault.NotFound, vault.ID(id))
	}
	st, err := settlementIn(ctx, s.store, t, s.Now())
	if err != nil {
		return nil, vault.E(op, err)
	}
	return st, nil
}

// settlementIn reads, through r, the settlement auth made on approval (SettleWithAuth), with
// batching applied at now. Kinds: NotFound when it has none.
func settlementIn(ctx context.Context, r Reader, auth *Transaction, now time.Time) (*Transaction, error) {
	kids, err := r.ListChildren(ctx, auth.MerchantID, auth.ID)
	if err != nil {
		return nil, err
	}
	for _, k := range kids {
		if k.Type == TypeSettlement && k.SettleWithAuth {
			k.applyBatch(now)
			return k, nil
		}
	}
	return nil, vault.E(vault.NotFound, vault.ID(auth.ID))
}

// List returns the transactions matching q that the principal can reach, with batching
// applied, and the total count.
func (s *Service) List(ctx context.Context, p *vault.Principal, q vault.Query) ([]*Transaction, int, error) {
	if p.Allowed != nil {
		q.Filters = append(slices.Clip(q.Filters), vault.Filter{Field: "location_id", Op: vault.OpIn, Values: p.Allowed})
	}
	out, total, err := s.store.ListTransactions(ctx, p.MerchantID(), q)
	if err != nil {
		return nil, 0, vault.E("payments.List", err)
	}
	now := s.Now()
	for _, t := range out {
		t.applyBatch(now)
	}
	return out, total, nil
}

// Children returns the transactions drawing on a transaction, with batching applied.
func (s *Service) Children(ctx context.Context, p *vault.Principal, t *Transaction) ([]*Transaction, error) {
	kids, err := s.store.ListChildren(ctx, p.MerchantID(), t.ID)
	if err != nil {
		return nil, vault.E("payments.Children", err)
	}
	now := s.Now()
	for _, k := range kids {
		k.applyBatch(now)
	}
	return kids, nil
}

// RecordFailed stores a transaction an API refused after it reached validation, so that it
// has an id and can be looked up (Paysafe stores every such POST as FAILED). The caller sets
// the request's fields it knows, ErrorCode and Extras, with the refusal's field errors in
// Extras; RecordFailed sets the id, the status, the times and the location fields, and keeps
// none of the values refused for their fields (WithoutRefused). Kinds: Internal.
func (s *Service) RecordFailed(ctx context.Context, p *vault.Principal, loc *vault.Location, t *Transaction) error {
	const op = "payments.RecordFailed"
	now := s.Now()
	if t.ID == "" {
		t.ID = vault.NewID()
	}
	t.MerchantID, t.LocationID, t.AccountNumber = p.MerchantID(), loc.ID, loc.AccountNumber
	if t.Currency == "" {
		t.Currency = loc.Currency
	}
	if t.PaymentMethod == "" {
		t.PaymentMethod = MethodCard
	}
	if p.User != nil {
		t.CreatedUserID = p.User.ID
	}
	t.Status, t.Available, t.Reason = StatusFailed, 0, ReasonRejected
	t.TxnTime, t.Created, t.Modified = now, now, now
	t.Sealed = vault.Sealed{}
	// The reference was not validated (its length may be why the request was refused), and
	// an index holds it: PostgreSQL refuses an index entry over about 2.7 KB.
	t.MerchantRefNum = truncateRunes(t.MerchantRefNum, maxFailedRef)
	if err := checkExtras(t); err != nil {
		return vault.E(op, err)
	}
	t.Extras = WithoutRefused(t.Extras)
	return vault.Wrap(op, s.write(ctx, func(tx Tx) error { return tx.InsertTransaction(ctx, t) }))
}

// maxFailedRef is the most characters of a refused request's reference RecordFailed keeps: the
// longest any API accepts (Paysafe's merchantRefNum, 255).
const maxFailedRef = 255

// truncateRunes returns s cut to at most n characters.
func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// Batch completes every PENDING settlement, refund and debit of a merchant ("" for all) now,
// the operator's "batch now". It returns how many were completed.
func (s *Service) Batch(ctx context.Context, merchantID string) (int, error) {
	var n int
	err := s.write(ctx, func(tx Tx) error {
		var err error
		n, err = tx.CompletePending(ctx, merchantID, s.Now())
		return err
	})
	return n, vault.Wrap("payments.Batch", err)
}

// sealNumber seals a transaction's account number.
func (s *Service) sealNumber(t *Transaction, number string) error {
	if number == "" {
		t.Sealed = vault.Sealed{}
		return nil
	}
	ct, err := s.keys.Seal([]byte(number), keys.AD{Merchant: t.MerchantID, Record: t.ID, Field: "number"})
	if err != nil {
		return vault.E(vault.Internal, err)
	}
	id, _ := keys.KeyID(ct)
	t.Sealed = vault.Sealed{KeyID: id, Number: ct}
	return nil
}

// openNumber opens a transaction's account number.
func (s *Service) openNumber(t *Transaction) (string, error) {
	if len(t.Sealed.Number) == 0 {
		return "", nil
	}
	pt, err := s.keys.Open(t.Sealed.Number, keys.AD{Merchant: t.MerchantID, Record: t.ID, Field: "number"})
	if err != nil {
		return "", vault.E("payments.openNumber", vault.Internal, err)
	}
	return string(pt), nil
}
