package sqlstore_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/keys/keystest"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

func TestMain(m *testing.M) { storetest.RunMain(m) }

// MustSQLite opens a fresh SQLite store in the test's temp dir.
func MustSQLite(tb testing.TB) storetest.Store {
	tb.Helper()
	s, err := sqlstore.Open(context.Background(), sqlstore.Config{Path: filepath.Join(tb.TempDir(), "t.db")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// MustPostgres opens a fresh database on the test PostgreSQL server.
func MustPostgres(tb testing.TB) storetest.Store {
	tb.Helper()
	return mustPostgresAt(tb, storetest.PostgresDSN(tb))
}

// mustPostgresAt opens the PostgreSQL store at dsn, closed when tb ends.
func mustPostgresAt(tb testing.TB, dsn string) storetest.Store {
	tb.Helper()
	s, err := sqlstore.Open(context.Background(), sqlstore.Config{DSN: dsn})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestSQLite(t *testing.T)   { storetest.Run(t, MustSQLite) }
func TestPostgres(t *testing.T) { storetest.Run(t, MustPostgres) }

// TestTextSortLinguisticPostgres: on a database whose collation is en-US, a list sorted on a
// text column is still in byte order, as on SQLite.
func TestTextSortLinguisticPostgres(t *testing.T) {
	storetest.RunTextSort(t, func(tb testing.TB) storetest.Store {
		tb.Helper()
		return mustPostgresAt(tb, storetest.PostgresLinguisticDSN(tb))
	})
}

// TestTLSRefusedNotAwaited: a DSN that requires TLS of a server without it fails, and not as
// a database that cannot serve yet: a serving node waiting for its database would wait for
// ever on a configuration that waiting does not fix. The test server listens on a Unix socket
// only, where TLS does not apply, so the client reaches it over TCP through a plain relay.
func TestTLSRefusedNotAwaited(t *testing.T) {
	addr, db := pgRelay(t, func(c, s net.Conn) {
		go io.Copy(s, c)
		io.Copy(c, s)
	})
	dsn := "postgres://postgres@" + addr + db + "?sslmode=require&connect_timeout=5"
	st, err := sqlstore.Open(context.Background(), sqlstore.Config{DSN: dsn})
	if err == nil {
		st.Close()
		t.Fatal("Open required TLS of a server without it, and succeeded")
	}
	if sqlstore.Unavailable(err) {
		t.Errorf("Unavailable(%v) = true; want false", err)
	}
}

// pgRelay relays TCP connections on 127.0.0.1 to the test PostgreSQL server's Unix socket
// (it listens on no TCP port), through relay, which gets each client connection and its
// connection to the server; both are closed when relay returns. It returns the relay's
// address and the path (/name) of a fresh database.
func pgRelay(t *testing.T, relay func(client, server net.Conn)) (addr, db string) {
	u, err := url.Parse(storetest.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	return pgRelayTo(t, filepath.Join(u.Query().Get("host"), ".s.PGSQL.5432"), relay), u.Path
}

// pgRelayTo is pgRelay to the server listening on socket; it returns the relay's address.
func pgRelayTo(t *testing.T, socket string, relay func(client, server net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s, err := net.Dial("unix", socket)
				if err != nil {
					return
				}
				defer s.Close()
				relay(c, s)
			}()
		}
	}()
	return ln.Addr().String()
}

func TestSQLitePragmas(t *testing.T) {
	s := MustSQLite(t).(*sqlstore.Store)
	ctx := context.Background()
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "secure_delete": "1", "foreign_keys": "1", "wal_autocheckpoint": "0", "journal_size_limit": "67108864", "cache_size": "-8192"} {
		var got string
		if err := s.DB().QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}

// TestSQLiteFileModes checks that the database and its -wal and -shm files are readable by
// their owner alone, whatever the umask.
func TestSQLiteFileModes(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "t.db")
	s, err := sqlstore.Open(context.Background(), sqlstore.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.DB().ExecContext(context.Background(), "CREATE TABLE modes (x)"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := st.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: mode %o, want 600", filepath.Base(f), m)
		}
	}
}

// TestSQLiteFileModesNarrowed: a store an older payvault created 0644 is 0600 once opened.
func TestSQLiteFileModesNarrowed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chmod(f, 0o644)
	}
	s, err := sqlstore.Open(context.Background(), sqlstore.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want mode 600", filepath.Base(f), st.Mode(), err)
		}
	}
}

