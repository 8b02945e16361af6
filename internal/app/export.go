package app

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/vault"
)

// ExportFormat and ExportVersion name the format of the JSON Lines inside an export.
const (
	ExportFormat  = "payvault-export"
	ExportVersion = 1
)

// maxRecipientKey is the largest recipient key file ReadRecipient reads.
const maxRecipientKey = 1 << 20

// Recipient is the OpenPGP public key an export is encrypted to.
type Recipient struct {
	// Fingerprint is the primary key's fingerprint, in upper-case hex.
	Fingerprint string
	// UserID is the key's primary user id ("Name <email>").
	UserID string
	entity *openpgp.Entity
}

// ReadRecipient reads the OpenPGP public key (armored or binary) an export is encrypted to.
// It refuses anything but exactly one entity with a public key only and an encryption key
// valid at now: a private key, several keys, an expired or revoked key, a sign-only key.
func ReadRecipient(path string, now time.Time) (*Recipient, error) {
	e, b, err := readOneKey(path, "recipient key", "OpenPGP public key", "the recipient's public key")
	if err != nil {
		return nil, err
	}
	if e.PrivateKey != nil || bytes.Contains(b[:min(len(b), 1024)], []byte("PRIVATE KEY")) {
		return nil, fmt.Errorf("payvault: %s holds a private key: give the recipient's public key only (gpg --export, not --export-secret-keys), and keep private keys off this machine", path)
	}
	for _, sk := range e.Subkeys {
		if sk.PrivateKey != nil {
			return nil, fmt.Errorf("payvault: %s holds a private subkey: give the recipient's public key only", path)
		}
	}
	r := &Recipient{Fingerprint: strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint)), entity: e}
	if id := e.PrimaryIdentity(); id != nil {
		r.UserID = id.Name
	}
	sig, _ := e.PrimarySelfSignature()
	switch {
	case e.Revoked(now):
		return nil, fmt.Errorf("payvault: the recipient key %s (%s) is revoked", r.Fingerprint, r.UserID)
	case sig == nil:
		return nil, fmt.Errorf("payvault: the recipient key %s has no valid self-signature", r.Fingerprint)
	case e.PrimaryKey.KeyExpired(sig, now) || sig.SigExpired(now):
		return nil, fmt.Errorf("payvault: the recipient key %s (%s) has expired", r.Fingerprint, r.UserID)
	}
	if _, ok := e.EncryptionKey(now); !ok {
		return nil, fmt.Errorf("payvault: the recipient key %s (%s) has no valid encryption key (its encryption subkeys are expired or revoked, or it can only sign)", r.Fingerprint, r.UserID)
	}
	return r, nil
}

