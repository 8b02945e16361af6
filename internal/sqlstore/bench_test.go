package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// The write benchmarks run at these numbers of concurrent callers.
var benchConcurrency = []int{1, 16, 64}

// benchEngines opens a durable store per engine: SQLite in a temp dir (synchronous=FULL, as in
// production) and PostgreSQL on a server started with fsync and synchronous_commit on.
var benchEngines = []struct {
	name string
	open storetest.Opener
}{
	{"sqlite", MustSQLite},
	{"postgres", mustDurablePostgres},
}

func mustDurablePostgres(tb testing.TB) storetest.Store {
	tb.Helper()
	return mustPostgresAt(tb, storetest.DurablePostgresDSN(tb))
}

// mustBenchFixture is a storetest fixture whose store keeps the audit chain, as the server's does.
func mustBenchFixture(b *testing.B, open storetest.Opener) *storetest.Fixture {
	f := storetest.MustFixture(b, open)
	f.Store.(*sqlstore.Store).SetAuditMAC(f.Keys)
	return f
}

// runConcurrent runs op b.N times from conc goroutines and reports throughput and latency
// percentiles next to ns/op, and the mean number of writes per transaction when st can
// tell. With conc > 1 it uses RunParallel with SetParallelism, so the goroutine count is conc
// rounded to a multiple of GOMAXPROCS.
func runConcurrent(b *testing.B, st any, conc int, op func(i int64) error) {
	stats := func() sqlstore.WriteStats { return sqlstore.WriteStats{} }
	if s, ok := st.(interface{ WriteStats() sqlstore.WriteStats }); ok {
		stats = s.WriteStats
	}
	before, cpu0 := stats(), cpuTime()
	var (
		mu   sync.Mutex
		lats []time.Duration
		next atomic.Int64
	)
	loop := func(more func() bool) {
		local := make([]time.Duration, 0, 1024)
		for more() {
			i := next.Add(1)
			t0 := time.Now()
			if err := op(i); err != nil {
				b.Error(err)
				return
			}
			local = append(local, time.Since(t0))
		}
		mu.Lock()
		lats = append(lats, local...)
		mu.Unlock()
	}
	b.ReportAllocs()
	b.ResetTimer()
	if conc <= 1 {
		n := 0
		loop(func() bool { n++; return n <= b.N })
	} else {
		b.SetParallelism(max(1, conc/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) { loop(pb.Next) })
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
	if d := stats(); d.Commits > before.Commits {
		b.ReportMetric(float64(d.Writes-before.Writes)/float64(d.Commits-before.Commits), "writes/commit")
	}
	if len(lats) == 0 {
		return
	}
	slices.Sort(lats)
	pct := func(p float64) float64 {
		return float64(lats[min(len(lats)-1, int(float64(len(lats))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// cpuTime is the CPU time this process has used, in user and system mode. Divided by the
// operations it is a cost per operation that other load on the machine does not change
// (PostgreSQL's own work, in its processes, is not in it).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWrite measures durable Store.Write throughput with a trivial insert per call.
func BenchmarkWrite(b *testing.B) {
	for _, e := range benchEngines {
		b.Run(e.name, func(b *testing.B) {
			st := e.open(b)
			ctx := context.Background()
			var seq atomic.Int64
			for _, conc := range benchConcurrency {
				b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) {
					runConcurrent(b, st, conc, func(int64) error {
						name := "bench-" + strconv.FormatInt(seq.Add(1), 10)
						return st.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, name, "v") })
					})
				})
			}
		})
	}
}

// BenchmarkCardCreate measures durable tokenization: vault.Service.CreateInstrument with a
// fresh Luhn-valid PAN per call (validate, fingerprint, seal, insert in one Write).
func BenchmarkCardCreate(b *testing.B) {
	for _, e := range benchEngines {
		b.Run(e.name, func(b *testing.B) {
			f := mustBenchFixture(b, e.open)
			ctx := context.Background()
			var seq atomic.Int64
			for _, conc := range benchConcurrency {
				b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) {
					runConcurrent(b, f.Store, conc, func(int64) error {
						_, err := f.Svc.CreateInstrument(ctx, f.Principal,
							&vault.Instrument{Kind: vault.KindCard, HolderName: "BENCH"},
							vault.Source{Number: benchPAN(seq.Add(1)), Expiry: card.Expiry{Month: 12, Year: 2040}},
							vault.CreateOptions{})
						return err
					})
				})
			}
		})
	}
}

