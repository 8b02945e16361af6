package storetest

import (
	"os"
	"testing"
)

// MustReadFiles reads the files at paths, in order: a store's files (payvault.db, its -wal
// and -shm), to check that something left them byte for byte as they were.
func MustReadFiles(tb testing.TB, paths ...string) [][]byte {
	tb.Helper()
	var b [][]byte
	for _, p := range paths {
		f, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		b = append(b, f)
	}
	return b
}
