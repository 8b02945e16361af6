package app

import (
	"context"
	"net/http"
	"time"

	"github.com/payvault/payvault/internal/api/fortis"
	"github.com/payvault/payvault/internal/api/paysafe"
	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/vault"
)

// openPayments builds the payments core, with the sandbox processor running each vendor API's
// trigger table, and the idempotency keeper every API's POSTs go through. node is this
// serving node's id ("" for a CLI tool).
func (m *Main) openPayments(node string) {
	cfg := m.Config
	scale := 1.0
	if cfg.SimulatorDelayScale != nil {
		scale = *cfg.SimulatorDelayScale
	}
	sandbox := payments.NewSandbox(map[string]*payments.Triggers{
		"paysafe": paysafe.SandboxTriggers(),
		"fortis":  fortis.SandboxTriggers(),
	}, payments.SandboxConfig{DelayScale: scale, MaxDelay: cfg.SimulatorMaxDelay})
	pcfg := payments.Config{
		Processors: map[string]payments.Processor{payments.SandboxName: sandbox},
		BatchDelay: cfg.BatchDelay,
		Now:        cfg.Now,
		Node:       node,
	}
	if node != "" {
		pcfg.NodeAlive = m.Store.NodeAlive
	}
	m.Payments = payments.NewService(m.Store, m.Vault, m.Keyring, pcfg)
	// Vaults from previous_transaction_id / _api_id read a transaction's account data
	// (exp_date included) through the payments core. NewService installs it too; saying it
	// here keeps the wiring visible.
	m.Vault.SetTransactionSource(m.Payments)
	// A key is taken over as abandoned (StaleAfter) only once the request that claimed it can
	// no longer be storing its outcome: a payment runs up to the processor timeout and the
	// completion's retries (and its writes' queue waits: the minute's margin) before it has an
	// answer, then tries to store it for KeepFor while the database is away. With the package's
	// 5 minutes from the claim, a retry sent as the database came back could take the key of a
	// payment still storing its answer, and call the processor again.
	pc := m.Payments.Config()
	keepFor := 4 * time.Minute
	m.Idempotency = idempotency.New(m.Store, m.Keyring, idempotency.Config{Now: cfg.Now, Logger: cfg.Logger,
		KeepFor: keepFor, StaleAfter: pc.ProcessorTimeout + max(pc.CompleteRetry, 0) + keepFor + time.Minute})
}

// fortisIdempotency is the Fortis API's idempotency hook: keys are scoped to the caller's
// merchant and the Fortis API (a browser credential's apart, vault.Principal.IdempotencyScope),
// and a reused key is answered in the Fortis envelope.
func (m *Main) fortisIdempotency(w http.ResponseWriter, r *http.Request, p *vault.Principal, _ string, refresh idempotency.Refresh, next http.HandlerFunc) {
	m.Idempotency.Serve(w, r, p.MerchantID(), p.IdempotencyScope("fortis"), fortis.WriteIdempotencyConflict, refresh, next)
}

// recoverPayments resolves transactions left RECEIVED by a crash, and logs what it did.
func (m *Main) recoverPayments(ctx context.Context) {
	n, err := m.Payments.Recover(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		m.Config.Logger.Warn("payments: recovery failed", "err", err)
	case n > 0:
		m.Config.Logger.Info("payments: resolved interrupted transactions", "count", n)
	}
}

// paymentsBackground recovers interrupted transactions every minute and sweeps idempotency
// keys past their 24 hours every hour, until ctx ends.
func (m *Main) paymentsBackground(ctx context.Context) {
	recoverTick := time.NewTicker(time.Minute)
	defer recoverTick.Stop()
	sweepTick := time.NewTicker(time.Hour)
	defer sweepTick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-recoverTick.C:
			m.recoverPayments(ctx)
		case <-sweepTick.C:
			if n, err := m.Idempotency.Sweep(ctx); err != nil && ctx.Err() == nil {
				m.Config.Logger.Warn("idempotency: sweep failed", "err", err)
			} else if n > 0 {
				m.Config.Logger.Info("idempotency: swept expired keys", "count", n)
			}
		}
	}
}
