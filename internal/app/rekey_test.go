package app

import (
	"context"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/logtest"
)

// TestRekeyJobQuiet shows that the re-encryption job does not scan the store every tick: one
// pass at start, passes every tick after a key rotation until it has settled, then none.
func TestRekeyJobQuiet(t *testing.T) {
	log, _ := logtest.New(t)
	const every = 5 * time.Millisecond
	m, err := Open(context.Background(), Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: log, Out: &nopWriter{}, KeyRefresh: every})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.rekey.run(ctx, every); close(done) }()
	defer func() { cancel(); <-done }()

	waitQuiet := func() int64 {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			n := m.rekey.passes.Load()
			time.Sleep((rekeySettleTicks + 10) * every)
			if m.rekey.passes.Load() == n && n > 0 {
				return n
			}
			if time.Now().After(deadline) {
				t.Fatalf("the job never settles: %d passes", m.rekey.passes.Load())
			}
		}
	}
	start := waitQuiet()
	if start > 2 {
		t.Errorf("%d passes at start on an idle store, want 1", start)
	}
	if _, err := m.Keyring.Rotate(context.Background(), "data"); err != nil {
		t.Fatal(err)
	}
	after := waitQuiet()
	if after-start < rekeySettleTicks/2 {
		t.Errorf("%d passes after a rotation, want about %d (one a tick until settled)", after-start, rekeySettleTicks)
	}
}