// BenchmarkCardCreateProfile measures the Paysafe tokenize path: a card with a fresh PAN on
// one of 256 profiles, with the duplicate-card check (each create locks its profile). It
// sets Default, as the profile's first card decides it otherwise by listing every card the
// profile holds, a cost that grows with b.N and would hide the store's.
func BenchmarkCardCreateProfile(b *testing.B) {
	const profiles = 256
	for _, e := range benchEngines {
		b.Run(e.name, func(b *testing.B) {
			f := mustBenchFixture(b, e.open)
			ctx := context.Background()
			ids := make([]string, profiles)
			for i := range ids {
				p, err := f.Svc.CreateProfile(ctx, f.Principal, &vault.Profile{MerchantCustomerID: "bench-" + strconv.Itoa(i), Locale: "en_US"})
				if err != nil {
					b.Fatal(err)
				}
				ids[i] = p.ID
			}
			var seq atomic.Int64
			notDefault := false
			for _, conc := range benchConcurrency {
				b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) {
					runConcurrent(b, f.Store, conc, func(i int64) error {
						_, err := f.Svc.CreateInstrument(ctx, f.Principal,
							&vault.Instrument{Kind: vault.KindCard, ProfileID: ids[i%profiles], HolderName: "BENCH"},
							vault.Source{Number: benchPAN(seq.Add(1)), Expiry: card.Expiry{Month: 12, Year: 2040}},
							vault.CreateOptions{CheckDuplicate: true, Default: &notDefault})
						return err
					})
				})
			}
		})
	}
}

// BenchmarkCardLookup measures GetInstrumentByToken over 10,000 stored cards.
func BenchmarkCardLookup(b *testing.B) {
	const cards = 10000
	for _, e := range benchEngines {
		b.Run(e.name, func(b *testing.B) {
			f := mustBenchFixture(b, e.open)
			ctx := context.Background()
			tokens := make([]string, cards)
			var wg sync.WaitGroup
			var failed atomic.Bool
			for w := 0; w < 32; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < cards; i += 32 {
						in, err := f.Svc.CreateInstrument(ctx, f.Principal,
							&vault.Instrument{Kind: vault.KindCard, HolderName: "BENCH"},
							vault.Source{Number: benchPAN(int64(i)), Expiry: card.Expiry{Month: 12, Year: 2040}},
							vault.CreateOptions{})
						if err != nil {
							failed.Store(true)
							return
						}
						tokens[i] = in.Token
					}
				}()
			}
			wg.Wait()
			if failed.Load() {
				b.Fatal("seeding cards failed")
			}
			mid := f.Creds.MerchantID
			for _, conc := range benchConcurrency {
				b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) {
					runConcurrent(b, f.Store, conc, func(i int64) error {
						_, err := f.Store.GetInstrumentByToken(ctx, mid, tokens[(i*7919)%cards])
						return err
					})
				})
			}
		})
	}
}

// benchPAN returns a distinct Luhn-valid 16-digit Visa test number for n.
func benchPAN(n int64) string {
	var d [16]byte
	d[0] = '4'
	for i := 14; i >= 1; i-- {
		d[i] = byte('0' + n%10)
		n /= 10
	}
	d[15], _ = card.CheckDigit(string(d[:15]))
	return string(d[:])
}

func TestBenchPAN(t *testing.T) {
	for _, n := range []int64{0, 1, 12345, 99999999999999} {
		if p := benchPAN(n); !card.Luhn(p) || len(p) != 16 {
			t.Errorf("benchPAN(%d) = %s", n, p)
		}
	}
}

