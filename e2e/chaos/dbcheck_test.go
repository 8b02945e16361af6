package chaos

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver
	_ "modernc.org/sqlite"
)

// dbCheck is a query that returns the ids of the rows breaking one rule.
type dbCheck struct {
	name, query string
}

// live counts settlements, voids and refunds that hold money: every one not FAILED or CANCELLED.
const live = "status NOT IN ('FAILED','CANCELLED')"

// dbChecks are the rules the stored data must obey after any crash. They are plain SQL that
// both engines accept. Each subquery also says that parent_id (or profile_id) is not empty,
// which lets the engines use the partial indexes, so that the checks stay linear as the data
// grows.
var dbChecks = []dbCheck{
	{"transaction left RECEIVED after start-up recovery",
		"SELECT id FROM transactions WHERE status = 'RECEIVED'"},
	{"auth whose availableToSettle is not amount - settlements - voids (§2.16)",
		"SELECT a.id FROM transactions a WHERE a.type = 'auth' AND a.status IN ('COMPLETED','PENDING') AND a.available <> a.amount - " +
			"COALESCE((SELECT SUM(c.amount) FROM transactions c WHERE c.parent_id = a.id AND c.parent_id <> '' AND c.type IN ('settlement','void') AND c." + live + "), 0)"},
	{"auth settled or voided beyond its amount",
		"SELECT a.id FROM transactions a WHERE a.type = 'auth' AND (a.available < 0 OR a.amount < " +
			"COALESCE((SELECT SUM(c.amount) FROM transactions c WHERE c.parent_id = a.id AND c.parent_id <> '' AND c.type IN ('settlement','void') AND c." + live + "), 0))"},
	{"settlement or sale whose available-to-refund is not amount - refunds (Paysafe §2.16, Fortis §3.7)",
		"SELECT s.id FROM transactions s WHERE s.type IN ('settlement','sale') AND s.status IN ('COMPLETED','PENDING') AND s.available <> s.amount - " +
			"COALESCE((SELECT SUM(c.amount) FROM transactions c WHERE c.parent_id = s.id AND c.parent_id <> '' AND c.type = 'refund' AND c." + live + "), 0)"},
	{"settlement refunded beyond its amount",
		"SELECT s.id FROM transactions s WHERE s.type IN ('settlement','sale') AND (s.available < 0 OR s.amount < " +
			"COALESCE((SELECT SUM(c.amount) FROM transactions c WHERE c.parent_id = s.id AND c.parent_id <> '' AND c.type = 'refund' AND c." + live + "), 0))"},
	{"failed or cancelled transaction with money left",
		"SELECT id FROM transactions WHERE status IN ('FAILED','CANCELLED') AND available <> 0"},
	{"failed auth with live settlements",
		"SELECT a.id FROM transactions a WHERE a.type = 'auth' AND a.status = 'FAILED' AND EXISTS " +
			"(SELECT 1 FROM transactions c WHERE c.parent_id = a.id AND c.parent_id <> '' AND c." + live + ")"},
	{"auth settled with auth without its one settlement",
		"SELECT a.id FROM transactions a WHERE a.type = 'auth' AND a.status = 'COMPLETED' AND a.settle_with_auth = TRUE AND 1 <> " +
			"(SELECT COUNT(*) FROM transactions c WHERE c.parent_id = a.id AND c.parent_id <> '' AND c.type = 'settlement' AND c.settle_with_auth = TRUE)"},
	{"follow-up without its parent",
		"SELECT c.id FROM transactions c WHERE c.parent_id <> '' AND NOT EXISTS (SELECT 1 FROM transactions p WHERE p.id = c.parent_id)"},
	{"instrument of a missing profile",
		"SELECT i.id FROM instruments i WHERE i.profile_id <> '' AND NOT EXISTS (SELECT 1 FROM profiles p WHERE p.id = i.profile_id)"},
	{"card without its billing address",
		"SELECT i.id FROM instruments i WHERE i.billing_address_id <> '' AND NOT EXISTS (SELECT 1 FROM addresses a WHERE a.id = i.billing_address_id)"},
	{"address of a missing profile",
		"SELECT a.id FROM addresses a WHERE NOT EXISTS (SELECT 1 FROM profiles p WHERE p.id = a.profile_id)"},
	{"profile created with a card, not whole (one card, its billing address)",
		"SELECT p.id FROM profiles p WHERE p.merchant_customer_id LIKE 'pc-%' AND (" +
			"(SELECT COUNT(*) FROM instruments i WHERE i.profile_id = p.id AND i.profile_id <> '' AND i.kind = 'card' AND i.billing_address_id <> '') < 1 OR " +
			"(SELECT COUNT(*) FROM addresses a WHERE a.profile_id = p.id) <> 1)"},
	{"live card without its ciphertext",
		"SELECT id FROM instruments WHERE kind = 'card' AND deleted_at = 0 AND (number_sealed IS NULL OR dek_id = 0 OR fingerprint = '')"},
	{"transaction ciphertext without its key id",
		"SELECT id FROM transactions WHERE number_sealed IS NOT NULL AND dek_id = 0"},
	{"one-time token consumed but still holding its CVV",
		"SELECT id FROM onetime_tokens WHERE consumed_at <> 0 AND cvv_sealed IS NOT NULL"},
	{"kept vault count out of step with the active vaults (instrument_counts)",
		"SELECT COALESCE(c.merchant_id, r.merchant_id) || '/' || COALESCE(c.location_id, r.location_id) || '/' || COALESCE(c.kind, r.kind) FROM " +
			"(SELECT merchant_id, location_id, kind, SUM(n) AS n FROM instrument_counts GROUP BY merchant_id, location_id, kind HAVING SUM(n) <> 0) c " +
			"FULL JOIN (SELECT merchant_id, location_id, kind, COUNT(*) AS n FROM instruments WHERE deleted_at = 0 GROUP BY merchant_id, location_id, kind) r " +
			"ON c.merchant_id = r.merchant_id AND c.location_id = r.location_id AND c.kind = r.kind " +
			"WHERE c.n IS NULL OR r.n IS NULL OR c.n <> r.n"},
	{"audit chain head out of step with its records",
		"SELECT h.merchant_id FROM audit_heads h WHERE h.seq <> (SELECT MAX(l.seq) FROM audit_log l WHERE l.merchant_id = h.merchant_id)"},
}

