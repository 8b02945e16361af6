package sqlstore

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"time"

	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/vault"
)

// The store serves payments too. Its write transaction, the *tx that vault.Store.Write hands
// to its callback, also implements payments.Tx, so that a payment's own writes and the vault
// rules it relies on (consuming a single-use token, marking a card verified) share one
// database transaction. payments.Service converts the vault.Tx it is handed; the assertion
// below makes that conversion a compile-time fact rather than a hope.
var (
	_ vault.Store    = (*Store)(nil)
	_ vault.Tx       = (*tx)(nil)
	_ payments.Store = (*Store)(nil)
	_ payments.Tx    = (*tx)(nil)
)

// txnDetails maps the request column: the parts of a transaction the core keeps as one JSON
// document (billing address, customer, SEC code and the vendor API's extras).
type txnDetails struct{ t *payments.Transaction }

type txnDetailsDoc struct {
	Billing    *payments.Billing `json:"billing,omitempty"`
	Customer   *vault.Customer   `json:"customer,omitempty"`
	ACHSecCode string            `json:"achSecCode,omitempty"`
	Extras     json.RawMessage   `json:"extras,omitempty"`
}

// Value implements driver.Valuer.
func (d txnDetails) Value() (driver.Value, error) {
	b, err := json.Marshal(txnDetailsDoc{Billing: d.t.Billing, Customer: d.t.Customer, ACHSecCode: d.t.ACHSecCode, Extras: d.t.Extras})
	return string(b), err
}

// Scan implements sql.Scanner.
func (d txnDetails) Scan(src any) error {
	var doc txnDetailsDoc
	if err := asJSON(&doc).Scan(src); err != nil {
		return err
	}
	d.t.Billing, d.t.Customer, d.t.ACHSecCode, d.t.Extras = doc.Billing, doc.Customer, doc.ACHSecCode, doc.Extras
	return nil
}

// txnResult maps the result column: the processor's verdict and text, and the reason a
// transaction failed without one.
type txnResult struct{ t *payments.Transaction }

type txnResultDoc struct {
	Decision payments.Decision `json:"decision,omitempty"`
	Message  string            `json:"message,omitempty"`
	Reason   string            `json:"reason,omitempty"`
}

// Value implements driver.Valuer.
func (r txnResult) Value() (driver.Value, error) {
	b, err := json.Marshal(txnResultDoc{Decision: r.t.Decision, Message: r.t.Message, Reason: r.t.Reason})
	return string(b), err
}

// Scan implements sql.Scanner.
func (r txnResult) Scan(src any) error {
	var doc txnResultDoc
	if err := asJSON(&doc).Scan(src); err != nil {
		return err
	}
	r.t.Decision, r.t.Message, r.t.Reason = doc.Decision, doc.Message, doc.Reason
	return nil
}

func transactionCols(t *payments.Transaction) []col {
	return []col{
		{"id", &t.ID}, {"merchant_id", &t.MerchantID}, {"location_id", &t.LocationID},
		{"account_number", &t.AccountNumber}, {"api", &t.API}, {"type", (*string)(&t.Type)},
		{"status", (*string)(&t.Status)}, {"parent_id", &t.ParentID}, {"merchant_ref_num", &t.MerchantRefNum},
		{"api_id", &t.APIID}, {"order_num", &t.OrderNum}, {"amount", &t.Amount}, {"currency", &t.Currency},
		{"available", &t.Available}, {"payment_method", &t.PaymentMethod}, {"instrument_id", &t.InstrumentID},
		{"profile_id", &t.ProfileID}, {"product_transaction_id", &t.ProductTransactionID},
		{"created_user_id", &t.CreatedUserID}, {"brand", &t.Card.Brand}, {"bin", &t.Card.BIN},
		{"last_four", &t.Card.LastFour}, {"pan_length", &t.Card.PANLength}, {"exp_month", &t.Card.ExpMonth},
		{"exp_year", &t.Card.ExpYear}, {"holder_name", &t.Card.HolderName}, {"routing_number", &t.RoutingNumber},
		{"account_type", &t.AccountType}, {"dek_id", &t.Sealed.KeyID}, {"number_sealed", &t.Sealed.Number},
		{"auth_code", &t.AuthCode}, {"avs_result", (*string)(&t.AVS)}, {"cvv_result", (*string)(&t.CVV)},
		{"error_code", &t.ErrorCode}, {"reason_code", &t.Code}, {"settle_with_auth", &t.SettleWithAuth},
		{"request", txnDetails{t}}, {"result", txnResult{t}}, {"txn_at", ms(&t.TxnTime)},
		{"completes_at", ms(&t.CompletesAt)}, {"created_at", ms(&t.Created)}, {"updated_at", ms(&t.Modified)},
		{"node_id", &t.Node},
	}
}

func newTransaction() (*payments.Transaction, []col) {
	t := &payments.Transaction{}
	return t, transactionCols(t)
}