// BenchmarkCardCreateMerchants is BenchmarkCardCreateProfile on PostgreSQL with the writes of
// four merchants at 64 concurrent callers, by number of committers: whether a node serving
// several merchants gains from more than one (docs/benchmarks.md).
func BenchmarkCardCreateMerchants(b *testing.B) {
	const merchants, profiles = 4, 64
	for _, committers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("committers=%d", committers), func(b *testing.B) {
			f := mustBenchFixture(b, func(tb testing.TB) storetest.Store {
				s, err := sqlstore.Open(context.Background(), sqlstore.Config{DSN: storetest.DurablePostgresDSN(tb), Committers: committers})
				if err != nil {
					tb.Fatal(err)
				}
				tb.Cleanup(func() { s.Close() })
				return s
			})
			ctx := context.Background()
			type merchant struct {
				p   *vault.Principal
				ids []string
			}
			ms := make([]merchant, merchants)
			for m := range ms {
				p := f.Principal
				if m > 0 {
					creds, err := f.Svc.CreateMerchant(ctx, vault.NewMerchant{Name: "bench " + strconv.Itoa(m)})
					if err != nil {
						b.Fatal(err)
					}
					if p, err = f.Svc.AuthenticateAPIKey(ctx, creds.Paysafe.APIKeyID, creds.Paysafe.APIKeySecret); err != nil {
						b.Fatal(err)
					}
				}
				ms[m].p = p
				for i := range profiles {
					pr, err := f.Svc.CreateProfile(ctx, p, &vault.Profile{MerchantCustomerID: "bench-" + strconv.Itoa(i), Locale: "en_US"})
					if err != nil {
						b.Fatal(err)
					}
					ms[m].ids = append(ms[m].ids, pr.ID)
				}
			}
			var seq atomic.Int64
			notDefault := false
			runConcurrent(b, f.Store, 64, func(i int64) error {
				m := ms[i%merchants]
				_, err := f.Svc.CreateInstrument(ctx, m.p,
					&vault.Instrument{Kind: vault.KindCard, ProfileID: m.ids[(i/merchants)%profiles], HolderName: "BENCH"},
					vault.Source{Number: benchPAN(seq.Add(1)), Expiry: card.Expiry{Month: 12, Year: 2040}},
					vault.CreateOptions{CheckDuplicate: true, Default: &notDefault})
				return err
			})
		})
	}
}

// BenchmarkListByIndex lists a few rows among many by an exact filter that has its own index
// (listSpec.indexes), on SQLite: one contact's 10 vaults among 200,000 in a location (a Fortis
// list by contact_id), and one reference's transaction among 200,000 (a Paysafe
// ?merchantRefNum= list). "last_four", which has no index, reads the location's vaults for
// contrast, and "contacts/location" is a page of a location's 200,000 contacts, whose count
// reads an index (profiles_location). The rows are inserted by SQL, so they hold no sealed
// data.
func BenchmarkListByIndex(b *testing.B) {
	s := mustSeededSQLite(b,
		seedRows+`INSERT INTO instruments (id, merchant_id, location_id, profile_id, token, kind, last_four, created_at, updated_at)
		SELECT printf('i%08d', i), 'm', 'l', printf('p%06d', i % 20000), printf('t%08d', i), 'card', printf('%04d', i % 10000), i, i FROM n`,
		"INSERT INTO instrument_counts (merchant_id, location_id, kind, n) VALUES ('m', 'l', 'card', 200000)",
		seedRows+`INSERT INTO profiles (id, merchant_id, location_id, token, status, merchant_customer_id, locale, created_at)
		SELECT printf('p%08d', i), 'm', 'l', printf('P%08d', i), 'ACTIVE', printf('c%d', i), 'en_US', i FROM n`,
		seedRows+`INSERT INTO transactions (id, merchant_id, location_id, account_number, type, merchant_ref_num, status, amount, api, txn_at, created_at)
		SELECT printf('x%08d', i), 'm', 'l', '1', 'auth', printf('r%d', i), 'COMPLETED', 1, 'paysafe', i, i FROM n`)
	ctx := context.Background()
	loc := exact("location_id", "l")
	for _, c := range []struct {
		name string
		want int
		list func() (int, error)
	}{
		{"vaults/contact", 10, func() (int, error) {
			_, n, err := s.ListInstruments(ctx, "m", vault.Query{Filters: []vault.Filter{loc, exact("kind", "card"), exact("profile_id", "p000042")}, Limit: 10})
			return n, err
		}},
		{"vaults/last_four", 20, func() (int, error) {
			_, n, err := s.ListInstruments(ctx, "m", vault.Query{Filters: []vault.Filter{loc, exact("kind", "card"), exact("last_four", "0042")}, Limit: 10})
			return n, err
		}},
		{"contacts/location", 200000, func() (int, error) {
			_, n, err := s.ListProfiles(ctx, "m", vault.Query{Filters: []vault.Filter{loc}, Limit: 20})
			return n, err
		}},
		{"transactions/reference", 1, func() (int, error) {
			_, n, err := s.ListTransactions(ctx, "m", vault.Query{Filters: []vault.Filter{loc, exact("account_number", "1"), exact("type", "auth"), exact("merchant_ref_num", "r42")},
				Sort: []vault.SortKey{{Field: "txn_at", Desc: true}, {Field: "id", Desc: true}}, Limit: 10})
			return n, err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if n, err := c.list(); err != nil || n != c.want {
					b.Fatalf("total %d, %v; want %d", n, err, c.want)
				}
			}
		})
	}
}

