package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/storetest"
)

// TestReadWaitConfig: a PostgreSQL store's reads are bounded by Config.ReadWait, 30 s when
// it is 0, and not at all when it is negative (the CLI's tools).
func TestReadWaitConfig(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	for _, tt := range []struct {
		name string
		cfg  time.Duration
		want time.Duration
	}{
		{"ok/default", 0, defaultReadWait},
		{"ok/set", 2 * time.Second, 2 * time.Second},
		{"ok/unbounded", -1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(context.Background(), Config{DSN: dsn, ReadWait: tt.cfg})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.q.readWait != tt.want {
				t.Errorf("readWait = %v, want %v", s.q.readWait, tt.want)
			}
			ctx, end := s.q.readBound(context.Background())
			defer end()
			if _, bounded := ctx.Deadline(); bounded != (tt.want > 0) {
				t.Errorf("a read's context has a deadline: %v, want %v", bounded, tt.want > 0)
			}
		})
	}
}
