package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// The numbers the export tests store; none may appear in a log line.
const (
	expPAN1, expPAN2, expPAN3, expPAN4 = "4530910000012345", "378282246310005", "6011111111111117", "4005562231212149"
	expACH, expBACS, expEFT, expIBAN   = "987654321012", "12345678", "44889922", "DE89370400440532013000"
	expFortisACH                       = "123456780987"
)

// MustExportKey generates an OpenPGP key pair (EdDSA with a Curve25519 encryption subkey)
// with cfg, and returns it and the armored public key's file in dir.
func MustExportKey(tb testing.TB, dir, name string, cfg *packet.Config) (*openpgp.Entity, string) {
	tb.Helper()
	if cfg == nil {
		cfg = &packet.Config{}
	}
	cfg.Algorithm = packet.PubKeyAlgoEdDSA
	e, err := openpgp.NewEntity(name, "", name+"@example.com", cfg)
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, name+".asc")
	MustWriteKey(tb, path, openpgp.PublicKeyType, e.Serialize)
	return e, path
}

// MustWriteKey writes what serialize writes, armored as blockType, to path.
func MustWriteKey(tb testing.TB, path, blockType string, serialize ...func(io.Writer) error) {
	tb.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, blockType, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for _, s := range serialize {
		if err := s(w); err != nil {
			tb.Fatal(err)
		}
	}
	w.Close()
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// MustDecryptExport decrypts an export with key and returns its JSON lines.
func MustDecryptExport(tb testing.TB, path string, key *openpgp.Entity) []json.RawMessage {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	md, err := openpgp.ReadMessage(f, openpgp.EntityList{key}, nil, nil)
	if err != nil {
		tb.Fatalf("decrypting the export: %v", err)
	}
	if !md.IsEncrypted {
		tb.Fatal("the export is not encrypted")
	}
	var lines []json.RawMessage
	sc := bufio.NewScanner(md.UnverifiedBody)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, json.RawMessage(bytes.Clone(sc.Bytes())))
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("reading the export: %v", err)
	}
	if md.SignatureError != nil {
		tb.Fatalf("the export's integrity check: %v", md.SignatureError)
	}
	return lines
}

// exportFixture is a serving Main with a merchant's data made through both APIs, and the
// records an export of it must hold.
type exportFixture struct {
	m      *Main
	cfg    Config
	mid    string
	want   map[string]*vault.ExportRecord // want maps an instrument id to its record.
	capLog *logtest.Capture
}

// mustServeEngine serves a new store of engine (sqlite or postgres) with its handler on
// httptest; its log forbids the export tests' numbers and the store's secrets.
func mustServeEngine(t *testing.T, engine string) (*Main, Config, string, *logtest.Capture) {
	t.Helper()
	log, capture := logtest.New(t)
	capture.Forbid(expPAN1, expPAN2, expPAN3, expPAN4, expACH, expBACS, expEFT, expIBAN, expFortisACH)
	cfg := Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), MasterKey: keys.NewMasterKey().Base64(), Logger: log, Out: &nopWriter{}, AdminToken: testAdminToken}
	if engine == "postgres" {
		cfg.DataDir, cfg.DatabaseURL = "", storetest.PostgresDSN(t)
	}
	m, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	forbidSecrets(capture, m, testAdminToken)
	srv := httptest.NewServer(m.Handler)
	t.Cleanup(srv.Close)
	return m, cfg, srv.URL, capture
}