// BenchmarkSweepTokens is the token sweeper's write (every 30 s, on the one writer) over
// 200,000 single-use tokens that have not expired: it should find that none has, not read
// them all.
func BenchmarkSweepTokens(b *testing.B) {
	s := MustSQLite(b).(*sqlstore.Store)
	ctx := context.Background()
	now := time.Now()
	err := sqlstore.ExecSQL(s, seedRows+`INSERT INTO onetime_tokens (id, merchant_id, location_id, token, kind, number_sealed, cvv_sealed, created_at, expires_at)
		SELECT printf('o%08d', i), 'm', 'l', printf('S%08d', i), 'card', randomblob(64), randomblob(40), ?, ? + i FROM n`,
		now.UnixMilli(), now.Add(time.Hour).UnixMilli())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		var n int
		err := s.Write(ctx, func(tx vault.Tx) error {
			var err error
			n, err = tx.SweepOneTimeTokens(ctx, now)
			return err
		})
		if err != nil || n != 0 {
			b.Fatalf("swept %d, %v", n, err)
		}
	}
}

// BenchmarkEraseSealed is the retention job's write (hourly and at start, on the one writer)
// over 200,000 live vaults and 200,000 transactions, none of them past retention: it should
// find that none is, not read them all.
func BenchmarkEraseSealed(b *testing.B) {
	now := time.Now()
	s := mustSeededSQLite(b,
		seedRows+`INSERT INTO instruments (id, merchant_id, location_id, token, kind, dek_id, number_sealed, created_at, updated_at)
		SELECT printf('i%08d', i), 'm', 'l', printf('t%08d', i), 'card', 7, randomblob(64), i, i FROM n`,
		seedRows+`INSERT INTO transactions (id, merchant_id, location_id, account_number, type, merchant_ref_num, status, amount, api, dek_id, number_sealed, txn_at, created_at)
		SELECT printf('x%08d', i), 'm', 'l', '1', 'auth', printf('r%d', i), 'COMPLETED', 1, 'paysafe', 7, randomblob(64), i, `+strconv.FormatInt(now.UnixMilli(), 10)+` FROM n`)
	for b.Loop() {
		if n, err := s.EraseSealed(context.Background(), now.Add(-time.Hour), now.Add(-time.Hour), 500); err != nil || n != 0 {
			b.Fatalf("erased %d, %v", n, err)
		}
	}
}

// seedRows heads a statement that inserts 200,000 rows, one for each i in n.
const seedRows = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) "

