package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// postProfileCard creates, through the Paysafe API at url with the merchant's server key
// (ps: the paysafe part of `merchant create --json`), a profile with one card, and returns
// the answer's status.
func postProfileCard(t *testing.T, url string, ps map[string]any, mcid, pan string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/customervault/v1/profiles", strings.NewReader(`{"merchantCustomerId":"`+mcid+`","locale":"en_US","card":{"cardNum":"`+pan+`","cardExpiry":{"month":12,"year":2050}}}`))
	req.SetBasicAuth(ps["api_key_id"].(string), ps["api_key_secret"].(string))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// mustMerchantWithCard creates a merchant with `merchant create --json` beside the server s
// on dir, stores a profile (merchantCustomerId mcid) with one card through its Paysafe API,
// and returns the merchant's credentials.
func mustMerchantWithCard(t *testing.T, s *server, dir, mcid, pan string) map[string]any {
	t.Helper()
	out, stderr, err := run(t, dir, nil, "merchant", "create", "--name", "Leaving", "--json")
	if err != nil {
		t.Fatalf("merchant create: %v\n%s", err, stderr)
	}
	creds := checkCredentialShape(t, firstJSON(t, out))
	if st := postProfileCard(t, s.url, creds["paysafe"].(map[string]any), mcid, pan); st != 201 {
		t.Fatalf("profile: %d", st)
	}
	return creds
}

// writeArmored writes what serialize makes, ASCII-armored as blockType (an OpenPGP public or
// private key), to dir/name, and returns the path.
func writeArmored(t *testing.T, dir, name, blockType string, serialize func(w *bytes.Buffer) error) string {
	t.Helper()
	var b, raw bytes.Buffer
	w, _ := armor.Encode(&b, blockType, nil)
	if err := serialize(&raw); err != nil {
		t.Fatal(err)
	}
	w.Write(raw.Bytes())
	w.Close()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// mustOperatorKey makes the importing operator's OpenPGP key pair, and writes its public key,
// armored, to dir/operator.asc: the recipient of an export. It returns the key and that path.
func mustOperatorKey(t *testing.T, dir string) (*openpgp.Entity, string) {
	t.Helper()
	key, err := openpgp.NewEntity("Operator", "", "operator@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return key, writeArmored(t, dir, "operator.asc", openpgp.PublicKeyType, func(w *bytes.Buffer) error { return key.Serialize(w) })
}