func mustExportFixture(t *testing.T, engine string) *exportFixture {
	t.Helper()
	ctx := context.Background()
	m, cfg, u, capture := mustServeEngine(t, engine)
	f := &exportFixture{m: m, cfg: cfg, mid: m.Credentials.MerchantID, want: map[string]*vault.ExportRecord{}, capLog: capture}
	ps := basicAuth(m.Credentials.Paysafe.APIKeyID, m.Credentials.Paysafe.APIKeySecret)
	fc := m.Credentials.Fortis
	fh := map[string]string{"developer-id": fc.DeveloperID, "user-id": fc.UserID, "user-api-key": fc.UserAPIKey, "Content-Type": "application/json"}
	str := func(v any, path ...string) string {
		for _, k := range path {
			switch x := v.(type) {
			case map[string]any:
				v = x[k]
			case []any:
				v = x[0]
				v = v.(map[string]any)[k]
			}
		}
		s, _ := v.(string)
		return s
	}
	// add records what the export must hold for an instrument created with id, taking from
	// the store only what payvault derives itself (brand, status, created).
	add := func(rec *vault.ExportRecord) {
		in, err := m.Store.GetInstrument(ctx, f.mid, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		rec.Kind, rec.PaymentToken, rec.LocationID, rec.Status, rec.Created = in.Kind, in.Token, fc.LocationID, "ACTIVE", in.Created
		if rec.Card != nil {
			rec.Card.Brand = in.Brand
			if in.Brand == "" {
				t.Errorf("card %s has no brand", rec.ID)
			}
		}
		f.want[rec.ID] = rec
	}
	// mandates is what the export must hold of an account's mandates, oldest first: the
	// reference and status of each as made here (pairs), and what payvault derives itself.
	mandates := func(id string, refStatus ...string) []vault.ExportMandate {
		list, err := m.Store.ListMandates(ctx, f.mid, id)
		if err != nil || len(list) != len(refStatus)/2 {
			t.Fatalf("mandates of %s: %d, %v", id, len(list), err)
		}
		var out []vault.ExportMandate
		for i, x := range list {
			out = append(out, vault.ExportMandate{ID: x.ID, Reference: refStatus[2*i], PaymentToken: x.Token, Status: refStatus[2*i+1],
				StatusChangeDate: x.StatusChanged, StatusReasonCode: x.StatusReasonCode, StatusReason: x.StatusReason, Created: x.Created})
		}
		return out
	}

	// Paysafe: a profile with a card and its billing address, a second card, a deleted
	// card, and ACH, BACS, EFT and SEPA accounts.
	p := copyCall(t, 201, "POST", u+"/customervault/v1/profiles", `{"merchantCustomerId":"exp-1","locale":"en_US","firstName":"Ada","lastName":"Lovelace","email":"ada@example.com",`+
		`"card":{"cardNum":"`+expPAN1+`","cardExpiry":{"month":12,"year":2040},"holderName":"Ada Lovelace","nickName":"main",`+
		`"billingAddress":{"street":"1 Main St","city":"New York","state":"NY","country":"US","zip":"10014"}}}`, ps).body
	prof := "/customervault/v1/profiles/" + str(p, "id")
	pp := &vault.ExportProfile{ID: str(p, "id"), PaymentToken: str(p, "paymentToken"), MerchantCustomerID: "exp-1", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com"}
	addr := &vault.ExportAddress{ID: str(p, "addresses", "id"), Street: "1 Main St", City: "New York", State: "NY", Country: "US", Zip: "10014"}
	add(&vault.ExportRecord{ID: str(p, "cards", "id"), Profile: pp, HolderName: "Ada Lovelace", NickName: "main", Default: true,
		Card: &vault.ExportCard{Number: expPAN1, ExpMonth: 12, ExpYear: 2040, LastFour: expPAN1[12:]}, BillingAddress: addr})
	c2 := copyCall(t, 201, "POST", u+prof+"/cards", `{"cardNum":"`+expPAN2+`","cardExpiry":{"month":1,"year":2041},"holderName":"A L"}`, ps).body
	add(&vault.ExportRecord{ID: str(c2, "id"), Profile: pp, HolderName: "A L",
		Card: &vault.ExportCard{Number: expPAN2, ExpMonth: 1, ExpYear: 2041, LastFour: expPAN2[11:]}})
	c3 := copyCall(t, 201, "POST", u+prof+"/cards", `{"cardNum":"`+expPAN3+`","cardExpiry":{"month":2,"year":2042}}`, ps).body
	copyCall(t, 200, "DELETE", u+prof+"/cards/"+str(c3, "id"), "", ps)
	ach := copyCall(t, 201, "POST", u+prof+"/achbankaccounts", `{"accountHolderName":"Ada L","accountNumber":"`+expACH+`","routingNumber":"211589828","accountType":"SAVINGS","nickName":"chk","billingAddressId":"`+addr.ID+`"}`, ps).body
	add(&vault.ExportRecord{ID: str(ach, "id"), Profile: pp, HolderName: "Ada L", NickName: "chk", BillingAddress: addr,
		BankAccount: &vault.ExportBank{AccountNumber: expACH, RoutingNumber: "211589828", AccountType: "SAVINGS"}})
	bacs := copyCall(t, 201, "POST", u+prof+"/bacsbankaccounts", `{"accountHolderName":"Ada B","accountNumber":"`+expBACS+`","sortCode":"207405","billingAddressId":"`+addr.ID+`","mandates":[{"reference":"EXPB1"}]}`, ps).body
	add(&vault.ExportRecord{ID: str(bacs, "id"), Profile: pp, HolderName: "Ada B", BillingAddress: addr,
		BankAccount: &vault.ExportBank{AccountNumber: expBACS, SortCode: "207405", Mandates: mandates(str(bacs, "id"), "EXPB1", vault.MandatePending)}})
	eft := copyCall(t, 201, "POST", u+prof+"/eftbankaccounts", `{"accountHolderName":"Ada E","accountNumber":"`+expEFT+`","transitNumber":"25039","institutionId":"001","billingAddressId":"`+addr.ID+`"}`, ps).body
	add(&vault.ExportRecord{ID: str(eft, "id"), Profile: pp, HolderName: "Ada E", BillingAddress: addr,
		BankAccount: &vault.ExportBank{AccountNumber: expEFT, TransitNumber: "25039", InstitutionID: "001"}})
	sepa := copyCall(t, 201, "POST", u+prof+"/sepabankaccounts", `{"accountHolderName":"Ada S","iban":"`+expIBAN+`","bic":"cobadeffxxx","billingAddressId":"`+addr.ID+`","mandates":[{"reference":"EXPS1"}]}`, ps).body
	// The SEPA account's second mandate, cancelled: every mandate is exported, whatever its status.
	sm := copyCall(t, 201, "POST", u+prof+"/sepabankaccounts/"+str(sepa, "id")+"/mandates", `{"reference":"EXPS2"}`, ps).body
	copyCall(t, 200, "PUT", u+prof+"/mandates/"+str(sm, "id"), `{"status":"CANCELLED"}`, ps)
	add(&vault.ExportRecord{ID: str(sepa, "id"), Profile: pp, HolderName: "Ada S", BillingAddress: addr,
		BankAccount: &vault.ExportBank{IBAN: expIBAN, BIC: "COBADEFFXXX", Mandates: mandates(str(sepa, "id"), "EXPS1", vault.MandateActive, "EXPS2", vault.MandateCancelled)}})

	// Fortis: a contact with a cc and an ach account vault.
	ct := copyCall(t, 201, "POST", u+"/v2/contacts", `{"contact":{"location_id":"`+fc.LocationID+`","first_name":"Grace","last_name":"Hopper","email":"grace@example.com","contact_api_id":"gh-1"}}`, fh).body
	cid := str(ct, "contact", "id")
	contact, err := m.Store.GetProfile(ctx, f.mid, cid) // the Fortis API does not show a contact's profile token
	if err != nil {
		t.Fatal(err)
	}
	fp := &vault.ExportProfile{ID: cid, PaymentToken: contact.Token, ContactAPIID: "gh-1", FirstName: "Grace", LastName: "Hopper", Email: "grace@example.com"}
	cc := copyCall(t, 201, "POST", u+"/v2/accountvaults", `{"accountvault":{"location_id":"`+fc.LocationID+`","contact_id":"`+cid+`","payment_method":"cc","account_number":"`+expPAN4+`","exp_date":"1230",`+
		`"title":"corp","account_holder_name":"Grace Hopper","account_vault_api_id":"ghcc1","billing_address":"2 Navy Rd","billing_city":"Arlington","billing_state":"VA","billing_zip":"22202"}}`, fh).body
	add(&vault.ExportRecord{ID: str(cc, "accountvault", "id"), FortisAPIID: "ghcc1", Profile: fp, HolderName: "Grace Hopper", Title: "corp", Default: true,
		Card:           &vault.ExportCard{Number: expPAN4, ExpMonth: 12, ExpYear: 2030, LastFour: expPAN4[12:]},
		BillingAddress: &vault.ExportAddress{Street: "2 Navy Rd", City: "Arlington", State: "VA", Zip: "22202"}})
	fa := copyCall(t, 201, "POST", u+"/v2/accountvaults", `{"accountvault":{"location_id":"`+fc.LocationID+`","contact_id":"`+cid+`","payment_method":"ach","account_number":"`+expFortisACH+`","routing":"072000326","account_type":"savings","account_holder_name":"Grace H"}}`, fh).body
	add(&vault.ExportRecord{ID: str(fa, "accountvault", "id"), Profile: fp, HolderName: "Grace H",
		BankAccount: &vault.ExportBank{AccountNumber: expFortisACH, RoutingNumber: "072000326", AccountType: "SAVINGS"}})
	return f
}

// tool opens the fixture's store as a CLI command does, beside its server.
func (f *exportFixture) tool(t *testing.T) *Main {
	t.Helper()
	cfg := f.cfg
	cfg.ExistingStore = true
	tm, err := OpenTool(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tm.Close() })
	return tm
}

// TestExport: an export of a merchant, made by a tool beside its running server, holds every
// live card and bank account of both APIs with the data sent for it, the BACS and SEPA
// accounts with all their mandates (a cancelled one too), and not the deleted card; it decrypts with the recipient's private key only; it is audited, and the chain
// verifies; nothing of the data is logged. A record that does not open is written without
// data, and the export then fails with the file kept.
func TestExport(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			f := mustExportFixture(t, engine)
			dir := t.TempDir()
			key, pub := MustExportKey(t, dir, "recipient", nil)
			rcpt, err := ReadRecipient(pub, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.ToUpper(hex.EncodeToString(key.PrimaryKey.Fingerprint)); rcpt.Fingerprint != want || rcpt.UserID != "recipient <recipient@example.com>" {
				t.Errorf("recipient = %s %q, want %s", rcpt.Fingerprint, rcpt.UserID, want)
			}
			tm := f.tool(t)
			out := filepath.Join(dir, "export.pgp")
			rep, err := tm.Export(ctx, f.mid, rcpt, out)
			if err != nil {
				t.Fatal(err)
			}
			if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 || st.Size() != rep.Bytes {
				t.Errorf("export file: %v, %v (report: %d bytes)", st, err, rep.Bytes)
			}
			if _, err := os.Stat(out + ".partial"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the partial file is left beside the export: %v", err)
			}
			raw, _ := os.ReadFile(out)
			for _, n := range []string{expPAN1, expACH, expIBAN, "Lovelace"} {
				if bytes.Contains(raw, []byte(n)) {
					t.Errorf("the export file holds %q in the clear", n)
				}
			}
			lines := MustDecryptExport(t, out, key)
			if len(lines) != len(f.want)+2 {
				t.Fatalf("%d lines, want a header, %d records and an end", len(lines), len(f.want))
			}
			var h ExportHeader
			if err := json.Unmarshal(lines[0], &h); err != nil {
				t.Fatal(err)
			}
			wantCounts := map[string]int{"card": 3, "ach": 2, "bacs": 1, "eft": 1, "sepa": 1}
			if h.Format != "payvault-export" || h.Version != 1 || h.Merchant.ID != f.mid || h.Merchant.Name == "" || h.Recipient != rcpt.Fingerprint ||
				time.Since(h.Created) > time.Minute {
				t.Errorf("header: %s", lines[0])
			}
			if d := cmp.Diff(wantCounts, h.Counts); d != "" {
				t.Errorf("header counts (-want +got)\n%s", d)
			}
			got := map[string]*vault.ExportRecord{}
			for _, l := range lines[1 : len(lines)-1] {
				var r vault.ExportRecord
				dec := json.NewDecoder(bytes.NewReader(l))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&r); err != nil {
					t.Fatalf("record %s: %v", l, err)
				}
				if bytes.Contains(l, []byte("cvv")) {
					t.Errorf("a record holds a cvv: %s", l)
				}
				got[r.ID] = &r
			}
			if d := cmp.Diff(f.want, got); d != "" {
				t.Errorf("records (-want +got)\n%s", d)
			}
			var end ExportEnd
			if err := json.Unmarshal(lines[len(lines)-1], &end); err != nil || !end.End || end.Unreadable != 0 || !cmp.Equal(wantCounts, end.Counts) || end.Mandates != 3 {
				t.Errorf("end line: %s (%v)", lines[len(lines)-1], err)
			}
			if d := cmp.Diff(wantCounts, rep.Counts); d != "" || rep.Records != len(f.want) || rep.Mandates != 3 {
				t.Errorf("report: %d records, %d mandates; counts (-want +got)\n%s", rep.Records, rep.Mandates, d)
			}

			// Another key does not open it.
			other, _ := MustExportKey(t, dir, "other", nil)
			if fh, err := os.Open(out); err == nil {
				if _, err := openpgp.ReadMessage(fh, openpgp.EntityList{other}, nil, nil); err == nil {
					t.Error("another key opened the export")
				}
				fh.Close()
			}

			// Audited, on the merchant's chain, which verifies.
			recs, err := f.m.Store.ListAudit(ctx, f.mid, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			var exp []vault.AuditRecord
			for _, r := range recs {
				if r.Op == vault.AuditAccountExport {
					exp = append(exp, r)
				}
			}
			wantID := "recipient=" + rcpt.Fingerprint + " card=3 ach=2 bacs=1 eft=1 sepa=1 mandates=3 unreadable=0"
			if len(exp) != 1 || exp[0].RecordType != "export" || exp[0].RecordID != wantID || exp[0].Actor != "cli" {
				t.Errorf("export audit records: %+v, want one with record id %q", exp, wantID)
			}
			if problems, err := f.m.Store.VerifyAudit(ctx, f.m.Keyring); err != nil || len(problems) != 0 {
				t.Errorf("audit verify: %v, %v", problems, err)
			}

			// A card whose number no longer opens (restored into the wrong row) is written
			// without data; the export fails, and keeps the file.
			var bad, donor *vault.Instrument
			for id, w := range f.want {
				in, err := f.m.Store.GetInstrument(ctx, f.mid, id)
				if err != nil {
					t.Fatal(err)
				}
				if w.Card != nil && bad == nil {
					bad = in
				} else if donor == nil {
					donor = in
				}
			}
			old := vault.SealedRecord{Table: "instruments", ID: bad.ID, MerchantID: f.mid, KeyID: bad.Sealed.KeyID, Fingerprint: bad.Fingerprint,
				Token: bad.Token, ADVersion: bad.Sealed.ADVersion, Fields: map[string][]byte{"number": bad.Sealed.Number}}
			next := old
			next.KeyID = donor.Sealed.KeyID
			next.Fields = map[string][]byte{"number": donor.Sealed.Number}
			if ok, err := f.m.Store.ResealRecord(ctx, old, next); err != nil || !ok {
				t.Fatalf("corrupting a card: %v, %v", ok, err)
			}
			out2 := filepath.Join(dir, "export2.pgp")
			rep, err = tm.Export(ctx, f.mid, rcpt, out2)
			if !errors.Is(err, ErrExportUnreadable) || rep == nil || rep.Unreadable != 1 || !cmp.Equal(rep.UnreadableIDs, []string{bad.ID}) {
				t.Fatalf("export with an unreadable card: %v, %+v", err, rep)
			}
			if !strings.Contains(err.Error(), "kept") {
				t.Errorf("error does not say the file was kept: %v", err)
			}
			var unreadable []string
			for _, l := range MustDecryptExport(t, out2, key) {
				if bytes.Contains(l, []byte(`"unreadable":true`)) {
					unreadable = append(unreadable, string(l))
				}
			}
			if len(unreadable) != 1 || !strings.Contains(unreadable[0], bad.ID) || strings.Contains(unreadable[0], `"card":`) || strings.Contains(unreadable[0], `"profile":`) {
				t.Errorf("unreadable records: %q", unreadable)
			}
		})
	}
}

