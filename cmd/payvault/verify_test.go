package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/logtest"
)

// verifyJSON is the part of `keys verify --json` the tests read.
type verifyJSON struct {
	OK         bool `json:"ok"`
	Records    int  `json:"records"`
	Unreadable int  `json:"unreadable"`
	Tables     []struct {
		Table   string `json:"table"`
		Records int    `json:"records"`
		Fields  int    `json:"fields_opened"`
	} `json:"tables"`
	Problems []struct {
		Table      string `json:"table"`
		ID         string `json:"id"`
		MerchantID string `json:"merchant_id"`
		Problem    string `json:"problem"`
		Field      string `json:"field"`
	} `json:"problems"`
	RecordsPerSecond float64 `json:"records_per_second"`
}

// mustVerify runs `keys verify` (with --json when asJSON) in dir, checks that nothing it
// prints names a PAN, and returns stdout, stderr and its error.
func mustVerify(t *testing.T, dir string, asJSON bool, pans []string) (string, string, error) {
	t.Helper()
	args := []string{"keys", "verify"}
	if asJSON {
		args = append(args, "--json")
	}
	out, stderr, err := run(t, dir, nil, args...)
	if leaks := logtest.Leaks(out+stderr, pans); len(leaks) > 0 {
		t.Errorf("keys verify %v prints %v:\n%s\n%s", args, leaks, out, stderr)
	}
	for _, pan := range pans {
		if strings.Contains(out+stderr, pan[len(pan)-8:]) {
			t.Errorf("keys verify %v prints digits of a card:\n%s\n%s", args, out, stderr)
		}
	}
	return out, stderr, err
}

