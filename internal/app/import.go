package app

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/payvault/payvault/internal/vault"
)

// exportFileName is the literal-data name Export gives the JSON Lines inside its message.
const exportFileName = "payvault-export.jsonl"

// maxExportLine is the longest line Import reads; an export's lines are a few hundred bytes.
const maxExportLine = 1 << 20

// importBatch is how many records Import writes in one transaction (one fsync on SQLite).
const importBatch = 256

// maxImportProblems is how many problems an ImportReport lists; it counts them all.
const maxImportProblems = 100

// ImportKey is the operator's OpenPGP private key an export is decrypted with. It lives in
// memory only.
type ImportKey struct {
	// Fingerprint is the primary key's fingerprint, in upper-case hex.
	Fingerprint string
	UserID      string
	entity      *openpgp.Entity
}

// ReadImportKey reads the OpenPGP private key (armored or binary) an export was encrypted
// to, and unlocks it with passphrase when it is protected. It refuses a public key only,
// several keys, and a protected key without the right passphrase.
func ReadImportKey(path string, passphrase []byte) (*ImportKey, error) {
	e, _, err := readOneKey(path, "private key", "OpenPGP private key", "the private key the export was encrypted to")
	if err != nil {
		return nil, err
	}
	k := &ImportKey{Fingerprint: strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint)), entity: e}
	if id := e.PrimaryIdentity(); id != nil {
		k.UserID = id.Name
	}
	hasPrivate := e.PrivateKey != nil && !e.PrivateKey.Dummy()
	encrypted := hasPrivate && e.PrivateKey.Encrypted
	for _, sk := range e.Subkeys {
		if sk.PrivateKey != nil && !sk.PrivateKey.Dummy() {
			hasPrivate = true
			encrypted = encrypted || sk.PrivateKey.Encrypted
		}
	}
	if !hasPrivate {
		return nil, fmt.Errorf("payvault: %s holds no private key (key %s): give the private key the export was encrypted to", path, k.Fingerprint)
	}
	if encrypted {
		if len(passphrase) == 0 {
			return nil, fmt.Errorf("payvault: the private key %s is protected by a passphrase: give --passphrase-file", k.Fingerprint)
		}
		if err := e.DecryptPrivateKeys(passphrase); err != nil {
			return nil, fmt.Errorf("payvault: the passphrase does not unlock the private key %s", k.Fingerprint)
		}
	}
	return k, nil
}

// ImportOptions are the choices of an import.
type ImportOptions struct {
	// DryRun reads and checks the whole file against the target and writes nothing.
	DryRun bool
	// afterBatch, when set (by tests), runs after each batch is written, with the number
	// written so far.
	afterBatch func(batches int)
	// beforeWrite, when set (by tests), runs before each batch is written, with the number
	// written so far.
	beforeWrite func(batches int)
}

// ImportProblem is a record that cannot be imported, by line and id, never by value.
type ImportProblem struct {
	Line int
	*vault.ImportProblem
}

// ImportReport is what an import found and did.
type ImportReport struct {
	Header ExportHeader
	// Records is how many instrument records the file holds; Counts per kind.
	Records int
	Counts  map[string]int
	// ToCreate records would be created (dry run) or were checked for creation.
	ToCreate int
	// AlreadyImported records are in the target with the same token and data (a rerun, or
	// another import of the same records running at once).
	AlreadyImported int
	// Unreadable records were exported without data and are skipped.
	Unreadable int
	// NewIDs are records whose instrument id is taken in the target: they get a new id and
	// keep their payment token; NewMandateIDs the mandates whose id is taken.
	NewIDs        int
	NewMandateIDs int
	// Profiles is how many distinct profiles the records belong to.
	Profiles int
	// Problems lists the first maxImportProblems problems; Invalid and Collisions count all,
	// OtherMerchant the collisions with records of another merchant of this store.
	Problems      []ImportProblem
	Invalid       int
	Collisions    int
	OtherMerchant int
	// Created, ProfilesCreated, AddressesCreated and MandatesCreated are what the real run
	// wrote, in Batches transactions.
	Created          int
	ProfilesCreated  int
	AddressesCreated int
	MandatesCreated  int
	Batches          int
	Took             time.Duration
	// Recorded is set once the run's account_data.import record is on the audit chain, a
	// rerun that created nothing included.
	Recorded bool
}

