package storetest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/vault"
)

// GoneAfterCommit is a Store whose database goes away as soon as a write commits while it is
// armed: every lookup outside a write transaction then fails Unavailable, as when the database
// restarts right after a COMMIT it answered. Writes still run. A request whose answer needs a
// read after its write committed fails under it, although the write is stored: the tests that
// use it hold that every write answers from its own transaction. The zero value wraps nothing;
// set Store.
type GoneAfterCommit struct {
	Store
	armed, gone atomic.Bool
	lose        atomic.Int32
}

// Arm makes the next committed write take the database away, and brings it back.
func (s *GoneAfterCommit) Arm() { s.gone.Store(false); s.armed.Store(true) }

// Disarm brings the database back and stops taking it away (and losing commits).
func (s *GoneAfterCommit) Disarm() { s.armed.Store(false); s.gone.Store(false); s.lose.Store(0) }

// Gone reports whether the database is away.
func (s *GoneAfterCommit) Gone() bool { return s.gone.Load() }

// Armed runs do with s armed and brings the database back after it. It fails tb unless a
// write committed meanwhile (do's request stored nothing, so it tested nothing).
func (s *GoneAfterCommit) Armed(tb testing.TB, do func()) {
	tb.Helper()
	s.Arm()
	do()
	gone := s.Gone()
	s.Disarm()
	if !gone {
		tb.Error("the request committed no write")
	}
}

// LoseCommit makes the n-th armed write from now (1 is the next) commit and answer
// Unavailable, as a COMMIT whose answer the connection lost. Call it before Armed.
func (s *GoneAfterCommit) LoseCommit(n int) { s.lose.Store(int32(n)) }

// errGone is the lookups' error while the database is away.
var errGone = errors.New("the database went away after a commit")

// Write runs the wrapped store's Write; a commit while armed takes the database away.
func (s *GoneAfterCommit) Write(ctx context.Context, fn func(vault.Tx) error) error {
	err := s.Store.Write(ctx, fn)
	if err != nil || !s.armed.Load() {
		return err
	}
	s.gone.Store(true)
	if s.lose.Load() > 0 && s.lose.Add(-1) == 0 {
		return vault.E("storetest.GoneAfterCommit", vault.Unavailable, errors.New("the COMMIT's answer was lost"))
	}
	return nil
}

// down is the error of a lookup: Unavailable while the database is away.
func (s *GoneAfterCommit) down() error {
	if s.gone.Load() {
		return vault.E("storetest.GoneAfterCommit", vault.Unavailable, errGone)
	}
	return nil
}

// read runs a lookup of the wrapped store unless the database is away.
func read[T any](s *GoneAfterCommit, f func() (T, error)) (T, error) {
	if err := s.down(); err != nil {
		var zero T
		return zero, err
	}
	return f()
}

// list runs a counted lookup of the wrapped store unless the database is away.
func list[T any](s *GoneAfterCommit, f func() (T, int, error)) (T, int, error) {
	if err := s.down(); err != nil {
		var zero T
		return zero, 0, err
	}
	return f()
}

// GetMerchant is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) GetMerchant(ctx context.Context, id string) (*vault.Merchant, error) {
	return read(s, func() (*vault.Merchant, error) { return s.Store.GetMerchant(ctx, id) })
}

// ListMerchants is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) ListMerchants(ctx context.Context) ([]*vault.Merchant, error) {
	return read(s, func() ([]*vault.Merchant, error) { return s.Store.ListMerchants(ctx) })
}

// CountMerchants is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) CountMerchants(ctx context.Context) (int, error) {
	return read(s, func() (int, error) { return s.Store.CountMerchants(ctx) })
}

// GetLocation is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) GetLocation(ctx context.Context, mid, id string) (*vault.Location, error) {
	return read(s, func() (*vault.Location, error) { return s.Store.GetLocation(ctx, mid, id) })
}

// GetLocationByAccount is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) GetLocationByAccount(ctx context.Context, acct string) (*vault.Location, error) {
	return read(s, func() (*vault.Location, error) { return s.Store.GetLocationByAccount(ctx, acct) })
}

