package app

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/vault"
)

// rekeyJob re-encrypts records sealed under non-primary keys in the background, in small
// batches, while the server keeps serving, and re-seals the instruments sealed before their
// payment token was bound (vault.ADv1). Its progress lives in the data (each record's dek_id,
// fingerprint key and ad_version), so it resumes by itself after a crash.
type rekeyJob struct {
	rk        *vault.Rekeyer
	m         *Main
	stale     atomic.Int64
	legacyAD  atomic.Int64
	passes    atomic.Int64 // passes counts the passes run, for tests.
	rewritten prometheus.Counter
	sealed    *prometheus.GaugeVec
	// last is the report of the last pass that went through every table (nil before the
	// first): its unreadable records are reported until a later pass finds none.
	last atomic.Pointer[vault.RekeyReport]
}

func (m *Main) newRekeyJob() *rekeyJob {
	j := &rekeyJob{rk: vault.NewRekeyer(m.Store, m.Keyring), m: m}
	j.rewritten = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "payvault_rekey_rewritten_total", Help: "Records re-encrypted under the primary keys by this node.",
	})
	j.sealed = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "payvault_sealed_records", Help: "Records holding data sealed under each data key.",
	}, []string{"key_id", "primary"})
	stale := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "payvault_rekey_stale_records", Help: "Records still sealed under a non-primary data key, at the last count.",
	}, func() float64 { return float64(j.stale.Load()) })
	legacyAD := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "payvault_rekey_legacy_ad_records", Help: "Instruments still sealed without their payment token in the associated data, at the last count.",
	}, func() float64 { return float64(j.legacyAD.Load()) })
	unreadable := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "payvault_rekey_unreadable_records", Help: "Stale records whose sealed data did not open, so were not re-encrypted, in the last re-encryption pass.",
	}, func() float64 { return float64(j.unreadable()) })
	m.Metrics.Registry.MustRegister(j.rewritten, j.sealed, stale, legacyAD, unreadable)
	return j
}

// Progress is the re-encryption job's state, for the admin API.
type Progress struct {
	PrimaryKeyID uint32         `json:"primary_key_id"`
	Stale        int64          `json:"stale_records"`
	Records      map[string]int `json:"records_by_key"`
	// LegacyAD counts the instruments still sealed without their payment token in the
	// associated data (vault.ADv1), which the job re-seals.
	LegacyAD int64 `json:"legacy_ad_records"`
	// Unreadable counts the stale records whose sealed data did not open in this node's last
	// pass; UnreadableRecords lists the first vault.MaxUnreadableListed of them.
	Unreadable        int                      `json:"unreadable_records"`
	UnreadableRecords []vault.UnreadableRecord `json:"unreadable"`
}

// unreadable returns how many records the last pass found unreadable.
func (j *rekeyJob) unreadable() int {
	if rep := j.last.Load(); rep != nil {
		return rep.Unreadable
	}
	return 0
}

// count refreshes the per-key gauges and returns the progress.
func (j *rekeyJob) count(ctx context.Context) (*Progress, error) {
	counts, err := j.m.Store.CountSealedByKey(ctx)
	if err != nil {
		return nil, err
	}
	legacy, err := j.m.Store.CountLegacyAD(ctx)
	if err != nil {
		return nil, err
	}
	j.legacyAD.Store(int64(legacy))
	primary := j.m.Keyring.PrimaryKeyID()
	p := &Progress{PrimaryKeyID: primary, Records: map[string]int{}, LegacyAD: int64(legacy), UnreadableRecords: []vault.UnreadableRecord{}}
	if rep := j.last.Load(); rep != nil && rep.Unreadable > 0 {
		p.Unreadable, p.UnreadableRecords = rep.Unreadable, rep.UnreadableRecords
	}
	j.sealed.Reset()
	for id, n := range counts {
		key := strconv.FormatUint(uint64(id), 10)
		p.Records[key] = n
		j.sealed.WithLabelValues(key, strconv.FormatBool(id == primary)).Set(float64(n))
		if id != primary {
			p.Stale += int64(n)
		}
	}
	j.stale.Store(p.Stale)
	return p, nil
}

