package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/token"
	"github.com/payvault/payvault/internal/vault"
)

// importTarget is a second payvault (store B) serving its own sandbox merchant.
type importTarget struct {
	m   *Main
	url string
	mid string
}

func mustImportTarget(t *testing.T, engine string) *importTarget {
	t.Helper()
	m, _, url, _ := mustServeEngine(t, engine)
	return &importTarget{m: m, url: url, mid: m.Credentials.MerchantID}
}

// mustExportFile exports the fixture's merchant to a key pair made here, and returns the
// file, the private key's file and the key.
func mustExportFile(t *testing.T, f *exportFixture) (string, string, *openpgp.Entity) {
	t.Helper()
	return mustExportMerchant(t, f.tool(t), f.mid)
}

// mustExportMerchant exports merchant mid of m to a key pair made here, and returns the
// file, the private key's file and the key.
func mustExportMerchant(tb testing.TB, m *Main, mid string) (string, string, *openpgp.Entity) {
	tb.Helper()
	dir := tb.TempDir()
	priv, pub := MustExportKey(tb, dir, "operator", nil)
	rcpt, err := ReadRecipient(pub, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	out := filepath.Join(dir, "export.pgp")
	if _, err := m.Export(context.Background(), mid, rcpt, out); err != nil {
		tb.Fatal(err)
	}
	privPath := filepath.Join(dir, "operator.key.asc")
	MustWriteKey(tb, privPath, openpgp.PrivateKeyType, func(w io.Writer) error { return priv.SerializePrivate(w, nil) })
	return out, privPath, priv
}

// countInstruments is the target merchant's active instruments, from its kept counts.
func countInstruments(t *testing.T, m *Main, mid string) int {
	t.Helper()
	counts, err := m.Vault.CountActiveInstruments(context.Background(), mid)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

// TestImport: data made through the Paysafe and Fortis APIs on store A, exported, is
// imported into store B's merchant (another payvault, another master key): a dry run writes
// nothing; the import keeps every record's payment token, ids and data (an export of B holds
// the same records); B's APIs read them by their ids, pay with an imported token, refuse the
// same card again on the imported profile (7503), show the BACS and SEPA accounts' mandates
// with their ids, references, tokens and statuses, and read the Fortis account vaults; the
// audit chain verifies; a rerun imports nothing again, no mandate either. No log holds
// account data.
func TestImport(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			f := mustExportFixture(t, engine)
			file, privPath, priv := mustExportFile(t, f)
			b := mustImportTarget(t, engine)
			key, err := ReadImportKey(privPath, nil)
			if err != nil {
				t.Fatal(err)
			}

			dry, err := b.m.Import(ctx, b.mid, key, file, ImportOptions{DryRun: true})
			if err != nil {
				t.Fatalf("dry run: %v (%+v)", err, dry)
			}
			if dry.Records != len(f.want) || dry.ToCreate != len(f.want) || dry.Profiles != 2 || dry.Invalid+dry.Collisions != 0 || dry.Created != 0 {
				t.Errorf("dry run report: %+v", dry)
			}
			if n := countInstruments(t, b.m, b.mid); n != 0 {
				t.Fatalf("the dry run wrote %d instruments", n)
			}

			rep, err := b.m.Import(ctx, b.mid, key, file, ImportOptions{})
			if err != nil {
				t.Fatalf("import: %v (%+v)", err, rep)
			}
			if rep.Created != len(f.want) || rep.ProfilesCreated != 2 || rep.AddressesCreated != 1 || rep.MandatesCreated != 3 || rep.NewIDs != 0 || rep.Batches != 1 {
				t.Errorf("import report: %+v", rep)
			}
			if n := countInstruments(t, b.m, b.mid); n != len(f.want) {
				t.Errorf("kept counts: %d instruments, want %d", n, len(f.want))
			}

			// B's export holds the same records: same ids, tokens, numbers and fields, in
			// B's location.
			mer, err := b.m.Store.GetMerchant(ctx, b.mid)
			if err != nil {
				t.Fatal(err)
			}
			rcpt, err := ReadRecipient(filepath.Join(filepath.Dir(privPath), "operator.asc"), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			again := filepath.Join(t.TempDir(), "b.pgp")
			if _, err := b.m.Export(ctx, b.mid, rcpt, again); err != nil {
				t.Fatal(err)
			}
			lines := MustDecryptExport(t, again, priv)
			got := map[string]*vault.ExportRecord{}
			for _, l := range lines[1 : len(lines)-1] {
				var r vault.ExportRecord
				if err := strictJSON(l, &r); err != nil {
					t.Fatal(err)
				}
				got[r.ID] = &r
			}
			want := map[string]*vault.ExportRecord{}
			for id, r := range f.want {
				v := *r
				v.LocationID = mer.DefaultLocationID
				v.Created = v.Created.UTC()
				want[id] = &v
			}
			for _, r := range got {
				r.Created = r.Created.UTC()
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("B's records (-want A's +got)\n%s", d)
			}

			// B's APIs.
			ps := basicAuth(b.m.Credentials.Paysafe.APIKeyID, b.m.Credentials.Paysafe.APIKeySecret)
			fc := b.m.Credentials.Fortis
			fh := map[string]string{"developer-id": fc.DeveloperID, "user-id": fc.UserID, "user-api-key": fc.UserAPIKey, "Content-Type": "application/json"}
			var cardTok, profileID string
			for id, r := range f.want {
				switch {
				case r.FortisAPIID != "" || r.Profile.ContactAPIID != "":
					x := copyCall(t, 200, "GET", b.url+"/v2/accountvaults/"+id, "", fh).body["accountvault"].(map[string]any)
					if x["contact_id"] != r.Profile.ID || x["account_vault_api_id"] != nilIfEmpty(r.FortisAPIID) {
						t.Errorf("fortis account vault %s: %v", id, x)
					}
				case r.Kind == vault.KindCard:
					x := copyCall(t, 200, "GET", b.url+"/customervault/v1/profiles/"+r.Profile.ID+"/cards/"+id, "", ps).body
					if x["paymentToken"] != r.PaymentToken || x["lastDigits"] != r.Card.LastFour || x["holderName"] != r.HolderName {
						t.Errorf("paysafe card %s: %v", id, x)
					}
					if r.Card.Number == expPAN1 {
						cardTok, profileID = r.PaymentToken, r.Profile.ID
					}
				default:
					x := copyCall(t, 200, "GET", b.url+"/customervault/v1/profiles/"+r.Profile.ID+"/"+r.Kind+"bankaccounts/"+id, "", ps).body
					if x["paymentToken"] != r.PaymentToken {
						t.Errorf("paysafe %s account %s: %v", r.Kind, id, x)
					}
					if d := cmp.Diff(apiMandates(r.BankAccount.Mandates, id), x["mandates"]); d != "" {
						t.Errorf("paysafe %s account %s: mandates (-want +got)\n%s", r.Kind, id, d)
					}
				}
			}
			p := copyCall(t, 200, "GET", b.url+"/customervault/v1/profiles/"+profileID, "", ps).body
			if p["merchantCustomerId"] != "exp-1" || p["firstName"] != "Ada" || p["email"] != "ada@example.com" {
				t.Errorf("imported profile: %v", p)
			}
			auth := copyCall(t, 200, "POST", b.url+"/cardpayments/v1/accounts/"+b.m.Credentials.Paysafe.AccountNumber+"/auths",
				`{"merchantRefNum":"imp-a","amount":1500,"card":{"paymentToken":"`+cardTok+`"},"billingDetails":{"zip":"10014","country":"US"}}`, ps).body
			if auth["status"] != "COMPLETED" {
				t.Errorf("a payment by an imported token: %v", auth)
			}
			dup := send(t, "POST", b.url+"/customervault/v1/profiles/"+profileID+"/cards", `{"cardNum":"`+expPAN1+`","cardExpiry":{"month":12,"year":2040}}`, ps)
			if dup.status != 409 || !strings.Contains(dup.raw, "7503") {
				t.Errorf("the same card again on the imported profile: %d %s", dup.status, dup.raw)
			}

			// The audit chain: a create per record, the import, and it verifies.
			recs, err := b.m.Store.ListAudit(ctx, b.mid, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			ops := map[string]int{}
			for _, r := range recs {
				ops[r.Op]++
				if r.Op == vault.AuditAccountImport && (r.Actor != "cli" || !strings.Contains(r.RecordID, "source="+f.mid) || !strings.Contains(r.RecordID, "created=8") || !strings.Contains(r.RecordID, "mandates=3")) {
					t.Errorf("import audit record: %+v", r)
				}
			}
			if ops[vault.AuditAccountCreate] != len(f.want) || ops[vault.AuditAccountImport] != 1 {
				t.Errorf("audit ops: %v", ops)
			}
			if problems, err := b.m.Store.VerifyAudit(ctx, b.m.Keyring); err != nil || len(problems) != 0 {
				t.Errorf("audit chain: %v %v", problems, err)
			}

			// A rerun finds everything imported and writes nothing.
			re, err := b.m.Import(ctx, b.mid, key, file, ImportOptions{})
			if err != nil || re.Created != 0 || re.AlreadyImported != len(f.want) || re.ToCreate != 0 {
				t.Errorf("rerun: %v %+v", err, re)
			}
			if n := countInstruments(t, b.m, b.mid); n != len(f.want) {
				t.Errorf("after the rerun: %d instruments", n)
			}
			if re.MandatesCreated != 0 {
				t.Errorf("rerun created %d mandates", re.MandatesCreated)
			}
			mustHaveMandates(t, b.m, b.mid, f.want)
		})
	}
}

// apiMandates is how the Paysafe API shows an account's mandates: nil when it has none.
func apiMandates(ms []vault.ExportMandate, accountID string) any {
	if len(ms) == 0 {
		return nil
	}
	var out []any
	for _, m := range ms {
		x := map[string]any{"id": m.ID, "reference": m.Reference, "bankAccountId": accountID, "status": m.Status,
			"statusChangeDate": m.StatusChangeDate.UTC().Format(time.RFC3339), "paymentToken": m.PaymentToken}
		if m.StatusReasonCode != "" {
			x["statusReasonCode"] = m.StatusReasonCode
		}
		if m.StatusReason != "" {
			x["statusReason"] = m.StatusReason
		}
		out = append(out, x)
	}
	return out
}

// mustHaveMandates checks that each bank account of want holds exactly its mandates in the
// target (a rerun duplicates none), by id, reference, token and status.
func mustHaveMandates(t *testing.T, m *Main, mid string, want map[string]*vault.ExportRecord) {
	t.Helper()
	for id, r := range want {
		if r.BankAccount == nil {
			continue
		}
		list, err := m.Store.ListMandates(context.Background(), mid, id)
		if err != nil {
			t.Fatal(err)
		}
		var got, exp []string
		for _, x := range list {
			got = append(got, x.ID+" "+x.Reference+" "+x.Token+" "+x.Status)
		}
		for _, x := range r.BankAccount.Mandates {
			exp = append(exp, x.ID+" "+x.Reference+" "+x.PaymentToken+" "+x.Status)
		}
		if d := cmp.Diff(exp, got); d != "" {
			t.Errorf("mandates of %s %s (-want +got)\n%s", r.Kind, id, d)
		}
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// TestImportRefusals: a wrong key, a tampered file, a truncated file (cut, or a complete
// message without the end line), an end line counting other mandates, another literal-data
// name, a collision with the target (a customer id, a mandate's token), an unknown merchant:
// each is refused and nothing is written.
func TestImportRefusals(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			f := mustExportFixture(t, engine)
			file, privPath, priv := mustExportFile(t, f)
			b := mustImportTarget(t, engine)
			dir := t.TempDir()
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			key, err := ReadImportKey(privPath, nil)
			if err != nil {
				t.Fatal(err)
			}
			lines := MustDecryptExport(t, file, priv)
			write := func(name string, b []byte) string {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, b, 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			}
			// encrypt makes a message to the operator's key of the given lines.
			encrypt := func(name, literal string, ls [][]byte) string {
				var buf bytes.Buffer
				w, err := openpgp.Encrypt(&buf, []*openpgp.Entity{priv}, nil, &openpgp.FileHints{IsBinary: true, FileName: literal}, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range ls {
					w.Write(l)
					w.Write([]byte("\n"))
				}
				w.Close()
				return write(name, buf.Bytes())
			}
			var all [][]byte
			for _, l := range lines {
				all = append(all, l)
			}
			tampered := bytes.Clone(raw)
			tampered[len(tampered)/2] ^= 0x01
			tag := bytes.Clone(raw)
			tag[len(tag)-1] ^= 0x01 // the integrity tag (MDC or AEAD) only
			otherPriv, _ := MustExportKey(t, dir, "other", nil)
			otherPath := filepath.Join(dir, "other.key.asc")
			MustWriteKey(t, otherPath, openpgp.PrivateKeyType, func(w io.Writer) error { return otherPriv.SerializePrivate(w, nil) })
			otherKey, err := ReadImportKey(otherPath, nil)
			if err != nil {
				t.Fatal(err)
			}

			tests := []struct {
				name, mid, file string
				key             *ImportKey
				want            string
			}{
				{"fail/wrong-key", b.mid, file, otherKey, "does not decrypt"},
				{"fail/tampered", b.mid, write("tampered.pgp", tampered), key, ""},
				{"fail/tampered-tag", b.mid, write("tag.pgp", tag), key, "integrity"},
				{"fail/cut", b.mid, write("cut.pgp", raw[:len(raw)-40]), key, ""},
				{"fail/no-end-line", b.mid, encrypt("noend.pgp", "payvault-export.jsonl", all[:len(all)-1]), key, "truncated"},
				{"fail/end-mandates", b.mid, encrypt("endm.pgp", "payvault-export.jsonl", append(all[:len(all)-1:len(all)-1],
					bytes.Replace(all[len(all)-1], []byte(`"mandates":3`), []byte(`"mandates":2`), 1))), key, "do not match its end line"},
				{"fail/literal-name", b.mid, encrypt("name.pgp", "other.jsonl", all), key, "not a payvault export"},
				{"fail/not-export", b.mid, encrypt("notexp.pgp", "payvault-export.jsonl", [][]byte{[]byte(`{"format":"other","version":1}`)}), key, "not a payvault-export"},
				{"fail/unknown-merchant", "no-such-merchant", file, key, "no merchant"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					rep, err := b.m.Import(ctx, tt.mid, tt.key, tt.file, ImportOptions{})
					if !errors.Is(err, ErrImportRefused) || !strings.Contains(err.Error(), tt.want) {
						t.Errorf("err = %v, want refused (%q)", err, tt.want)
					}
					// The check did not run to its end: no report, which the CLI would
					// print as the counts of a complete check ("0 records, ... 0 invalid").
					if rep != nil {
						t.Errorf("a refusal before the check ended reported %+v", rep)
					}
					if n := countInstruments(t, b.m, b.mid); n != 0 {
						t.Errorf("a refused import wrote %d instruments", n)
					}
				})
			}

			// A collision: B's merchant already has a customer exp-1. Nothing is written,
			// not even the records before the colliding one; the problem names line and id.
			ps := basicAuth(b.m.Credentials.Paysafe.APIKeyID, b.m.Credentials.Paysafe.APIKeySecret)
			other := copyCall(t, 201, "POST", b.url+"/customervault/v1/profiles", `{"merchantCustomerId":"exp-1","locale":"en_US","firstName":"Other"}`, ps).body
			rep, err := b.m.Import(ctx, b.mid, key, file, ImportOptions{})
			if !errors.Is(err, ErrImportRefused) || rep == nil || rep.Collisions == 0 || len(rep.Problems) == 0 {
				t.Fatalf("collision: %v %+v", err, rep)
			}
			for _, p := range rep.Problems {
				if p.Line < 2 || p.ID == "" || p.Field != "profile.merchantCustomerId" {
					t.Errorf("problem: %+v", p)
				}
			}
			if n := countInstruments(t, b.m, b.mid); n != 0 {
				t.Errorf("a colliding import wrote %d instruments", n)
			}

			// A mandate whose payment token B holds already, on an account of its own: a
			// collision too, named by the mandate; still nothing is written.
			op := "/customervault/v1/profiles/" + other["id"].(string)
			ad := copyCall(t, 201, "POST", b.url+op+"/addresses", `{"street":"1 Unter den Linden","city":"Berlin","country":"DE","zip":"10117"}`, ps).body
			acct := copyCall(t, 201, "POST", b.url+op+"/sepabankaccounts", `{"accountHolderName":"O","iban":"`+expIBAN+`","billingAddressId":"`+ad["id"].(string)+`","mandates":[{"reference":"OTHER1"}]}`, ps).body
			taken := acct["mandates"].([]any)[0].(map[string]any)["paymentToken"].(string)
			var recs []*vault.ExportRecord
			for _, l := range lines[1 : len(lines)-1] {
				var r vault.ExportRecord
				if err := strictJSON(l, &r); err != nil {
					t.Fatal(err)
				}
				if r.Kind == vault.KindSEPA {
					r.BankAccount.Mandates[1].PaymentToken = taken
				}
				recs = append(recs, &r)
			}
			mandateFile := filepath.Join(dir, "mandate.pgp")
			mustEncryptExport(t, mandateFile, priv, lines[0], recs)
			rep, err = b.m.Import(ctx, b.mid, key, mandateFile, ImportOptions{})
			if !errors.Is(err, ErrImportRefused) || rep == nil {
				t.Fatalf("mandate collision: %v %+v", err, rep)
			}
			found := false
			for _, p := range rep.Problems {
				found = found || (p.Collision && p.Field == "bankAccount.mandates[1].paymentToken")
			}
			if !found {
				t.Errorf("no mandate collision among the problems: %+v", rep.Problems)
			}
			if n := countInstruments(t, b.m, b.mid); n != 1 {
				t.Errorf("a colliding import wrote %d instruments", n-1)
			}
		})
	}
}

