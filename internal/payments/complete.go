package payments

import (
	"context"
	"errors"
	"time"

	"github.com/payvault/payvault/internal/vault"
)

// complete records a processor's answer in the second write transaction. out is nil and perr
// nil when the answer is lost (Recover); perr is set when the processor could not be reached.
// A transaction no longer RECEIVED (Recover got there first, or an earlier completion whose
// COMMIT's answer was lost) is returned as stored, with its settlement when it is an auth
// settled on approval, after h.resolved has run on it in the same write. When it
// fails, the amount it reserved on its parent is released. verified says that t's card was
// VERIFIED when t was received; a card's mark is never taken back, so an approval need not
// look again.
//
// t is the transaction as stored. Only complete changes a RECEIVED transaction, so while the
// stored one is RECEIVED it is still t: a transaction without a parent is completed from t
// with an update that holds only while the stored one is RECEIVED, which spares the write
// path a read of the row. When that update finds the transaction resolved, the write's
// effects are undone (errResolved) and the transaction is completed the long way, which
// reads and returns it. A transaction with a parent always takes the long way: it must lock
// the parent first.
func (s *Service) complete(ctx context.Context, t *Transaction, out *Outcome, perr error, h hooks, verified bool) (*Transaction, error) {
	ctx = context.WithoutCancel(ctx)
	if t.ParentID == "" {
		done, err := s.completeWith(ctx, t, out, perr, h, verified, false)
		if !errors.Is(err, errResolved) {
			return done, err
		}
	}
	return s.completeWith(ctx, t, out, perr, h, verified, true)
}

// record is complete for the node that called the processor and holds its answer: while the
// store is unavailable (a database restarting: its sessions end, then it refuses connections
// for a moment) it tries again, for up to Config.CompleteRetry, since the answer is lost once
// the call returns: Recover can only re-query a processor that keeps answers (Querier), and
// fails the transaction otherwise, though the processor approved it. Trying again is safe: a
// completion whose COMMIT landed unacknowledged finds the transaction resolved and returns it.
func (s *Service) record(ctx context.Context, t *Transaction, out *Outcome, perr error, h hooks, verified bool) (*Transaction, error) {
	deadline := time.Now().Add(s.cfg.CompleteRetry)
	for delay := 50 * time.Millisecond; ; delay = min(delay*2, time.Second) {
		done, err := s.complete(ctx, t, out, perr, h, verified)
		if err == nil || vault.KindOf(err) != vault.Unavailable || time.Now().Add(delay).After(deadline) {
			return done, err
		}
		time.Sleep(delay)
	}
}

// errResolved says that a transaction completed from its stored copy was no longer RECEIVED.
var errResolved = errors.New("transaction already resolved")

