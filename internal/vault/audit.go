package vault

import (
	"context"
	"time"
)

// AuditRecord is one entry of a merchant's audit chain. It names an operation and the record it
// touched, never the data.
type AuditRecord struct {
	MerchantID string    `json:"merchant_id"`
	Seq        int64     `json:"seq"`
	At         time.Time `json:"at"`
	Op         string    `json:"op"`
	Actor      string    `json:"actor"`
	RecordType string    `json:"record_type"`
	RecordID   string    `json:"record_id"`
}

// Audit operations.
const (
	AuditMerchantCreate   = "merchant.create"
	AuditCredentialCreate = "credential.create"
	AuditCredentialUpdate = "credential.update"
	AuditAccountCreate    = "account_data.create"
	AuditAccountUpdate    = "account_data.update"
	AuditAccountDelete    = "account_data.delete"
	AuditAccountErase     = "account_data.erase"
	AuditTokenCreate      = "token.create"
	AuditTokenConsume     = "token.consume"
	AuditPayment          = "account_data.use"
	AuditKeyChange        = "key.change"
)

type actorKey struct{}

// WithActor records who acts in ctx (a credential id such as "paysafe:key_…", "fortis:user:…",
// "admin" or "cli"); the store writes it into audit records. It must never be a secret.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor recorded in ctx, or "system".
func ActorFrom(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "system"
}

// AuditMAC computes and verifies the audit chain's MACs. *keys.Keyring implements it through
// ServerMAC and VerifyServerMAC.
type AuditMAC interface {
	ServerMAC(purpose string, data []byte) []byte
	VerifyServerMAC(purpose string, data, mac []byte) bool
}

// AuditProblem is one break found by verification.
type AuditProblem struct {
	MerchantID string `json:"merchant_id"`
	Seq        int64  `json:"seq"`
	Problem    string `json:"problem"`
}

// AuditAccountExport is `payvault export`: a merchant's account data was exported,
// encrypted to a recipient's OpenPGP key. Its record type is "export" and its record id
// names the recipient's fingerprint and the counts, never data.
const AuditAccountExport = "account_data.export"
