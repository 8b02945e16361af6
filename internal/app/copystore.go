package app

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/vault"
)

// CopyReport is what CopyStore copied and verified.
type CopyReport struct {
	// Tables are the rows copied per table, in copy order; each count, and each row value for
	// value, was compared on both sides before the commit.
	Tables []sqlstore.TableCount
	// Sealed is how many sealed fields of the sample were opened under the copied keysets.
	Sealed int
	// AuditProblems is how many audit problems the embedded store had already (the copy has
	// the same ones); normally 0.
	AuditProblems int
	// Took is how long the copy and its checks took.
	Took time.Duration
}

// copySample is how many records of each sealed table CopyStore opens on both sides.
const copySample = 200

// ErrCopyUnverified marks a CopyStore failure after the commit: the target holds the copy,
// and a check of it failed.
var ErrCopyUnverified = errors.New("the copy was committed but does not verify")

// CopyStore copies the embedded store of cfg.DataDir into the empty PostgreSQL database at
// dsn, and verifies the copy. cfg selects the master key as for any command (never creating
// one). In order, and writing nothing before the last check passes:
//
//  1. The embedded store must exist, and its serve lock is taken (as a serving node takes
//     it) and held to the end: a server running on the data dir refuses the copy, and none
//     can start during it. A store that copy-store moved already (MovedFile) is refused.
//  2. Its schema must be at this payvault's latest migration (`payvault migrate` first).
//  3. The master key must open its keysets (keys.Check).
//  4. The target must hold no payvault data (sqlstore.CheckCopyTarget); it is then migrated.
//
// The rows are then copied in one PostgreSQL transaction (sqlstore.CopyTo, which compares
// the row counts, then every row value for value, before committing); the keysets and what the copy is checked against are
// read under CopyTo's lock, so a key rotated before it is in the copy and checked. A record
// of the sealed sample that does not open on the source refuses the copy before any row is
// written: it would open on neither side, and compare equal. After the commit the target is
// checked with the same master key: its keysets open, its audit chains verify as the
// source's did, key status matches, and a sample of sealed records is byte for byte the
// source's and opens. A failure
// of those checks wraps ErrCopyUnverified: the target must be dropped and recreated. Once
// they pass, and with the source still locked, the data dir is marked moved (MovedFile):
// from then on serving the embedded store, and every command that writes it, is refused.
func CopyStore(ctx context.Context, cfg Config, dsn string) (*CopyReport, error) {
	return copyStore(ctx, cfg, dsn, nil)
}

