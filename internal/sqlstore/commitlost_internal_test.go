package sqlstore

import (
	"context"
	"errors"
	"testing"

	"github.com/payvault/payvault/internal/storetest"
)

// TestResolveCommitTimeline: a lost COMMIT is resolved by txid_status only on the timeline
// the transaction ran on. A server on another timeline (a promoted standby, a restore) did
// not see the commits the old primary made after it forked, and hands their transaction ids
// out again: its answer about the id is about another transaction, so the outcome stays
// unknown.
func TestResolveCommitTimeline(t *testing.T) {
	s, err := Open(context.Background(), Config{DSN: storetest.PostgresDSN(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var tx pgTx
	if err := conn.QueryRowContext(ctx, txidSQL).Scan(&tx.id, &tx.timeline); err != nil {
		t.Fatal(err)
	}
	lost := errors.New("conn closed")
	for _, tt := range []struct {
		name     string
		timeline string
		want     error
	}{
		{"ok/same-timeline", tx.timeline, nil},
		{"fail/other-timeline", "000000FF", lost},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.resolveCommit(pgTx{id: tx.id, timeline: tt.timeline}, lost); got != tt.want {
				t.Errorf("resolveCommit = %v, want %v", got, tt.want)
			}
		})
	}
}
