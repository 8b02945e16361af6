package keys_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/payvault/payvault/internal/keys"
)

// testKeyB64 is a fixed master key: bytes 0x00..0x1f in base64.
const testKeyB64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

func testKey() keys.MasterKey {
	var mk keys.MasterKey
	for i := range mk {
		mk[i] = byte(i)
	}
	return mk
}

func TestParseMasterKey(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    keys.MasterKey
		wantErr string
	}{
		{name: "ok", in: testKeyB64, want: testKey()},
		{name: "ok/trailing-newline", in: testKeyB64 + "\n", want: testKey()},
		{name: "ok/surrounding-space", in: "  " + testKeyB64 + "\r\n", want: testKey()},
		{name: "fail/empty", in: "", wantErr: "master key is empty"},
		{name: "fail/blank", in: " \n", wantErr: "master key is empty"},
		{name: "fail/short", in: base64.StdEncoding.EncodeToString([]byte("sixteen byte key")), wantErr: "decodes to 16 bytes; want exactly 32"},
		{name: "fail/long", in: base64.StdEncoding.EncodeToString(make([]byte, 33)), wantErr: "decodes to 33 bytes; want exactly 32"},
		{name: "fail/no-padding", in: strings.TrimRight(testKeyB64, "="), wantErr: "not valid standard base64"},
		{name: "fail/url-alphabet", in: base64.URLEncoding.EncodeToString([]byte{0xfb, 0xff, 0xfe, 31: 0xff}), wantErr: "not valid standard base64 (44 characters; want 44, e.g. from `openssl rand -base64 32`): it uses the URL-safe alphabet (- and _); use + and / instead"},
		{name: "fail/hex", in: strings.Repeat("ab", 32), wantErr: "decodes to 48 bytes; want exactly 32 (it looks like hex; the key must be base64)"},
		{name: "fail/inner-space", in: testKeyB64[:20] + " " + testKeyB64[20:], wantErr: "not valid standard base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := keys.ParseMasterKey(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseMasterKey error = %v, want one containing %q", err, tt.wantErr)
				}
				if s := strings.TrimSpace(tt.in); len(s) >= 8 && strings.Contains(err.Error(), s[:8]) {
					t.Errorf("error %q echoes the key", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseMasterKey: %v", err)
			}
			if got != tt.want {
				t.Errorf("ParseMasterKey = %s, want the test key", got.Base64())
			}
		})
	}
}

func TestMasterKeyRedacted(t *testing.T) {
	mk := testKey()
	hexKey := fmt.Sprintf("%x", [32]byte(mk))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		got := fmt.Sprintf(verb, mk)
		if d := cmp.Diff("[redacted]", got); d != "" {
			t.Errorf("Sprintf(%q) (-want +got)\n%s", verb, d)
		}
	}
	var sb strings.Builder
	slog.New(slog.NewJSONHandler(&sb, nil)).Info("x", "key", mk)
	slog.New(slog.NewTextHandler(&sb, nil)).Info("x", "key", mk)
	if out := sb.String(); strings.Contains(out, hexKey) || strings.Contains(out, testKeyB64) || !strings.Contains(out, "redacted") {
		t.Errorf("slog output %q is not redacted", out)
	}
	if d := cmp.Diff(testKeyB64, mk.Base64()); d != "" {
		t.Errorf("Base64 (-want +got)\n%s", d)
	}
}

func TestCreateMasterKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	mk, err := keys.CreateMasterKeyFile(path)
	if err != nil {
		t.Fatalf("CreateMasterKeyFile: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(fs.FileMode(0o600), fi.Mode()); d != "" {
		t.Errorf("mode (-want +got)\n%s", d)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(mk.Base64()+"\n", string(data)); d != "" {
		t.Errorf("file content (-want +got)\n%s", d)
	}
	got, err := keys.ReadMasterKeyFile(path)
	if err != nil {
		t.Fatalf("ReadMasterKeyFile: %v", err)
	}
	if got != mk {
		t.Error("ReadMasterKeyFile returned another key than CreateMasterKeyFile")
	}
	if err := keys.CheckMasterKeyFileMode(path); err != nil {
		t.Errorf("CheckMasterKeyFileMode: %v", err)
	}

	if _, err := keys.CreateMasterKeyFile(path); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second CreateMasterKeyFile: error = %v, want fs.ErrExist", err)
	}
	if again, _ := keys.ReadMasterKeyFile(path); again != mk {
		t.Error("a failed CreateMasterKeyFile changed the key file")
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key file (no temporary files left)", len(entries))
	}

	if _, err := keys.CreateMasterKeyFile(filepath.Join(t.TempDir(), "missing", "master.key")); err == nil {
		t.Error("CreateMasterKeyFile in a missing directory succeeded")
	}
}

func TestReadMasterKeyFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	link := filepath.Join(dir, "link.key")
	if err := os.Symlink(write("target.key", testKeyB64+"\n"), link); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		path    string
		wantErr string
		wantIs  error
	}{
		{name: "ok", path: write("ok.key", testKeyB64+"\n")},
		{name: "ok/no-newline", path: write("bare.key", testKeyB64)},
		{name: "ok/crlf", path: write("crlf.key", testKeyB64+"\r\n")},
		{name: "ok/symlink", path: link},
		{name: "fail/missing", path: filepath.Join(dir, "missing.key"), wantIs: fs.ErrNotExist},
		{name: "fail/directory", path: dir, wantErr: "not a regular file"},
		{name: "fail/empty", path: write("empty.key", ""), wantErr: "master key is empty"},
		{name: "fail/garbage", path: write("garbage.key", "not a key\n"), wantErr: "not valid standard base64"},
		{name: "fail/raw-bytes", path: write("raw.key", string(make([]byte, 32))), wantErr: "not valid standard base64"},
		{name: "fail/too-large", path: write("large.key", strings.Repeat("A", 2000)), wantErr: "larger than"},
	}
	if _, err := os.Stat("/dev/null"); err == nil {
		tests = append(tests, struct {
			name    string
			path    string
			wantErr string
			wantIs  error
		}{name: "fail/device", path: "/dev/null", wantErr: "not a regular file"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := keys.ReadMasterKeyFile(tt.path)
			switch {
			case tt.wantIs != nil:
				if !errors.Is(err, tt.wantIs) {
					t.Fatalf("error = %v, want %v", err, tt.wantIs)
				}
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
			default:
				if err != nil {
					t.Fatalf("ReadMasterKeyFile: %v", err)
				}
				if got != testKey() {
					t.Error("ReadMasterKeyFile returned the wrong key")
				}
			}
		})
	}
}

func TestCheckMasterKeyFileMode(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		mode    fs.FileMode
		wantErr bool
	}{
		{name: "ok/0600", mode: 0o600},
		{name: "ok/0400", mode: 0o400},
		{name: "fail/group-readable", mode: 0o640, wantErr: true},
		{name: "fail/world-readable", mode: 0o644, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, "/", "-"))
			if err := os.WriteFile(path, []byte(testKeyB64), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			err := keys.CheckMasterKeyFileMode(path)
			if d := cmp.Diff(tt.wantErr, err != nil); d != "" {
				t.Errorf("CheckMasterKeyFileMode error = %v (-want +got)\n%s", err, d)
			}
			if err != nil && !strings.Contains(err.Error(), "chmod 600") {
				t.Errorf("error %q does not say how to fix it", err)
			}
			// ReadMasterKeyFile still accepts the file.
			if _, err := keys.ReadMasterKeyFile(path); err != nil {
				t.Errorf("ReadMasterKeyFile: %v", err)
			}
		})
	}
}

func TestLoadOrCreateMasterKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	mk, created, err := keys.LoadOrCreateMasterKeyFile(path)
	if err != nil || !created {
		t.Fatalf("first LoadOrCreateMasterKeyFile = created %v, error %v; want created", created, err)
	}
	again, created, err := keys.LoadOrCreateMasterKeyFile(path)
	if err != nil || created {
		t.Fatalf("second LoadOrCreateMasterKeyFile = created %v, error %v; want loaded", created, err)
	}
	if again != mk {
		t.Error("second call returned another key")
	}

	bad := filepath.Join(t.TempDir(), "bad.key")
	if err := os.WriteFile(bad, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := keys.LoadOrCreateMasterKeyFile(bad); err == nil {
		t.Error("LoadOrCreateMasterKeyFile replaced or accepted a garbage key file")
	}
}

func TestLoadOrCreateMasterKeyFileRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	const n = 8
	var (
		wg      sync.WaitGroup
		got     [n]keys.MasterKey
		created [n]bool
		errs    [n]error
	)
	for i := range n {
		wg.Go(func() { got[i], created[i], errs[i] = keys.LoadOrCreateMasterKeyFile(path) })
	}
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if got[i] != got[0] {
			t.Errorf("call %d got another key than call 0", i)
		}
		if created[i] {
			creators++
		}
	}
	if d := cmp.Diff(1, creators); d != "" {
		t.Errorf("number of calls that created the key (-want +got)\n%s", d)
	}
}

// TestReadMasterKeyFileMessage: a key file's refusal says "keys:" once, and a directory is
// named as one.
func TestReadMasterKeyFileMessage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "short.key")
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(make([]byte, 16))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := keys.ReadMasterKeyFile(path)
	if want := "keys: master key file " + path + ": master key decodes to 16 bytes; want exactly 32"; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
	if _, err := keys.ReadMasterKeyFile(dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: error = %v", err)
	}
}
