package keys

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// MasterKeySize is the length of a master key in bytes.
const MasterKeySize = 32

// maxMasterKeyFileSize bounds how much of a key file is read. A key file
// holds 44 characters of base64 and a newline; anything much longer is not
// a key file.
const maxMasterKeyFileSize = 1 << 10

// MasterKey is the 32-byte root key. It encrypts the keysets stored in the
// database and nothing else.
//
// A MasterKey formats as "[redacted]" with every fmt verb and in slog, so a
// stray log line cannot leak it. Use Base64 to print it on purpose.
type MasterKey [MasterKeySize]byte

// NewMasterKey returns a fresh master key from crypto/rand.
func NewMasterKey() MasterKey {
	var mk MasterKey
	if _, err := rand.Read(mk[:]); err != nil {
		panic("keys: crypto/rand failed: " + err.Error())
	}
	return mk
}

// ParseMasterKey decodes a master key from standard base64 (with padding).
// Surrounding white space, such as a trailing newline, is ignored. The
// error never echoes the input.
func ParseMasterKey(b64 string) (MasterKey, error) {
	var mk MasterKey
	s := strings.TrimSpace(b64)
	if s == "" {
		return mk, errors.New("keys: master key is empty")
	}
	// Go's decoder skips CR and LF anywhere, even in strict mode; a key broken across lines
	// is a damaged key file, not the key.
	raw, err := base64.StdEncoding.Strict().DecodeString(s)
	if err == nil && strings.ContainsAny(s, "\r\n") {
		clear(raw)
		err = errors.New("line break inside")
	}
	if err != nil {
		hint := ""
		if _, uerr := base64.URLEncoding.Strict().DecodeString(s); uerr == nil && strings.ContainsAny(s, "-_") {
			hint = ": it uses the URL-safe alphabet (- and _); use + and / instead"
		}
		return mk, fmt.Errorf("keys: master key is not valid standard base64 (%d characters; want %d, e.g. from `openssl rand -base64 32`)%s",
			len(s), base64.StdEncoding.EncodedLen(MasterKeySize), hint)
	}
	if len(raw) != MasterKeySize {
		clear(raw)
		hint := ""
		if len(s) == 2*MasterKeySize && strings.Trim(s, "0123456789abcdefABCDEF") == "" {
			hint = " (it looks like hex; the key must be base64)"
		}
		return mk, fmt.Errorf("keys: master key decodes to %d bytes; want exactly %d%s", len(raw), MasterKeySize, hint)
	}
	copy(mk[:], raw)
	clear(raw)
	return mk, nil
}

// Base64 returns the key in standard base64, the form ParseMasterKey and
// key files use.
func (mk MasterKey) Base64() string {
	return base64.StdEncoding.EncodeToString(mk[:])
}

// Format implements fmt.Formatter. It prints "[redacted]" for every verb.
func (mk MasterKey) Format(f fmt.State, verb rune) {
	io.WriteString(f, "[redacted]")
}

// LogValue implements slog.LogValuer. It logs "[redacted]".
func (mk MasterKey) LogValue() slog.Value {
	return slog.StringValue("[redacted]")
}

// ReadMasterKeyFile reads a master key from a file that holds its base64
// text and an optional trailing newline.
//
// It follows symbolic links (secret mounts are often links) and returns an
// error if the path is not a regular file. It does not refuse a file that
// its group or others can read; call CheckMasterKeyFileMode to warn about
// that. A missing file gives an error that wraps fs.ErrNotExist.
func ReadMasterKeyFile(path string) (MasterKey, error) {
	var mk MasterKey
	fi, err := os.Stat(path)
	if err != nil {
		return mk, fmt.Errorf("keys: master key file: %w", err)
	}
	if err := regularKeyFile(path, fi); err != nil {
		return mk, err
	}
	f, err := os.Open(path)
	if err != nil {
		return mk, fmt.Errorf("keys: master key file: %w", err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return mk, fmt.Errorf("keys: master key file: %w", err)
	}
	if err := regularKeyFile(path, fi); err != nil {
		return mk, err
	}
	buf := make([]byte, maxMasterKeyFileSize+1)
	defer clear(buf)
	n, err := io.ReadFull(f, buf)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
	case err != nil:
		return mk, fmt.Errorf("keys: master key file %s: read: %w", path, err)
	default:
		return mk, fmt.Errorf("keys: master key file %s is larger than %d bytes; it is not a key file", path, maxMasterKeyFileSize)
	}
	mk, err = ParseMasterKey(string(buf[:n]))
	if err != nil {
		// ParseMasterKey's message, without its own "keys: " (it would say it twice).
		return mk, fmt.Errorf("keys: master key file %s: %s", path, strings.TrimPrefix(err.Error(), "keys: "))
	}
	return mk, nil
}

