package vault

import "context"

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

// profileLockOrder is the lock-order key of writes that lock a profile first.
func profileLockOrder(ctx context.Context, profileID string) context.Context {
	if profileID == "" {
		return ctx
	}
	return WithLockOrder(ctx, "profile|"+profileID)
}