// mustSeededSQLite is a fresh SQLite store with merchant "m" in which each statement has run.
func mustSeededSQLite(b *testing.B, stmts ...string) *sqlstore.Store {
	s := MustSQLite(b).(*sqlstore.Store)
	for _, q := range append([]string{"INSERT INTO merchants (id, name, created_at) VALUES ('m', 'm', 0)"}, stmts...) {
		if err := sqlstore.ExecSQL(s, q); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkSweepIdempotencyKeys is the hourly idempotency sweep over 200,000 expired keys with
// 1 KiB kept responses, next to a writer that stores a setting in a loop: it reports the
// longest and the 99th-percentile time that writer waited for one write (max-write-ms,
// p99-write-ms), which is how long the sweep held the one writer, and the sweep's own time.
func BenchmarkSweepIdempotencyKeys(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		s := mustSeededSQLite(b, seedRows+`INSERT INTO idempotency (merchant_id, scope, key, body_mac, state, body, created_at)
			SELECT 'm', 's', printf('k%08d', i), randomblob(32), 'done', randomblob(1024), i FROM n`)
		stop := make(chan struct{})
		done := make(chan []time.Duration)
		go func() {
			var waits []time.Duration
			for {
				select {
				case <-stop:
					done <- waits
					return
				default:
				}
				t0 := time.Now()
				if err := s.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, "bench", "x") }); err != nil {
					b.Error(err)
				}
				waits = append(waits, time.Since(t0))
			}
		}()
		time.Sleep(50 * time.Millisecond)
		b.StartTimer()
		n, err := s.SweepIdempotencyKeys(ctx, time.UnixMilli(1_000_000))
		b.StopTimer()
		close(stop)
		waits := <-done
		if err != nil || n != 200000 {
			b.Fatalf("swept %d, %v", n, err)
		}
		slices.Sort(waits)
		b.ReportMetric(float64(waits[len(waits)-1].Microseconds())/1000, "max-write-ms")
		b.ReportMetric(float64(waits[len(waits)*99/100].Microseconds())/1000, "p99-write-ms")
		b.StartTimer()
	}
}

// BenchmarkListPage is a Fortis list page: 20 of a location's 10,000 vaults and their total,
// on each engine. "kept" reads the total from the kept counts (location and kind filters
// only); "counted" counts the rows (a last_four filter that 1,000 of them match); "kinds" is
// the Fortis list's own, over cards and bank accounts, a page read one scan per kind.
func BenchmarkListPage(b *testing.B) {
	const seed = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) " +
		"INSERT INTO instruments (id, merchant_id, location_id, profile_id, token, kind, last_four, created_at, updated_at) " +
		"SELECT 'i' || i, 'm', 'l', '', 't' || i, 'card', CASE WHEN i % 10 = 0 THEN '0042' ELSE '1111' END, i, i FROM n"
	for _, e := range countEngines {
		b.Run(e.name, func(b *testing.B) {
			s := e.open(b).(*sqlstore.Store)
			for _, q := range []string{"INSERT INTO merchants (id, name, created_at) VALUES ('m', 'm', 0)", seed,
				"INSERT INTO instrument_counts (merchant_id, location_id, kind, n) VALUES ('m', 'l', 'card', 10000)"} {
				if err := sqlstore.ExecSQL(s, q); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			loc, kind := exact("location_id", "l"), exact("kind", "card")
			for _, c := range []struct {
				name    string
				filters []vault.Filter
				want    int
			}{
				{"kept", []vault.Filter{loc, kind}, 10000},
				{"counted", []vault.Filter{loc, kind, exact("last_four", "0042")}, 1000},
				{"kinds", []vault.Filter{loc, exact("kind", "card", "ach")}, 10000},
			} {
				b.Run(c.name, func(b *testing.B) {
					for b.Loop() {
						page, n, err := s.ListInstruments(ctx, "m", vault.Query{Filters: c.filters, Limit: 20, Offset: 20})
						if err != nil || n != c.want || len(page) != 20 {
							b.Fatalf("%d rows of %d, %v; want 20 of %d", len(page), n, err, c.want)
						}
					}
				})
			}
		})
	}
}

// BenchmarkVerifySealed is `payvault keys verify` on a store of 50,000 cards, each sealed
// bound to its token (ADv2) with its fingerprint, as the vault writes them: it reports the
// records verified per second (records/s), reading in the command's batches of 1,000.
func BenchmarkVerifySealed(b *testing.B) {
	for _, e := range benchEngines {
		b.Run(e.name, func(b *testing.B) { benchVerifySealed(b, e.name, e.open) })
	}
}

