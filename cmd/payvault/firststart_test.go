package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestMerchantCreateBesideFirstStart: `payvault merchant create` run while `payvault serve`
// makes a new store (its first start) waits for the store and creates its merchant, and the
// server starts as ever, with the sandbox merchant. Neither says that the schema needs
// migrating or that another server holds the store, and neither drops the master key the
// other uses. The race is one of timing: each round starts a server on a new data dir and
// runs merchant create at once, a few times over.
func TestMerchantCreateBesideFirstStart(t *testing.T) {
	for round := range 5 {
		dir := t.TempDir()
		s := startServe(t, dir, nil)
		for i := range 2 {
			out, stderr, err := run(t, dir, nil, "merchant", "create", "--name", fmt.Sprintf("Beside %d", i), "--json")
			if err != nil {
				t.Fatalf("round %d, merchant create %d: %v\n%s\nserve's stderr:\n%s", round, i, err, stderr, s.stderr)
			}
			checkCredentialShape(t, []byte(out))
		}
		s.mustServing(t)
		if !strings.Contains(s.stdout.String(), "first start. A sandbox merchant was created") {
			t.Errorf("round %d: serve did not create the sandbox merchant:\n%s", round, s.stdout)
		}
		if out, stderr, err := run(t, dir, nil, "audit", "verify"); err != nil {
			t.Errorf("round %d: audit verify: %v\n%s%s", round, err, out, stderr)
		}
		s.Stop(t)
	}
}
