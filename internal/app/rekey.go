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
// batches, while the server keeps serving. Its progress lives in the data (each record's
// dek_id and fingerprint key), so it resumes by itself after a crash.
type rekeyJob struct {
	rk        *vault.Rekeyer
	m         *Main
	stale     atomic.Int64
	passes    atomic.Int64 // passes counts the passes run, for tests.
	rewritten prometheus.Counter
	sealed    *prometheus.GaugeVec
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
	m.Metrics.Registry.MustRegister(j.rewritten, j.sealed, stale)
	return j
}

// Progress is the re-encryption job's state, for the admin API.
type Progress struct {
	PrimaryKeyID uint32         `json:"primary_key_id"`
	Stale        int64          `json:"stale_records"`
	Records      map[string]int `json:"records_by_key"`
}

// count refreshes the per-key gauges and returns the progress.
func (j *rekeyJob) count(ctx context.Context) (*Progress, error) {
	counts, err := j.m.Store.CountSealedByKey(ctx)
	if err != nil {
		return nil, err
	}
	primary := j.m.Keyring.PrimaryKeyID()
	p := &Progress{PrimaryKeyID: primary, Records: map[string]int{}}
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
// runs one every rekeyQuietTicks ticks, as a safety net.
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
			settled = j.pass(ctx) && time.Since(changed) >= rekeySettleTicks*every
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

// pass counts the records by key and re-encrypts the stale ones; it reports whether it found
// none (and failed nowhere).
func (j *rekeyJob) pass(ctx context.Context) bool {
	j.passes.Add(1)
	prog, err := j.count(ctx)
	if err != nil {
		if ctx.Err() == nil {
			j.m.Config.Logger.Warn("rekey: count failed", "err", err)
		}
		return false
	}
	clean := prog.Stale == 0
	if clean && !j.oldMACKey() {
		// The count (an index scan) found nothing under an old data key, and no old
		// fingerprint key is enabled: no record can be stale, so the table scans of Step,
		// which read every sealed record (minutes on a 10-million-card store), are skipped.
		return true
	}
	var p vault.RekeyPass
	for !p.Done() {
		before := p.Report.Rewritten
		_, err := j.rk.Step(ctx, &p, 200)
		if n := p.Report.Rewritten - before; n > 0 {
			clean = false
			j.rewritten.Add(float64(n))
			j.m.Config.Logger.Info("rekey: re-encrypted records", "count", n)
		}
		if err != nil {
			if ctx.Err() == nil {
				j.m.Config.Logger.Warn("rekey: step failed", "err", err)
			}
			return false
		}
	}
	return clean && p.Report.Changed == 0 && p.Report.Unreadable == 0
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

// RetireKey disables a data key once no record is sealed under it, or a fingerprint key once
// no fingerprint was made with it. The primary key cannot be retired.
func (m *Main) RetireKey(ctx context.Context, which string, id uint32) error {
	switch which {
	case "data":
		counts, err := m.Store.CountSealedByKey(ctx)
		if err != nil {
			return err
		}
		if n := counts[id]; n > 0 {
			return fmt.Errorf("%w: key %d still protects %d records; wait for re-encryption (payvault keys status)", keys.ErrKeyInUse, id, n)
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
	return m.Keyring.Disable(ctx, which, id)
}

// Rekey makes one re-encryption pass now: it re-encrypts every stale record it can open, and
// reports those it could not. Records changed meanwhile are left for the background job.
func (m *Main) Rekey(ctx context.Context) (*vault.RekeyReport, error) {
	return m.rekey.rk.Run(ctx, 200)
}