// ErrImportRefused marks an import refused before anything was written.
var ErrImportRefused = errors.New("the import was refused")

// ErrImportChanged marks an import stopped because the target merchant changed since its
// check (another import, or an API call, took a record's token, id or customer id). The
// batches written before are complete.
var ErrImportChanged = errors.New("another import into the merchant, or an API call, wrote the same records or keys at once: run one import of a merchant at a time")

// maxImportRechecks is how many times a batch is checked again and rewritten after another
// import, writing the same records at once, took some of them first.
const maxImportRechecks = 3

// Import loads an export (Export's file, encrypted to key) into merchantID of this store.
// It reads the file twice, decrypting it in memory as it goes and never writing plaintext:
// the first pass checks the whole file (the message is to key and intact, the format,
// every record as the API would, and every collision with the target, or with another
// merchant of this store for the tokens and ids unique in the whole store) and writes nothing;
// unless opt.DryRun, the second pass checks each record again and writes them in batches of
// importBatch, each batch one transaction, so a crash never leaves part of a record (a
// bank account is written with its mandates), and a rerun skips the records already
// imported (same token, kind, profile and number), mandates included. Any
// invalid record or collision refuses the whole import before anything is written. The
// report is nil when the first pass did not finish (a wrong key, a damaged or truncated
// file, an export of a merchant of this store): there are no counts to report.
func (m *Main) Import(ctx context.Context, merchantID string, key *ImportKey, path string, opt ImportOptions) (*ImportReport, error) {
	start := time.Now()
	ctx = vault.WithActor(ctx, "cli")
	defer m.watchKeys(ctx)()
	if _, err := m.Store.GetMerchant(ctx, merchantID); err != nil {
		if vault.KindOf(err) == vault.NotFound {
			return nil, fmt.Errorf("payvault: no merchant %q in this store; nothing was imported: %w", merchantID, ErrImportRefused)
		}
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("payvault: %w", err)
	}
	defer f.Close()
	st1, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("payvault: %w", err)
	}
	rep := &ImportReport{Counts: map[string]int{}}
	for _, k := range vault.ExportKinds {
		rep.Counts[k] = 0
	}

	// Pass 1: check everything, write nothing.
	im, err := m.Vault.NewImporter(ctx, merchantID)
	if err != nil {
		return nil, fmt.Errorf("payvault: %w", err)
	}
	onHeader := func(h *ExportHeader) error {
		rep.Header = *h
		if h.Merchant.ID != merchantID {
			if _, err := m.Store.GetMerchant(ctx, h.Merchant.ID); err == nil {
				return fmt.Errorf("payvault: the export's merchant %s is in this store, so its payment tokens are taken here: import it into another payvault: %w", h.Merchant.ID, ErrImportRefused)
			}
		}
		return nil
	}
	check1 := func(line int, rec *vault.ExportRecord) error {
		rep.Records++
		rep.Counts[rec.Kind]++
		action, _, err := im.Check(ctx, rec)
		var p *vault.ImportProblem
		switch {
		case errors.As(err, &p):
			if p.Collision {
				rep.Collisions++
				if p.OtherMerchant {
					rep.OtherMerchant++
				}
			} else {
				rep.Invalid++
			}
			if len(rep.Problems) < maxImportProblems {
				rep.Problems = append(rep.Problems, ImportProblem{Line: line, ImportProblem: p})
			}
			return nil
		case err != nil:
			return fmt.Errorf("payvault: checking the record on line %d: %w", line, err)
		}
		switch action {
		case vault.ImportCreate:
			rep.ToCreate++
		case vault.ImportAlreadyDone:
			rep.AlreadyImported++
		case vault.ImportSkipUnreadable:
			rep.Unreadable++
		}
		return nil
	}
	pend1 := &pending{im: im, check: check1, ctx: ctx}
	sum1, err := readExport(f, key, onHeader, pend1.add)
	if err == nil {
		err = pend1.flush(ctx)
	}
	if err != nil {
		return nil, err // the check did not finish: its counts would read as a clean file's
	}
	rep.NewIDs, rep.NewMandateIDs, rep.Profiles = im.NewIDs, im.NewMandateIDs, im.Profiles
	if rep.Invalid+rep.Collisions > 0 {
		msg := fmt.Sprintf("payvault: %d invalid records and %d collisions with the target merchant", rep.Invalid, rep.Collisions-rep.OtherMerchant)
		if rep.OtherMerchant > 0 {
			msg += fmt.Sprintf(" and %d with another merchant of this store (payment tokens and ids are unique in the whole store, not per merchant: "+
				"was this export imported into another merchant here? It can go into one merchant of a store: import it into that merchant, or into another payvault)", rep.OtherMerchant)
		}
		return rep, fmt.Errorf("%s; nothing was imported: %w", msg, ErrImportRefused)
	}
	if opt.DryRun {
		rep.Took = time.Since(start)
		return rep, nil
	}

	// Pass 2: the same file, checked again record by record, written in batches.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return rep, fmt.Errorf("payvault: %w", err)
	}
	if st2, err := f.Stat(); err != nil || st2.Size() != st1.Size() || !st2.ModTime().Equal(st1.ModTime()) {
		return rep, fmt.Errorf("payvault: %s changed while it was checked; nothing was imported: %w", path, ErrImportRefused)
	}
	im, err = m.Vault.NewImporter(ctx, merchantID)
	if err != nil {
		return rep, fmt.Errorf("payvault: %w", err)
	}
	rep.AlreadyImported = 0 // counted again as written
	var batch []*vault.ImportItem
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if opt.beforeWrite != nil {
			opt.beforeWrite(rep.Batches)
		}
		n, err := m.Vault.WriteImport(ctx, merchantID, batch)
		// Another import of the same records into the merchant, at once, wrote some first
		// (the store's unique index refused them): they count as already imported, as in a
		// rerun, and the rest is written. A conflict that frees nothing is something else.
		for tries := 0; vault.KindOf(err) == vault.Conflict && tries < maxImportRechecks; tries++ {
			var already int
			batch, already, err = im.Recheck(ctx, batch)
			var p *vault.ImportProblem
			if errors.As(err, &p) {
				return fmt.Errorf("payvault: the target changed since the check (%v): %w", p, ErrImportChanged)
			}
			if err != nil {
				return fmt.Errorf("payvault: %w", err)
			}
			rep.AlreadyImported += already
			if len(batch) == 0 {
				n = vault.ImportWritten{}
				break
			}
			n, err = m.Vault.WriteImport(ctx, merchantID, batch)
		}
		if vault.KindOf(err) == vault.Conflict {
			return fmt.Errorf("payvault: writing a batch of %d records, something of the target merchant was taken since the check (%v): %w", len(batch), err, ErrImportChanged)
		}
		if err != nil {
			return fmt.Errorf("payvault: writing a batch of %d records: %w", len(batch), err)
		}
		rep.Created += n.Instruments
		rep.ProfilesCreated += n.Profiles
		rep.AddressesCreated += n.Addresses
		rep.MandatesCreated += n.Mandates
		rep.Batches++
		im.Written(batch)
		batch = batch[:0]
		if opt.afterBatch != nil {
			opt.afterBatch(rep.Batches)
		}
		return nil
	}
	check2 := func(line int, rec *vault.ExportRecord) error {
		action, it, err := im.Check(ctx, rec)
		if err != nil {
			var p *vault.ImportProblem
			if errors.As(err, &p) {
				return fmt.Errorf("payvault: the record on line %d no longer imports (%v): the file or the target changed since the check", line, p)
			}
			return fmt.Errorf("payvault: checking the record on line %d: %w", line, err)
		}
		if action == vault.ImportAlreadyDone {
			rep.AlreadyImported++ // another import running at once may have written it since the check
		}
		if action != vault.ImportCreate {
			return nil
		}
		batch = append(batch, it)
		if len(batch) >= importBatch {
			return flush()
		}
		return nil
	}
	pend2 := &pending{im: im, check: check2, ctx: ctx}
	sum2, err := readExport(f, key, nil, pend2.add)
	if err == nil {
		err = pend2.flush(ctx)
	}
	if err == nil {
		err = flush()
	}
	if err == nil && sum1 != sum2 {
		err = fmt.Errorf("payvault: %s changed during the import", path)
	}
	if err = m.movedSince(err); errors.Is(err, ErrMoved) {
		return rep, stoppedMoved(err, fmt.Sprintf("%d records were imported here in complete batches before the copy, which holds them: run the same import with --database (the PostgreSQL database) to import the rest there (it skips them)", rep.Created))
	}
	if err != nil {
		return rep, fmt.Errorf("%w; %d records were imported in complete batches before it stopped: run the same import again to import the rest (it skips them)", err, rep.Created)
	}
	src := rep.Header.Merchant.ID
	if err := m.Store.Audit(ctx, merchantID, vault.AuditAccountImport, "import", fmt.Sprintf("source=%s created=%d mandates=%d already=%d unreadable=%d", src, rep.Created, rep.MandatesCreated, rep.AlreadyImported, rep.Unreadable)); err != nil {
		return rep, fmt.Errorf("payvault: the import is complete (each record is on the audit chain) but its summary could not be recorded: %w", err)
	}
	rep.Recorded = true
	rep.Took = time.Since(start)
	return rep, nil
}