func benchVerifySealed(b *testing.B, engine string, open storetest.Opener) {
	const cards = 50_000
	ctx := context.Background()
	f := storetest.MustFixture(b, open)
	loc, err := f.Store.GetLocationByAccount(ctx, f.Creds.Paysafe.AccountNumber)
	if err != nil {
		b.Fatal(err)
	}
	db := f.Store.(interface{ DB() *sql.DB }).DB()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	q := `INSERT INTO instruments (id, merchant_id, location_id, token, kind, dek_id, number_sealed, fingerprint, ad_version, created_at, updated_at)
		VALUES (?, ?, ?, ?, 'card', ?, ?, ?, 2, 0, 0)`
	if engine == "postgres" {
		for i := 1; strings.Contains(q, "?"); i++ {
			q = strings.Replace(q, "?", "$"+strconv.Itoa(i), 1)
		}
	}
	ins, err := tx.PrepareContext(ctx, q)
	if err != nil {
		b.Fatal(err)
	}
	mid := f.Creds.MerchantID
	for i := range cards {
		id, tok, pan := fmt.Sprintf("i%08d", i), fmt.Sprintf("t%08d", i), fmt.Sprintf("4%015d", i)
		ct, err := f.Keys.Seal([]byte(pan), keys.AD{Merchant: mid, Record: id, Field: "number", Token: tok})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ins.ExecContext(ctx, id, mid, loc.ID, tok, int64(f.Keys.PrimaryKeyID()), ct, f.Keys.Fingerprint(mid, pan)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	v := vault.NewVerifier(f.Store.(vault.SealedLister), f.Keys)
	n := 0
	for b.Loop() {
		rep, err := v.Run(ctx, 1000)
		if err != nil || rep.ProblemCount() != 0 || rep.Tables[0].Records != cards {
			b.Fatalf("verify: %+v, %v", rep.VerifiedTable, err)
		}
		n += rep.Records
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkTransactionListCount is a Fortis transaction list's first page, 20 of a location's
// 10,000 or 100,000 transactions, and its total, on each engine. The total counts the
// location's shown transactions on every page (the store keeps no counts of transactions:
// they would add a write to every payment), in transactions_location alone on PostgreSQL
// once a vacuum has marked the pages visible, as autovacuum does (done here); "count" is
// that count's statement alone.
func BenchmarkTransactionListCount(b *testing.B) {
	const seed = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 110000) " +
		"INSERT INTO transactions (id, merchant_id, location_id, account_number, api, type, status, amount, txn_at, created_at) " +
		"SELECT 'x' || (100000000 + i), 'm', CASE WHEN i % 11 = 0 THEN 'l10k' ELSE 'l100k' END, '1', 'fortis', 'sale', 'COMPLETED', i, i, i FROM n"
	for _, e := range countEngines {
		b.Run(e.name, func(b *testing.B) {
			s := e.open(b).(*sqlstore.Store)
			stmts := []string{"INSERT INTO merchants (id, name, created_at) VALUES ('m', 'm', 0)", seed, "ANALYZE"}
			if e.name == "postgres" {
				stmts = append(stmts, "VACUUM transactions")
			}
			for _, q := range stmts {
				if err := sqlstore.ExecSQL(s, q); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			shown := []any{"COMPLETED", "PENDING", "FAILED", "CANCELLED"}
			for _, c := range []struct {
				loc  string
				want int
			}{{"l10k", 10000}, {"l100k", 100000}} {
				fs := []vault.Filter{exact("location_id", c.loc), exact("api", "fortis"), exact("status", "COMPLETED", "PENDING", "FAILED", "CANCELLED")}
				b.Run(c.loc+"/page", func(b *testing.B) {
					for b.Loop() {
						page, n, err := s.ListTransactions(ctx, "m", vault.Query{Filters: fs, Sort: []vault.SortKey{{Field: "id", Desc: true}}, Limit: 20})
						if err != nil || n != c.want || len(page) != 20 {
							b.Fatalf("%d rows of %d, %v; want 20 of %d", len(page), n, err, c.want)
						}
					}
				})
				b.Run(c.loc+"/count", func(b *testing.B) {
					for b.Loop() {
						n, err := sqlstore.CountSQL(s, "SELECT COUNT(*) FROM transactions WHERE merchant_id = ? AND location_id IN (?) AND api IN (?) AND status IN (?, ?, ?, ?)",
							append([]any{"m", c.loc, "fortis"}, shown...)...)
						if err != nil || n != c.want {
							b.Fatalf("count %d, %v; want %d", n, err, c.want)
						}
					}
				})
			}
		})
	}
}