// copyStore is CopyStore. beforeLock, if not nil, runs once the target is migrated, just
// before the embedded store is locked for the copy: a test writes to the store there, as a
// command could in that window.
func copyStore(ctx context.Context, cfg Config, dsn string, beforeLock func(context.Context) error) (*CopyReport, error) {
	start := time.Now()
	if cfg.DatabaseURL != "" {
		return nil, errors.New("payvault: copy-store copies the embedded store (--data) into --database")
	}
	if dsn == "" {
		return nil, errors.New("payvault: copy-store needs the target PostgreSQL database (--database DSN)")
	}
	m := &Main{Config: cfg}
	dir := m.dataDir()
	path := SQLitePath(cfg.DataDir)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("payvault: no store in %s (no payvault.db): check --data", dir)
	}
	mk, err := ExistingMasterKey(cfg)
	if err != nil {
		return nil, err
	}
	src, err := sqlstore.Open(ctx, sqlstore.Config{Path: path, SkipMigrate: true})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	if _, err := src.RegisterNode(ctx); err != nil {
		if errors.Is(err, sqlstore.ErrServeLocked) {
			return nil, fmt.Errorf("payvault: a payvault serve is using the store in %s (%s-serve.lock is locked): stop every server on it first, so that no write is lost after the copy", dir, path)
		}
		return nil, err
	}
	sc, err := src.Schema(ctx)
	if err != nil {
		return nil, err
	}
	if err := m.adoptMoved(ctx, src, sc); err != nil {
		return nil, err
	}
	if err := checkMoved(cfg.DataDir); err != nil {
		return nil, err
	}
	if sc.Current == 0 {
		return nil, fmt.Errorf("payvault: no store in %s (no schema): check --data", dir)
	}
	if sc.Pending {
		return nil, fmt.Errorf("payvault: the store in %s is at schema version %d, older than this payvault's (%d): run `payvault migrate --data %s` first, then copy-store", dir, sc.Current, sc.Target, dir)
	}
	if _, err := keys.Check(ctx, src, mk); err != nil {
		return nil, fmt.Errorf("payvault: the master key does not open the store's keysets, so nothing was copied: %w", err)
	}

	dst, err := sqlstore.Open(ctx, sqlstore.Config{DSN: dsn, SkipMigrate: true, ReadConns: 4, ReadWait: -1})
	if err != nil {
		return nil, err
	}
	defer dst.Close()
	if err := dst.CheckCopyTarget(ctx); err != nil {
		return nil, fmt.Errorf("payvault: %w; copy-store fills only an empty database: give another one, or drop and recreate this one if its data is not needed", err)
	}
	if _, err := dst.Migrate(ctx); err != nil {
		return nil, err
	}
	if beforeLock != nil {
		if err := beforeLock(ctx); err != nil {
			return nil, err
		}
	}
	// What the copy is checked against is read while the source is locked for it, the
	// keysets included (a key rotated before the lock is in the copy), and the lock is held
	// until the copy is verified and the data dir marked moved: a tool that writes beside
	// servers (merchant create, keys rotate) waits until the copy ends, then finds the mark
	// (Open checks it under the same lock) instead of writing to a store whose writes would
	// never reach PostgreSQL.
	var (
		srcKeys   *keys.Keyring
		srcAudit  []vault.AuditProblem
		srcStatus *KeyStatus
		srcSample []vault.SealedRecord
		sealed    int
		after     error // after is the verification's or the mark's failure
	)
	counts, err := src.CopyTo(ctx, dst, func(ctx context.Context, keysets keys.KeysetStore) error {
		var err error
		if srcKeys, err = keys.Open(ctx, keysets, mk, keys.Options{Logger: cfg.Logger}); err != nil {
			return err
		}
		src.SetAuditMAC(srcKeys)
		if srcAudit, err = src.VerifyAudit(ctx, srcKeys); err != nil {
			return err
		}
		if srcStatus, err = (&Main{Store: src, Keyring: srcKeys}).KeyStatus(ctx); err != nil {
			return err
		}
		if srcSample, err = sealedSample(ctx, src); err != nil {
			return err
		}
		return openSample(srcSample, srcKeys)
	}, func(ctx context.Context) error {
		if sealed, after = verifyCopy(ctx, cfg, mk, dst, srcKeys, srcAudit, srcStatus, srcSample); after != nil {
			return after
		}
		if err := markMoved(cfg.DataDir, dsn, time.Now()); err != nil {
			after = fmt.Errorf("payvault: the copy is committed and verified, but %s could not be written (%v): do not serve %s or write to it again, and serve the copy with --database", movedPath(cfg.DataDir), err, dir)
		}
		return after
	})
	if after != nil {
		return nil, after
	}
	if err != nil {
		// A COMMIT whose answer was lost may have committed: the target says which.
		if cerr := dst.CheckCopyTarget(context.WithoutCancel(ctx)); errors.Is(cerr, sqlstore.ErrCopyTarget) {
			return nil, fmt.Errorf("payvault: %w; the target holds rows now: %w. Drop and recreate the target database before running copy-store again", err, ErrCopyUnverified)
		} else if cerr != nil {
			return nil, fmt.Errorf("payvault: %w; whether the target holds rows could not be checked (%v): if it does, drop and recreate it before running copy-store again", err, cerr)
		}
		return nil, fmt.Errorf("payvault: %w (the copy was rolled back: the target holds payvault's empty schema and no row, and copy-store may be run again)", err)
	}
	rep := &CopyReport{Tables: counts, AuditProblems: len(srcAudit), Sealed: sealed}
	rep.Took = time.Since(start)
	return rep, nil
}

// verifyCopy checks the committed copy dst with the master key against what was read of the
// source under the copy's lock: its keysets open, its audit chains verify as the source's
// did, key status matches, and the sample of sealed records is the source's and opens. It
// returns how many sealed fields it opened; its errors wrap ErrCopyUnverified.
func verifyCopy(ctx context.Context, cfg Config, mk keys.MasterKey, dst *sqlstore.Store, srcKeys *keys.Keyring, srcAudit []vault.AuditProblem, srcStatus *KeyStatus, srcSample []vault.SealedRecord) (int, error) {
	unverified := func(format string, args ...any) error {
		return fmt.Errorf("payvault: %w: %s. Drop and recreate the target database before running copy-store again", ErrCopyUnverified, fmt.Sprintf(format, args...))
	}
	if _, err := keys.Check(ctx, dst, mk); err != nil {
		return 0, unverified("the copied keysets do not open (%v)", err)
	}
	dstKeys, err := keys.Open(ctx, dst, mk, keys.Options{Logger: cfg.Logger})
	if err != nil {
		return 0, unverified("the copied keysets do not open (%v)", err)
	}
	dst.SetAuditMAC(dstKeys)
	dstAudit, err := dst.VerifyAudit(ctx, dstKeys)
	if err != nil {
		return 0, unverified("the audit chains could not be read (%v)", err)
	}
	if !reflect.DeepEqual(sortedProblems(srcAudit), sortedProblems(dstAudit)) {
		return 0, unverified("the audit chains verify with %d problems, the embedded store's with %d", len(dstAudit), len(srcAudit))
	}
	dstStatus, err := (&Main{Store: dst, Keyring: dstKeys}).KeyStatus(ctx)
	if err != nil {
		return 0, unverified("key status could not be read (%v)", err)
	}
	if !reflect.DeepEqual(srcStatus, dstStatus) {
		return 0, unverified("key status differs from the embedded store's")
	}
	dstSample, err := sealedSample(ctx, dst)
	if err != nil {
		return 0, unverified("sealed records could not be read (%v)", err)
	}
	sealed, err := compareSealed(srcSample, dstSample, srcKeys, dstKeys)
	if err != nil {
		return sealed, unverified("%v", err)
	}
	return sealed, nil
}

