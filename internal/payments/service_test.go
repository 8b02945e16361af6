package payments_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

func TestMain(m *testing.M) { storetest.RunMain(m) }

// engines runs fn against a fresh SQLite store and a fresh PostgreSQL database.
func engines(t *testing.T, fn func(t *testing.T, open storetest.Opener)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, func(tb testing.TB) storetest.Store {
			s, err := sqlstore.Open(context.Background(), sqlstore.Config{Path: filepath.Join(tb.TempDir(), "t.db")})
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, func(tb testing.TB) storetest.Store {
			s, err := sqlstore.Open(context.Background(), sqlstore.Config{DSN: storetest.PostgresDSN(tb)})
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { s.Close() })
			return s
		})
	})
}

// testTable is a Paysafe-like trigger table in minor units.
var testTable = payments.Triggers{
	Amounts: []payments.AmountTrigger{
		{Types: []payments.Type{payments.TypeAuth}, Min: 5, Decision: payments.Declined, Code: "3009"},
		{Types: []payments.Type{payments.TypeAuth}, Min: 6, Decision: payments.Fault, Code: "1007"},
	},
	AVS: payments.AVSTable{Types: []payments.Type{payments.TypeAuth, payments.TypeVerification},
		Rules: []payments.AVSRule{{Street: payments.Matcher{Prefix: "13"}, Result: payments.AVSNoMatch}}, Default: payments.AVSMatch},
	CVV: payments.CVVTable{Types: []payments.Type{payments.TypeAuth, payments.TypeVerification},
		Rules: []payments.CVVRule{{Value: "666", Result: payments.CVVNoMatch}}, Default: payments.CVVMatch, Absent: payments.CVVNotProcessed},
}

// env is a vault fixture with a payments service.
type env struct {
	*storetest.Fixture
	ps  *payments.Service
	loc *vault.Location
	ctx context.Context
}

func mustEnv(t *testing.T, open storetest.Opener, cfg payments.Config) *env {
	t.Helper()
	f := storetest.MustFixture(t, open)
	if cfg.Processors == nil {
		cfg.Processors = map[string]payments.Processor{payments.SandboxName: payments.NewSandbox(
			map[string]*payments.Triggers{"test": &testTable}, payments.SandboxConfig{})}
	}
	ps := payments.NewService(f.Store, f.Svc, f.Keys, cfg)
	ctx := context.Background()
	loc, err := ps.Account(ctx, f.Principal, f.Creds.Paysafe.AccountNumber)
	if err != nil {
		t.Fatal(err)
	}
	return &env{Fixture: f, ps: ps, loc: loc, ctx: ctx}
}

func (e *env) auth(t *testing.T, amount int64, src payments.Source, settle bool) (*payments.Transaction, error) {
	t.Helper()
	return e.ps.Authorize(e.ctx, e.Principal, payments.AuthRequest{API: "test", Type: payments.TypeAuth, Location: e.loc,
		Amount: amount, MerchantRefNum: "r", Source: src, SettleWithAuth: settle})
}

func (e *env) follow(amount int64, parent string) payments.FollowUp {
	return payments.FollowUp{API: "test", Location: e.loc, ParentID: parent, Amount: amount, MerchantRefNum: "f"}
}

var rawVisa = payments.Source{Number: "4111111111111111", Expiry: card.Expiry{Month: 12, Year: 2040}}

