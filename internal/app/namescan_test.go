package app

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/vault"
)

// TestScanNames: vault.ScanNames over the SQL store, on both engines and in batches of one
// record, finds each record whose name or label a database writer (or a payvault before the
// refusal) set to hold a card number: an instrument's holder name, a profile's company name,
// an address's recipient, a single-use token's holder name (in its JSON); it counts them by
// table and field and lists them by id, and its report never holds the number.
func TestScanNames(t *testing.T) {
	const pan = "5555555555554444"
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			f := mustExportFixture(t, engine)
			f.capLog.Forbid(pan)
			m := f.tool(t)
			rep, err := vault.ScanNames(ctx, m.Store, 1)
			if err != nil || rep.Holding != 0 || rep.Records == 0 {
				t.Fatalf("a clean store: %+v, %v", rep, err)
			}
			first := func(table string) (id string) {
				t.Helper()
				ids, err := m.Store.NameColumns(ctx, table, []string{"nick_name"}, "", 1)
				if table == "profiles" {
					ids, err = m.Store.NameColumns(ctx, table, []string{"first_name"}, "", 1)
				}
				if err != nil || len(ids) == 0 {
					t.Fatalf("no %s: %v", table, err)
				}
				return ids[0].ID
			}
			card, prof, addr := first("instruments"), first("profiles"), first("addresses")
			meta, _ := json.Marshal(vault.TokenMeta{HolderName: "J " + pan, LastFour: "4444"})
			for _, q := range []struct {
				sql  string
				args []any
			}{
				{"UPDATE instruments SET holder_name = ? WHERE id = ?", []any{"Jane " + pan, card}},
				{"UPDATE profiles SET company_name = ? WHERE id = ?", []any{pan + " Ltd", prof}},
				{"UPDATE addresses SET recipient_name = ? WHERE id = ?", []any{pan[:8] + " " + pan[8:], addr}},
				{"INSERT INTO onetime_tokens (id, merchant_id, location_id, token, kind, meta, created_at, expires_at) VALUES ('ott-1', ?, 'loc', 'tok-1', 'card', ?, 0, 0)", []any{f.mid, string(meta)}},
			} {
				query := q.sql
				for n := 1; engine == "postgres" && strings.Contains(query, "?"); n++ {
					query = strings.Replace(query, "?", "$"+strconv.Itoa(n), 1)
				}
				if _, err := m.Store.DB().ExecContext(ctx, query, q.args...); err != nil {
					t.Fatal(err)
				}
			}
			rep, err = vault.ScanNames(ctx, m.Store, 1)
			if err != nil {
				t.Fatal(err)
			}
			want := []vault.NameCount{{Table: "instruments", Field: "holder_name", Records: 1}, {Table: "profiles", Field: "company_name", Records: 1},
				{Table: "addresses", Field: "recipient_name", Records: 1}, {Table: "onetime_tokens", Field: "holder_name", Records: 1}}
			if d := cmp.Diff(want, rep.Found); d != "" || rep.Holding != 4 {
				t.Errorf("found (-want +got)\n%s; holding %d", d, rep.Holding)
			}
			wantListed := []vault.NameRecord{{Table: "instruments", ID: card, MerchantID: f.mid, Field: "holder_name"}, {Table: "profiles", ID: prof, MerchantID: f.mid, Field: "company_name"},
				{Table: "addresses", ID: addr, MerchantID: f.mid, Field: "recipient_name"}, {Table: "onetime_tokens", ID: "ott-1", MerchantID: f.mid, Field: "holder_name"}}
			if d := cmp.Diff(wantListed, rep.Listed); d != "" {
				t.Errorf("listed (-want +got)\n%s", d)
			}
			b, _ := json.Marshal(rep)
			if leaks := logtest.Leaks(string(b), []string{pan}); len(leaks) > 0 {
				t.Errorf("the report holds %v", leaks)
			}
			if _, err := m.Store.NameColumns(ctx, "merchants", []string{"name"}, "", 1); vault.KindOf(err) != vault.Internal {
				t.Errorf("a table it does not list: %v", err)
			}
			if _, err := m.Store.NameColumns(ctx, "instruments", []string{"number_sealed"}, "", 1); vault.KindOf(err) != vault.Internal {
				t.Errorf("a column it does not list: %v", err)
			}
		})
	}
}