func (q *q) getTransaction(ctx context.Context, op, id, where string, args ...any) (*payments.Transaction, error) {
	t, cs := newTransaction()
	if err := q.row(ctx, "SELECT "+names(cs)+" FROM transactions WHERE "+where, args...).Scan(ptrs(cs)...); err != nil {
		return nil, mapErr(op, err, id)
	}
	return t, nil
}

// GetTransaction implements payments.Reader.
func (q *q) GetTransaction(ctx context.Context, merchantID, id string) (*payments.Transaction, error) {
	return q.getTransaction(ctx, "sqlstore.GetTransaction", id, "merchant_id = ? AND id = ?", merchantID, id)
}

// GetTransactionByAPIID implements payments.Reader.
func (q *q) GetTransactionByAPIID(ctx context.Context, merchantID, locationID, apiID string) (*payments.Transaction, error) {
	// "api_id <> ''" is transactions_api_id's condition, which a planner cannot infer from
	// "api_id = ?"; without it SQLite reads every transaction of the merchant.
	return q.getTransaction(ctx, "sqlstore.GetTransactionByAPIID", apiID,
		"merchant_id = ? AND location_id = ? AND api_id = ? AND api_id <> ''", merchantID, locationID, apiID)
}

var transactionList = listSpec{
	table: "transactions",
	// A Fortis list is one API's transactions of its locations (migration 00014).
	split: &listSplit{fields: []string{"location_id", "api"}, literal: "api"},
	indexes: []listIndex{
		{name: "transactions_ref", fields: []string{"account_number", "type", "merchant_ref_num"}},
		{name: "transactions_parent", fields: []string{"parent_id"}, cond: "parent_id <> ''"},
		{name: "transactions_api_id", fields: []string{"location_id", "api_id"}, cond: "api_id <> ''"},
	},
	fields: map[string]fieldKind{
		"id": fLower, "location_id": fLower, "account_number": fText, "api": fText, "type": fText,
		"status": fText, "parent_id": fLower, "merchant_ref_num": fText, "api_id": fText, "order_num": fText,
		"amount": fInt, "payment_method": fFold, "instrument_id": fLower, "profile_id": fLower,
		"product_transaction_id": fLower, "created_user_id": fLower, "brand": fFold, "bin": fText,
		"last_four": fText, "holder_name": fText, "error_code": fText, "reason_code": fText,
		"txn_at": fTime, "created_at": fTime, "outcome": fText,
	},
	exprs: map[string]string{
		"outcome": "type || ':' || CASE WHEN status IN ('COMPLETED', 'PENDING') THEN 'approved' ELSE LOWER(status) END",
	},
}

// ListTransactions implements payments.Reader.
func (q *q) ListTransactions(ctx context.Context, merchantID string, qry vault.Query) ([]*payments.Transaction, int, error) {
	return list(ctx, q, transactionList, merchantID, qry, newTransaction, nil)
}

// ListChildren implements payments.Reader.
func (q *q) ListChildren(ctx context.Context, merchantID, parentID string) ([]*payments.Transaction, error) {
	_, cs := newTransaction()
	// "parent_id <> ''" restates the condition of the partial index transactions_parent, which
	// a planner cannot infer from "parent_id = ?": without it every lookup scans the table.
	onParent := ""
	if parentID != "" {
		onParent = " AND parent_id <> ''"
	}
	return listAll(ctx, q, "SELECT "+names(cs)+" FROM transactions WHERE merchant_id = ? AND parent_id = ?"+onParent+" ORDER BY created_at, id",
		[]any{merchantID, parentID}, newTransaction)
}

// CountByRef implements payments.Reader.
func (q *q) CountByRef(ctx context.Context, merchantID, accountNumber string, ty payments.Type, ref string) (int, error) {
	var n int
	err := q.row(ctx, "SELECT COUNT(*) FROM transactions WHERE account_number = ? AND type = ? AND merchant_ref_num = ? AND merchant_id = ? AND (status <> 'FAILED' OR reason_code <> '')",
		accountNumber, string(ty), ref, merchantID).Scan(&n)
	return n, mapErr("sqlstore.CountByRef", err)
}

// ListReceived implements payments.Reader.
func (q *q) ListReceived(ctx context.Context, before time.Time, limit int) ([]*payments.Transaction, error) {
	_, cs := newTransaction()
	return listAll(ctx, q, "SELECT "+names(cs)+" FROM transactions WHERE status = 'RECEIVED' AND created_at < ? ORDER BY created_at, id LIMIT ?",
		[]any{toMS(before), limit}, newTransaction)
}

// ReadsInWrite implements payments.ReadsInWrite: true on SQLite, whose one write connection
// keeps its page cache across commits while a read connection drops its own at every commit,
// so that an auth reading its card inside the write measured faster than one reading it
// before (docs/benchmarks.md). On PostgreSQL each statement of a write is a round trip its
// batch waits out.
func (s *Store) ReadsInWrite() bool { return s.dialect == SQLite }

// ReadsTokensAhead implements payments.TokenReadsAhead: a batch reads its auths' cards in one
// statement (readahead.go) instead of one each: a round trip each on PostgreSQL, and on
// SQLite a statement each of the one writer's CPU.
func (s *Store) ReadsTokensAhead() bool { return true }

