package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/storetest"
)

// TestResolveCommitMark: a lost COMMIT is resolved by claiming its transaction's mark:
// committed when the mark is there, rolled back when it is not (and the transaction can then
// never commit), and, while the transaction still runs, whatever it ends with.
func TestResolveCommitMark(t *testing.T) {
	s, err := Open(context.Background(), Config{DSN: storetest.PostgresDSN(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	lost := errors.New("conn closed")
	// begin opens a transaction that has stored its mark.
	begin := func(t *testing.T) (*sql.Tx, commitMark) {
		t.Helper()
		sqltx, err := s.wdb.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		m, err := (&txConn{tx: sqltx, pg: true}).markCommit()
		if err != nil {
			t.Fatal(err)
		}
		return sqltx, m
	}
	t.Run("ok/committed", func(t *testing.T) {
		sqltx, m := begin(t)
		if err := sqltx.Commit(); err != nil {
			t.Fatal(err)
		}
		if got := s.resolveCommit(m, lost); got != nil {
			t.Errorf("resolveCommit = %v, want nil", got)
		}
	})
	t.Run("ok/never-stored", func(t *testing.T) {
		m := newCommitMark()
		for i := range 2 { // the second answer is the first claim's
			if got := s.resolveCommit(m, lost); got != errCommitAborted {
				t.Errorf("resolveCommit %d = %v, want %v", i, got, errCommitAborted)
			}
		}
		// The claimed mark fences the transaction off: it cannot store its mark now.
		sqltx, err := s.wdb.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer sqltx.Rollback()
		if _, err := (&txConn{tx: sqltx, pg: true}).execDirect(ctx, markSQL, []byte(m)); err == nil {
			t.Error("a claimed mark was stored again")
		}
	})
	for _, commit := range []bool{true, false} {
		name := map[bool]string{true: "ok/in-progress-then-committed", false: "ok/in-progress-then-rolled-back"}[commit]
		t.Run(name, func(t *testing.T) {
			sqltx, m := begin(t)
			end := time.AfterFunc(300*time.Millisecond, func() {
				if commit {
					sqltx.Commit()
				} else {
					sqltx.Rollback()
				}
			})
			defer end.Stop()
			want := map[bool]error{true: nil, false: errCommitAborted}[commit]
			if got := s.resolveCommit(m, lost); got != want {
				t.Errorf("resolveCommit = %v, want %v", got, want)
			}
		})
	}
	t.Run("fail/still-running", func(t *testing.T) {
		s.resolveWait = 500 * time.Millisecond
		defer func() { s.resolveWait = commitResolveWait }()
		sqltx, m := begin(t)
		defer sqltx.Rollback()
		if got := s.resolveCommit(m, lost); got != lost {
			t.Errorf("resolveCommit = %v, want %v", got, lost)
		}
	})
}

// TestResolveCommitReusedID: a PostgreSQL crash restart on the same timeline forgets a
// transaction whose WAL was not yet flushed, and hands its transaction id out again. A lost
// COMMIT of the forgotten transaction must not be answered "committed" because another
// transaction with the same id committed after the restart.
func TestResolveCommitReusedID(t *testing.T) {
	// A long WAL writer delay keeps the first transaction's WAL in memory until the crash.
	p, err := storetest.StartPostgresWith(storetest.PostgresOptions{Durable: true, Settings: "-c wal_writer_delay=10000"})
	if err != nil {
		t.Skip(err) // the shared server's test decides whether a missing PostgreSQL fails
	}
	defer p.Stop()
	dsn, err := p.NewDatabase()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

	// The first transaction writes and reads its reference, and never commits.
	sqltx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var xid1 int64
	if err := sqltx.QueryRowContext(ctx, "SELECT txid_current()").Scan(&xid1); err != nil {
		t.Fatal(err)
	}
	c := &txConn{tx: sqltx, pg: true}
	ref, err := c.markCommit()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Crash(); err != nil {
		t.Fatal(err)
	}
	sqltx.Rollback()
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}

	// After the restart, another transaction commits, maybe with the same id.
	var xid2 int64
	for i := 0; ; i++ {
		err = func() error {
			tx2, err := s.wdb.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx2.Rollback()
			if err := tx2.QueryRowContext(ctx, "SELECT txid_current()").Scan(&xid2); err != nil {
				return err
			}
			if _, err := tx2.ExecContext(ctx, "CREATE TABLE after_restart (n int)"); err != nil {
				return err
			}
			return tx2.Commit()
		}()
		if err == nil || i == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("transaction id before the crash %d, after %d", xid1, xid2)
	if got := s.resolveCommit(ref, errors.New("conn closed")); got != errCommitAborted {
		t.Errorf("resolveCommit of the forgotten transaction = %v, want %v", got, errCommitAborted)
	}
}

// TestPruneCommitMarks: marks older than commitMarkKeep go, however many, newer ones stay.
func TestPruneCommitMarks(t *testing.T) {
	s, err := Open(context.Background(), Config{DSN: storetest.PostgresDSN(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	old, fresh := newCommitMark(), newCommitMark()
	if _, err := s.wdb.ExecContext(ctx, "INSERT INTO commit_marks (mark, at) VALUES ($1, (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT - $2)", []byte(old), (commitMarkKeep + time.Minute).Milliseconds()); err != nil {
		t.Fatal(err)
	}
	// More old marks than one statement deletes: a minute's marks of a busy node.
	if _, err := s.wdb.ExecContext(ctx, "INSERT INTO commit_marks (mark, at) SELECT int8send(n), 0 FROM generate_series(1, $1::int8) n", 2*pruneBatch+1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.wdb.ExecContext(ctx, markSQL, []byte(fresh)); err != nil {
		t.Fatal(err)
	}
	if err := s.pruneCommitMarks(ctx); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := s.wdb.QueryRowContext(ctx, "SELECT count(*) FROM commit_marks").Scan(&left); err != nil || left != 1 {
		t.Errorf("marks left after pruning: %d, %v; want the fresh one", left, err)
	}
	for _, tt := range []struct {
		name string
		mark commitMark
		want bool
	}{{"old", old, false}, {"fresh", fresh, true}} {
		var n int
		if err := s.wdb.QueryRowContext(ctx, "SELECT count(*) FROM commit_marks WHERE mark = $1", []byte(tt.mark)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if (n == 1) != tt.want {
			t.Errorf("%s mark kept: %v, want %v", tt.name, n == 1, tt.want)
		}
	}
}
