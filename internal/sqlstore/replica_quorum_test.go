package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// TestQuorumStandbys walks the setup docs/operations.md gives under "High availability
// (PostgreSQL)": two synchronous standbys, s1 and s2, with synchronous_standby_names
// 'ANY 1 (s1, s2)', and a node whose DSN names all three servers. Writes go on while s1 is
// cut off; after the primary is lost and s2 promoted, s1 pointed at s2 lets the promoted
// standby (which kept 'ANY 1 (s1, s2)') commit, the node's store finds it with no restart,
// and every write it acknowledged is there.
func TestQuorumStandbys(t *testing.T) {
	ctx := context.Background()
	q := storetest.OwnQuorum(t)
	s1, s2 := q.Standbys[0], q.Standbys[1]
	waitSyncStates(t, q.Primary, map[string]string{"s1": "quorum", "s2": "quorum"})
	dsn, err := q.NewDatabase()
	if err != nil {
		t.Fatal(err)
	}
	// A short write wait: a write that waits for a standby fails the test rather than hang.
	st, err := sqlstore.Open(ctx, sqlstore.Config{DSN: dsn, WriteWait: 2 * time.Second, CommitResolveWait: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	set := func(k, v string) error {
		return st.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, k, v) })
	}

	if err := set("both", "1"); err != nil {
		t.Fatalf("a write with both standbys: %v", err)
	}

	// One standby lost: s2 alone confirms the commits.
	if err := s1.CutFrom(ctx, q.Primary); err != nil {
		t.Fatal(err)
	}
	if err := set("s2-only", "2"); err != nil {
		t.Fatalf("a write with s1 cut off: %v", err)
	}

	// The primary lost: s2, which has both writes, is promoted, and s1 follows it.
	if err := q.Primary.Crash(); err != nil {
		t.Fatal(err)
	}
	if err := s2.Promote(); err != nil {
		t.Fatal(err)
	}
	if err := s1.Follow(ctx, s2); err != nil {
		t.Fatal(err)
	}
	waitSyncStates(t, s2, map[string]string{"s1": "quorum"})
	if err := set("failed-over", "3"); err != nil {
		t.Fatalf("a write after the failover: %v", err)
	}
	for k, want := range map[string]string{"both": "1", "s2-only": "2", "failed-over": "3"} {
		if v, err := st.GetSetting(ctx, k); err != nil || v != want {
			t.Errorf("GetSetting(%q) after the failover = %q, %v; want %q", k, v, err, want)
		}
	}
}

// waitSyncStates waits until the standbys that stream from p are want (application_name to
// sync_state), for up to 15 s.
func waitSyncStates(t *testing.T, p *storetest.Postgres, want map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		got, err := p.SyncStates(ctx)
		if err != nil {
			t.Fatal(err)
		}
		d := cmp.Diff(want, got)
		if d == "" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pg_stat_replication on port %d (-want +got)\n%s", p.Port(), d)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