// TestImportTwoMerchants: one export imported into a merchant of a store, then into another
// merchant of the same store. Payment tokens and the ids an import keeps are unique in the
// whole store, not per merchant: the check (the dry run too) finds each record's token held
// by the first merchant and refuses, saying so, before anything is written. Its profiles'
// ids and tokens and its addresses' ids are found held the same way, one at a time; an
// instrument or mandate id held by the first merchant gets a new id, as one of the target's
// does, and a file with everything else new imports.
func TestImportTwoMerchants(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			f := mustExportFixture(t, engine)
			file, privPath, priv := mustExportFile(t, f)
			b := mustImportTarget(t, engine)
			key, err := ReadImportKey(privPath, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rep, err := b.m.Import(ctx, b.mid, key, file, ImportOptions{}); err != nil || rep.Created != len(f.want) {
				t.Fatalf("first merchant: %v %+v", err, rep)
			}
			creds, err := b.m.Vault.CreateMerchant(ctx, vault.NewMerchant{Name: "Second shop"})
			if err != nil {
				t.Fatal(err)
			}
			second := creds.MerchantID

			lines := MustDecryptExport(t, file, priv)
			// renew returns the file's records with what keep does not keep made new.
			renew := func(keep ...string) []*vault.ExportRecord {
				out := mustRecords(t, lines[1:len(lines)-1])
				for _, r := range out {
					if !slices.Contains(keep, "paymentToken") {
						r.PaymentToken = token.New(token.Parse(r.PaymentToken))
						if r.BankAccount != nil {
							for i := range r.BankAccount.Mandates {
								r.BankAccount.Mandates[i].PaymentToken = token.New(token.Mandate)
							}
						}
					}
					if p := r.Profile; p != nil && !slices.Contains(keep, "profile.id") {
						p.ID = "new-" + p.ID
					}
					if p := r.Profile; p != nil && !slices.Contains(keep, "profile.paymentToken") {
						p.PaymentToken = token.New(token.Profile)
					}
					if a := r.BillingAddress; a != nil && a.ID != "" && !slices.Contains(keep, "billingAddress.id") {
						a.ID = "new-" + a.ID
					}
				}
				return out
			}
			withProfile, withAddress := 0, 0
			for _, r := range f.want {
				if r.Profile != nil {
					withProfile++
				}
				if r.BillingAddress != nil && r.BillingAddress.ID != "" {
					withAddress++
				}
			}
			all := []string{"paymentToken", "profile.id", "profile.paymentToken", "billingAddress.id"}
			tests := []struct {
				name       string
				keep       []string
				collisions int
			}{
				{"fail/payment-tokens", all, len(f.want)},
				{"fail/profile-ids", all[1:], withProfile},
				{"fail/profile-tokens", all[2:], withProfile},
				{"fail/address-ids", all[3:], withAddress},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					path := filepath.Join(t.TempDir(), "renewed.pgp")
					mustEncryptExport(t, path, priv, lines[0], renew(tt.keep...))
					for _, dry := range []bool{true, false} {
						rep, err := b.m.Import(ctx, second, key, path, ImportOptions{DryRun: dry})
						if !errors.Is(err, ErrImportRefused) || rep == nil {
							t.Fatalf("dry run %v: %v %+v", dry, err, rep)
						}
						if rep.Collisions != tt.collisions || rep.OtherMerchant != tt.collisions || rep.Invalid != 0 || len(rep.Problems) != tt.collisions {
							t.Errorf("dry run %v: %d collisions, %d with another merchant, %d invalid, %d problems; want %d, %d, 0, %d",
								dry, rep.Collisions, rep.OtherMerchant, rep.Invalid, len(rep.Problems), tt.collisions, tt.collisions, tt.collisions)
						}
						if !strings.Contains(err.Error(), "another merchant of this store") {
							t.Errorf("dry run %v: the error does not say whose they are: %v", dry, err)
						}
						for _, p := range rep.Problems {
							if !p.Collision || !p.OtherMerchant || p.Field != tt.keep[0] {
								t.Errorf("dry run %v: problem %+v; want a collision on %s with another merchant", dry, p, tt.keep[0])
							}
						}
						if n := countInstruments(t, b.m, second); n != 0 {
							t.Fatalf("dry run %v: a refused import wrote %d instruments", dry, n)
						}
						if _, n, err := b.m.Store.ListProfiles(ctx, second, vault.Query{}); err != nil || n != 0 {
							t.Fatalf("dry run %v: a refused import wrote %d profiles (%v)", dry, n, err)
						}
					}
				})
			}

			// Every token and id new but the instruments' and mandates' ids: they get new ids.
			t.Run("ok/ids-taken", func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "renewed.pgp")
				mustEncryptExport(t, path, priv, lines[0], renew())
				rep, err := b.m.Import(ctx, second, key, path, ImportOptions{})
				if err != nil || rep.Created != len(f.want) || rep.NewIDs != len(f.want) || rep.NewMandateIDs != 3 || rep.ProfilesCreated != 2 || rep.AddressesCreated != 1 {
					t.Fatalf("import: %v %+v", err, rep)
				}
				if n := countInstruments(t, b.m, b.mid); n != len(f.want) {
					t.Errorf("the first merchant has %d instruments; want %d", n, len(f.want))
				}
			})
		})
	}
}