// mustCard vaults a card with a billing address in a new profile.
func (e *env) mustCard(t *testing.T, mcid, pan string, exp card.Expiry) (*vault.Profile, *vault.Instrument) {
	t.Helper()
	prof, err := e.Svc.CreateProfile(e.ctx, e.Principal, &vault.Profile{MerchantCustomerID: mcid, Locale: "en_US", FirstName: "Jo", LastName: "Doe", Email: "jo@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	in, err := e.Svc.CreateInstrument(e.ctx, e.Principal, &vault.Instrument{Kind: vault.KindCard, ProfileID: prof.ID},
		vault.Source{Number: pan, Expiry: exp}, vault.CreateOptions{NewBillingAddress: &vault.Address{Street: "13 Elm", Country: "US", Zip: "10014"}})
	if err != nil {
		t.Fatal(err)
	}
	return prof, in
}

func TestAuthorizeSources(t *testing.T) {
	engines(t, func(t *testing.T, open storetest.Opener) {
		e := mustEnv(t, open, payments.Config{})
		prof, in := e.mustCard(t, "m1", "4111111111111111", card.Expiry{Month: 12, Year: 2040})
		bare, err := e.Svc.CreateProfile(e.ctx, e.Principal, &vault.Profile{MerchantCustomerID: "bare", Locale: "en_US"})
		if err != nil {
			t.Fatal(err)
		}
		_, expired := e.mustCard(t, "m2", "5200400000000009", card.Expiry{Month: 1, Year: 2001})
		_, deleted := e.mustCard(t, "m3", "4111111111111111", card.Expiry{Month: 12, Year: 2040})
		if err := e.Svc.DeleteInstrument(e.ctx, e.Principal, deleted.ID); err != nil {
			t.Fatal(err)
		}
		other, err := e.Svc.CreateMerchant(e.ctx, vault.NewMerchant{Name: "other"})
		if err != nil {
			t.Fatal(err)
		}
		op, _ := e.Svc.AuthenticateAPIKey(e.ctx, other.Paysafe.APIKeyID, other.Paysafe.APIKeySecret)
		foreign, err := e.Svc.CreateOneTimeToken(e.ctx, op, vault.NewOneTimeToken{Kind: vault.TokenCard, Number: "4111111111111111", Expiry: card.Expiry{Month: 1, Year: 2040}})
		if err != nil {
			t.Fatal(err)
		}
		sut := func(kinds ...string) payments.Source { return payments.Source{Token: foreign.Token, TokenKinds: kinds} }
		tests := []struct {
			name      string
			src       payments.Source
			wantField string
			wantErr   error
		}{
			{"ok/card-token", payments.Source{Token: in.Token}, "", nil},
			{"ok/profile-token", payments.Source{Token: prof.Token}, "", nil},
			{"ok/raw", rawVisa, "", nil},
			{"fail/profile-without-card", payments.Source{Token: bare.Token}, "token", vault.ErrNoDefaultCard},
			{"fail/expired-card", payments.Source{Token: expired.Token}, "expiry", vault.ErrExpired},
			{"fail/deleted-card", payments.Source{Token: deleted.Token}, "token", vault.ErrUnusable},
			{"fail/foreign-sut", sut(vault.TokenCard), "token", vault.ErrUnusable},
			{"fail/unknown-token", payments.Source{Token: "Cxxxxxxxxxxxxxx"}, "token", vault.ErrUnusable},
			{"fail/garbage-token", payments.Source{Token: "hello"}, "token", vault.ErrUnusable},
			{"fail/raw-no-brand", payments.Source{Number: "9999999999999995", Expiry: card.Expiry{Month: 1, Year: 2040}}, "number", vault.ErrBrand},
			{"fail/raw-luhn", payments.Source{Number: "4111111111111112", Expiry: card.Expiry{Month: 1, Year: 2040}}, "number", vault.ErrLuhn},
			{"fail/raw-expired", payments.Source{Number: "4111111111111111", Expiry: card.Expiry{Month: 1, Year: 2020}}, "expiry", vault.ErrExpired},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := e.auth(t, 100, tt.src, false)
				if tt.wantErr == nil {
					if err != nil || got.Status != payments.StatusCompleted || got.Available != 100 {
						t.Fatalf("got %+v, %v", got, err)
					}
					return
				}
				ve := vault.AsError(err)
				if ve == nil || ve.Kind != vault.Invalid || ve.Field != tt.wantField || !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want Invalid %s %v", err, tt.wantField, tt.wantErr)
				}
			})
		}

		// A vault card brings its billing address and its profile's names, and is VERIFIED.
		got, err := e.auth(t, 100, payments.Source{Token: in.Token, CVV: "666"}, false)
		if err != nil {
			t.Fatal(err)
		}
		want := struct {
			Billing  *payments.Billing
			Customer *vault.Customer
			AVS      payments.AVSResult
			CVV      payments.CVVResult
			Card     payments.CardSnapshot
			Profile  string
		}{&payments.Billing{Street: "13 Elm", Country: "US", Zip: "10014"}, &vault.Customer{FirstName: "Jo", LastName: "Doe", Email: "jo@example.com"},
			payments.AVSNoMatch, payments.CVVNoMatch,
			payments.CardSnapshot{Brand: "visa", BIN: "411111", LastFour: "1111", PANLength: 16, ExpMonth: 12, ExpYear: 2040}, prof.ID}
		gotv := want
		gotv.Billing, gotv.Customer, gotv.AVS, gotv.CVV, gotv.Card, gotv.Profile = got.Billing, got.Customer, got.AVS, got.CVV, got.Card, got.ProfileID
		if d := cmp.Diff(want, gotv); d != "" {
			t.Errorf("(-want +got)\n%s", d)
		}
		card, _ := e.Svc.GetInstrument(e.ctx, e.Principal, in.ID)
		if card.StoredCredentialStatus != "VERIFIED" {
			t.Errorf("card status %s after an approved auth", card.StoredCredentialStatus)
		}
		if !card.Modified.Equal(in.Modified) || card.HolderName != in.HolderName || card.DefaultCard != in.DefaultCard {
			t.Errorf("marking the card VERIFIED changed more than its status: %+v, was %+v", card, in)
		}
		// The request's billing wins over the card's.
		got, err = e.ps.Authorize(e.ctx, e.Principal, payments.AuthRequest{API: "test", Type: payments.TypeAuth, Location: e.loc, Amount: 100,
			Source: payments.Source{Token: in.Token}, Billing: &payments.Billing{Street: "10 Main", Country: "US"}})
		if err != nil || got.Billing.Street != "10 Main" || got.AVS != payments.AVSMatch || got.CVV != payments.CVVNotProcessed {
			t.Errorf("request billing: %+v, %v", got, err)
		}
	})
}

