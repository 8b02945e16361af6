package keys

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCreateFileExclusiveWithoutLink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	if err := createFileExclusive(path, []byte("data\n"), false); err != nil {
		t.Fatalf("createFileExclusive: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(fs.FileMode(0o600), fi.Mode()); d != "" {
		t.Errorf("mode (-want +got)\n%s", d)
	}
	if err := createFileExclusive(path, []byte("other\n"), false); !os.IsExist(err) {
		t.Errorf("second create: error = %v, want exist", err)
	}
	got, _ := os.ReadFile(path)
	if d := cmp.Diff("data\n", string(got)); d != "" {
		t.Errorf("content (-want +got)\n%s", d)
	}
}