// completeWith is complete's write: with lock it reads and locks the transaction (and its
// parent), without it it works from t and fails with errResolved when t is not RECEIVED.
func (s *Service) completeWith(ctx context.Context, t *Transaction, out *Outcome, perr error, h hooks, verified, lock bool) (*Transaction, error) {
	var done *Transaction
	err := s.write(ctx, func(tx Tx) error {
		done = nil
		var parent *Transaction
		var err error
		cur := t
		if lock {
			if t.ParentID != "" {
				// Parents are locked before children, everywhere.
				if parent, err = tx.LockTransaction(ctx, t.MerchantID, t.ParentID); err != nil {
					return err
				}
			}
			if cur, err = tx.LockTransaction(ctx, t.MerchantID, t.ID); err != nil {
				return err
			}
		}
		if cur.Status != StatusReceived {
			// Resolved already (Recover, or this completion's own earlier COMMIT whose answer
			// was lost): the caller answers with it, so it carries its settlement as an
			// approval does, read here rather than by the caller after the commit.
			if cur.Type == TypeAuth && cur.SettleWithAuth && cur.Approved() {
				if cur.Settled, err = settlementIn(ctx, tx, cur, s.Now()); err != nil && vault.KindOf(err) != vault.NotFound {
					return err
				}
			}
			if h.resolved != nil {
				if err := h.resolved(ctx, tx, cur); err != nil {
					return err
				}
			}
			done = cur
			return nil
		}
		now := s.Now()
		next := *cur
		next.Modified = now
		switch {
		case perr != nil:
			next.Status, next.Reason = StatusFailed, ReasonProcessorError
		case out == nil:
			next.Status, next.Reason = StatusFailed, ReasonInterrupted
		default:
			next.Decision, next.Code, next.Message = out.Decision, out.Code, out.Message
			next.AuthCode, next.AVS, next.CVV = out.AuthCode, out.AVS, out.CVV
			if out.Decision == Approved {
				if err := s.approve(ctx, tx, &next, out, now, verified); err != nil {
					return err
				}
			} else {
				next.Status, next.ErrorCode = StatusFailed, out.Code
			}
		}
		if next.Status == StatusFailed {
			next.Available = 0
			if parent != nil {
				p := *parent
				p.Available += next.Amount
				p.Modified = now
				if err := tx.UpdateTransaction(ctx, &p); err != nil {
					return err
				}
			}
		}
		if next.Status != StatusFailed && h.after != nil {
			if err := h.after(ctx, tx, &next); err != nil {
				return &afterFailed{err}
			}
		}
		if lock {
			if err := tx.UpdateTransaction(ctx, &next); err != nil {
				return err
			}
		} else if ok, err := tx.CompleteReceived(ctx, &next); err != nil {
			return err
		} else if !ok {
			return errResolved
		}
		done = &next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return done, nil
}

// hooks are the callbacks a completion runs: after in the write that completes an approved
// transaction (AuthRequest.AfterApproval), resolved in the one that finds it completed
// already (AuthRequest.AfterResolved).
type hooks struct {
	after, resolved func(context.Context, Tx, *Transaction) error
}

// afterFailed is an AfterApproval callback's error, told apart from the store's own.
type afterFailed struct{ err error }

func (e *afterFailed) Error() string { return "after approval: " + e.err.Error() }
func (e *afterFailed) Unwrap() error { return e.err }

// approve applies an approval to t inside tx: its status, what it leaves available, the
// settlement of an auth settled on approval, and the VERIFIED mark on a vault card (unless
// verified says it has it).
func (s *Service) approve(ctx context.Context, tx Tx, t *Transaction, out *Outcome, now time.Time, verified bool) error {
	t.Status = StatusCompleted
	switch t.Type {
	case TypeAuth:
		t.Available = t.Amount
		if t.SettleWithAuth {
			t.Available = 0
			st := &Transaction{
				ID: vault.NewID(), MerchantID: t.MerchantID, LocationID: t.LocationID, AccountNumber: t.AccountNumber,
				API: t.API, Type: TypeSettlement, Status: StatusPending, ParentID: t.ID, MerchantRefNum: t.MerchantRefNum,
				Amount: t.Amount, Currency: t.Currency, Available: t.Amount, SettleWithAuth: true,
				PaymentMethod: t.PaymentMethod, InstrumentID: t.InstrumentID, ProfileID: t.ProfileID,
				ProductTransactionID: t.ProductTransactionID, CreatedUserID: t.CreatedUserID, Card: t.Card,
				Decision: Approved, TxnTime: t.TxnTime, CompletesAt: t.TxnTime.Add(s.cfg.BatchDelay),
				Created: now, Modified: now,
			}
			if err := tx.InsertTransaction(ctx, st); err != nil {
				return err
			}
			settled := *st
			settled.applyBatch(now)
			t.Settled = &settled
		}
	case TypeSale:
		t.Available = t.Amount
	case TypeDebit:
		t.Available = t.Amount
		if out.Pending {
			t.Status, t.CompletesAt = StatusPending, t.TxnTime.Add(s.cfg.BatchDelay)
		}
	case TypeSettlement:
		t.Status, t.Available, t.CompletesAt = StatusPending, t.Amount, t.TxnTime.Add(s.cfg.BatchDelay)
	case TypeRefund:
		t.Status, t.CompletesAt = StatusPending, t.TxnTime.Add(s.cfg.BatchDelay)
	}
	if verifies(t.Type) && t.InstrumentID != "" && t.PaymentMethod == MethodCard && !verified {
		if err := s.vault.MarkCardVerified(ctx, tx, t.MerchantID, t.InstrumentID); err != nil {
			return err
		}
	}
	return nil
}

// recoverMargin is added to the processor timeout before Recover touches a RECEIVED
// transaction: the time a node may still need to commit an answer it got in time.
const recoverMargin = 30 * time.Second

// RecoverAge is the age past which Recover resolves a RECEIVED transaction whatever its node,
// for the processor timeout pt (Config.ProcessorTimeout; 0 is its default). A store's
// NodeAlive need only be right for younger transactions.
func RecoverAge(pt time.Duration) time.Duration {
	if pt == 0 {
		pt = DefaultProcessorTimeout
	}
	return pt + recoverMargin
}

// recoverBatch bounds how many transactions one Recover call resolves.
const recoverBatch = 500

// Recover resolves RECEIVED transactions left by a crash: it re-queries the processor when it
// can (Querier) and otherwise marks them FAILED with ReasonInterrupted, releasing what they
// reserved. A transaction is touched only when no live node can still be completing it: its
// node is gone (Config.NodeAlive says so), or it is older than the processor timeout. Calls
// in flight on live nodes, this one included, are left alone. Call it on start and then
// periodically. It returns how many it resolved.
func (s *Service) Recover(ctx context.Context) (int, error) {
	now := s.Now()
	cutoff := now.Add(-RecoverAge(s.cfg.ProcessorTimeout))
	before := cutoff
	if s.cfg.NodeAlive != nil {
		before = now.Add(time.Millisecond)
	}
	list, err := s.store.ListReceived(ctx, before, recoverBatch)
	if err != nil {
		return 0, vault.E("payments.Recover", err)
	}
	alive := map[string]bool{s.cfg.Node: true, "": true}
	n := 0
	for _, t := range list {
		if t.Created.After(cutoff) {
			live, ok := alive[t.Node]
			if !ok {
				if live, err = s.cfg.NodeAlive(ctx, t.Node); err != nil {
					return n, vault.E("payments.Recover", err)
				}
				alive[t.Node] = live
			}
			if live {
				continue // its node may still complete it
			}
		}
		out, qerr := s.requery(ctx, t)
		if qerr != nil {
			continue // the processor could not say; try again on the next run
		}
		if _, err := s.complete(ctx, t, out, nil, hooks{}, false); err != nil {
			return n, vault.E("payments.Recover", err)
		}
		n++
	}
	return n, nil
}

// requery asks t's processor what became of t. It returns a nil outcome when the answer is
// lost for good, and an error when it may come later.
func (s *Service) requery(ctx context.Context, t *Transaction) (*Outcome, error) {
	m, err := s.store.GetMerchant(ctx, t.MerchantID)
	if err != nil {
		return nil, err
	}
	name := ""
	if t.ProductTransactionID != "" {
		if pt, err := s.store.GetProductTransaction(ctx, t.MerchantID, t.ProductTransactionID); err == nil {
			name = pt.Processor
		}
	}
	proc, err := s.processor(m, name)
	if err != nil {
		return nil, nil
	}
	q, ok := proc.(Querier)
	if !ok {
		return nil, nil
	}
	qctx, cancel := context.WithTimeout(ctx, s.cfg.ProcessorTimeout)
	defer cancel()
	out, err := q.Query(qctx, &Request{API: t.API, TransactionID: t.ID, Type: t.Type, Amount: t.Amount, Currency: t.Currency, PaymentMethod: t.PaymentMethod})
	switch {
	case errors.Is(err, ErrNotReceived):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return out, nil
}
