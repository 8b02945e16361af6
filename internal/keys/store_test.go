package keys_test

import (
	"testing"

	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/keys/keystest"
)

// TestMemStoreConformance keeps the test fake honest: it must pass the
// same KeysetStore suite as the SQL store.
func TestMemStoreConformance(t *testing.T) {
	keystest.Run(t, func(testing.TB) keys.KeysetStore { return newMemStore() })
}
