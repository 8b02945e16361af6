package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/payvault/payvault/internal/keys"
)

// TestBenchMasterKeyFileBeatsEnvironment: bench's --master-key-file beats
// PAYVAULT_BENCH_MASTER_KEY, as serve's --master-key-file beats PAYVAULT_MASTER_KEY.
func TestBenchMasterKeyFileBeatsEnvironment(t *testing.T) {
	file, env := keys.NewMasterKey(), keys.NewMasterKey()
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, []byte(file.Base64()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PAYVAULT_BENCH_MASTER_KEY", env.Base64())
	for _, tc := range []struct {
		name string
		cmd  benchCmd
		want keys.MasterKey
	}{
		{"ok/file-beats-env", benchCmd{MasterKeyFile: path}, file},
		{"ok/env-without-file", benchCmd{}, env},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cmd.masterKey()
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || got.Base64() != tc.want.Base64() {
				t.Error("bench took the other master key")
			}
		})
	}
	t.Setenv("PAYVAULT_BENCH_MASTER_KEY", "")
	if _, err := (&benchCmd{MasterKeyFile: path}).masterKey(); err != nil {
		t.Errorf("an empty variable beside --master-key-file: %v", err)
	}
}