// openDB opens the node's database for the checks: the embedded store read-only, or the
// PostgreSQL database.
func openDB(tb testing.TB, cfg nodeConfig) *sql.DB {
	tb.Helper()
	var db *sql.DB
	var err error
	if dsn := storeArgs(cfg); dsn != nil {
		db, err = sql.Open("pgx", dsn[1])
	} else {
		db, err = sql.Open("sqlite", "file:"+filepath.Join(cfg.dir, "payvault-data", "payvault.db")+"?mode=ro&_pragma=busy_timeout(10000)")
	}
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

// checkDB runs every rule and reports the rows that break one.
func checkDB(ctx context.Context, tb testing.TB, db *sql.DB) {
	tb.Helper()
	for _, c := range dbChecks {
		rows, err := db.QueryContext(ctx, c.query)
		if err != nil {
			tb.Fatalf("%s: %v", c.name, err)
		}
		var bad []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				tb.Fatal(err)
			}
			bad = append(bad, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			tb.Fatalf("%s: %v", c.name, err)
		}
		if len(bad) > 0 {
			tb.Errorf("%s: %d rows, e.g. %s", c.name, len(bad), strings.Join(bad[:min(len(bad), 5)], ", "))
		}
	}
}

// countRows returns SELECT COUNT(*) of a query.
func countRows(ctx context.Context, tb testing.TB, db *sql.DB, query string) int {
	tb.Helper()
	var n int
	if err := db.QueryRowContext(ctx, query).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}
