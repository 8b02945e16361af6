package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"modernc.org/sqlite"
)

// countConnector opens SQLite connections whose prepared statements it counts: open is the
// number of driver statements prepared and not yet closed.
type countConnector struct {
	dsn  string
	open *atomic.Int64
}

func (c countConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := (&sqlite.Driver{}).Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &countConn{Conn: conn, open: c.open}, nil
}

func (c countConnector) Driver() driver.Driver { return &sqlite.Driver{} }

// countConn exposes only driver.Conn, so database/sql prepares every statement through it.
type countConn struct {
	driver.Conn
	open *atomic.Int64
}

func (c *countConn) Prepare(query string) (driver.Stmt, error) {
	st, err := c.Conn.Prepare(query)
	if err != nil {
		return nil, err
	}
	c.open.Add(1)
	return &countStmt{Stmt: st, open: c.open}, nil
}

type countStmt struct {
	driver.Stmt
	open   *atomic.Int64
	closed sync.Once
}

func (s *countStmt) Close() error {
	s.closed.Do(func() { s.open.Add(-1) })
	return s.Stmt.Close()
}

// MustCountDB opens a SQLite database of conns connections whose open driver statements
// *open counts. Cleanup closes it, after checking that no statement was left open.
func MustCountDB(tb testing.TB, conns int) (db *sql.DB, open *atomic.Int64) {
	tb.Helper()
	open = new(atomic.Int64)
	db = sql.OpenDB(countConnector{dsn: "file:" + filepath.Join(tb.TempDir(), "stmts.db") + "?_pragma=busy_timeout(5000)", open: open})
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	tb.Cleanup(func() { db.Close() })
	return db, open
}

// oneOff is the i-th of many distinct queries, like the list queries built per request.
// With the argument 1 it answers i+1.
func oneOff(i int) string { return fmt.Sprintf("SELECT %d + ?", i) }

// read runs query with the argument 1 through p, by QueryContext when rows is set and by
// QueryRowContext otherwise, and reports whether it answered want+1 (an error otherwise).
// It may run on any goroutine.
func read(tb testing.TB, p *poolConn, query string, want int, rows bool) bool {
	tb.Helper()
	ctx := context.Background()
	var got int
	var err error
	if rows {
		var r *sql.Rows
		if r, err = p.QueryContext(ctx, query, 1); err == nil {
			for r.Next() {
				r.Scan(&got)
			}
			err = r.Close()
		}
	} else {
		err = p.QueryRowContext(ctx, query, 1).Scan(&got)
	}
	if err != nil || got != want+1 {
		tb.Errorf("%s: %d, %v; want %d", query, got, err, want+1)
		return false
	}
	return true
}

// checkNoneOpen checks that no driver statement is open.
func checkNoneOpen(tb testing.TB, open *atomic.Int64) {
	tb.Helper()
	if n := open.Load(); n != 0 {
		tb.Errorf("%d statements open after close, want 0", n)
	}
}

// TestPoolConnKeepsHotQuery: once more than maxStmts distinct reads have filled the read
// pool's cache, a query first seen after that, and used again now and then, is still served
// prepared, the cache stays bounded, and closing it leaves no statement open, even while
// rows of one of its statements are open.
func TestPoolConnKeepsHotQuery(t *testing.T) {
	db, open := MustCountDB(t, 4)
	p := &poolConn{db: db}
	const hot = "SELECT 1000000 + ?"
	for i := range 3 * maxStmts {
		if i >= maxStmts && i%16 == 0 && !read(t, p, hot, 1000000, false) {
			t.FailNow()
		}
		if !read(t, p, oneOff(i), i, false) {
			t.FailNow()
		}
	}
	if _, ok := p.stmts.Load(hot); !ok {
		t.Errorf("the hot query is not prepared")
	}
	n := 0
	p.stmts.Range(func(any, any) bool { n++; return true })
	if n > maxStmts {
		t.Errorf("%d statements cached, want at most %d", n, maxStmts)
	}
	rows, err := p.QueryContext(context.Background(), hot, 1)
	if err != nil {
		t.Fatal(err)
	}
	p.close()
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	rows.Close()
	checkNoneOpen(t, open)
}

