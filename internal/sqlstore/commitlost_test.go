package sqlstore_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/vault"
)

// cutRelay relays TCP connections to the test PostgreSQL's Unix socket, and ends the
// connection of the first transaction that wrote its marker (a value the test writes) at that
// transaction's COMMIT: with forward set, after passing the COMMIT on (PostgreSQL commits,
// and its answer is lost), otherwise instead of passing it on (PostgreSQL never sees it).
type cutRelay struct {
	dsn     string
	marker  []byte
	forward bool
	cuts    atomic.Int32
}

func startCutRelay(t *testing.T, marker string, forward bool) *cutRelay {
	r := &cutRelay{marker: []byte(marker), forward: forward}
	addr, db := pgRelay(t, r.relay)
	r.dsn = "postgres://postgres@" + addr + db + "?sslmode=disable"
	return r
}

// relay copies the server's bytes to the client, and the client's to the server until it
// cuts the connection at the marked transaction's COMMIT.
func (r *cutRelay) relay(c, s net.Conn) {
	relayToCommit(c, s, r.marker, &r.cuts, func(chunk []byte) bool {
		// The client's end closes first, so that the COMMIT's answer, which the server may
		// send at once, can never reach it.
		c.Close()
		if r.forward {
			s.Write(chunk)
		}
		return true // both ends close
	})
}

// relayToCommit copies the server's bytes to the client and the client's to the server. At the
// COMMIT of the first transaction that wrote marker (fired counts it, once), it calls at with
// the chunk holding the COMMIT, which is passed on unless at says to stop relaying.
func relayToCommit(c, s net.Conn, marker []byte, fired *atomic.Int32, at func(chunk []byte) (stop bool)) {
	marked := false
	relayChunks(c, s, nil, func(chunk []byte) bool {
		marked = marked || bytes.Contains(chunk, marker)
		return marked && bytes.Contains(bytes.ToLower(chunk), []byte("commit\x00")) && fired.CompareAndSwap(0, 1) && at(chunk)
	})
}

