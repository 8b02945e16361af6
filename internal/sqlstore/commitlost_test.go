package sqlstore_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
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
	go io.Copy(c, s)
	marked := false
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			marked = marked || bytes.Contains(chunk, marker)
			if marked && bytes.Contains(bytes.ToLower(chunk), []byte("commit\x00")) && fired.CompareAndSwap(0, 1) && at(chunk) {
				return
			}
			if _, err := s.Write(chunk); err != nil {
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
