package vault

import (
	"context"
	"strings"
)

type lockOrderKey struct{}

// WithLockOrder returns ctx carrying the key of the row a Write locks first (such as
// "profile|<id>"). A Store that runs several writes in one transaction (group commit) may
// run them in key order, so that two such transactions running at once take their row locks
// in one order and never deadlock. It changes nothing else: fn must be correct in any order.
func WithLockOrder(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, lockOrderKey{}, key)
}

// LockOrderFrom returns the key set by WithLockOrder, or "".
func LockOrderFrom(ctx context.Context) string {
	k, _ := ctx.Value(lockOrderKey{}).(string)
	return k
}

// profileLockOrder is the lock-order key of writes that lock a profile before any other
// row (a card create), so that a Store may take that lock early: LockedProfileFrom.
// Writes that lock a profile only after other rows must not use it.
func profileLockOrder(ctx context.Context, profileID string) context.Context {
	if profileID == "" {
		return ctx
	}
	return WithLockOrder(ctx, profileOrderPrefix+profileID)
}

const profileOrderPrefix = "profile|"

// LockedProfileFrom returns the profile that ctx's write locks before any other row
// (profileLockOrder), or "".
func LockedProfileFrom(ctx context.Context) string {
	if id, ok := strings.CutPrefix(LockOrderFrom(ctx), profileOrderPrefix); ok {
		return id
	}
	return ""
}

type bulkKey struct{}

// WithBulk returns ctx marking a Write as a bulk write: one that runs many statements whose
// answers fn does not need (an import's batch). A Store may then send them together even
// when the write runs alone (on PostgreSQL, as one pipeline instead of a round trip each),
// at the cost of running fn once more, with each statement run at once, when one of them
// fails. It changes nothing else: fn must already be correct when run more than once.
func WithBulk(ctx context.Context) context.Context {
	return context.WithValue(ctx, bulkKey{}, true)
}

// BulkFrom reports whether ctx marks a bulk write (WithBulk).
func BulkFrom(ctx context.Context) bool {
	b, _ := ctx.Value(bulkKey{}).(bool)
	return b
}

type tokenReadKey struct{}

// WithTokenRead returns ctx marking a Write whose fn reads the vault instrument with this
// payment token (Reader.GetInstrumentByTokenWithCustomer, an auth by card token). A Store
// that runs several writes in one transaction (group commit) may read the instruments of a
// batch's such writes together, in that transaction, before their fns run, and answer each
// fn's read from what it read, as long as nothing in the transaction has written
// instruments or profiles since. It changes nothing else: fn reads as it would without it.
func WithTokenRead(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenReadKey{}, token)
}

// TokenReadFrom returns the token set by WithTokenRead, or "".
func TokenReadFrom(ctx context.Context) string {
	t, _ := ctx.Value(tokenReadKey{}).(string)
	return t
}