// sortedProblems sorts audit problems: VerifyAudit reports headless chains in map order.
func sortedProblems(ps []vault.AuditProblem) []vault.AuditProblem {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b vault.AuditProblem) int {
		return cmp.Or(strings.Compare(a.MerchantID, b.MerchantID), cmp.Compare(a.Seq, b.Seq), strings.Compare(a.Problem, b.Problem))
	})
	return ps
}

// sealedSample reads the first copySample records of each sealed table.
func sealedSample(ctx context.Context, s *sqlstore.Store) ([]vault.SealedRecord, error) {
	var out []vault.SealedRecord
	for _, t := range s.SealedTables() {
		recs, err := s.SealedRecords(ctx, t, "", copySample)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

// openSample opens every sealed field of the source's sample under its keyring, before
// anything is copied: a record that opens on neither side would compare equal after the
// copy. Its error counts the records that do not open and names the first
// copyUnreadableListed of them by table, id and key id, never their contents.
func openSample(sample []vault.SealedRecord, ks *keys.Keyring) error {
	var bad []vault.UnreadableRecord
	for _, r := range sample {
		f, _ := vault.OpenRecord(ks, r, func(string, keys.AD, []byte) error { return nil })
		if f != "" {
			bad = append(bad, vault.UnreadableRecord{Table: r.Table, ID: r.ID, MerchantID: r.MerchantID, KeyID: r.KeyID, Field: f})
		}
	}
	if len(bad) == 0 {
		return nil
	}
	noun := "records"
	if len(bad) == 1 {
		noun = "record"
	}
	return fmt.Errorf("the store's keysets do not open %d sealed %s of the sample (the first %d of each sealed table), so nothing was copied: %s; restore each from a backup taken before the damage, or delete it, then run copy-store again",
		len(bad), noun, copySample, strings.Join(unreadableIDs(bad, copyUnreadableListed), ", "))
}

// copyUnreadableListed is how many unreadable records openSample's error names.
const copyUnreadableListed = 20

// compareSealed checks that the target's sample is the source's, record for record and byte
// for byte, and that every field opens under the source's keyring and under the target's to
// the same plaintext. It returns how many fields it opened. Its errors name tables and
// fields, never contents.
func compareSealed(src, dst []vault.SealedRecord, srcKeys, dstKeys *keys.Keyring) (int, error) {
	if len(src) != len(dst) {
		return 0, fmt.Errorf("the sample of sealed records has %d records, the embedded store's %d", len(dst), len(src))
	}
	opened := 0
	for i, s := range src {
		d := dst[i]
		if s.Table != d.Table || s.ID != d.ID || s.MerchantID != d.MerchantID || s.KeyID != d.KeyID || s.Fingerprint != d.Fingerprint ||
			s.Token != d.Token || s.ADVersion != d.ADVersion || len(s.Fields) != len(d.Fields) {
			return opened, fmt.Errorf("sealed record %s %s differs from the embedded store's", s.Table, s.ID)
		}
		for f, ct := range s.Fields {
			if !bytes.Equal(ct, d.Fields[f]) {
				return opened, fmt.Errorf("sealed field %s of %s %s differs from the embedded store's", f, s.Table, s.ID)
			}
			if len(ct) == 0 {
				continue
			}
			ad := keys.AD{Merchant: s.MerchantID, Record: s.ID, Field: f, Token: s.Token}
			want, _, err := vault.OpenSealed(srcKeys, ct, ad, s.ADVersion)
			if err != nil {
				// Equal bytes that open on neither side are not a verified copy.
				return opened, fmt.Errorf("sealed field %s of %s %s does not open under the embedded store's keysets", f, s.Table, s.ID)
			}
			got, _, err := vault.OpenSealed(dstKeys, d.Fields[f], ad, d.ADVersion)
			same := err == nil && bytes.Equal(want, got)
			clear(want)
			clear(got)
			if !same {
				return opened, fmt.Errorf("sealed field %s of %s %s does not open under the copied keysets", f, s.Table, s.ID)
			}
			opened++
		}
	}
	return opened, nil
}