// regularKeyFile refuses a master key path that is not a regular file.
func regularKeyFile(path string, fi os.FileInfo) error {
	switch {
	case fi.IsDir():
		return fmt.Errorf("keys: master key file %s is a directory, not a regular file: give the key file in it", path)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("keys: master key file %s is not a regular file (mode %s)", path, fi.Mode().Type())
	}
	return nil
}

// CheckMasterKeyFileMode returns an error if the master key file at path
// can be read or written by its group or by others. ReadMasterKeyFile does
// not refuse such a file; the caller should log this error as a warning.
func CheckMasterKeyFileMode(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("keys: master key file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("keys: master key file %s has mode %04o, so other users may read it; run chmod 600 %s", path, perm, path)
	}
	return nil
}

// CreateMasterKeyFile creates a new master key from crypto/rand and writes
// it to a new file at path, in base64 with a trailing newline, with mode
// 0600. It refuses to overwrite an existing file (the error wraps
// fs.ErrExist). It syncs the file and its directory before it returns, so
// the key survives a crash once the call has succeeded.
//
// The file appears at path complete or not at all: the key is written to
// a temporary file (created with O_EXCL) in the same directory, synced,
// and then hard-linked to path, which fails if path exists. On a file
// system without hard links it falls back to writing path directly with
// O_EXCL.
func CreateMasterKeyFile(path string) (MasterKey, error) {
	mk := NewMasterKey()
	data := []byte(mk.Base64() + "\n")
	defer clear(data)
	if err := createFileExclusive(path, data, true); err != nil {
		return MasterKey{}, fmt.Errorf("keys: create master key file: %w", err)
	}
	return mk, nil
}

// CreateFile writes data to a new file at path, mode 0600, complete or not at all (a
// temporary file linked into place), and syncs the file and its directory before it
// returns. It fails with fs.ErrExist when path exists.
func CreateFile(path string, data []byte) error {
	return createFileExclusive(path, data, true)
}

// createFileExclusive writes data to a new file at path with mode 0600 and
// syncs the file and its directory. With viaLink it writes a temporary
// file and links it into place; if linking is not supported it writes path
// directly.
func createFileExclusive(path string, data []byte, viaLink bool) error {
	dir := filepath.Dir(path)
	if viaLink {
		tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
		if err != nil {
			return err
		}
		tmpName := tmp.Name()
		defer os.Remove(tmpName)
		if err := writeSyncClose(tmp, data); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		err = os.Link(tmpName, path)
		switch {
		case err == nil:
			// Drop the temporary name before the directory sync, so that
			// no second copy of the key survives a crash.
			os.Remove(tmpName)
			return SyncDir(dir)
		case errors.Is(err, fs.ErrExist):
			return err
		}
		// No hard links here (some network and FUSE file systems): write
		// path directly below.
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := writeSyncClose(f, data); err != nil {
		os.Remove(path)
		return fmt.Errorf("%s: %w", path, err)
	}
	return SyncDir(dir)
}

// writeSyncClose makes f mode 0600, writes data, syncs and closes f.
func writeSyncClose(f *os.File, data []byte) error {
	// The umask can only clear bits, but make the mode explicit anyway.
	err := f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SyncDir fsyncs a directory so that a new entry in it (a key file, an export) is durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// LoadOrCreateMasterKeyFile reads the master key file at path, or creates
// it with CreateMasterKeyFile when it does not exist. created reports
// whether a new key was made. When two processes race to create the file,
// the loser reads the winner's key (the file appears complete, see
// CreateMasterKeyFile).
//
// A file that exists but does not hold a key is an error, never a reason
// to make a new key.
func LoadOrCreateMasterKeyFile(path string) (mk MasterKey, created bool, err error) {
	mk, err = ReadMasterKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return mk, false, err
	}
	mk, err = CreateMasterKeyFile(path)
	if errors.Is(err, fs.ErrExist) {
		mk, err = ReadMasterKeyFile(path)
		return mk, false, err
	}
	return mk, err == nil, err
}
