package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/keys"
)

// TestReadinessShared: callers within readyFor of a check share its answer (one database
// check for a flood of /healthz and monitor calls), a caller that left does not fail the
// check, and a later caller sees a new answer.
func TestReadinessShared(t *testing.T) {
	var checks atomic.Int32
	var down atomic.Bool
	r := &readiness{check: func(ctx context.Context) error {
		checks.Add(1)
		if err := ctx.Err(); err != nil {
			return err
		}
		if down.Load() {
			return errors.New("down")
		}
		return nil
	}}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Ready(gone); err != nil {
		t.Fatalf("a caller that left: %v", err)
	}
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Ready(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := checks.Load(); n != 1 {
		t.Errorf("%d checks for 101 callers within %v; want 1", n, readyFor)
	}
	down.Store(true)
	r.at = r.at.Add(-readyFor - time.Millisecond) // the answer is old
	if err := r.Ready(context.Background()); err == nil {
		t.Error("a check after the interval kept the old answer")
	}
}

// TestMasterKeyFileModeWarned: a master key file others may read is used, with a warning.
func TestMasterKeyFileModeWarned(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mk")
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(make([]byte, 32))+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m := &Main{Config: Config{MasterKeyFile: path, Logger: slog.New(slog.NewTextHandler(&buf, nil))}}
	if _, err := m.masterKey(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "master key file is not private") {
		t.Errorf("log = %q; want a warning", buf.String())
	}
}

// TestDataDirModeWarned: a data dir made before payvault (or by hand) that other users may list,
// whichever way the master key comes, is used with one warning; one payvault made is 0700
// and warns of nothing.
func TestDataDirModeWarned(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	keyFile := filepath.Join(t.TempDir(), "mk")
	if err := os.WriteFile(keyFile, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	mk, err := keys.ParseMasterKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// The database in the dir can be swapped or read however the key comes.
	sources := []struct {
		name string
		set  func(*Config)
	}{
		{"data-dir-key", func(*Config) {}},
		{"master-key-file", func(c *Config) { c.MasterKeyFile = keyFile }},
		{"environment", func(c *Config) { c.MasterKey = key }},
		{"unseal", func(c *Config) { c.MasterKeyValue = &mk }},
	}
	for _, src := range sources {
		for _, tt := range []struct {
			name string
			mode os.FileMode
			warn bool
		}{{"open", 0o755, true}, {"private", 0o700, false}} {
			t.Run(tt.name+"/"+src.name, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "data")
				if err := os.Mkdir(dir, tt.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dir, tt.mode); err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				cfg := Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(&buf, nil))}
				src.set(&cfg)
				m, err := OpenTool(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				m.Close()
				if got := strings.Count(buf.String(), "data dir is not private"); got != map[bool]int{true: 1}[tt.warn] {
					t.Errorf("warned %d times, want warn = %v; log = %q", got, tt.warn, buf.String())
				}
			})
		}
	}
}