// TestImportTwoMerchantsPartial: a file of more than a batch of cards whose last cards are
// held by another merchant of the store (a part of the file was imported there) is refused
// by the check; before, its first batch was written and the second failed on the store's
// unique index, leaving a partial import that no rerun could complete.
func TestImportTwoMerchantsPartial(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			src := openBenchMain(t, engine)
			const n = importBatch + 8
			seedBenchCards(t, src, n)
			file, privPath, priv := mustExportMerchant(t, src, src.Credentials.MerchantID)
			key, err := ReadImportKey(privPath, nil)
			if err != nil {
				t.Fatal(err)
			}
			lines := MustDecryptExport(t, file, priv)
			part := filepath.Join(t.TempDir(), "tail.pgp")
			mustEncryptExport(t, part, priv, lines[0], mustRecords(t, lines[len(lines)-9:len(lines)-1]))

			tgt := openBenchMain(t, engine)
			creds, err := tgt.Vault.CreateMerchant(ctx, vault.NewMerchant{Name: "First shop"})
			if err != nil {
				t.Fatal(err)
			}
			if rep, err := tgt.Import(ctx, creds.MerchantID, key, part, ImportOptions{}); err != nil || rep.Created != 8 {
				t.Fatalf("the tail into the first merchant: %v %+v", err, rep)
			}
			rep, err := tgt.Import(ctx, tgt.Credentials.MerchantID, key, file, ImportOptions{})
			if !errors.Is(err, ErrImportRefused) || rep == nil || rep.Collisions != 8 || rep.OtherMerchant != 8 || rep.Created != 0 {
				t.Errorf("the whole file into the second: %v %+v", err, rep)
			}
			if got := countInstruments(t, tgt, tgt.Credentials.MerchantID); got != 0 {
				t.Errorf("a refused import wrote %d instruments", got)
			}
		})
	}
}

