//go:build !unix

package sqlstore

import (
	"fmt"
	"os"
)

// fileLocks says lockFile does not lock here: other serving processes may share a database.
const fileLocks = false

// lockFile opens path; without flock the serve lock is advisory only on this system.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: serve lock: %w", err)
	}
	return f, nil
}

// unlockFile closes a file opened by lockFile.
func unlockFile(f *os.File) error { return f.Close() }