// GetLocationByAPIKey is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) GetLocationByAPIKey(ctx context.Context, key string) (*vault.Location, error) {
	return read(s, func() (*vault.Location, error) { return s.Store.GetLocationByAPIKey(ctx, key) })
}

// ListLocations is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) ListLocations(ctx context.Context, mid string, q vault.Query) ([]*vault.Location, int, error) {
	return list(s, func() ([]*vault.Location, int, error) { return s.Store.ListLocations(ctx, mid, q) })
}

// GetProductTransaction is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) GetProductTransaction(ctx context.Context, mid, id string) (*vault.ProductTransaction, error) {
	return read(s, func() (*vault.ProductTransaction, error) { return s.Store.GetProductTransaction(ctx, mid, id) })
}

// ListProductTransactions is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) ListProductTransactions(ctx context.Context, mid string, q vault.Query) ([]*vault.ProductTransaction, int, error) {
	return list(s, func() ([]*vault.ProductTransaction, int, error) { return s.Store.ListProductTransactions(ctx, mid, q) })
}

// GetAPIKey is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) GetAPIKey(ctx context.Context, keyID string) (*vault.APIKey, error) {
	return read(s, func() (*vault.APIKey, error) { return s.Store.GetAPIKey(ctx, keyID) })
}

// GetDeveloper is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) GetDeveloper(ctx context.Context, id string) (*vault.Developer, error) {
	return read(s, func() (*vault.Developer, error) { return s.Store.GetDeveloper(ctx, id) })
}

// GetUser is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) GetUser(ctx context.Context, id string) (*vault.User, error) {
	return read(s, func() (*vault.User, error) { return s.Store.GetUser(ctx, id) })
}

// ListUsers is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) ListUsers(ctx context.Context, mid string, q vault.Query) ([]*vault.User, int, error) {
	return list(s, func() ([]*vault.User, int, error) { return s.Store.ListUsers(ctx, mid, q) })
}

// GetProfile is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) GetProfile(ctx context.Context, mid, id string) (*vault.Profile, error) {
	return read(s, func() (*vault.Profile, error) { return s.Store.GetProfile(ctx, mid, id) })
}

// GetProfileLocation is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) GetProfileLocation(ctx context.Context, mid, id string) (string, error) {
	return read(s, func() (string, error) { return s.Store.GetProfileLocation(ctx, mid, id) })
}

// GetProfileBy is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) GetProfileBy(ctx context.Context, mid, field, value, loc string) (*vault.Profile, error) {
	return read(s, func() (*vault.Profile, error) { return s.Store.GetProfileBy(ctx, mid, field, value, loc) })
}

// ListProfiles is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) ListProfiles(ctx context.Context, mid string, q vault.Query) ([]*vault.Profile, int, error) {
	return list(s, func() ([]*vault.Profile, int, error) { return s.Store.ListProfiles(ctx, mid, q) })
}

// GetAddress is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) GetAddress(ctx context.Context, mid, pid, id string) (*vault.Address, error) {
	return read(s, func() (*vault.Address, error) { return s.Store.GetAddress(ctx, mid, pid, id) })
}

// ListAddresses is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) ListAddresses(ctx context.Context, mid, pid string) ([]*vault.Address, error) {
	return read(s, func() ([]*vault.Address, error) { return s.Store.ListAddresses(ctx, mid, pid) })
}

// GetInstrument is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) GetInstrument(ctx context.Context, mid, id string) (*vault.Instrument, error) {
	return read(s, func() (*vault.Instrument, error) { return s.Store.GetInstrument(ctx, mid, id) })
}

// GetInstrumentByToken is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) GetInstrumentByToken(ctx context.Context, mid, tok string) (*vault.Instrument, error) {
	return read(s, func() (*vault.Instrument, error) { return s.Store.GetInstrumentByToken(ctx, mid, tok) })
}