// TestPoolConnEvictConcurrent: readers running more distinct queries than the cache holds,
// so that statements are evicted and closed while others run them, see no error, and
// closing the cache leaves no statement open.
func TestPoolConnEvictConcurrent(t *testing.T) {
	db, open := MustCountDB(t, 8)
	p := &poolConn{db: db}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for j := range 300 {
				i := (g*7919 + j*31) % (3 * maxStmts)
				if !read(t, p, oneOff(i), i, j%2 == 1) {
					return
				}
			}
		})
	}
	wg.Wait()
	p.close()
	checkNoneOpen(t, open)
}

// TestPoolConnEvictedBeforeQuery: a reader that took a statement from the cache just before
// it was evicted and closed runs its query unprepared instead of failing.
func TestPoolConnEvictedBeforeQuery(t *testing.T) {
	db, open := MustCountDB(t, 2)
	p := &poolConn{db: db}
	e := p.stmt(context.Background(), oneOff(1))
	if e == nil {
		t.Fatal("not prepared")
	}
	// The state a reader sees when the entry it loaded is evicted before it runs the query.
	e.closed.Store(true)
	e.st.Close()
	read(t, p, oneOff(1), 1, false)
	read(t, p, oneOff(1), 1, true)
	p.close()
	checkNoneOpen(t, open)
}

// TestStmtCacheKeepsHotQuery: once more than maxStmts distinct statements have gone through
// the write connection's cache, a statement first seen after that, and run again now and
// then, is still prepared; the transactions see no error, and closing the cache leaves no
// statement open.
func TestStmtCacheKeepsHotQuery(t *testing.T) {
	db, open := MustCountDB(t, 1)
	c := newStmtCache(db)
	ctx := context.Background()
	const hot = "SELECT 1000000 + ?"
	// run runs queries in one transaction, as a batch does, then prepares what it noted.
	run := func(queries []string, want []int) {
		t.Helper()
		sqltx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		tc := &txConn{tx: sqltx, stmts: c}
		for k, q := range queries {
			var got int
			if err := tc.QueryRowContext(ctx, q, 1).Scan(&got); err != nil || got != want[k]+1 {
				t.Fatalf("%s: %d, %v; want %d", q, got, err, want[k]+1)
			}
		}
		if err := sqltx.Commit(); err != nil {
			t.Fatal(err)
		}
		c.prepare()
	}
	for i := 0; i < 3*maxStmts; i += 4 {
		qs, want := []string{oneOff(i), oneOff(i + 1), oneOff(i + 2), oneOff(i + 3)}, []int{i, i + 1, i + 2, i + 3}
		if i >= maxStmts && i%16 == 0 {
			qs, want = append(qs, hot), append(want, 1000000)
		}
		run(qs, want)
	}
	if c.get(hot) == nil {
		t.Errorf("the hot statement is not prepared")
	}
	c.close()
	checkNoneOpen(t, open)
}

// BenchmarkPoolConnHit is the read cache's hit path alone (stmt), and with a trivial query
// run through it (row), from parallel readers.
func BenchmarkPoolConnHit(b *testing.B) {
	db, _ := MustCountDB(b, 8)
	p := &poolConn{db: db}
	defer p.close()
	ctx := context.Background()
	queries := make([]string, maxStmts)
	for i := range queries {
		queries[i] = oneOff(i)
		p.stmt(ctx, queries[i])
	}
	b.Run("stmt", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if p.stmt(ctx, queries[i%8]) == nil {
					b.Error("not prepared")
				}
			}
		})
	})
	b.Run("row", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			var got int
			for pb.Next() {
				if err := p.QueryRowContext(ctx, queries[1], 1).Scan(&got); err != nil {
					b.Error(err)
				}
			}
		})
	})
}