// A pass (count, then re-encrypt while anything is stale) reads every sealed record, so on a
// large store it is far too heavy to repeat every few seconds. The job runs one at start, and
// one every tick after the primary data or fingerprint key changes, until a pass finds nothing
// stale at least rekeySettleTicks ticks after the change (long enough for every node to have
// picked up the new primaries, so that none writes under the old ones any more). Otherwise it
// runs one every rekeyQuietTicks ticks, as a safety net. A pass that re-encrypted nothing and
// found only unreadable records left is not clean, but running it again every tick would
// only read the store again to find them again: until someone restores or deletes them, the
// job reports them (WARN, metric, admin API) once a pass on the safety-net schedule.
const (
	rekeySettleTicks = 20
	rekeyQuietTicks  = 720 // an hour at the default 5 s key refresh
)

// run loops until ctx ends, running passes as described above.
func (j *rekeyJob) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var primary, macPrimary uint32
	var changed time.Time // changed is when this job last saw the primaries change
	settled, idle := false, 0
	for {
		p, mp := j.m.Keyring.PrimaryKeyID(), j.m.Keyring.PrimaryMACKeyID()
		if primary != 0 && (p != primary || mp != macPrimary) {
			changed, settled = time.Now(), false
		}
		primary, macPrimary = p, mp
		if !settled || idle >= rekeyQuietTicks {
			idle = 0
			settled = j.pass(ctx) != passBusy && time.Since(changed) >= rekeySettleTicks*every
		} else {
			idle++
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// passResult is what a pass found.
type passResult int

const (
	passClean passResult = iota // passClean: nothing stale.
	passBusy                    // passBusy: it re-encrypted records, or failed: run another.
	passStuck                   // passStuck: only unreadable records are left stale.
)

// pass counts the records by key and re-encrypts the stale ones, walking every table once.
//
// It first reloads the keysets, as the watcher does every tick: a node that had not yet seen a
// rotation made elsewhere (another node, `payvault keys rotate`) would take the records already
// sealed under the new primary for stale ones that do not open, and report good records as
// needing a restore. A failure leaves the keys in use here; the watcher logs it.
func (j *rekeyJob) pass(ctx context.Context) passResult {
	j.passes.Add(1)
	j.m.Keyring.Refresh(ctx)
	prog, err := j.count(ctx)
	if err != nil {
		if ctx.Err() == nil {
			j.m.Config.Logger.Warn("rekey: count failed", "err", err)
		}
		return passBusy
	}
	if prog.Stale == 0 && prog.LegacyAD == 0 && !j.oldMACKey() {
		// The counts (index scans) found nothing under an old data key and no instrument
		// sealed without its token, and no old fingerprint key is enabled: no record can be
		// stale, so the table scans of Step, which read every sealed record (minutes on a
		// 10-million-card store), are skipped.
		j.last.Store(&vault.RekeyReport{})
		return passClean
	}
	var p vault.RekeyPass
	for !p.Done() {
		before := p.Report.Rewritten
		_, err := j.rk.Step(ctx, &p, 200)
		if n := p.Report.Rewritten - before; n > 0 {
			j.rewritten.Add(float64(n))
			j.m.Config.Logger.Info("rekey: re-encrypted records", "count", n)
		}
		if err != nil {
			if ctx.Err() == nil {
				j.m.Config.Logger.Warn("rekey: step failed", "err", err)
			}
			return passBusy
		}
	}
	j.report(&p.Report)
	switch rep := p.Report; {
	case rep.Rewritten > 0 || rep.Changed > 0:
		return passBusy
	case rep.Unreadable > 0:
		return passStuck
	case prog.Stale > 0 || prog.LegacyAD > 0:
		return passBusy // another node re-encrypted them first: count again
	}
	return passClean
}

// report keeps a whole pass's report and logs its unreadable records in one WARN line.
func (j *rekeyJob) report(rep *vault.RekeyReport) {
	j.last.Store(rep)
	if rep.Unreadable == 0 {
		return
	}
	j.m.Config.Logger.Warn("rekey: records whose sealed data does not open were skipped; restore each from a backup or delete it (payvault keys rekey lists them)",
		"count", rep.Unreadable, "records", unreadableIDs(rep.UnreadableRecords, 5))
}

// unreadableIDs names up to n unreadable records as table/id (key id), for a log line or a
// message.
func unreadableIDs(recs []vault.UnreadableRecord, n int) []string {
	var ids []string
	for _, u := range recs[:min(n, len(recs))] {
		ids = append(ids, fmt.Sprintf("%s/%s (key %d)", u.Table, u.ID, u.KeyID))
	}
	return ids
}

// oldMACKey reports whether a fingerprint key other than the primary is enabled: fingerprints
// made with it may remain until `payvault keys retire` has disabled it.
func (j *rekeyJob) oldMACKey() bool {
	for _, k := range j.m.Keyring.Status().Keys {
		if k.Keyset == "mac" && k.Status == keys.StatusEnabled {
			return true
		}
	}
	return false
}

// RekeyProgress reports the re-encryption state.
func (m *Main) RekeyProgress(ctx context.Context) (*Progress, error) { return m.rekey.count(ctx) }

// watchKeys reloads the keysets every Config.KeyRefresh, as a serving node does, until the
// returned func is called: a tool that seals for long (an import, a re-encryption run) then
// picks up a rotation made meanwhile, rather than have its writes, sealed under the keys it
// opened with, refused by the key fence once the change is older than its bound.
func (m *Main) watchKeys(ctx context.Context) (stop func()) {
	ctx, stop = context.WithCancel(ctx)
	go m.Keyring.Watch(ctx, m.Config.KeyRefresh)
	return stop
}

// RetireKey disables a data key once no record is sealed under it, or a fingerprint key once
// no fingerprint was made with it. The primary key cannot be retired (keys.ErrPrimaryKey),
// whatever it protects, and no key while the keyset changed too recently (keysetSettled).
//
// The wait comes before the count, and the count is made again once the key is disabled.
// A write that sealed (or fingerprinted) under key K while K was the primary commits only
// while K is still the primary, or less than the store's key fence bound after the rotation
// that demoted it, by the database's clock (sqlstore.Store.KeyFence, keyfence.go): at T <
// (K's successor's change) + bound. keysetSettled lets the count start only at R > (the
// keyset's last change) + bound + retireMargin, by the same clock, and K's demotion is one of
// those changes; so T < R, and every write under K has committed before the count, which
// sees it. The margin covers the gap between a write's fence and its COMMIT (on PostgreSQL at
// most the idle timeout the fence sets). The count after the Disable covers a write whose
// COMMIT came later still (an embedded store's process frozen between its fence and its
// COMMIT, which holds SQLite's write lock, so the Disable waits for it): the key is then
// enabled again and the retire refused.
func (m *Main) RetireKey(ctx context.Context, which string, id uint32) error {
	if err := m.notPrimary(ctx, which, id); err != nil {
		return err
	}
	if err := m.keysetSettled(ctx, which, id); err != nil {
		return err
	}
	if err := m.keyUnused(ctx, which, id); err != nil {
		return err
	}
	if err := m.Keyring.Disable(ctx, which, id); err != nil {
		return err
	}
	if err := m.keyUnused(ctx, which, id); err != nil {
		m.Config.Logger.Warn("keys: a record was stored under a key while it was retired; enabling it again", "keyset", which, "key_id", id)
		if eerr := m.Keyring.Enable(ctx, which, id); eerr != nil {
			return fmt.Errorf("%w; and enabling the key again failed, so run payvault keys enable: %w", err, eerr)
		}
		return err
	}
	return nil
}

// retireMargin is how much longer than the store's key fence bound keysetSettled waits after
// a keyset's last change: the gap between a write's key fence and its COMMIT, and the skew
// between the clock a keyset change is dated by and the fence's, both by the database.
const retireMargin = 10 * time.Second

// keysetSettled refuses (keys.ErrKeyInUse) to retire key id of keyset which until the store's
// key fence bound and retireMargin have passed since the keyset last changed, by the
// database's clock. A node reloads the keysets only every Config.KeyRefresh, so for a while
// after a rotation it still seals (or fingerprints) under the old primary; the key fence
// (sqlstore.Store.KeyFence: twice the key refresh and the write bound) lets such a write
// commit for that long after the change, and no longer: a node that has not reloaded by then
// (its refresh fails, or it was frozen) is refused, its write answered 503 and not stored.
// Waiting longer than the bound before counting means no write sealed under the old key can
// commit after the count (RetireKey). The store keeps only the time of the keyset's last
// change, so any change (a rotation, another key retired or enabled) starts the wait, which
// is the safe side.
func (m *Main) keysetSettled(ctx context.Context, which string, id uint32) error {
	changed, now, ready, err := m.keysetReady(ctx, which)
	if err != nil {
		return err
	}
	if now.Before(ready) {
		return fmt.Errorf("%w: keyset %q changed at %s, and until the key fence (%s) and a margin (%s) have passed, a node that has not reloaded the keysets may still %s under key %d; %s",
			keys.ErrKeyInUse, which, changed.UTC().Format(time.RFC3339), m.Store.KeyFence(), retireMargin, sealVerb(which), id, retryAfter(ready, now))
	}
	return nil
}

// keysetReady returns when keyset which last changed, the time now, and when the retire wait
// after that change ends, all by the database's clock.
func (m *Main) keysetReady(ctx context.Context, which string) (changed, now, ready time.Time, err error) {
	changed, now, err = m.Store.KeysetChangedAt(ctx, which)
	return changed, now, changed.Add(m.retireWait()), err
}

// retryAfter says, for a refusal, when to retry: at ready, in whole seconds.
func retryAfter(ready, now time.Time) string {
	ready = ready.Add(time.Second - 1).Truncate(time.Second)
	return fmt.Sprintf("retry after %s (in %s), by the database's clock", ready.UTC().Format(time.RFC3339), ready.Sub(now).Round(time.Second))
}

// ErrKeysetsUnsettled is returned by RewrapMasterKey, before it touches a keyset, when a
// keyset changed too recently for every node to have loaded the change.
var ErrKeysetsUnsettled = errors.New("a keyset changed too recently to rewrap the master key")

// RewrapMasterKey rotates the master key (keys.Rewrap) once every keyset has settled. A node
// reloads the keysets only every Config.KeyRefresh, and one that has not yet loaded a key
// change when the keysets go under the new master key can never load it (it cannot open
// them): it keeps the keys it holds, and once the key fence bound has passed its writes that
// seal are refused until it is restarted with the new key. So, as RetireKey waits, it refuses
// (ErrKeysetsUnsettled), saying when to retry and before it touches a keyset, until the key
// fence bound and retireMargin have passed since any keyset last changed, by the database's
// clock. A keyset never changed since it was made (version 1) is loaded by every node when it
// starts, and is not waited for.
func (m *Main) RewrapMasterKey(ctx context.Context, oldKey, newKey keys.MasterKey) error {
	for _, which := range []string{keys.KeysetData, keys.KeysetMAC, keys.KeysetServer} {
		_, version, err := m.Store.LoadKeyset(ctx, which)
		if errors.Is(err, keys.ErrNoKeyset) || err == nil && version <= 1 {
			continue
		}
		if err != nil {
			return err
		}
		changed, now, ready, err := m.keysetReady(ctx, which)
		if err != nil {
			return err
		}
		if now.Before(ready) {
			return fmt.Errorf("%w: keyset %q changed at %s, and a node that has not reloaded the keysets since could not load that change once they are under the new master key (its writes that seal would be refused once the key fence (%s) has passed, until it is restarted); nothing was rewrapped: %s",
				ErrKeysetsUnsettled, which, changed.UTC().Format(time.RFC3339), m.Store.KeyFence(), retryAfter(ready, now))
		}
	}
	return keys.Rewrap(ctx, m.Store, oldKey, newKey)
}

// retireWait is how long after a keyset's last change keysetSettled refuses to retire a key:
// longer than the key fence bound, by retireMargin.
func (m *Main) retireWait() time.Duration { return m.Store.KeyFence() + retireMargin }

// sealVerb names what a node does with a key of keyset which, for a message.
func sealVerb(which string) string {
	if which == "mac" {
		return "make fingerprints"
	}
	return "seal records"
}

// notPrimary refuses the primary key of keyset which (keys.ErrPrimaryKey) before its records
// are counted: records never move off the primary, so "wait for re-encryption" would send the
// operator waiting for nothing. It reloads the keysets first, so that a rotation another node
// made is seen; when that fails the Keyring's own check still refuses the primary.
func (m *Main) notPrimary(ctx context.Context, which string, id uint32) error {
	m.Keyring.Refresh(ctx) // a failure leaves the keys in use here, which is what it checks
	for _, ks := range m.Keyring.Status().Keysets {
		if ks.Name == which && ks.Primary == id {
			return fmt.Errorf("%w (keyset %q, key %d)", keys.ErrPrimaryKey, which, id)
		}
	}
	return nil
}

// keyUnused checks that no record is sealed under data key id, or no fingerprint was made
// with fingerprint key id (keys.ErrKeyInUse).
func (m *Main) keyUnused(ctx context.Context, which string, id uint32) error {
	switch which {
	case "data":
		counts, err := m.Store.CountSealedByKey(ctx)
		if err != nil {
			return err
		}
		if n := counts[id]; n > 0 {
			if u := m.rekey.unreadableUnder(id); u > 0 {
				return fmt.Errorf("%w: key %d still protects %d records, %d of which the last re-encryption pass could not open; restore them from a backup or delete them (payvault keys rekey lists them)",
					keys.ErrKeyInUse, id, n, u)
			}
			return fmt.Errorf("%w: key %d still protects %d records; wait for re-encryption (payvault keys status), or run payvault keys rekey, which lists the records it cannot open", keys.ErrKeyInUse, id, n)
		}
	case "mac":
		n, err := m.Store.CountFingerprintsByKey(ctx, id)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: fingerprint key %d still made %d fingerprints; wait for re-encryption", keys.ErrKeyInUse, id, n)
		}
	default:
		return errors.New("which must be data or mac")
	}
	return nil
}

// unreadableUnder returns how many records sealed under data key id the last pass found
// unreadable.
func (j *rekeyJob) unreadableUnder(id uint32) int {
	if rep := j.last.Load(); rep != nil {
		return rep.UnreadableByKey[id]
	}
	return 0
}

// Rekey makes one re-encryption pass now: it re-encrypts every stale record it can open, and
// reports those it could not. Records changed meanwhile are left for the background job. On
// an embedded store that copy-store moved meanwhile it stops at its next write (ErrMoved), or
// at the write that waited for the copy.
func (m *Main) Rekey(ctx context.Context) (*vault.RekeyReport, error) {
	defer m.watchKeys(ctx)()
	rep, err := m.rekey.rk.Run(ctx, 200)
	if err == nil {
		m.rekey.last.Store(rep) // for RetireKey and the admin API; the caller reports it
	}
	if err = m.movedSince(err); errors.Is(err, ErrMoved) {
		err = stoppedMoved(err, fmt.Sprintf("%d records were re-encrypted here before the copy, which holds them: the nodes serving the PostgreSQL database re-encrypt the rest in the background, or run `payvault keys rekey --database`", rep.Rewritten))
	}
	return rep, err
}