// GetInstrumentByTokenWithCustomer is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) GetInstrumentByTokenWithCustomer(ctx context.Context, mid, tok string) (*vault.Instrument, vault.Customer, error) {
	if err := s.down(); err != nil {
		return nil, vault.Customer{}, err
	}
	return s.Store.GetInstrumentByTokenWithCustomer(ctx, mid, tok)
}

// GetInstrumentByAPIID is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) GetInstrumentByAPIID(ctx context.Context, mid, loc, apiID string) (*vault.Instrument, error) {
	return read(s, func() (*vault.Instrument, error) { return s.Store.GetInstrumentByAPIID(ctx, mid, loc, apiID) })
}

// ListInstruments is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) ListInstruments(ctx context.Context, mid string, q vault.Query) ([]*vault.Instrument, int, error) {
	return list(s, func() ([]*vault.Instrument, int, error) { return s.Store.ListInstruments(ctx, mid, q) })
}

// ListProfileInstruments is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) ListProfileInstruments(ctx context.Context, mid, pid, kind string) ([]*vault.Instrument, error) {
	return read(s, func() ([]*vault.Instrument, error) { return s.Store.ListProfileInstruments(ctx, mid, pid, kind) })
}

// GetMandate is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) GetMandate(ctx context.Context, mid, id string) (*vault.Mandate, error) {
	return read(s, func() (*vault.Mandate, error) { return s.Store.GetMandate(ctx, mid, id) })
}

// GetMandateByID is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) GetMandateByID(ctx context.Context, id string) (*vault.Mandate, error) {
	return read(s, func() (*vault.Mandate, error) { return s.Store.GetMandateByID(ctx, id) })
}

// ListMandates is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) ListMandates(ctx context.Context, mid, id string) ([]*vault.Mandate, error) {
	return read(s, func() ([]*vault.Mandate, error) { return s.Store.ListMandates(ctx, mid, id) })
}

// GetOneTimeToken is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) GetOneTimeToken(ctx context.Context, mid, tok string) (*vault.OneTimeToken, error) {
	return read(s, func() (*vault.OneTimeToken, error) { return s.Store.GetOneTimeToken(ctx, mid, tok) })
}

// GetSetting is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) GetSetting(ctx context.Context, name string) (string, error) {
	return read(s, func() (string, error) { return s.Store.GetSetting(ctx, name) })
}

// GetTransaction is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) GetTransaction(ctx context.Context, mid, id string) (*payments.Transaction, error) {
	return read(s, func() (*payments.Transaction, error) { return s.Store.GetTransaction(ctx, mid, id) })
}

// GetTransactionByAPIID is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) GetTransactionByAPIID(ctx context.Context, mid, loc, apiID string) (*payments.Transaction, error) {
	return read(s, func() (*payments.Transaction, error) { return s.Store.GetTransactionByAPIID(ctx, mid, loc, apiID) })
}

// ListTransactions is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) ListTransactions(ctx context.Context, mid string, q vault.Query) ([]*payments.Transaction, int, error) {
	return list(s, func() ([]*payments.Transaction, int, error) { return s.Store.ListTransactions(ctx, mid, q) })
}

// ListChildren is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) ListChildren(ctx context.Context, mid, parentID string) ([]*payments.Transaction, error) {
	return read(s, func() ([]*payments.Transaction, error) { return s.Store.ListChildren(ctx, mid, parentID) })
}

// CountByRef is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) CountByRef(ctx context.Context, mid, acct string, ty payments.Type, ref string) (int, error) {
	return read(s, func() (int, error) { return s.Store.CountByRef(ctx, mid, acct, ty, ref) })
}

// ListReceived is the wrapped store's, failing Unavailable while the database is away.
func (s *GoneAfterCommit) ListReceived(ctx context.Context, before time.Time, limit int) ([]*payments.Transaction, error) {
	return read(s, func() ([]*payments.Transaction, error) { return s.Store.ListReceived(ctx, before, limit) })
}

var _ Store = (*GoneAfterCommit)(nil)