// ExportHeader is the first line of an export.
type ExportHeader struct {
	Format   string `json:"format"`
	Version  int    `json:"version"`
	Merchant struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"merchant"`
	Created time.Time `json:"created"`
	// Counts are the merchant's active instruments per kind when the export began.
	Counts map[string]int `json:"counts"`
	// Recipient is the fingerprint of the key the export is encrypted to.
	Recipient string `json:"recipient"`
}

// ExportEnd is the last line of an export: what it holds.
type ExportEnd struct {
	End bool `json:"end"`
	// Counts are the records written per kind, unreadable ones included.
	Counts     map[string]int `json:"counts"`
	Unreadable int            `json:"unreadable"`
	// Mandates counts the mandates the bank account records carry.
	Mandates int `json:"mandates"`
}

// ExportReport is what an export wrote.
type ExportReport struct {
	Header ExportHeader
	// Counts are the records written per kind, unreadable ones included.
	Counts map[string]int
	// Records is how many instrument records were written; Mandates how many mandates they
	// carry.
	Records  int
	Mandates int
	// Unreadable counts the records written without data because they do not open;
	// UnreadableIDs lists the first vault.MaxUnreadableListed of them.
	Unreadable    int
	UnreadableIDs []string
	Bytes         int64
	Took          time.Duration
}

// ErrExportUnreadable marks an export that was written and kept, but holds records that did
// not open.
var ErrExportUnreadable = errors.New("some records do not open")

// Export writes every active card and bank account of a merchant, across both APIs, to a new
// file at out: one OpenPGP message to rcpt (compressed literal data) holding JSON Lines, an
// ExportHeader, one vault.ExportRecord per instrument, and an ExportEnd. The file is created
// with O_EXCL and mode 0600, in a folder that exists (CheckOutFolder); the plaintext exists
// only in memory, one record at a time. On any failure the file is removed. The export is appended to the merchant's audit chain
// (vault.AuditAccountExport) with the recipient's fingerprint and the counts; a failure to
// record it removes the file too. Records that do not open are written with "unreadable":
// true and no data: the file is kept, and the error wraps ErrExportUnreadable. It reads
// through the normal read path and takes no serve lock: servers may run on the store.
func (m *Main) Export(ctx context.Context, merchantID string, rcpt *Recipient, out string) (rep *ExportReport, err error) {
	start := time.Now()
	if err := CheckOutFolder(out); err != nil {
		return nil, err
	}
	mer, err := m.Store.GetMerchant(ctx, merchantID)
	if err != nil {
		if vault.KindOf(err) == vault.NotFound {
			return nil, fmt.Errorf("payvault: no merchant %q in this store; nothing was exported", merchantID)
		}
		return nil, err
	}
	counts, err := m.Vault.CountActiveInstruments(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	// The export is written to out.partial and appears at out only once it is complete and
	// audited (a hard link, which never replaces a file): a file at out was always recorded
	// on the audit chain, even if the process dies between the two.
	if _, err := os.Lstat(out); err == nil {
		return nil, fmt.Errorf("payvault: %s exists: export writes only a new file", out)
	}
	partial := out + ".partial"
	f, err := os.OpenFile(partial, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("payvault: %s exists (an export that did not finish, or one running now): remove it, then export again", partial)
		}
		return nil, fmt.Errorf("payvault: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
			os.Remove(partial)
		}
	}()
	rep = &ExportReport{Counts: map[string]int{}}
	h := &rep.Header
	h.Format, h.Version, h.Created, h.Counts, h.Recipient = ExportFormat, ExportVersion, time.Now().UTC().Truncate(time.Second), counts, rcpt.Fingerprint
	h.Merchant.ID, h.Merchant.Name = mer.ID, mer.Name
	for _, k := range vault.ExportKinds {
		rep.Counts[k] = 0
	}

	cw := &countingWriter{w: f}
	bw := bufio.NewWriterSize(cw, 64<<10)
	cfg := &packet.Config{DefaultCipher: packet.CipherAES256, DefaultHash: crypto.SHA256, DefaultCompressionAlgo: packet.CompressionZLIB}
	pt, err := openpgp.Encrypt(bw, []*openpgp.Entity{rcpt.entity}, nil, &openpgp.FileHints{IsBinary: true, FileName: "payvault-export.jsonl", ModTime: h.Created}, cfg)
	if err != nil {
		return nil, fmt.Errorf("payvault: starting the OpenPGP message: %w", err)
	}
	enc := json.NewEncoder(pt)
	if err := enc.Encode(h); err != nil {
		return nil, fmt.Errorf("payvault: writing the export: %w", err)
	}
	err = m.Vault.Export(ctx, merchantID, func(rec *vault.ExportRecord) error {
		rep.Records++
		rep.Counts[rec.Kind]++
		if rec.BankAccount != nil {
			rep.Mandates += len(rec.BankAccount.Mandates)
		}
		if rec.Unreadable {
			rep.Unreadable++
			if len(rep.UnreadableIDs) < vault.MaxUnreadableListed {
				rep.UnreadableIDs = append(rep.UnreadableIDs, rec.ID)
			}
		}
		if err := enc.Encode(rec); err != nil {
			// The error of a writer names the file, never the record.
			return fmt.Errorf("writing the export: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("payvault: %w", err)
	}
	if err := enc.Encode(ExportEnd{End: true, Counts: rep.Counts, Unreadable: rep.Unreadable, Mandates: rep.Mandates}); err != nil {
		return nil, fmt.Errorf("payvault: writing the export: %w", err)
	}
	if err := pt.Close(); err != nil {
		return nil, fmt.Errorf("payvault: finishing the OpenPGP message: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("payvault: writing the export: %w", err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("payvault: writing the export: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("payvault: writing the export: %w", err)
	}
	rep.Bytes = cw.n
	if err := m.Store.Audit(vault.WithActor(ctx, "cli"), merchantID, vault.AuditAccountExport, "export", exportAuditID(rcpt, rep)); err != nil {
		return nil, fmt.Errorf("payvault: the export could not be recorded on the audit chain, so its file was removed: %w", err)
	}
	keep = true // recorded: from here on the file is kept, whatever happens
	if err := os.Link(partial, out); err != nil {
		return nil, fmt.Errorf("payvault: the export is complete and recorded on the audit chain, but could not be named %s (%w): it is in %s", out, err, partial)
	}
	if err := os.Remove(partial); err != nil {
		return nil, fmt.Errorf("payvault: the export is in %s, but %s could not be removed: %w", out, partial, err)
	}
	if err := keys.SyncDir(filepath.Dir(out)); err != nil {
		return nil, fmt.Errorf("payvault: the export is in %s, but its directory could not be synced: %w", out, err)
	}
	rep.Took = time.Since(start)
	if rep.Unreadable > 0 {
		return rep, fmt.Errorf("payvault: %d of the %d records do not open and were written without data (\"unreadable\":true); %s was kept with every other record: %w", rep.Unreadable, rep.Records, out, ErrExportUnreadable)
	}
	return rep, nil
}

// exportAuditID is the export's audit record id: the recipient's fingerprint and the counts.
func exportAuditID(rcpt *Recipient, rep *ExportReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "recipient=%s", rcpt.Fingerprint)
	for _, k := range vault.ExportKinds {
		fmt.Fprintf(&b, " %s=%d", k, rep.Counts[k])
	}
	fmt.Fprintf(&b, " mandates=%d unreadable=%d", rep.Mandates, rep.Unreadable)
	return b.String()
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// readOneKey reads the one OpenPGP key (armored or binary) of the file at path, and its bytes.
// what names the file, kind the key it must be, and one the key the operator should give.
func readOneKey(path, what, kind, one string) (*openpgp.Entity, []byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("payvault: the %s: %w", what, err)
	}
	if len(b) > maxRecipientKey {
		return nil, nil, fmt.Errorf("payvault: the %s %s is larger than %d bytes: give one %s", what, path, maxRecipientKey, kind)
	}
	var list openpgp.EntityList
	if bytes.Contains(b[:min(len(b), 1024)], []byte("-----BEGIN PGP")) {
		// The armor reader reads the first block only: keys concatenated as armored
		// files (cat a.asc b.asc) would pass as the first one alone.
		if n := bytes.Count(b, []byte("-----BEGIN PGP")); n > 1 {
			return nil, nil, fmt.Errorf("payvault: %s holds %d armored blocks: give exactly one, %s", path, n, one)
		}
		list, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(b))
	} else {
		list, err = openpgp.ReadKeyRing(bytes.NewReader(b))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("payvault: %s is not an %s (%v)", path, kind, err)
	}
	if len(list) != 1 {
		return nil, nil, fmt.Errorf("payvault: %s holds %d OpenPGP keys: give exactly one, %s", path, len(list), one)
	}
	return list[0], b, nil
}