// mustRecords decodes an export's record lines.
func mustRecords(t *testing.T, lines []json.RawMessage) []*vault.ExportRecord {
	t.Helper()
	out := make([]*vault.ExportRecord, len(lines))
	for i, l := range lines {
		out[i] = &vault.ExportRecord{}
		if err := strictJSON(l, out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// mustEncryptExport writes a message to key holding the header, the records and an end
// line that counts them, as Export would.
func mustEncryptExport(t *testing.T, path string, key *openpgp.Entity, header []byte, recs []*vault.ExportRecord) {
	t.Helper()
	var buf bytes.Buffer
	w, err := openpgp.Encrypt(&buf, []*openpgp.Entity{key}, nil, &openpgp.FileHints{IsBinary: true, FileName: "payvault-export.jsonl"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(append(header, '\n'))
	end := ExportEnd{End: true, Counts: map[string]int{}}
	for _, k := range vault.ExportKinds {
		end.Counts[k] = 0
	}
	enc := json.NewEncoder(w)
	for _, r := range recs {
		end.Counts[r.Kind]++
		if r.Unreadable {
			end.Unreadable++
		}
		if r.BankAccount != nil {
			end.Mandates += len(r.BankAccount.Mandates)
		}
		enc.Encode(r)
	}
	enc.Encode(end)
	w.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestImportResume: an import that stopped after some records (here: a file of the first
// four) is completed by importing the whole file, which creates the rest only, and no
// mandate twice; an
// unreadable record is skipped and counted; a record that fails the API's checks refuses the
// whole import, named by line and id, never by its number, as do two profiles of the file
// with one merchantCustomerId and two mandates of the file with one payment token.
func TestImportResume(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			f := mustExportFixture(t, engine)
			file, privPath, priv := mustExportFile(t, f)
			b := mustImportTarget(t, engine)
			key, err := ReadImportKey(privPath, nil)
			if err != nil {
				t.Fatal(err)
			}
			lines := MustDecryptExport(t, file, priv)
			var recs []*vault.ExportRecord
			for _, l := range lines[1 : len(lines)-1] {
				var r vault.ExportRecord
				if err := strictJSON(l, &r); err != nil {
					t.Fatal(err)
				}
				recs = append(recs, &r)
			}
			dir := t.TempDir()

			// A record failing Luhn: refused by line and id; nothing written.
			bad := make([]*vault.ExportRecord, len(recs))
			copy(bad, recs)
			badLine := 0
			for i, r := range recs {
				if r.Card != nil {
					v, c := *r, *r.Card
					c.Number = c.Number[:len(c.Number)-1] + string('0'+(c.Number[len(c.Number)-1]-'0'+1)%10)
					v.Card, bad[i], badLine = &c, &v, i+2
					break
				}
			}
			badFile := filepath.Join(dir, "bad.pgp")
			mustEncryptExport(t, badFile, priv, lines[0], bad)
			rep, err := b.m.Import(ctx, b.mid, key, badFile, ImportOptions{})
			if !errors.Is(err, ErrImportRefused) || rep.Invalid != 1 || len(rep.Problems) != 1 {
				t.Fatalf("invalid record: %v %+v", err, rep)
			}
			p := rep.Problems[0]
			if p.Line != badLine || p.ID != bad[badLine-2].ID || p.Field != "number" {
				t.Errorf("problem = %+v, want line %d", p, badLine)
			}
			for _, s := range []string{err.Error(), p.Error()} {
				if strings.Contains(s, bad[badLine-2].Card.Number) || strings.Contains(s, recs[badLine-2].Card.Number) {
					t.Errorf("the problem names the number: %s", s)
				}
			}
			if n := countInstruments(t, b.m, b.mid); n != 0 {
				t.Fatalf("a refused import wrote %d instruments", n)
			}

			// Two profiles of the file with one merchantCustomerId: refused in the check, not
			// by the store's unique index halfway through the writes.
			same := make([]*vault.ExportRecord, len(recs))
			for i, r := range recs {
				v := *r
				if r.Profile != nil && r.Profile.ContactAPIID != "" {
					pv := *r.Profile
					pv.MerchantCustomerID = "exp-1"
					v.Profile = &pv
				}
				same[i] = &v
			}
			sameFile := filepath.Join(dir, "same.pgp")
			mustEncryptExport(t, sameFile, priv, lines[0], same)
			rep, err = b.m.Import(ctx, b.mid, key, sameFile, ImportOptions{})
			if !errors.Is(err, ErrImportRefused) || rep.Invalid == 0 || rep.Problems[0].Field != "profile.merchantCustomerId" {
				t.Fatalf("one customer id on two profiles: %v %+v", err, rep)
			}
			if n := countInstruments(t, b.m, b.mid); n != 0 {
				t.Fatalf("a refused import wrote %d instruments", n)
			}

			// One mandate token on two mandates of the file: invalid, refused in the check.
			twice := make([]*vault.ExportRecord, len(recs))
			for i, r := range recs {
				v := *r
				if r.Kind == vault.KindSEPA {
					bv := *r.BankAccount
					bv.Mandates = slices.Clone(bv.Mandates)
					bv.Mandates[1].PaymentToken = bv.Mandates[0].PaymentToken
					v.BankAccount = &bv
				}
				twice[i] = &v
			}
			twiceFile := filepath.Join(dir, "twice.pgp")
			mustEncryptExport(t, twiceFile, priv, lines[0], twice)
			rep, err = b.m.Import(ctx, b.mid, key, twiceFile, ImportOptions{})
			if !errors.Is(err, ErrImportRefused) || rep.Invalid != 1 || rep.Problems[0].Field != "bankAccount.mandates[1].paymentToken" {
				t.Fatalf("one mandate token twice: %v %+v", err, rep)
			}
			if n := countInstruments(t, b.m, b.mid); n != 0 {
				t.Fatalf("a refused import wrote %d instruments", n)
			}

			// The first four records (the BACS account with its mandate among them), then the
			// whole file: no mandate is made twice.
			part := filepath.Join(dir, "part.pgp")
			mustEncryptExport(t, part, priv, lines[0], recs[:4])
			inPart := 0
			for _, r := range recs[:4] {
				if r.BankAccount != nil {
					inPart += len(r.BankAccount.Mandates)
				}
			}
			if rep, err := b.m.Import(ctx, b.mid, key, part, ImportOptions{}); err != nil || rep.Created != 4 || rep.MandatesCreated != inPart {
				t.Fatalf("part: %v %+v", err, rep)
			}
			// A fingerprint key rotated between the runs: the first run's cards hold the old
			// key's fingerprints, and are still found as imported, not as collisions.
			if _, err := b.m.Keyring.Rotate(ctx, keys.KeysetMAC); err != nil {
				t.Fatal(err)
			}
			withUnreadable := append(append([]*vault.ExportRecord{}, recs...), &vault.ExportRecord{Kind: vault.KindCard, ID: "ffffffff-ffff-7fff-bfff-ffffffffffff",
				PaymentToken: "CUnreadable0000", Unreadable: true})
			full := filepath.Join(dir, "full.pgp")
			mustEncryptExport(t, full, priv, lines[0], withUnreadable)
			rep, err = b.m.Import(ctx, b.mid, key, full, ImportOptions{})
			if err != nil || rep.Created != len(recs)-4 || rep.AlreadyImported != 4 || rep.Unreadable != 1 || rep.MandatesCreated != 3-inPart {
				t.Fatalf("rest: %v %+v", err, rep)
			}
			mustHaveMandates(t, b.m, b.mid, f.want)
			if n := countInstruments(t, b.m, b.mid); n != len(recs) {
				t.Errorf("%d instruments, want %d", n, len(recs))
			}
			if problems, err := b.m.Store.VerifyAudit(ctx, b.m.Keyring); err != nil || len(problems) != 0 {
				t.Errorf("audit chain: %v %v", problems, err)
			}
		})
	}
}

// TestImportCardNumberInName: import applies the APIs' rule that no name or label holds a
// card number (vault names.go) to the same fields of a record: an instrument's holder name,
// nickname and title, and its profile's first, middle, last and company names. Such a record
// refuses the whole import, the dry run too, as invalid, named by line, id and field, never
// by the value, which no error, problem or log line holds; nothing is written.
func TestImportCardNumberInName(t *testing.T) {
	const pan = "5555555555554444" // not one of the fixture's numbers
	ctx := context.Background()
	f := mustExportFixture(t, "sqlite")
	f.capLog.Forbid(pan)
	file, privPath, priv := mustExportFile(t, f)
	b := mustImportTarget(t, "sqlite")
	key, err := ReadImportKey(privPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	lines := MustDecryptExport(t, file, priv)
	dir := t.TempDir()
	for _, tt := range []struct {
		name, field string
		bank        bool // a bank account's record instead of a card's
		set         func(r *vault.ExportRecord, v string)
	}{
		{"fail/holder-name", "holderName", false, func(r *vault.ExportRecord, v string) { r.HolderName = v }},
		{"fail/bank-holder-name", "holderName", true, func(r *vault.ExportRecord, v string) { r.HolderName = v }},
		{"fail/nick-name", "nickName", false, func(r *vault.ExportRecord, v string) { r.NickName = v }},
		{"fail/title", "title", false, func(r *vault.ExportRecord, v string) { r.Title = v }},
		{"fail/profile-first-name", "profile.firstName", false, func(r *vault.ExportRecord, v string) { r.Profile.FirstName = v }},
		{"fail/profile-middle-name", "profile.middleName", false, func(r *vault.ExportRecord, v string) { r.Profile.MiddleName = v }},
		{"fail/profile-last-name", "profile.lastName", false, func(r *vault.ExportRecord, v string) { r.Profile.LastName = v }},
		{"fail/profile-company-name", "profile.companyName", true, func(r *vault.ExportRecord, v string) { r.Profile.CompanyName = v }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			recs, line := []*vault.ExportRecord(nil), 0
			for i, l := range lines[1 : len(lines)-1] {
				var r vault.ExportRecord
				if err := strictJSON(l, &r); err != nil {
					t.Fatal(err)
				}
				if line == 0 && r.Profile != nil && (r.Card == nil) == tt.bank {
					p := *r.Profile
					r.Profile, line = &p, i+2
					tt.set(&r, "J "+pan[:4]+" "+pan[4:8]+" "+pan[8:12]+" "+pan[12:])
				}
				recs = append(recs, &r)
			}
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, "/", "-")+".pgp")
			mustEncryptExport(t, path, priv, lines[0], recs)
			for _, dry := range []bool{true, false} {
				rep, err := b.m.Import(ctx, b.mid, key, path, ImportOptions{DryRun: dry})
				if !errors.Is(err, ErrImportRefused) || rep == nil || rep.Invalid != 1 || len(rep.Problems) != 1 {
					t.Fatalf("dry run %v: %v %+v", dry, err, rep)
				}
				p := rep.Problems[0]
				if p.Line != line || p.ID != recs[line-2].ID || p.Field != tt.field || p.Collision {
					t.Errorf("problem = %+v, want line %d, id %s, field %s", p, line, recs[line-2].ID, tt.field)
				}
				for _, text := range []string{err.Error(), p.Error(), fmt.Sprintf("%+v", rep)} {
					if leaks := logtest.Leaks(text, []string{pan, pan[:4] + " " + pan[4:8]}); len(leaks) > 0 {
						t.Errorf("the report names the number (%v): %s", leaks, text)
					}
				}
			}
			if n := countInstruments(t, b.m, b.mid); n != 0 {
				t.Fatalf("a refused import wrote %d instruments", n)
			}
		})
	}
}

// TestImportProfileAcrossBatches: the cards of one profile, more than a batch holds, import
// in two batches that create the profile once (the second batch finds it made by the
// first), and on PostgreSQL each batch's inserts are sent together (sqlstore's queued
// statements), not one round trip each. A rerun imports nothing again.
func TestImportProfileAcrossBatches(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			m := openBenchMain(t, engine)
			const n = importBatch + 8
			mustProfileCards(t, m, "across", n)
			file, key := mustExportForImport(t, m)
			tgt := openBenchMain(t, engine)
			before := tgt.Store.WriteStats().Pipelined
			rep, err := tgt.Import(ctx, tgt.Credentials.MerchantID, key, file, ImportOptions{})
			if err != nil || rep.Created != n || rep.ProfilesCreated != 1 || rep.Batches != 2 {
				t.Fatalf("import: %v; created %d, %d profiles, in %d batches; want %d, 1, 2", err, rep.Created, rep.ProfilesCreated, rep.Batches, n)
			}
			if got := countInstruments(t, tgt, tgt.Credentials.MerchantID); got != n {
				t.Errorf("%d instruments; want %d", got, n)
			}
			sent := tgt.Store.WriteStats().Pipelined - before
			if (engine == "postgres") != (sent >= n) {
				t.Errorf("%d statements sent together; want at least %d on PostgreSQL only", sent, n)
			}
			rep, err = tgt.Import(ctx, tgt.Credentials.MerchantID, key, file, ImportOptions{})
			if err != nil || rep.AlreadyImported != n || rep.Created != 0 || rep.ProfilesCreated != 0 {
				t.Errorf("rerun: %v; %d already imported, %d created, %d profiles; want %d, 0, 0", err, rep.AlreadyImported, rep.Created, rep.ProfilesCreated, n)
			}
		})
	}
}