// pending holds up to importBatch records read from the file, so that the Importer looks
// them up in the target in one statement (Prefetch) before checking each.
type pending struct {
	im    *vault.Importer
	check func(line int, rec *vault.ExportRecord) error
	lines []int
	recs  []*vault.ExportRecord
	ctx   context.Context
}

func (p *pending) add(line int, rec *vault.ExportRecord) error {
	p.lines, p.recs = append(p.lines, line), append(p.recs, rec)
	if len(p.recs) >= importBatch {
		return p.flush(p.ctx)
	}
	return nil
}

func (p *pending) flush(ctx context.Context) error {
	if len(p.recs) == 0 {
		return nil
	}
	if err := p.im.Prefetch(ctx, p.recs); err != nil {
		return fmt.Errorf("payvault: %w", err)
	}
	for i, rec := range p.recs {
		if err := p.check(p.lines[i], rec); err != nil {
			return err
		}
	}
	p.lines, p.recs = p.lines[:0], p.recs[:0]
	return nil
}

// readExport decrypts an export from r with key and calls onHeader with its header, then fn
// with each record and its line number, in file order, one at a time. It refuses a message
// not encrypted to key, another literal-data name, a format other than ExportFormat
// version 1, a missing or wrong end line (a truncated file), and a failed integrity check;
// fn's records are then not to be trusted, so callers write nothing before readExport
// returns without error once. It returns the SHA-256 of the ciphertext.
func readExport(r io.Reader, key *ImportKey, onHeader func(*ExportHeader) error, fn func(int, *vault.ExportRecord) error) (sum [32]byte, err error) {
	h := sha256.New()
	md, err := openpgp.ReadMessage(io.TeeReader(bufio.NewReaderSize(r, 64<<10), h), openpgp.EntityList{key.entity}, nil, &packet.Config{})
	if err != nil {
		return sum, fmt.Errorf("payvault: the file does not decrypt with key %s (%v): %w", key.Fingerprint, err, ErrImportRefused)
	}
	switch {
	case !md.IsEncrypted || md.DecryptedWith.Entity == nil:
		return sum, fmt.Errorf("payvault: the file is not encrypted to key %s: %w", key.Fingerprint, ErrImportRefused)
	case !bytes.Equal(md.DecryptedWith.Entity.PrimaryKey.Fingerprint, key.entity.PrimaryKey.Fingerprint):
		return sum, fmt.Errorf("payvault: the file is not encrypted to key %s: %w", key.Fingerprint, ErrImportRefused)
	case md.LiteralData == nil || md.LiteralData.FileName != exportFileName:
		return sum, fmt.Errorf("payvault: the file is not a payvault export (its content is not named %s): %w", exportFileName, ErrImportRefused)
	}
	sc := bufio.NewScanner(md.UnverifiedBody)
	sc.Buffer(make([]byte, 64<<10), maxExportLine)
	line, ended := 0, false
	var end ExportEnd
	counts := map[string]int{}
	unreadable, mandates := 0, 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		switch {
		case ended:
			return sum, fmt.Errorf("payvault: line %d follows the end line: %w", line, ErrImportRefused)
		case line == 1:
			var hd ExportHeader
			if err := strictJSON(b, &hd); err != nil || hd.Format != ExportFormat || hd.Version != ExportVersion {
				return sum, fmt.Errorf("payvault: the file is not a %s version %d file (line 1 is not its header): %w", ExportFormat, ExportVersion, ErrImportRefused)
			}
			if onHeader != nil {
				if err := onHeader(&hd); err != nil {
					return sum, err
				}
			}
		case bytes.HasPrefix(b, []byte(`{"end":`)):
			if err := strictJSON(b, &end); err != nil || !end.End {
				return sum, fmt.Errorf("payvault: line %d is not a valid end line: %w", line, ErrImportRefused)
			}
			ended = true
		default:
			var rec vault.ExportRecord
			if err := strictJSON(b, &rec); err != nil {
				// The decoder's error may quote the line: it is not passed on.
				return sum, fmt.Errorf("payvault: line %d is not an export record: %w", line, ErrImportRefused)
			}
			counts[rec.Kind]++
			if rec.Unreadable {
				unreadable++
			}
			if rec.BankAccount != nil {
				mandates += len(rec.BankAccount.Mandates)
			}
			if err := fn(line, &rec); err != nil {
				return sum, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return sum, fmt.Errorf("payvault: line %d is longer than %d bytes: %w", line+1, maxExportLine, ErrImportRefused)
		}
		return sum, fmt.Errorf("payvault: the file fails its integrity check or is damaged (%v): %w", err, ErrImportRefused)
	}
	if line == 0 {
		return sum, fmt.Errorf("payvault: the file is empty: %w", ErrImportRefused)
	}
	if !ended {
		return sum, fmt.Errorf("payvault: the file has no end line: it is truncated: %w", ErrImportRefused)
	}
	if md.IsSigned && md.SignatureError != nil {
		return sum, fmt.Errorf("payvault: the file's signature does not verify (%v): %w", md.SignatureError, ErrImportRefused)
	}
	for _, k := range vault.ExportKinds {
		if counts[k] != end.Counts[k] {
			return sum, fmt.Errorf("payvault: the file holds %d %s records and its end line says %d: %w", counts[k], k, end.Counts[k], ErrImportRefused)
		}
		delete(counts, k)
	}
	if len(counts) > 0 || unreadable != end.Unreadable || mandates != end.Mandates {
		return sum, fmt.Errorf("payvault: the file's records do not match its end line: %w", ErrImportRefused)
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// strictJSON decodes one JSON object, refusing unknown fields (data a version 1 import would
// drop) and trailing data.
func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data")
	}
	return nil
}