// LockTransaction implements payments.Tx. On PostgreSQL the row lock is SELECT … FOR UPDATE;
// SQLite's write transactions are serial (one write connection, BEGIN IMMEDIATE), so a plain
// read inside one is already exclusive.
func (t *tx) LockTransaction(ctx context.Context, merchantID, id string) (*payments.Transaction, error) {
	return t.getTransaction(ctx, "sqlstore.LockTransaction", id, "merchant_id = ? AND id = ?"+t.forUpdate(), merchantID, id)
}

// LockKey implements payments.Tx with a transaction-scoped advisory lock on PostgreSQL. On
// SQLite it does nothing: write transactions are serial.
func (t *tx) LockKey(ctx context.Context, key string) error {
	if t.d != Postgres {
		return nil
	}
	_, err := t.exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", key)
	return mapErr("sqlstore.LockKey", err)
}

// InsertTransaction implements payments.Tx.
func (t *tx) InsertTransaction(ctx context.Context, txn *payments.Transaction) error {
	cs := transactionCols(txn)
	if _, _, err := t.execQueued(ctx, false, insertSQL("transactions", cs), vals(cs)...); err != nil {
		return mapErr("sqlstore.InsertTransaction", err)
	}
	// A transaction that runs on account data (a stored instrument, or a number it keeps
	// sealed for reuse) is a use of stored account data: it goes on the audit chain.
	if txn.InstrumentID != "" || len(txn.Sealed.Number) > 0 {
		return t.audit(ctx, txn.MerchantID, vault.AuditPayment, "transaction", txn.ID)
	}
	return nil
}

// transactionMutable are the columns UpdateTransaction writes.
var transactionMutable = map[string]bool{
	"status": true, "available": true, "auth_code": true, "avs_result": true, "cvv_result": true,
	"error_code": true, "reason_code": true, "request": true, "result": true, "completes_at": true,
	"updated_at": true, "instrument_id": true,
}

// mutableCols are txn's columns that UpdateTransaction writes.
func mutableCols(txn *payments.Transaction) []col {
	var cs []col
	for _, c := range transactionCols(txn) {
		if transactionMutable[c.name] {
			cs = append(cs, c)
		}
	}
	return cs
}

// UpdateTransaction implements payments.Tx.
func (t *tx) UpdateTransaction(ctx context.Context, txn *payments.Transaction) error {
	cs := mutableCols(txn)
	return t.execOne(ctx, "sqlstore.UpdateTransaction", txn.ID,
		updateSQL("transactions", cs, "merchant_id = ? AND id = ?"), append(vals(cs), txn.MerchantID, txn.ID)...)
}

// completeReceivedWhere is CompleteReceived's condition; its arguments are the merchant, the
// id and payments.StatusReceived. The status is bound, not written: a literal 'RECEIVED' lets
// PostgreSQL serve the statement from the partial index transactions_received, and a plan
// made while the table was empty (a new store's first auths) chose it and kept it, cached,
// while every completed auth left a dead entry there for each later UPDATE to read (1.35 ms a
// call in benchmark runs, against 0.08; TestCompleteReceivedPlanCached).
const completeReceivedWhere = "merchant_id = ? AND id = ? AND status = ?"

// CompleteReceived implements payments.Tx. The status condition makes it safe without a row
// lock: on PostgreSQL an UPDATE that waited for a concurrent one re-checks its WHERE on the
// row that one committed. In a PostgreSQL batch it is queued (execQueued): a refusal found
// when the queue is sent runs the batch again, where this answers false.
func (t *tx) CompleteReceived(ctx context.Context, txn *payments.Transaction) (bool, error) {
	cs := mutableCols(txn)
	ok, err := t.changesOne(ctx, updateSQL("transactions", cs, completeReceivedWhere),
		append(vals(cs), txn.MerchantID, txn.ID, string(payments.StatusReceived))...)
	return ok, mapErr("sqlstore.CompleteReceived", err)
}

// CompletePending implements payments.Tx. A transaction whose batch time has already passed
// keeps that time; the others complete now.
func (t *tx) CompletePending(ctx context.Context, merchantID string, now time.Time) (int, error) {
	query := "UPDATE transactions SET status = 'COMPLETED', updated_at = ?, " +
		"completes_at = CASE WHEN completes_at > 0 AND completes_at <= ? THEN completes_at ELSE ? END " +
		"WHERE status = 'PENDING' AND type IN ('settlement', 'refund', 'debit')"
	n := toMS(now)
	args := []any{n, n, n}
	if merchantID != "" {
		query += " AND merchant_id = ?"
		args = append(args, merchantID)
	}
	res, err := t.exec(ctx, query, args...)
	if err != nil {
		return 0, mapErr("sqlstore.CompletePending", err)
	}
	c, err := res.RowsAffected()
	if err != nil {
		return 0, mapErr("sqlstore.CompletePending", err)
	}
	return int(c), nil
}
