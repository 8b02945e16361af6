package payments

import (
	"context"
	"time"

	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/vault"
)

// Store is the persistence payments needs: the vault store, whose write transactions also
// implement Tx, and the transaction lookups.
//
// One write transaction serves both cores: the vault rules a payment relies on (consuming a
// single-use token, marking a card verified) run on the same transaction as the payment's own
// writes, so that they commit or roll back together. vault.Store.Write hands its callback a
// vault.Tx; a store that serves payments hands one that is also a payments.Tx (sqlstore
// asserts this statically), and Service checks it once per write.
type Store interface {
	vault.Store
	Reader
}

// Reader holds the transaction lookups. Every lookup is scoped to a merchant unless its
// comment says otherwise. Kinds: NotFound, Internal.
type Reader interface {
	// GetTransaction returns a transaction by id.
	GetTransaction(ctx context.Context, merchantID, id string) (*Transaction, error)
	// GetTransactionByAPIID returns the transaction with this api id in a location.
	GetTransactionByAPIID(ctx context.Context, merchantID, locationID, apiID string) (*Transaction, error)
	// ListTransactions returns a merchant's transactions matching q, and the total count.
	// The filterable fields are the column names: id, location_id, account_number, api, type,
	// status, parent_id, merchant_ref_num, api_id, order_num, amount, payment_method,
	// instrument_id, profile_id, product_transaction_id, created_user_id, brand, bin,
	// last_four, holder_name, error_code, reason_code, txn_at and created_at, and the
	// computed outcome: the type and where it ended, as "<type>:approved" (COMPLETED or
	// PENDING), "<type>:failed", "<type>:cancelled" or "<type>:received".
	ListTransactions(ctx context.Context, merchantID string, q vault.Query) ([]*Transaction, int, error)
	// ListChildren returns the transactions drawing on parentID, oldest first.
	ListChildren(ctx context.Context, merchantID, parentID string) ([]*Transaction, error)
	// CountByRef counts an account's transactions of a type with a merchant reference that
	// reached the processor or are in flight: every one but a FAILED one without a processor
	// reason code (a request an API refused).
	CountByRef(ctx context.Context, merchantID, accountNumber string, ty Type, merchantRefNum string) (int, error)
	// ListReceived returns up to limit RECEIVED transactions created before t, server-wide,
	// oldest first.
	ListReceived(ctx context.Context, before time.Time, limit int) ([]*Transaction, error)
}

// Tx is a read-write transaction of a store that serves payments. Its reads see its writes.
type Tx interface {
	vault.Tx
	Reader
	// LockTransaction returns a transaction and holds its row lock until the transaction
	// ends, so that money checks and the writes they guard are atomic. Kinds: NotFound.
	LockTransaction(ctx context.Context, merchantID, id string) (*Transaction, error)
	// LockKey serialises the transactions that lock the same key until they end (a merchant
	// reference under dupCheck). Engines whose write transactions are already serial may do
	// nothing.
	LockKey(ctx context.Context, key string) error
	// InsertTransaction stores a new transaction with its sealed account number; Conflict
	// (Field api_id) when its api id is taken in the location.
	InsertTransaction(ctx context.Context, t *Transaction) error
	// UpdateTransaction replaces a transaction's mutable fields: status, available,
	// outcome, error, extras, instrument_id, completes_at and updated_at.
	UpdateTransaction(ctx context.Context, t *Transaction) error
	// CompleteReceived is UpdateTransaction on a transaction that is still RECEIVED: it
	// reports false, and changes nothing, when the stored transaction is in any other status.
	CompleteReceived(ctx context.Context, t *Transaction) (bool, error)
	// CompletePending marks COMPLETED every PENDING settlement, refund and debit of a
	// merchant ("" for all) and returns how many changed.
	CompletePending(ctx context.Context, merchantID string, now time.Time) (int, error)
	// BindIdempotencyKey binds the pending Idempotency-Key record of claim c to ref (the
	// transaction the request made), so that it is never taken over as abandoned
	// (idempotency.Record.Bound); it does nothing when the claim was lost.
	BindIdempotencyKey(ctx context.Context, c idempotency.Claim, ref string) error
}