// mustProfileCards creates n cards on one new profile of m's sandbox merchant, with
// merchantCustomerId mcid.
func mustProfileCards(tb testing.TB, m *Main, mcid string, n int) {
	tb.Helper()
	p, prof := mustSandboxProfile(tb, m, mcid)
	for i := range n {
		payload := fmt.Sprintf("4%014d", 200000+i)
		d, _ := card.CheckDigit(payload)
		if _, err := m.Vault.CreateInstrument(context.Background(), p, &vault.Instrument{Kind: vault.KindCard, ProfileID: prof.ID},
			vault.Source{Number: payload + string(d), Expiry: card.Expiry{Month: 12, Year: 2040}}, vault.CreateOptions{}); err != nil {
			tb.Fatal(err)
		}
	}
}

// TestImportConcurrent: two imports of one file into one merchant at once, both checking
// the whole file before either writes: neither fails on the store's unique index. The one
// whose batch meets records the other wrote first finds them imported, as a rerun does, and
// writes the rest; every record and the profile are written once, each import counts every
// record as created or already imported, and the audit chain verifies. A conflict of
// another cause stops the import with ErrImportChanged.
func TestImportConcurrent(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			m := openBenchMain(t, engine)
			const n = importBatch + 8
			mustProfileCards(t, m, "both", n)
			file, key := mustExportForImport(t, m)
			tgt := openBenchMain(t, engine)
			mid := tgt.Credentials.MerchantID

			// Both reach their first write before either makes it.
			var ready, wg sync.WaitGroup
			ready.Add(2)
			reps, errs := make([]*ImportReport, 2), make([]error, 2)
			for i := range 2 {
				var once sync.Once
				opt := ImportOptions{beforeWrite: func(int) { once.Do(func() { ready.Done(); ready.Wait() }) }}
				wg.Go(func() { reps[i], errs[i] = tgt.Import(ctx, mid, key, file, opt) })
			}
			wg.Wait()
			created, profiles := 0, 0
			for i, rep := range reps {
				if errs[i] != nil || rep == nil {
					t.Fatalf("import %d: %v", i, errs[i])
				}
				if rep.Created+rep.AlreadyImported != n {
					t.Errorf("import %d: %d created and %d already imported; want %d in all", i, rep.Created, rep.AlreadyImported, n)
				}
				created, profiles = created+rep.Created, profiles+rep.ProfilesCreated
			}
			if created != n || profiles != 1 {
				t.Errorf("%d instruments and %d profiles created; want %d and 1", created, profiles, n)
			}
			if got := countInstruments(t, tgt, mid); got != n {
				t.Errorf("%d instruments; want %d", got, n)
			}
			if problems, err := tgt.Store.VerifyAudit(ctx, tgt.Keyring); err != nil || len(problems) != 0 {
				t.Errorf("audit chain: %v %v", problems, err)
			}

			// A conflict that is no other import's record (the profile's merchantCustomerId
			// taken through the API since the check) stops the import with a clear error,
			// having written nothing of the batch.
			other := openBenchMain(t, engine)
			taken := ImportOptions{beforeWrite: func(int) { mustSandboxProfile(t, other, "both") }}
			rep, err := other.Import(ctx, other.Credentials.MerchantID, key, file, taken)
			if !errors.Is(err, ErrImportChanged) || rep == nil || rep.Created != 0 {
				t.Errorf("customer id taken meanwhile: %v %+v", err, rep)
			}
			if got := countInstruments(t, other, other.Credentials.MerchantID); got != 0 {
				t.Errorf("%d instruments written; want 0", got)
			}
		})
	}
}

// mustSandboxProfile authenticates as m's sandbox merchant (its Paysafe API key) and creates
// a profile with merchantCustomerId mcid; it returns the principal and the profile.
func mustSandboxProfile(tb testing.TB, m *Main, mcid string) (*vault.Principal, *vault.Profile) {
	tb.Helper()
	ctx := context.Background()
	p, err := m.Vault.AuthenticateAPIKey(ctx, m.Credentials.Paysafe.APIKeyID, m.Credentials.Paysafe.APIKeySecret)
	if err != nil {
		tb.Fatal(err)
	}
	prof, err := m.Vault.CreateProfile(ctx, p, &vault.Profile{MerchantCustomerID: mcid, Locale: "en_US"})
	if err != nil {
		tb.Fatal(err)
	}
	return p, prof
}