// TestKeysVerify: `keys verify` reads a whole store beside a running server and exits 0;
// it also verifies while another connection holds SQLite's write lock, so it takes no write
// transaction; after a database writer swaps the payment tokens of two cards it lists both,
// by id, in words and in JSON, and exits non-zero. It never prints a card number.
func TestKeysVerify(t *testing.T) {
	dir := t.TempDir()
	pans := []string{"4111111111111111", "5555555555554444"}
	s := MustServe(t, dir, nil)
	creds := mustMerchantWithCard(t, s, dir, "verify-1", pans[0])
	if st := postProfileCard(t, s.url, creds["paysafe"].(map[string]any), "verify-2", pans[1]); st != 201 {
		t.Fatalf("profile: %d", st)
	}
	// Every location (the sandbox merchant's and this one's) holds a sealed ticket hash key.
	want := map[string]int{"instruments": 2, "onetime_tokens": 0, "locations": 2, "transactions": 0}

	out, stderr, err := mustVerify(t, dir, false, pans) // beside the running server
	if err != nil {
		t.Fatalf("keys verify on a whole store: %v\n%s%s", err, out, stderr)
	}
	for _, line := range []string{`(?m)^instruments:\s+2 records, 2 sealed fields opened, 0 unreadable, 0 fingerprint mismatches, 0 fingerprint keys not held, 0 sealed under another key than their record names, 0 with sealed data missing$`,
		`(?m)^locations:\s+2 records, 2 sealed fields opened, 0 unreadable`,
		`(?m)^verified 4 records in \S+ \(\d+ records/s\): 0 unreadable, 0 fingerprint mismatches, 0 fingerprint keys not held, 0 sealed under another key than their record names, 0 with sealed data missing$`} {
		if !regexp.MustCompile(line).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", line, out)
		}
	}
	s.Stop(t)

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "payvault-data", "payvault.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	lock, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	out, stderr, err = mustVerify(t, dir, true, pans)
	lock.ExecContext(ctx, "ROLLBACK")
	lock.Close()
	if err != nil {
		t.Fatalf("keys verify --json while the write lock is held: %v\n%s%s", err, out, stderr)
	}
	var got verifyJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	gotRecords := map[string]int{}
	for _, tb := range got.Tables {
		gotRecords[tb.Table] = tb.Records
	}
	if d := cmp.Diff(want, gotRecords); d != "" || !got.OK || got.Records != 4 || len(got.Problems) != 0 || got.RecordsPerSecond <= 0 {
		t.Errorf("keys verify --json: %s\n(-want +got records)\n%s", out, d)
	}

	// A database writer swaps the two cards' tokens (unique: three statements).
	rows, err := db.Query("SELECT id, token, merchant_id FROM instruments ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	var ids, toks []string
	var mid string
	for rows.Next() {
		var id, tok string
		if err := rows.Scan(&id, &tok, &mid); err != nil {
			t.Fatal(err)
		}
		ids, toks = append(ids, id), append(toks, tok)
	}
	rows.Close()
	for _, q := range []string{
		"UPDATE instruments SET token = 'swap' WHERE id = '" + ids[0] + "'",
		"UPDATE instruments SET token = '" + toks[0] + "' WHERE id = '" + ids[1] + "'",
		"UPDATE instruments SET token = '" + toks[1] + "' WHERE id = '" + ids[0] + "'",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	out, stderr, err = mustVerify(t, dir, false, pans)
	if err == nil || !strings.Contains(stderr, "2 records do not verify (2 unreadable, 0 fingerprint mismatches") {
		t.Errorf("keys verify after a token swap: %v\n%s", err, stderr)
	}
	for _, id := range ids {
		if !strings.Contains(out, "problem: instruments "+id+" (merchant "+mid+", key ") || !strings.Contains(out, "field number): does not open") {
			t.Errorf("card %s is not listed as a problem:\n%s", id, out)
		}
	}
	if !strings.Contains(out, "instruments:    2 records, 0 sealed fields opened, 2 unreadable") {
		t.Errorf("the instruments line does not count them:\n%s", out)
	}
	out, _, err = mustVerify(t, dir, true, pans)
	got = verifyJSON{}
	if jerr := json.Unmarshal([]byte(out), &got); jerr != nil || err == nil || got.OK || got.Unreadable != 2 || len(got.Problems) != 2 {
		t.Errorf("keys verify --json after a token swap: %v, %v\n%s", jerr, err, out)
	}
	for i, p := range got.Problems {
		if p.Table != "instruments" || p.ID != ids[i] || p.MerchantID != mid || p.Problem != "unreadable" || p.Field != "number" {
			t.Errorf("problem %d: %+v; want card %s, unreadable, field number", i, p, ids[i])
		}
	}
}

// TestKeysVerifyNames: `keys verify` also counts the stored records whose name or label holds
// a card number in the clear, which the APIs refuse now but a store written before (or by a
// database writer) may hold: by table and field, listing each record by id, never the value,
// in words and in JSON. They make its exit status non-zero, with "ok": false in JSON.
func TestKeysVerifyNames(t *testing.T) {
	dir := t.TempDir()
	pans := []string{"4111111111111111", "5555555555554444"}
	s := MustServe(t, dir, nil)
	mustMerchantWithCard(t, s, dir, "names-1", pans[0])
	s.Stop(t)
	out, stderr, err := mustVerify(t, dir, false, pans)
	if err != nil || !strings.Contains(out, "names: no name or label of ") {
		t.Fatalf("keys verify on a clean store: %v\n%s%s", err, out, stderr)
	}

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "payvault-data", "payvault.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var cardID, profileID, mid string
	if err := db.QueryRow("SELECT id, profile_id, merchant_id FROM instruments").Scan(&cardID, &profileID, &mid); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"UPDATE instruments SET holder_name = 'Jane 5555 5555 5555 4444' WHERE id = '" + cardID + "'",
		"UPDATE profiles SET first_name = 'x5555555555554444' WHERE id = '" + profileID + "'",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	out, stderr, err = mustVerify(t, dir, false, pans)
	if err == nil || !strings.Contains(stderr, "2 records hold a card number in a name or label in the clear") {
		t.Errorf("keys verify with card numbers in names: %v, want exit 1 saying so\n%s%s", err, out, stderr)
	}
	for _, want := range []string{
		"card number in a name: instruments " + cardID + " (merchant " + mid + ", field holder_name)",
		"card number in a name: profiles " + profileID + " (merchant " + mid + ", field first_name)",
		"names: 2 records hold a card number in the clear, in instruments.holder_name 1, profiles.first_name 1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, _, err = mustVerify(t, dir, true, pans)
	var got struct {
		OK    bool `json:"ok"`
		Names struct {
			Records int `json:"records"`
			Found   []struct {
				Table, Field string
				Records      int
			} `json:"found"`
			Listed []struct {
				Table, ID, Field string
				MerchantID       string `json:"merchant_id"`
			} `json:"listed"`
		} `json:"names"`
	}
	if jerr := json.Unmarshal([]byte(out), &got); jerr != nil || err == nil || got.OK || got.Names.Records == 0 {
		t.Fatalf("keys verify --json: %v, %v\n%s", jerr, err, out)
	}
	wantFound := []struct {
		Table, Field string
		Records      int
	}{{"instruments", "holder_name", 1}, {"profiles", "first_name", 1}}
	if d := cmp.Diff(wantFound, got.Names.Found); d != "" {
		t.Errorf("names.found (-want +got)\n%s", d)
	}
	if len(got.Names.Listed) != 2 || got.Names.Listed[0].ID != cardID || got.Names.Listed[1].ID != profileID || got.Names.Listed[0].MerchantID != mid {
		t.Errorf("names.listed: %+v", got.Names.Listed)
	}
}