// TestExportRefusals: a recipient key that is not one usable public key, an existing out
// file and an unknown merchant are refused, and none leaves a file.
func TestExportRefusals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Now()
	good, goodPub := MustExportKey(t, dir, "good", nil)
	second, secondPub := MustExportKey(t, dir, "second", nil)
	expired, expiredPub := MustExportKey(t, dir, "expired", &packet.Config{Time: func() time.Time { return now.Add(-48 * time.Hour) }, KeyLifetimeSecs: 3600})
	_ = expired
	signOnly, _ := MustExportKey(t, dir, "signonly", nil)
	signOnly.Subkeys = nil
	signOnlyPub := filepath.Join(dir, "signonly-only.asc")
	MustWriteKey(t, signOnlyPub, openpgp.PublicKeyType, signOnly.Serialize)
	private := filepath.Join(dir, "private.asc")
	MustWriteKey(t, private, openpgp.PrivateKeyType, func(w io.Writer) error { return good.SerializePrivate(w, nil) })
	two := filepath.Join(dir, "two.asc")
	MustWriteKey(t, two, openpgp.PublicKeyType, good.Serialize, second.Serialize)
	revoked, _ := MustExportKey(t, dir, "revoked", nil)
	if err := revoked.RevokeKey(packet.KeyRetired, "retired", nil); err != nil {
		t.Fatal(err)
	}
	revokedPub := filepath.Join(dir, "revoked-now.asc")
	MustWriteKey(t, revokedPub, openpgp.PublicKeyType, revoked.Serialize)
	// Two armored files concatenated (cat a.asc b.asc): two blocks, of which an armor reader
	// reads the first only.
	twoBlocks := filepath.Join(dir, "two-blocks.asc")
	var blocks []byte
	for _, f := range []string{goodPub, secondPub} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, b...)
	}
	os.WriteFile(twoBlocks, blocks, 0o600)
	notKey := filepath.Join(dir, "not.asc")
	os.WriteFile(notKey, []byte("hello"), 0o600)
	binary := filepath.Join(dir, "good.gpg")
	var b bytes.Buffer
	good.Serialize(&b)
	os.WriteFile(binary, b.Bytes(), 0o600)

	for _, tt := range []struct {
		name, path, want string
	}{
		{"ok", goodPub, ""},
		{"ok/binary", binary, ""},
		{"fail/private-key", private, "private key"},
		{"fail/two-keys", two, "holds 2 OpenPGP keys"},
		{"fail/two-armored-blocks", twoBlocks, "holds 2 armored blocks"},
		{"fail/expired", expiredPub, "has expired"},
		{"fail/sign-only", signOnlyPub, "no valid encryption key"},
		{"fail/revoked", revokedPub, "is revoked"},
		{"fail/not-a-key", notKey, "not an OpenPGP public key"},
		{"fail/missing", filepath.Join(dir, "none.asc"), "no such file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ReadRecipient(tt.path, now)
			if tt.want == "" {
				if err != nil || r.Fingerprint == "" {
					t.Errorf("ReadRecipient = %v, %v", r, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ReadRecipient = %v, want an error with %q", err, tt.want)
			}
		})
	}

	log, _ := logtest.New(t)
	m := mustOpen(t, log)
	rcpt, err := ReadRecipient(goodPub, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("fail/unknown-merchant", func(t *testing.T) {
		out := filepath.Join(dir, "unknown.pgp")
		_, err := m.Export(ctx, "00000000-0000-7000-8000-000000000000", rcpt, out)
		if err == nil || !strings.Contains(err.Error(), "no merchant") {
			t.Errorf("Export = %v", err)
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a file was left: %v", err)
		}
	})
	t.Run("fail/existing-file", func(t *testing.T) {
		out := filepath.Join(dir, "existing.pgp")
		os.WriteFile(out, []byte("keep me"), 0o600)
		_, err := m.Export(ctx, m.Credentials.MerchantID, rcpt, out)
		if err == nil || !strings.Contains(err.Error(), "exists") {
			t.Errorf("Export = %v", err)
		}
		if b, _ := os.ReadFile(out); string(b) != "keep me" {
			t.Errorf("the existing file was changed: %q", b)
		}
	})
	// An export is written to FILE.partial and named FILE only once it is recorded on the
	// audit chain: one that did not finish leaves FILE.partial, which blocks the next.
	t.Run("fail/partial-left", func(t *testing.T) {
		out := filepath.Join(dir, "interrupted.pgp")
		os.WriteFile(out+".partial", []byte("from a killed export"), 0o600)
		_, err := m.Export(ctx, m.Credentials.MerchantID, rcpt, out)
		if err == nil || !strings.Contains(err.Error(), "did not finish") {
			t.Errorf("Export = %v", err)
		}
		if b, _ := os.ReadFile(out + ".partial"); string(b) != "from a killed export" {
			t.Errorf("the partial file was changed: %q", b)
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a file was left: %v", err)
		}
	})
	t.Run("fail/bad-dir", func(t *testing.T) {
		out := filepath.Join(dir, "no-such-dir", "x.pgp")
		_, err := m.Export(ctx, m.Credentials.MerchantID, rcpt, out)
		if want := "folder " + filepath.Join(dir, "no-such-dir") + " does not exist"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Export into a missing folder = %v, want an error with %q", err, want)
		}
	})
	recs, err := m.Store.ListAudit(ctx, m.Credentials.MerchantID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Op == vault.AuditAccountExport {
			t.Errorf("a refused export was audited: %+v", r)
		}
	}
}
