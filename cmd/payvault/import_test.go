package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// TestImportCLI exports a merchant of a running payvault and imports it with `payvault
// import` into a merchant of another store, with a passphrase-protected private key: the dry
// run writes nothing, the import keeps the card's payment token, a second run imports
// nothing again (and its last line says so, since it records the run on the audit chain),
// the audit chain verifies, a missing passphrase is refused, and no output names the card
// number. The same file into a second merchant of that store is refused, the
// dry run too, naming the collisions with the first (tokens are unique in the store), and
// writes nothing.
func TestImportCLI(t *testing.T) {
	const pan = "4111111111111111"
	dirA, dirB := t.TempDir(), t.TempDir()
	s := MustServe(t, dirA, nil)
	defer s.Stop(t)
	creds := mustMerchantWithCard(t, s, dirA, "moving-1", pan)

	key, pub := mustOperatorKey(t, dirB)
	if err := key.EncryptPrivateKeys([]byte("correct horse"), nil); err != nil {
		t.Fatal(err)
	}
	priv := writeArmored(t, dirB, "operator.key.asc", openpgp.PrivateKeyType, func(w *bytes.Buffer) error { return key.SerializePrivateWithoutSigning(w, nil) })
	pass := filepath.Join(dirB, "pass")
	os.WriteFile(pass, []byte("correct horse\n"), 0o600)
	file := filepath.Join(dirA, "moving.pgp")
	if out, stderr, err := run(t, dirA, nil, "export", "--merchant-id", creds["merchant_id"].(string), "--recipient", pub, "--out", file); err != nil {
		t.Fatalf("export: %v\n%s%s", err, out, stderr)
	}

	out, stderr, err := run(t, dirB, nil, "merchant", "create", "--name", "Arriving", "--json")
	if err != nil {
		t.Fatalf("merchant create: %v\n%s", err, stderr)
	}
	mid := checkCredentialShape(t, firstJSON(t, out))["merchant_id"].(string)
	out, stderr, err = run(t, dirB, nil, "merchant", "create", "--name", "Second", "--json")
	if err != nil {
		t.Fatalf("merchant create: %v\n%s", err, stderr)
	}
	second := checkCredentialShape(t, firstJSON(t, out))["merchant_id"].(string)
	all := ""
	for _, tt := range []struct {
		name string
		args []string
		want []string
		fail bool
		into string // the merchant, when not mid
	}{
		{"fail/no-passphrase", []string{"--key", priv}, []string{"passphrase"}, true, ""},
		{"ok/dry-run", []string{"--key", priv, "--passphrase-file", pass, "--dry-run"}, []string{"1 records", "1 to create", "0 invalid, 0 collisions", "nothing was written"}, false, ""},
		{"ok/import", []string{"--key", priv, "--passphrase-file", pass}, []string{"imported 1 instruments, 1 profiles", "0 mandates in", "audit chain"}, false, ""},
		{"ok/rerun", []string{"--key", priv, "--passphrase-file", pass}, []string{"0 to create", "1 already imported", "imported 0 instruments", "audit chain"}, false, ""},
		{"fail/second-merchant-dry-run", []string{"--key", priv, "--passphrase-file", pass, "--dry-run"},
			[]string{"1 collisions (1 with another merchant of this store)", "paymentToken: held by an instrument of another merchant", "nothing was imported"}, true, second},
		{"fail/second-merchant", []string{"--key", priv, "--passphrase-file", pass}, []string{"1 with another merchant of this store", "nothing was imported"}, true, second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			into := mid
			if tt.into != "" {
				into = tt.into
			}
			args := append([]string{"import", "--merchant-id", into, "--in", file}, tt.args...)
			out, stderr, err := run(t, dirB, nil, args...)
			all += out + stderr
			if (err != nil) != tt.fail {
				t.Fatalf("%v: %v\n%s%s", args, err, out, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(out+stderr, w) {
					t.Errorf("output lacks %q:\n%s%s", w, out, stderr)
				}
			}
		})
	}
	if out, stderr, err := run(t, dirB, nil, "audit", "verify"); err != nil || !strings.Contains(out, "audit chains verify") {
		t.Errorf("audit verify: %v\n%s%s", err, out, stderr)
	}
	if strings.Contains(all, pan) {
		t.Error("the output names the card number")
	}
}

// TestImportCardNumberInHolderName: an export file whose record holds a card number in its
// holder name (which the APIs refuse) is refused by `payvault import`, the dry run too, naming
// the line, the record and the field; the number is nowhere in the output or the logs.
func TestImportCardNumberInHolderName(t *testing.T) {
	const pan, inName = "4111111111111111", "5555555555554444"
	dirA, dirB := t.TempDir(), t.TempDir()
	s := MustServe(t, dirA, nil)
	defer s.Stop(t)
	creds := mustMerchantWithCard(t, s, dirA, "named-1", pan)
	key, pub := mustOperatorKey(t, dirB)
	priv := writeArmored(t, dirB, "operator.key.asc", openpgp.PrivateKeyType, func(w *bytes.Buffer) error { return key.SerializePrivate(w, nil) })
	file := filepath.Join(dirA, "named.pgp")
	if out, stderr, err := run(t, dirA, nil, "export", "--merchant-id", creds["merchant_id"].(string), "--recipient", pub, "--out", file); err != nil {
		t.Fatalf("export: %v\n%s%s", err, out, stderr)
	}

	// The export's lines, the record's holder name set to a card number, encrypted again.
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	md, err := openpgp.ReadMessage(bytes.NewReader(raw), openpgp.EntityList{key}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(md.UnverifiedBody)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(plain)), "\n")
	if len(lines) != 3 {
		t.Fatalf("export of one card: %d lines", len(lines))
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &rec); err != nil {
		t.Fatal(err)
	}
	rec["holderName"] = "Jane " + inName
	b, _ := json.Marshal(rec)
	lines[1] = string(b)
	var buf bytes.Buffer
	w, err := openpgp.Encrypt(&buf, []*openpgp.Entity{key}, nil, &openpgp.FileHints{IsBinary: true, FileName: "payvault-export.jsonl"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(strings.Join(lines, "\n") + "\n"))
	w.Close()
	named := filepath.Join(dirB, "named.pgp")
	if err := os.WriteFile(named, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	out, stderr, err := run(t, dirB, nil, "merchant", "create", "--name", "Arriving", "--json")
	if err != nil {
		t.Fatalf("merchant create: %v\n%s", err, stderr)
	}
	mid := checkCredentialShape(t, firstJSON(t, out))["merchant_id"].(string)
	want := "line 2: invalid: instrument " + rec["id"].(string) + ": holderName: a card number is not allowed here"
	for _, dry := range []bool{true, false} {
		args := []string{"import", "--merchant-id", mid, "--in", named, "--key", priv}
		if dry {
			args = append(args, "--dry-run")
		}
		out, stderr, err := run(t, dirB, nil, args...)
		if err == nil || !strings.Contains(out, want) || !strings.Contains(out, "1 invalid, 0 collisions") || !strings.Contains(stderr, "nothing was imported") {
			t.Errorf("%v: err %v, want a refusal with %q:\n%s%s", args, err, want, out, stderr)
		}
		if strings.Contains(out+stderr, inName) || strings.Contains(out+stderr, pan) {
			t.Errorf("%v: the output names a card number:\n%s%s", args, out, stderr)
		}
	}
	if strings.Contains(s.stderr.String(), inName) {
		t.Error("the server's log names the card number")
	}
}