func TestKeysetStoreSQLite(t *testing.T) {
	keystest.Run(t, func(tb testing.TB) keys.KeysetStore { return MustSQLite(tb) })
}

func TestKeysetStorePostgres(t *testing.T) {
	keystest.Run(t, func(tb testing.TB) keys.KeysetStore { return MustPostgres(tb) })
}

func TestRekeySQLite(t *testing.T)   { storetest.RunRekey(t, MustSQLite) }
func TestRekeyPostgres(t *testing.T) { storetest.RunRekey(t, MustPostgres) }

func TestRekeyRaceSQLite(t *testing.T)   { storetest.RunRekeyRace(t, MustSQLite) }
func TestRekeyRacePostgres(t *testing.T) { storetest.RunRekeyRace(t, MustPostgres) }

func TestRekeyUnreadableSQLite(t *testing.T)   { storetest.RunRekeyUnreadable(t, MustSQLite) }
func TestRekeyUnreadablePostgres(t *testing.T) { storetest.RunRekeyUnreadable(t, MustPostgres) }

func TestTokenSwapSQLite(t *testing.T)   { storetest.RunTokenSwap(t, MustSQLite) }
func TestTokenSwapPostgres(t *testing.T) { storetest.RunTokenSwap(t, MustPostgres) }

func TestSealedVerifySQLite(t *testing.T)   { storetest.RunSealedVerify(t, MustSQLite) }
func TestSealedVerifyPostgres(t *testing.T) { storetest.RunSealedVerify(t, MustPostgres) }

func TestAuditSQLite(t *testing.T)   { storetest.RunAudit(t, MustSQLite) }
func TestAuditPostgres(t *testing.T) { storetest.RunAudit(t, MustPostgres) }

func TestAuditBatchSQLite(t *testing.T)   { storetest.RunAuditBatch(t, MustSQLite) }
func TestAuditBatchPostgres(t *testing.T) { storetest.RunAuditBatch(t, MustPostgres) }

func TestEraseSQLite(t *testing.T)   { storetest.RunErase(t, MustSQLite) }
func TestErasePostgres(t *testing.T) { storetest.RunErase(t, MustPostgres) }

// TestSQLiteReadCancel checks which reads stop when their context ends: a one-row read (a
// card by id) is short and runs to its end; a list or a count, which may scan many rows, stops.
func TestSQLiteReadCancel(t *testing.T) {
	f := storetest.MustFixture(t, MustSQLite)
	in, err := f.Svc.CreateInstrument(context.Background(), f.Principal,
		&vault.Instrument{Kind: vault.KindCard, HolderName: "CANCEL"},
		vault.Source{Number: "4111111111111111", Expiry: card.Expiry{Month: 12, Year: 2040}},
		vault.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	mid := f.Creds.MerchantID
	if _, err := f.Store.GetInstrument(ctx, mid, in.ID); err != nil {
		t.Errorf("GetInstrument on an ended context: %v; want the card", err)
	}
	if _, _, err := f.Store.ListInstruments(ctx, mid, vault.Query{Limit: 10}); err == nil {
		t.Error("ListInstruments on an ended context succeeded; want an error")
	}
	if _, err := f.Store.(*sqlstore.Store).CountFingerprintsByKey(ctx, 1); err == nil {
		t.Error("CountFingerprintsByKey on an ended context succeeded; want an error")
	}
}