// relayChunks copies the server's bytes to the client, showing each chunk first to
// fromServer when it is set, and the client's to the server, showing each chunk first to
// fromClient, which may stop the relay (both ends then close) before the chunk is passed on.
func relayChunks(c, s net.Conn, fromServer func(chunk []byte), fromClient func(chunk []byte) (stop bool)) {
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := s.Read(buf)
			if n > 0 {
				if fromServer != nil {
					fromServer(buf[:n])
				}
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if fromClient(buf[:n]) {
				return
			}
			if _, err := s.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestLostCommitAnswer: a write whose COMMIT's answer is lost (the connection ends during
// the COMMIT) gets its true outcome from PostgreSQL, not "outcome unknown": when the COMMIT
// took effect the write succeeded, once; when it did not, the write runs again and succeeds.
// So does every write of a batch whose COMMIT's answer is lost.
func TestLostCommitAnswer(t *testing.T) {
	for _, tt := range []struct {
		name    string
		forward bool // the COMMIT reaches PostgreSQL
		runs    int32
	}{
		{"ok/committed", true, 1},
		{"ok/never-committed", false, 2},
	} {
		for _, writes := range []int{1, 8} {
			t.Run(fmt.Sprintf("%s/%d-writes", tt.name, writes), func(t *testing.T) {
				ctx := context.Background()
				relay := startCutRelay(t, "lost-answer-marker", tt.forward)
				st, err := sqlstore.Open(ctx, sqlstore.Config{DSN: relay.dsn})
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				// A slow write holds the committer while the others queue up, so that they
				// share one batch, and one COMMIT.
				release, held := holdCommitter(ctx, st)
				w := newWrites(writes)
				for i := range writes {
					w.start(ctx, st, i, func(tx vault.Tx) error {
						return tx.SetSetting(ctx, fmt.Sprintf("lost-answer-%d", i), "lost-answer-marker")
					})
				}
				time.Sleep(100 * time.Millisecond)
				release()
				w.wg.Wait()
				if err := <-held; err != nil {
					t.Fatal(err)
				}
				if relay.cuts.Load() != 1 {
					t.Errorf("%d cuts, want 1", relay.cuts.Load())
				}
				if tt.forward {
					checkLostCommits(t, st, 1, 0, 0)
				} else {
					checkLostCommits(t, st, 0, 1, 0)
				}
				for i := range writes {
					if w.errs[i] != nil {
						t.Errorf("write %d = %v; want its true outcome, a success", i, w.errs[i])
					}
					if w.runs[i].Load() != tt.runs {
						t.Errorf("write %d ran %d times, want %d", i, w.runs[i].Load(), tt.runs)
					}
					if v, err := st.GetSetting(ctx, fmt.Sprintf("lost-answer-%d", i)); err != nil || v != "lost-answer-marker" {
						t.Errorf("setting %d = %q, %v", i, v, err)
					}
				}
			})
		}
	}
}

// turnRelay relays TCP connections to the test PostgreSQL's Unix socket and counts, on each
// connection, the client's round trips from each chunk holding start (or binding the statement
// pgx prepared for it) to the next COMMIT: a
// round trip begins when the client sends after PostgreSQL said it was ready for the next
// query (ReadyForQuery), so a pipeline is one however it is cut up.
type turnRelay struct {
	dsn   string
	start []byte
	turns chan int // turns gets each count, at its COMMIT
}

func startTurnRelay(t *testing.T, start string) *turnRelay {
	r := &turnRelay{start: []byte(start), turns: make(chan int, 64)}
	addr, db := pgRelay(t, r.relay)
	r.dsn = "postgres://postgres@" + addr + db + "?sslmode=disable"
	return r
}

func (r *turnRelay) relay(c, s net.Conn) {
	var ready atomic.Bool // ready: PostgreSQL said ReadyForQuery since the client last sent
	counting, turns := false, 0
	var name []byte // name is the prepared statement of start's text
	relayChunks(c, s, func(chunk []byte) {
		if bytes.Contains(chunk, []byte("Z\x00\x00\x00\x05")) {
			ready.Store(true)
		}
	}, func(chunk []byte) bool {
		if ready.Swap(false) && counting {
			turns++
		}
		if !counting && (bytes.Contains(chunk, r.start) || name != nil && bytes.Contains(chunk, name)) {
			counting, turns = true, 1
			if i := bytes.Index(chunk, r.start); i > 0 && name == nil {
				// pgx prepares the statement under a name that later batches bind to
				// without its text
				if j := bytes.LastIndex(chunk[:i-1], []byte("stmtcache_")); j >= 0 {
					name = slices.Clone(chunk[j : i-1])
				}
			}
		}
		if counting && bytes.Contains(bytes.ToLower(chunk), []byte("commit\x00")) {
			counting = false
			select {
			case r.turns <- turns:
			default:
			}
		}
		return false
	})
}

// TestBatchEndRoundTrips: a PostgreSQL batch of audited card creates reads its merchant's
// audit chain head and its transaction's id in the pipeline that sends its cards, and writes
// the head and the audit records together: from that pipeline to the COMMIT it makes three
// round trips (the pipeline, the audit writes, the COMMIT), where reading the head, writing
// it, inserting the records and reading the id one by one made six. A card create running
// alone, whose statements are not queued, sends its count with those reads: four round trips
// from its INSERT to the COMMIT instead of seven. A write that runs a statement for the first
// time on its connection also prepares it (pgx's statement cache): the first inserts the
// chain's head and the second updates it, so the third is counted.
func TestBatchEndRoundTrips(t *testing.T) {
	for _, tt := range []struct {
		name  string
		n     int // n is the batch's size; 1 runs alone
		turns int
	}{{"batch", 8, 3}, {"alone", 1, 4}} {
		t.Run(tt.name, func(t *testing.T) {
			relay := startTurnRelay(t, "INSERT INTO instruments")
			ce := newCardEnv(t, func(tb testing.TB, cfg sqlstore.Config) *sqlstore.Store {
				cfg.DSN = relay.dsn
				return mustOpen(tb, cfg)
			})
			ce.st.SetAuditMAC(ce.f.Keys)
			profiles := []*vault.Profile{ce.profile(t, "turns-a"), ce.profile(t, "turns-b")}
			var ids []string
			var mu sync.Mutex
			for batch := range 3 {
				writes := make([]func(), tt.n)
				for i := range writes {
					writes[i] = func() {
						c, err := ce.card(profiles[i%2], ce.freshPAN())
						if err != nil {
							t.Errorf("card %d: %v", i, err)
							return
						}
						mu.Lock()
						ids = append(ids, c.ID)
						mu.Unlock()
					}
				}
				if tt.n == 1 {
					writes[0]()
				} else if d := mustGather(t, ce.st, writes); d.Commits != 2 {
					t.Fatalf("batch %d: %d transactions; want 2 (the blocker's and the batch's)", batch, d.Commits)
				}
			}
			var counts []int
			for len(relay.turns) > 0 {
				counts = append(counts, <-relay.turns)
			}
			if len(counts) != 3 || counts[2] != tt.turns {
				t.Errorf("round trips from each write's cards to its COMMIT: %v; want three counts, the last %d", counts, tt.turns)
			}
			recs, err := ce.st.ListAudit(context.Background(), ce.f.Creds.MerchantID, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			audited := map[string]bool{}
			for _, r := range recs {
				audited[r.RecordID] = true
			}
			for i, id := range ids {
				if !audited[id] {
					t.Errorf("card %d (%s) has no audit record", i, id)
				}
			}
			if problems, err := ce.st.VerifyAudit(context.Background(), ce.f.Keys); err != nil || len(problems) > 0 {
				t.Errorf("audit chains: %v, %v", problems, err)
			}
		})
	}
}

// TestLostBeforeCommit: a PostgreSQL batch whose connection is lost after its fns ran but
// before its COMMIT was sent (here while it stores its audit records) has committed nothing,
// so its writes run again, each alone, and succeed, once each: none is answered "outcome
// unknown", which only a COMMIT whose answer was lost can be.
func TestLostBeforeCommit(t *testing.T) {
	var armed atomic.Bool
	var cuts atomic.Int32
	addr, db := pgRelay(t, func(c, s net.Conn) {
		relayChunks(c, s, nil, func(chunk []byte) bool {
			// The batch's 4-row audit INSERT is prepared, text and all, on its first use;
			// stopping there closes both ends, the INSERT unsent.
			return armed.Load() && bytes.Contains(chunk, []byte("INSERT INTO audit_log")) && cuts.CompareAndSwap(0, 1)
		})
	})
	ce := newCardEnv(t, func(tb testing.TB, cfg sqlstore.Config) *sqlstore.Store {
		cfg.DSN = "postgres://postgres@" + addr + db + "?sslmode=disable"
		return mustOpen(tb, cfg)
	})
	ce.st.SetAuditMAC(ce.f.Keys)
	p := ce.profile(t, "lost-before-commit")
	mid := ce.f.Creds.MerchantID
	before, err := sqlstore.CountSQL(ce.st, "SELECT COUNT(*) FROM instruments WHERE merchant_id = ?", mid)
	if err != nil {
		t.Fatal(err)
	}
	armed.Store(true)
	const n = 4
	errs := make([]error, n)
	writes := make([]func(), n)
	for i := range writes {
		writes[i] = func() { _, errs[i] = ce.card(p, ce.freshPAN()) }
	}
	mustGather(t, ce.st, writes)
	if cuts.Load() != 1 {
		t.Fatalf("%d cuts, want 1: the batch's audit INSERT was not seen", cuts.Load())
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("card %d = %v; want it stored, run again after its batch lost its connection", i, err)
		}
	}
	after, err := sqlstore.CountSQL(ce.st, "SELECT COUNT(*) FROM instruments WHERE merchant_id = ?", mid)
	if err != nil {
		t.Fatal(err)
	}
	if after-before != n {
		t.Errorf("%d cards stored, want %d", after-before, n)
	}
	if lost := ce.st.WriteStats().LostCommits; lost.Committed+lost.RolledBack+lost.Unknown != 0 {
		t.Errorf("LostCommits = %+v; no COMMIT was sent", lost)
	}
	if problems, err := ce.st.VerifyAudit(context.Background(), ce.f.Keys); err != nil || len(problems) > 0 {
		t.Errorf("audit chains: %v, %v", problems, err)
	}
}
