package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// TestExportCLI runs `payvault export` beside a running server: it prints the recipient,
// writes a file only the recipient's private key opens, holding the card, and the audit
// chain verifies after it. A private key as recipient and an unknown merchant are refused
// without a file, and no output names the card number.
func TestExportCLI(t *testing.T) {
	const pan = "4111111111111111"
	dir := t.TempDir()
	s := MustServe(t, dir, nil)
	defer s.Stop(t)
	mid := mustMerchantWithCard(t, s, dir, "leaving-1", pan)["merchant_id"].(string)

	key, err := openpgp.NewEntity("Recipient", "", "recipient@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	pub := writeArmored(t, dir, "recipient.asc", openpgp.PublicKeyType, func(w *bytes.Buffer) error { return key.Serialize(w) })
	priv := writeArmored(t, dir, "private.asc", openpgp.PrivateKeyType, func(w *bytes.Buffer) error { return key.SerializePrivate(w, nil) })

	out, stderr, err := run(t, dir, nil, "export", "--merchant-id", mid, "--recipient", pub, "--out", "leaving.pgp")
	if err != nil {
		t.Fatalf("export: %v\n%s%s", err, out, stderr)
	}
	for _, want := range []string{"recipient: " + strings.ToUpper(hex.EncodeToString(key.PrimaryKey.Fingerprint)) + " Recipient <recipient@example.com>", "1 records", "card 1", "audit chain"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	f, err := os.Open(filepath.Join(dir, "leaving.pgp"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	md, err := openpgp.ReadMessage(f, openpgp.EntityList{key}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(md.UnverifiedBody)
	var lines []map[string]any
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	if len(lines) != 3 || lines[0]["format"] != "payvault-export" || lines[1]["card"].(map[string]any)["number"] != pan || lines[2]["end"] != true {
		t.Errorf("export lines: %v", lines)
	}
	if out, stderr, err := run(t, dir, nil, "audit", "verify"); err != nil || !strings.Contains(out, "audit chains verify") {
		t.Errorf("audit verify: %v\n%s%s", err, out, stderr)
	}

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"fail/private-key", []string{"--merchant-id", mid, "--recipient", priv}, "private key"},
		{"fail/unknown-merchant", []string{"--merchant-id", "00000000-0000-7000-8000-000000000000", "--recipient", pub}, "no merchant"},
		{"fail/existing-file", []string{"--merchant-id", mid, "--recipient", pub, "--out", "leaving.pgp"}, "exists"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"export"}, tt.args...)
			if !strings.Contains(strings.Join(args, " "), "--out") {
				args = append(args, "--out", "refused.pgp")
			}
			out, stderr, err := run(t, dir, nil, args...)
			if err == nil || !strings.Contains(stderr, tt.want) {
				t.Errorf("%v: %v\n%s%s", args, err, out, stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "refused.pgp")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused export left a file: %v", err)
			}
			if strings.Contains(out+stderr, pan) {
				t.Error("the output names the card number")
			}
		})
	}
	if strings.Contains(s.stdout.String()+s.stderr.String(), pan) {
		t.Error("the server's log names the card number")
	}
}