func TestDeclineAndFault(t *testing.T) {
	engines(t, func(t *testing.T, open storetest.Opener) {
		e := mustEnv(t, open, payments.Config{})
		_, in := e.mustCard(t, "m1", "4111111111111111", card.Expiry{Month: 12, Year: 2040})
		tok, err := e.Svc.CreateOneTimeToken(e.ctx, e.Principal, vault.NewOneTimeToken{Kind: vault.TokenCard, Number: "4111111111111111", Expiry: card.Expiry{Month: 1, Year: 2040}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.auth(t, 5, payments.Source{Token: tok.Token, TokenKinds: []string{vault.TokenCard}}, true)
		if err != nil {
			t.Fatal(err)
		}
		want := struct {
			Status          payments.Status
			Decision        payments.Decision
			Code, ErrorCode string
			Available       int64
		}{payments.StatusFailed, payments.Declined, "3009", "3009", 0}
		gotv := want
		gotv.Status, gotv.Decision, gotv.Code, gotv.ErrorCode, gotv.Available = got.Status, got.Decision, got.Code, got.ErrorCode, got.Available
		if d := cmp.Diff(want, gotv); d != "" {
			t.Errorf("decline (-want +got)\n%s", d)
		}
		if kids, _ := e.ps.Children(e.ctx, e.Principal, got); len(kids) != 0 {
			t.Errorf("a declined auth has %d settlements", len(kids))
		}
		// The token was consumed by the declined auth.
		if _, err := e.auth(t, 100, payments.Source{Token: tok.Token, TokenKinds: []string{vault.TokenCard}}, false); !errors.Is(err, vault.ErrUnusable) {
			t.Errorf("token reuse after decline: %v", err)
		}
		// A fault is stored FAILED with its code; a decline never marks the card VERIFIED.
		got, err = e.auth(t, 6, payments.Source{Token: in.Token}, false)
		if err != nil || got.Status != payments.StatusFailed || got.Decision != payments.Fault || got.ErrorCode != "1007" {
			t.Errorf("fault = %+v, %v", got, err)
		}
		if c, _ := e.Svc.GetInstrument(e.ctx, e.Principal, in.ID); c.StoredCredentialStatus != "UNVERIFIED" {
			t.Errorf("declined card marked %s", c.StoredCredentialStatus)
		}
		// Nothing can be settled or voided on a failed auth.
		if _, err := e.ps.Settle(e.ctx, e.Principal, e.follow(0, got.ID)); !errors.Is(err, payments.ErrNotApproved) {
			t.Errorf("settle failed auth: %v", err)
		}
		if _, err := e.ps.Void(e.ctx, e.Principal, e.follow(0, got.ID)); !errors.Is(err, payments.ErrNotApproved) {
			t.Errorf("void failed auth: %v", err)
		}
	})
}

func TestMoneyRules(t *testing.T) {
	engines(t, func(t *testing.T, open storetest.Opener) {
		now := time.Now().UTC()
		clock := func() time.Time { return now }
		e := mustEnv(t, open, payments.Config{Now: clock, BatchDelay: time.Hour})
		ctx, p := e.ctx, e.Principal

		// settleWithAuth: a PENDING settlement of the whole amount under the auth's id.
		a, err := e.auth(t, 400, rawVisa, true)
		if err != nil || a.Available != 0 || !a.SettleWithAuth {
			t.Fatalf("auth = %+v, %v", a, err)
		}
		st, err := e.ps.Settlement(ctx, p, e.loc.ID, a.ID)
		if err != nil || st.Status != payments.StatusPending || st.Available != 400 || st.ParentID != a.ID || !st.SettleWithAuth {
			t.Fatalf("settlement by auth id = %+v, %v", st, err)
		}
		// Authorize hands back the settlement it made, as Settlement reads it.
		if d := cmp.Diff(st, a.Settled, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("auth's Settled (-read +returned)\n%s", d)
		}
		if again, _ := e.ps.Get(ctx, p, e.loc.ID, a.ID); again.Settled != nil {
			t.Errorf("an auth read back has Settled %+v", again.Settled)
		}
		if _, err := e.ps.Settle(ctx, p, e.follow(0, a.ID)); !errors.Is(err, payments.ErrNothingLeft) {
			t.Errorf("settle a settled auth: %v", err)
		}
		if _, err := e.ps.Void(ctx, p, e.follow(0, a.ID)); !errors.Is(err, payments.ErrHasSettlements) {
			t.Errorf("void a settled auth: %v", err)
		}
		// Cancelling the settlement gives the amount back to the auth.
		if c, err := e.ps.Cancel(ctx, p, e.loc, st.ID, payments.TypeSettlement); err != nil || c.Status != payments.StatusCancelled || c.Available != 0 {
			t.Fatalf("cancel = %+v, %v", c, err)
		}
		if g, _ := e.ps.Get(ctx, p, e.loc.ID, a.ID); g.Available != 400 {
			t.Errorf("auth available after cancel = %d", g.Available)
		}
		if _, err := e.ps.Refund(ctx, p, e.follow(0, st.ID)); !errors.Is(err, payments.ErrNothingLeft) {
			t.Errorf("refund a cancelled settlement: %v", err)
		}
		if _, err := e.ps.Cancel(ctx, p, e.loc, st.ID, payments.TypeSettlement); !errors.Is(err, payments.ErrNotPending) {
			t.Errorf("cancel twice: %v", err)
		}

		// Partial settlements, then refunds, then cancel rules.
		b, _ := e.auth(t, 1000, rawVisa, false)
		if _, err := e.ps.Settle(ctx, p, e.follow(1001, b.ID)); !errors.Is(err, payments.ErrExceedsAvailable) {
			t.Errorf("over-settle: %v", err)
		}
		s1, err := e.ps.Settle(ctx, p, e.follow(600, b.ID))
		if err != nil || s1.Status != payments.StatusPending || s1.Available != 600 {
			t.Fatalf("settle = %+v, %v", s1, err)
		}
		s2, err := e.ps.Settle(ctx, p, e.follow(0, b.ID)) // the rest
		if err != nil || s2.Amount != 400 {
			t.Fatalf("settle rest = %+v, %v", s2, err)
		}
		if _, err := e.ps.Refund(ctx, p, e.follow(601, s1.ID)); !errors.Is(err, payments.ErrExceedsAvailable) {
			t.Errorf("over-refund: %v", err)
		}
		r1, err := e.ps.Refund(ctx, p, e.follow(250, s1.ID))
		if err != nil || r1.Status != payments.StatusPending {
			t.Fatalf("refund = %+v, %v", r1, err)
		}
		if _, err := e.ps.Cancel(ctx, p, e.loc, s1.ID, payments.TypeSettlement); !errors.Is(err, payments.ErrNotPending) {
			t.Errorf("cancel a settlement with a refund: %v", err)
		}
		if c, err := e.ps.Cancel(ctx, p, e.loc, r1.ID, payments.TypeRefund); err != nil || c.Status != payments.StatusCancelled {
			t.Errorf("cancel refund = %+v, %v", c, err)
		}
		if g, _ := e.ps.Get(ctx, p, e.loc.ID, s1.ID); g.Available != 600 {
			t.Errorf("settlement available after refund cancel = %d", g.Available)
		}
		r2, _ := e.ps.Refund(ctx, p, e.follow(350, s1.ID))
		r3, err := e.ps.Refund(ctx, p, e.follow(0, s1.ID))
		if err != nil || r3.Amount != 250 {
			t.Fatalf("refund the rest = %+v, %v", r3, err)
		}
		if _, err := e.ps.Refund(ctx, p, e.follow(1, s1.ID)); !errors.Is(err, payments.ErrNothingLeft) {
			t.Errorf("refund a fully refunded settlement: %v", err)
		}

		// Batching: after the batch delay everything PENDING reads COMPLETED and can no longer be cancelled.
		now = now.Add(2 * time.Hour)
		for _, id := range []string{s1.ID, s2.ID, r2.ID} {
			if g, _ := e.ps.Get(ctx, p, e.loc.ID, id); g.Status != payments.StatusCompleted {
				t.Errorf("%s after batch delay: %s", id, g.Status)
			}
		}
		if _, err := e.ps.Cancel(ctx, p, e.loc, r2.ID, payments.TypeRefund); !errors.Is(err, payments.ErrNotPending) {
			t.Errorf("cancel a completed refund: %v", err)
		}
		// A COMPLETED settlement can still be refunded.
		r4, err := e.ps.Refund(ctx, p, e.follow(100, s2.ID))
		if err != nil {
			t.Fatal(err)
		}
		// The operator's batch completes what is pending now.
		if n, err := e.ps.Batch(ctx, ""); err != nil || n < 1 {
			t.Errorf("batch = %d, %v", n, err)
		}
		now = now.Add(-time.Hour) // even before the batch time, it stays completed
		if g, _ := e.ps.Get(ctx, p, e.loc.ID, r4.ID); g.Status != payments.StatusCompleted {
			t.Errorf("refund after batch: %s", g.Status)
		}

		// Voids: partial, over, and on the remainder.
		c, _ := e.auth(t, 300, rawVisa, false)
		if _, err := e.ps.Void(ctx, p, e.follow(301, c.ID)); !errors.Is(err, payments.ErrExceedsAvailable) {
			t.Errorf("over-void: %v", err)
		}
		v, err := e.ps.Void(ctx, p, e.follow(100, c.ID))
		if err != nil || v.Status != payments.StatusCompleted {
			t.Fatalf("void = %+v, %v", v, err)
		}
		if g, _ := e.ps.Get(ctx, p, e.loc.ID, c.ID); g.Available != 200 || g.Status != payments.StatusCompleted {
			t.Errorf("auth after void = %d %s", g.Available, g.Status)
		}
		if _, err := e.ps.Void(ctx, p, e.follow(0, c.ID)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ps.Void(ctx, p, e.follow(0, c.ID)); !errors.Is(err, payments.ErrNothingLeft) {
			t.Errorf("void a fully voided auth: %v", err)
		}

		// Parents of the wrong type, in another account or of another merchant are not found.
		if _, err := e.ps.Settle(ctx, p, e.follow(0, s1.ID)); vault.KindOf(err) != vault.NotFound {
			t.Errorf("settle a settlement: %v", err)
		}
		if _, err := e.ps.Refund(ctx, p, e.follow(0, c.ID)); vault.KindOf(err) != vault.NotFound {
			t.Errorf("refund an auth: %v", err)
		}
		lc, err := e.Svc.CreateLocation(ctx, e.Creds.MerchantID, vault.NewLocation{Name: "second"})
		if err != nil {
			t.Fatal(err)
		}
		f := e.follow(0, b.ID)
		f.Location = lc.Location
		if _, err := e.ps.Settle(ctx, p, f); vault.KindOf(err) != vault.NotFound {
			t.Errorf("settle from another account: %v", err)
		}
		if _, err := e.ps.Get(ctx, p, lc.Location.ID, b.ID); vault.KindOf(err) != vault.NotFound {
			t.Errorf("get from another account: %v", err)
		}
	})
}

// TestRecordFailedLongRef: a refused request's reference, unvalidated, is kept to 255
// characters (not bytes), which every engine's index on references holds.
func TestRecordFailedLongRef(t *testing.T) {
	engines(t, func(t *testing.T, open storetest.Opener) {
		e := mustEnv(t, open, payments.Config{})
		ref := strings.Repeat("é", 300)
		stub := &payments.Transaction{API: "test", Type: payments.TypeAuth, MerchantRefNum: ref, ErrorCode: "5068"}
		if err := e.ps.RecordFailed(e.ctx, e.Principal, e.loc, stub); err != nil {
			t.Fatal(err)
		}
		got, err := e.ps.Get(e.ctx, e.Principal, e.loc.ID, stub.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.MerchantRefNum != strings.Repeat("é", 255) {
			t.Errorf("kept %d characters", utf8.RuneCountInString(got.MerchantRefNum))
		}
	})
}

func TestDupCheck(t *testing.T) {
	engines(t, func(t *testing.T, open storetest.Opener) {
		e := mustEnv(t, open, payments.Config{})
		req := payments.AuthRequest{API: "test", Type: payments.TypeAuth, Location: e.loc, Amount: 100, MerchantRefNum: "dup", DupCheck: true, Source: rawVisa}
		// A refused request recorded FAILED does not count as a use.
		if err := e.ps.RecordFailed(e.ctx, e.Principal, e.loc, &payments.Transaction{API: "test", Type: payments.TypeAuth, MerchantRefNum: "dup", ErrorCode: "5068"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ps.Authorize(e.ctx, e.Principal, req); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ps.Authorize(e.ctx, e.Principal, req); !errors.Is(err, payments.ErrDuplicateRef) || vault.KindOf(err) != vault.Conflict {
			t.Errorf("second use: %v", err)
		}
		req.DupCheck = false
		if _, err := e.ps.Authorize(e.ctx, e.Principal, req); err != nil {
			t.Errorf("without dupCheck: %v", err)
		}
		req.Type, req.DupCheck = payments.TypeVerification, true
		if _, err := e.ps.Authorize(e.ctx, e.Principal, req); err != nil {
			t.Errorf("same ref, another type: %v", err)
		}
	})
}

func TestNoProcessor(t *testing.T) {
	engines(t, func(t *testing.T, open storetest.Opener) {
		e := mustEnv(t, open, payments.Config{})
		creds, err := e.Svc.CreateMerchant(e.ctx, vault.NewMerchant{Name: "live", Live: true})
		if err != nil {
			t.Fatal(err)
		}
		lp, _ := e.Svc.AuthenticateAPIKey(e.ctx, creds.Paysafe.APIKeyID, creds.Paysafe.APIKeySecret)
		loc, err := e.ps.Account(e.ctx, lp, creds.Paysafe.AccountNumber)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := e.Svc.CreateOneTimeToken(e.ctx, lp, vault.NewOneTimeToken{Kind: vault.TokenCard, Number: "4111111111111111", Expiry: card.Expiry{Month: 1, Year: 2040}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.ps.Authorize(e.ctx, lp, payments.AuthRequest{API: "test", Type: payments.TypeAuth, Location: loc, Amount: 100,
			Source: payments.Source{Token: tok.Token, TokenKinds: []string{vault.TokenCard}}})
		if vault.KindOf(err) != vault.Unavailable || !errors.Is(err, vault.ErrNotConfigured) {
			t.Errorf("live merchant without processor: %v", err)
		}
		if got, _ := e.Store.GetOneTimeToken(e.ctx, creds.MerchantID, tok.Token); !got.Consumed.IsZero() {
			t.Error("the token was consumed although nothing ran")
		}
		// Another merchant's account number is forbidden.
		if _, err := e.ps.Account(e.ctx, e.Principal, creds.Paysafe.AccountNumber); vault.KindOf(err) != vault.Forbidden {
			t.Errorf("foreign account: %v", err)
		}
	})
}

func TestVerificationDoesNotConsume(t *testing.T) {
	engines(t, func(t *testing.T, open storetest.Opener) {
		e := mustEnv(t, open, payments.Config{})
		_, in := e.mustCard(t, "m1", "4111111111111111", card.Expiry{Month: 12, Year: 2040})
		tok, err := e.Svc.CreateOneTimeToken(e.ctx, e.Principal, vault.NewOneTimeToken{Kind: vault.TokenCard, Number: "4111111111111111", Expiry: card.Expiry{Month: 1, Year: 2040}, CVV: "111"})
		if err != nil {
			t.Fatal(err)
		}
		src := payments.Source{Token: tok.Token, TokenKinds: []string{vault.TokenCard}}
		for i := 0; i < 2; i++ {
			v, err := e.ps.Authorize(e.ctx, e.Principal, payments.AuthRequest{API: "test", Type: payments.TypeVerification, Location: e.loc, Amount: 5, Source: src})
			if err != nil || v.Status != payments.StatusCompleted || v.Amount != 0 || v.CVV != payments.CVVMatch {
				t.Fatalf("verification %d = %+v, %v", i, v, err)
			}
		}
		if _, err := e.auth(t, 100, src, false); err != nil {
			t.Errorf("auth after verifications: %v", err)
		}
		// A verification with a vault card marks it VERIFIED.
		if _, err := e.ps.Authorize(e.ctx, e.Principal, payments.AuthRequest{API: "test", Type: payments.TypeVerification, Location: e.loc, Source: payments.Source{Token: in.Token}}); err != nil {
			t.Fatal(err)
		}
		if c, _ := e.Svc.GetInstrument(e.ctx, e.Principal, in.ID); c.StoredCredentialStatus != "VERIFIED" {
			t.Errorf("card after verification: %s", c.StoredCredentialStatus)
		}
	})
}

// TestNoTransactionAcrossProcessorCall shows that no database transaction is open while the
// processor runs: the processor itself writes to the store. On SQLite, whose single write
// connection a held transaction would occupy, that write would otherwise wait until the
// deadline.
func TestNoTransactionAcrossProcessorCall(t *testing.T) {
	engines(t, func(t *testing.T, open storetest.Opener) {
		var e *env
		var seen atomic.Int32
		sb := payments.NewSandbox(nil, payments.SandboxConfig{})
		proc := payments.ProcessorFunc(func(ctx context.Context, r *payments.Request) (*payments.Outcome, error) {
			wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			// The transaction is already recorded, RECEIVED, and visible to others.
			got, err := e.Store.GetTransaction(wctx, e.Creds.MerchantID, r.TransactionID)
			if err != nil || got.Status != payments.StatusReceived {
				t.Errorf("during the call the transaction is %+v, %v", got, err)
			}
			if err := e.Store.Write(wctx, func(tx vault.Tx) error { return tx.SetSetting(wctx, "probe", r.TransactionID) }); err != nil {
				t.Errorf("a write during the processor call failed: %v", err)
			}
			seen.Add(1)
			return sb.Process(ctx, r)
		})
		e = mustEnv(t, open, payments.Config{Processors: map[string]payments.Processor{payments.SandboxName: proc}})
		a, err := e.auth(t, 100, rawVisa, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.ps.Settle(e.ctx, e.Principal, e.follow(50, a.ID)); err != nil {
			t.Fatal(err)
		}
		if seen.Load() != 2 {
			t.Errorf("processor called %d times, want 2", seen.Load())
		}
	})
}

// TestRecover leaves transactions RECEIVED as a crash would (the processor never answers
// before Recover runs) and checks that Recover fails them and releases their reservations,
// and that a late answer does not overwrite the recovery.
func TestRecover(t *testing.T) {
	engines(t, func(t *testing.T, open storetest.Opener) {
		now := time.Now().UTC()
		clock := func() time.Time { return now }
		entered := make(chan string, 1)
		release := make(chan struct{})
		sb := payments.NewSandbox(nil, payments.SandboxConfig{})
		block := false
		proc := payments.ProcessorFunc(func(ctx context.Context, r *payments.Request) (*payments.Outcome, error) {
			if block {
				entered <- r.TransactionID
				<-release
			}
			return sb.Process(ctx, r)
		})
		e := mustEnv(t, open, payments.Config{Now: clock, ProcessorTimeout: time.Minute, Processors: map[string]payments.Processor{payments.SandboxName: proc}})
		a, err := e.auth(t, 1000, rawVisa, false)
		if err != nil {
			t.Fatal(err)
		}
		block = true
		type result struct {
			t   *payments.Transaction
			err error
		}
		done := make(chan result, 1)
		go func() {
			tr, err := e.ps.Settle(e.ctx, e.Principal, e.follow(600, a.ID))
			done <- result{tr, err}
		}()
		id := <-entered
		// While the call is in flight the amount is reserved.
		if g, _ := e.ps.Get(e.ctx, e.Principal, "", a.ID); g.Available != 400 {
			t.Errorf("available during the call = %d", g.Available)
		}
		// A recent RECEIVED transaction may still be completing on a live node: left alone.
		if n, err := e.ps.Recover(e.ctx); err != nil || n != 0 {
			t.Errorf("early recover = %d, %v", n, err)
		}
		now = now.Add(5 * time.Minute)
		if n, err := e.ps.Recover(e.ctx); err != nil || n != 1 {
			t.Fatalf("recover = %d, %v", n, err)
		}
		st, _ := e.ps.Get(e.ctx, e.Principal, "", id)
		if st.Status != payments.StatusFailed || st.Reason != payments.ReasonInterrupted {
			t.Errorf("recovered settlement = %s %q", st.Status, st.Reason)
		}
		if g, _ := e.ps.Get(e.ctx, e.Principal, "", a.ID); g.Available != 1000 {
			t.Errorf("available after recovery = %d, want the reservation released", g.Available)
		}
		// The late answer finds the transaction resolved and changes nothing.
		close(release)
		r := <-done
		if r.err != nil || r.t.Status != payments.StatusFailed {
			t.Errorf("late completion = %+v, %v", r.t, r.err)
		}
		if g, _ := e.ps.Get(e.ctx, e.Principal, "", a.ID); g.Available != 1000 {
			t.Errorf("available after the late answer = %d", g.Available)
		}
	})
}

// TestRecoverDeadNode: a RECEIVED transaction whose node is gone is resolved at once, one
// that this node or another live node may still complete is left alone until the processor
// timeout has passed.
func TestRecoverDeadNode(t *testing.T) {
	engines(t, func(t *testing.T, open storetest.Opener) {
		now := time.Now().UTC().Truncate(time.Millisecond)
		clock := func() time.Time { return now }
		alive := map[string]bool{"live0001": true}
		asked := map[string]int{}
		e := mustEnv(t, open, payments.Config{Now: clock, ProcessorTimeout: time.Minute, Node: "self0001",
			NodeAlive: func(ctx context.Context, node string) (bool, error) {
				asked[node]++
				return alive[node], nil
			}})
		a, err := e.auth(t, 1000, rawVisa, false)
		if err != nil {
			t.Fatal(err)
		}
		// Leave settlements RECEIVED as nodes killed mid-call would, each reserving 100.
		ids := map[string]string{}
		for _, node := range []string{"self0001", "live0001", "dead0001", "dead0001", ""} {
			st := &payments.Transaction{ID: vault.NewID(), MerchantID: a.MerchantID, LocationID: a.LocationID, AccountNumber: a.AccountNumber,
				API: "test", Type: payments.TypeSettlement, Status: payments.StatusReceived, ParentID: a.ID, Amount: 100, Currency: "USD",
				PaymentMethod: "cc", Node: node, TxnTime: now, Created: now, Modified: now}
			err := e.Store.Write(e.ctx, func(tx vault.Tx) error {
				ptx := tx.(payments.Tx)
				p, err := ptx.LockTransaction(e.ctx, a.MerchantID, a.ID)
				if err != nil {
					return err
				}
				p.Available -= st.Amount
				if err := ptx.UpdateTransaction(e.ctx, p); err != nil {
					return err
				}
				return ptx.InsertTransaction(e.ctx, st)
			})
			if err != nil {
				t.Fatal(err)
			}
			ids[st.ID] = node
		}
		if n, err := e.ps.Recover(e.ctx); err != nil || n != 2 {
			t.Fatalf("recover = %d, %v; want the dead node's 2", n, err)
		}
		if d := cmp.Diff(map[string]int{"live0001": 1, "dead0001": 1}, asked); d != "" {
			t.Errorf("nodes asked about (-want +got)\n%s", d)
		}
		status := func() map[string]payments.Status {
			out := map[string]payments.Status{}
			for id, node := range ids {
				g, err := e.ps.Get(e.ctx, e.Principal, "", id)
				if err != nil {
					t.Fatal(err)
				}
				out[node+"/"+id[len(id)-4:]] = g.Status
			}
			return out
		}
		got := status()
		for k, st := range got {
			want := payments.StatusReceived
			if strings.HasPrefix(k, "dead0001/") {
				want = payments.StatusFailed
			}
			if st != want {
				t.Errorf("%s: %s, want %s", k, st, want)
			}
		}
		if g, _ := e.ps.Get(e.ctx, e.Principal, "", a.ID); g.Available != 1000-300 {
			t.Errorf("available = %d, want the dead node's reservations released", g.Available)
		}
		// Past the processor timeout every one is resolved, whoever recorded it.
		now = now.Add(5 * time.Minute)
		if n, err := e.ps.Recover(e.ctx); err != nil || n != 3 {
			t.Errorf("late recover = %d, %v", n, err)
		}
		if g, _ := e.ps.Get(e.ctx, e.Principal, "", a.ID); g.Available != 1000 {
			t.Errorf("available after the late recovery = %d", g.Available)
		}
	})
}

// querier is a processor that remembers what it approved, so that Recover can ask.
type querier struct {
	payments.ProcessorFunc
	answer *payments.Outcome
}

func (q *querier) Query(ctx context.Context, r *payments.Request) (*payments.Outcome, error) {
	if q.answer == nil {
		return nil, payments.ErrNotReceived
	}
	return q.answer, nil
}

func TestRecoverRequeries(t *testing.T) {
	engines(t, func(t *testing.T, open storetest.Opener) {
		now := time.Now().UTC()
		clock := func() time.Time { return now }
		q := &querier{answer: &payments.Outcome{Decision: payments.Approved, AuthCode: "111111"}}
		q.ProcessorFunc = func(ctx context.Context, r *payments.Request) (*payments.Outcome, error) {
			return nil, errors.New("connection reset")
		}
		e := mustEnv(t, open, payments.Config{Now: clock, Processors: map[string]payments.Processor{payments.SandboxName: q}})
		got, err := e.auth(t, 100, rawVisa, false)
		if err != nil || got.Status != payments.StatusFailed || got.Reason != payments.ReasonProcessorError {
			t.Fatalf("unreachable processor: %+v, %v", got, err)
		}
		// Leave one RECEIVED as a crash would: insert it directly.
		rec := &payments.Transaction{ID: vault.NewID(), MerchantID: e.Creds.MerchantID, LocationID: e.loc.ID, AccountNumber: e.loc.AccountNumber,
			API: "test", Type: payments.TypeAuth, Status: payments.StatusReceived, Amount: 700, Currency: "USD", PaymentMethod: "cc",
			TxnTime: now, Created: now, Modified: now}
		if err := e.Store.Write(e.ctx, func(tx vault.Tx) error { return tx.(payments.Tx).InsertTransaction(e.ctx, rec) }); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Hour)
		if n, err := e.ps.Recover(e.ctx); err != nil || n != 1 {
			t.Fatalf("recover = %d, %v", n, err)
		}
		g, _ := e.ps.Get(e.ctx, e.Principal, "", rec.ID)
		if g.Status != payments.StatusCompleted || g.Available != 700 || g.AuthCode != "111111" {
			t.Errorf("re-queried auth = %+v", g)
		}
	})
}

// TestTransactionSource creates a vault card from a transaction's account data, expiry
// included (the Fortis previous_transaction_id source).
func TestTransactionSource(t *testing.T) {
	engines(t, func(t *testing.T, open storetest.Opener) {
		e := mustEnv(t, open, payments.Config{})
		a, err := e.ps.Authorize(e.ctx, e.Principal, payments.AuthRequest{API: "test", Type: payments.TypeSale, Location: e.loc, Amount: 100,
			Source:  payments.Source{Number: "5200400000000009", Expiry: card.Expiry{Month: 7, Year: 2031}, HolderName: "A B"},
			Billing: &payments.Billing{Street: "1 Main", Zip: "32606"}})
		if err != nil || a.Status != payments.StatusCompleted || a.Available != 100 {
			t.Fatalf("sale = %+v, %v", a, err)
		}
		refund, err := e.ps.Refund(e.ctx, e.Principal, e.follow(40, a.ID))
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{a.ID, refund.ID} {
			in, err := e.Svc.CreateInstrument(e.ctx, e.Principal, &vault.Instrument{Kind: vault.KindCard, LocationID: e.loc.ID},
				vault.Source{TransactionID: id}, vault.CreateOptions{})
			if err != nil {
				t.Fatalf("vault from %s: %v", id, err)
			}
			number, _ := e.Svc.RevealNumber(in)
			got := []any{number, in.ExpMonth, in.ExpYear, in.HolderName, in.BillingStreet, in.BillingZip}
			if d := cmp.Diff([]any{"5200400000000009", 7, 2031, "A B", "1 Main", "32606"}, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		}
		// Another location's transaction is not a source.
		lc, _ := e.Svc.CreateLocation(e.ctx, e.Creds.MerchantID, vault.NewLocation{Name: "x"})
		if _, err := e.Svc.CreateInstrument(e.ctx, e.Principal, &vault.Instrument{Kind: vault.KindCard, LocationID: lc.Location.ID},
			vault.Source{TransactionID: a.ID}, vault.CreateOptions{}); vault.KindOf(err) != vault.Invalid {
			t.Errorf("source in another location: %v", err)
		}
		// A later payment can reuse the transaction's card.
		again, err := e.ps.Authorize(e.ctx, e.Principal, payments.AuthRequest{API: "test", Type: payments.TypeAuth, Location: e.loc, Amount: 100,
			Source: payments.Source{TransactionID: a.ID}})
		if err != nil || again.Card.LastFour != "0009" || again.Status != payments.StatusCompleted {
			t.Errorf("previous transaction as source = %+v, %v", again, err)
		}
	})
}

// countingStore counts the SetCardVerified statements, transaction locks and vault card
// reads of its write transactions.
type countingStore struct {
	storetest.Store
	marks, locks, cardReads atomic.Int32
}

func (c *countingStore) Write(ctx context.Context, fn func(vault.Tx) error) error {
	return c.Store.Write(ctx, func(tx vault.Tx) error { return fn(countingTx{tx.(payments.Tx), c}) })
}

type countingTx struct {
	payments.Tx
	c *countingStore
}

func (t countingTx) SetCardVerified(ctx context.Context, merchantID, id string) error {
	t.c.marks.Add(1)
	return t.Tx.SetCardVerified(ctx, merchantID, id)
}

// countingEnv is mustEnv over a countingStore.
func countingEnv(t *testing.T, open storetest.Opener) (*env, *countingStore) {
	t.Helper()
	var cs *countingStore
	e := mustEnv(t, func(tb testing.TB) storetest.Store {
		cs = &countingStore{Store: open(tb)}
		return cs
	}, payments.Config{})
	return e, cs
}

// ReadsInWrite passes on the store's answer.
func (c *countingStore) ReadsInWrite() bool {
	r, ok := c.Store.(payments.ReadsInWrite)
	return ok && r.ReadsInWrite()
}

func (t countingTx) LockTransaction(ctx context.Context, merchantID, id string) (*payments.Transaction, error) {
	t.c.locks.Add(1)
	return t.Tx.LockTransaction(ctx, merchantID, id)
}

func (t countingTx) GetInstrumentByTokenWithCustomer(ctx context.Context, merchantID, token string) (*vault.Instrument, vault.Customer, error) {
	t.c.cardReads.Add(1)
	return t.Tx.GetInstrumentByTokenWithCustomer(ctx, merchantID, token)
}

// TestAuthorizeWritePath checks what an auth by vault card token leaves to its two writes:
// the card is read before them unless the store reads more cheaply inside them (SQLite), and
// the completion neither reads nor locks the transaction, which was RECEIVED as written. What
// Authorize returns is what is stored.
func TestAuthorizeWritePath(t *testing.T) {
	engines(t, func(t *testing.T, open storetest.Opener) {
		e, cs := countingEnv(t, open)
		_, in := e.mustCard(t, "w", "4111111111111111", card.Expiry{Month: 12, Year: 2040})
		inWrite := int32(0)
		if cs.ReadsInWrite() {
			inWrite = 1
		}
		for i, settle := range []bool{false, true} {
			got, err := e.ps.Authorize(e.ctx, e.Principal, payments.AuthRequest{API: "test", Type: payments.TypeAuth, Location: e.loc,
				Amount: 100, MerchantRefNum: "w", Source: payments.Source{Token: in.Token}, SettleWithAuth: settle,
				Billing: &payments.Billing{Zip: "94016"}, BillingMerge: true, Extras: []byte(`{"recurring":"INITIAL"}`)})
			if err != nil {
				t.Fatal(err)
			}
			if n, m := cs.cardReads.Load(), cs.locks.Load(); n != inWrite*int32(i+1) || m != 0 {
				t.Errorf("settle %v: the writes read the card %d times and locked %d transactions; want %d and none", settle, n, m, inWrite*int32(i+1))
			}
			stored, err := e.Store.GetTransaction(e.ctx, e.Creds.MerchantID, got.ID)
			if err != nil {
				t.Fatal(err)
			}
			if (got.Settled != nil) != settle {
				t.Errorf("settle %v: Settled = %+v", settle, got.Settled)
			}
			got.Settled = nil
			if d := cmp.Diff(stored, got); d != "" {
				t.Errorf("settle %v: returned and stored differ (-stored +returned)\n%s", settle, d)
			}
		}
	})
}

// TestRecoverBeforeLateAuth: an auth whose processor answers after Recover failed it keeps
// Recover's verdict, and the approval's own writes (its settlement, the card's VERIFIED
// mark) are undone with it.
func TestRecoverBeforeLateAuth(t *testing.T) {
	engines(t, func(t *testing.T, open storetest.Opener) {
		now := time.Now().UTC()
		clock := func() time.Time { return now }
		entered := make(chan struct{})
		release := make(chan struct{})
		sb := payments.NewSandbox(nil, payments.SandboxConfig{})
		proc := payments.ProcessorFunc(func(ctx context.Context, r *payments.Request) (*payments.Outcome, error) {
			close(entered)
			<-release
			return sb.Process(ctx, r)
		})
		e := mustEnv(t, open, payments.Config{Now: clock, ProcessorTimeout: time.Minute, Processors: map[string]payments.Processor{payments.SandboxName: proc}})
		_, in := e.mustCard(t, "late", "4111111111111111", card.Expiry{Month: 12, Year: 2040})
		type result struct {
			t   *payments.Transaction
			err error
		}
		done := make(chan result, 1)
		go func() {
			tr, err := e.auth(t, 700, payments.Source{Token: in.Token}, true)
			done <- result{tr, err}
		}()
		<-entered
		now = now.Add(5 * time.Minute)
		if n, err := e.ps.Recover(e.ctx); err != nil || n != 1 {
			t.Fatalf("recover = %d, %v", n, err)
		}
		close(release)
		r := <-done
		if r.err != nil || r.t.Status != payments.StatusFailed || r.t.Reason != payments.ReasonInterrupted || r.t.Settled != nil {
			t.Fatalf("late auth = %+v, %v", r.t, r.err)
		}
		kids, err := e.Store.ListChildren(e.ctx, e.Creds.MerchantID, r.t.ID)
		if err != nil || len(kids) != 0 {
			t.Errorf("children of the recovered auth = %d, %v; want none", len(kids), err)
		}
		if c, _ := e.Svc.GetInstrument(e.ctx, e.Principal, in.ID); c.StoredCredentialStatus == "VERIFIED" {
			t.Errorf("the late approval marked the card VERIFIED")
		}
	})
}

// TestAuthorizeVerifiedCard checks that an approval marks a vault card VERIFIED once, and
// that the approvals after it do not mark it again: the mark is never taken back.
func TestAuthorizeVerifiedCard(t *testing.T) {
	engines(t, func(t *testing.T, open storetest.Opener) {
		e, cs := countingEnv(t, open)
		_, in := e.mustCard(t, "v", "4111111111111111", card.Expiry{Month: 12, Year: 2040})
		for i, want := range []int32{1, 1, 1} {
			if _, err := e.auth(t, 100, payments.Source{Token: in.Token}, true); err != nil {
				t.Fatal(err)
			}
			if got := cs.marks.Load(); got != want {
				t.Errorf("after approval %d: the card was marked %d times; want %d", i+1, got, want)
			}
			if c, _ := e.Svc.GetInstrument(e.ctx, e.Principal, in.ID); c.StoredCredentialStatus != "VERIFIED" {
				t.Errorf("after approval %d: card status %s", i+1, c.StoredCredentialStatus)
			}
		}
	})
}

// downDuringCall returns a processor that approves, counts its calls, and takes the database
// away (down) while it answers; with back > 0 the database returns that long after.
func downDuringCall(down *atomic.Bool, calls *atomic.Int32, back time.Duration) payments.Processor {
	return payments.ProcessorFunc(func(ctx context.Context, r *payments.Request) (*payments.Outcome, error) {
		calls.Add(1)
		down.Store(true)
		if back > 0 {
			time.AfterFunc(back, func() { down.Store(false) })
		}
		return &payments.Outcome{Decision: payments.Approved, AuthCode: "A1"}, nil
	})
}

// TestInFlightFailure: when the outcome of a processor call cannot be recorded (the database
// went away during the call), the error says so (ErrInFlight), for the APIs to keep its answer
// for idempotent replays: a retry that ran it again would reach the processor twice.
func TestInFlightFailure(t *testing.T) {
	engines(t, func(t *testing.T, open storetest.Opener) {
		var down atomic.Bool
		var calls atomic.Int32
		proc := downDuringCall(&down, &calls, 0) // the database goes away while the processor answers
		e := mustEnv(t, func(tb testing.TB) storetest.Store {
			return storetest.DownStore{Store: open(tb), Down: &down}
		}, payments.Config{Processors: map[string]payments.Processor{payments.SandboxName: proc}, CompleteRetry: 300 * time.Millisecond})
		_, err := e.auth(t, 100, rawVisa, false)
		if !errors.Is(err, payments.ErrInFlight) || vault.KindOf(err) != vault.Unavailable || calls.Load() != 1 {
			t.Errorf("auth whose outcome could not be recorded: %v (kind %v), %d processor calls", err, vault.KindOf(err), calls.Load())
		}
		// A failure before the processor call (the database still away) is not in flight.
		if _, err := e.auth(t, 100, rawVisa, false); err == nil || errors.Is(err, payments.ErrInFlight) || payments.InFlightID(err) != "" {
			t.Errorf("auth refused before the processor call: %v", err)
		}
		// The failure names the transaction left RECEIVED, whose final answer the APIs give
		// a retry once recovery has completed it.
		down.Store(false)
		id := payments.InFlightID(err)
		if got, gerr := e.Store.GetTransaction(e.ctx, e.Principal.MerchantID(), id); gerr != nil || got.Status != payments.StatusReceived {
			t.Errorf("InFlightID(%v) = %q: %+v, %v; want the RECEIVED auth", err, id, got, gerr)
		}
	})
}

// TestInFlightRecordedWhenStoreReturns: a database that goes away during a processor call and
// comes back moments later (a restart) does not cost the answer the node holds: the completion
// is tried again, so the approval is recorded, not left RECEIVED for Recover to fail as
// interrupted (the sandbox, like any processor without a Querier, cannot be asked again).
func TestInFlightRecordedWhenStoreReturns(t *testing.T) {
	engines(t, func(t *testing.T, open storetest.Opener) {
		var down atomic.Bool
		var calls atomic.Int32
		proc := downDuringCall(&down, &calls, 300*time.Millisecond) // the database restarts while the processor answers
		e := mustEnv(t, func(tb testing.TB) storetest.Store {
			return storetest.DownStore{Store: open(tb), Down: &down}
		}, payments.Config{Processors: map[string]payments.Processor{payments.SandboxName: proc}})
		a, err := e.auth(t, 100, rawVisa, false)
		if err != nil || a.Status != payments.StatusCompleted || a.Available != 100 || calls.Load() != 1 {
			t.Fatalf("auth across a restart: %+v, %v, %d processor calls", a, err, calls.Load())
		}
		st, err := e.ps.Settle(e.ctx, e.Principal, e.follow(60, a.ID))
		if err != nil || st.Status != payments.StatusPending || calls.Load() != 2 {
			t.Fatalf("settlement across a restart: %+v, %v, %d processor calls", st, err, calls.Load())
		}
		for id, want := range map[string]payments.Status{a.ID: payments.StatusCompleted, st.ID: payments.StatusPending} {
			got, err := e.Store.GetTransaction(e.ctx, e.Principal.MerchantID(), id)
			if err != nil || got.Status != want {
				t.Errorf("stored %s: %+v, %v; want %s", id, got, err, want)
			}
		}
	})
}

// TestSettleWithAuthAnswerNeedsNoLaterRead: an auth settled on approval is returned with its
// settlement (Transaction.Settled) however its completion went, so that an API answering it
// needs no read after the commit. A completion whose COMMIT's answer was lost is tried again
// and finds the auth completed; that retry returned the stored auth without its settlement,
// and the Paysafe answer then read it after the commit, which a database going away failed
// with a 503 although the auth and its settlement were stored.
func TestSettleWithAuthAnswerNeedsNoLaterRead(t *testing.T) {
	engines(t, func(t *testing.T, open storetest.Opener) {
		var st *storetest.GoneAfterCommit
		e := mustEnv(t, func(tb testing.TB) storetest.Store {
			st = &storetest.GoneAfterCommit{Store: open(tb)}
			return st
		}, payments.Config{CompleteRetry: 5 * time.Second})
		st.Arm()
		st.LoseCommit(2) // the first write records the auth RECEIVED, the second completes it
		a, err := e.auth(t, 400, rawVisa, true)
		st.Disarm()
		if err != nil || a.Status != payments.StatusCompleted || a.Available != 0 {
			t.Fatalf("auth whose completion's answer was lost: %+v, %v", a, err)
		}
		if a.Settled == nil {
			t.Fatal("the auth came back without its settlement")
		}
		want, err := e.ps.Settlement(e.ctx, e.Principal, e.loc.ID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, a.Settled); d != "" {
			t.Errorf("settlement (-stored +returned)\n%s", d)
		}
	})
}
