package fortis_test

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// rawSale is the body fields of a raw-card sale of amount (dollars).
func rawSale(amount string, extra ...string) string {
	return strings.Join(append([]string{`"action":"sale","payment_method":"cc","transaction_amount":"` + amount + `","account_number":"4111111111111111","exp_date":"1228"`}, extra...), ",")
}

// txnBody wraps transaction fields.
func txnBody(fields string) string { return `{"transaction":{` + fields + `}}` }

// TestSandboxTriggers runs the Fortis trigger table (§3.7) through POST /v2/transactions:
// amount triggers in dollars, AVS street and zip rules with the denial data, CVV results per
// brand with auto_decline_cvv, and the approval fields.
func TestSandboxTriggers(t *testing.T) {
	s := mustServer(t)
	strict, err := s.svc.CreateProductTransaction(t.Context(), s.creds.MerchantID, vault.NewProductTransaction{
		LocationID: s.creds.Fortis.LocationID, PaymentMethod: "cc", Title: "strict cvv", AutoDeclineCVV: 1})
	if err != nil {
		t.Fatal(err)
	}
	show := []string{"status_id", "reason_code_id", "verbiage", "auth_amount", "auth_code", "avs", "avs_enhanced", "cvv_response"}
	approved := func(amount, avs, enh, cvv string) map[string]any {
		return map[string]any{"status_id": float64(101), "reason_code_id": float64(1000), "verbiage": "APPROVED", "auth_amount": amount,
			"auth_code": testAuthCode, "avs": avs, "avs_enhanced": enh, "cvv_response": cvv}
	}
	declined := func(code float64, verbiage string, avs, enh, cvv any) map[string]any {
		return map[string]any{"status_id": float64(301), "reason_code_id": code, "verbiage": verbiage, "auth_amount": "0.00",
			"auth_code": nil, "avs": avs, "avs_enhanced": enh, "cvv_response": cvv}
	}
	tests := []struct {
		name   string
		fields string
		want   map[string]any
	}{
		{"ok/2.01-approves", rawSale("2.01"), approved("2.01", "BAD", "N", "N")},
		{"ok/8.05-waits-then-approves", rawSale("8.05"), approved("8.05", "BAD", "N", "N")},
		{"ok/8.00-waits-then-checks-avs", rawSale("8.00", `"billing_zip":"32615"`), declined(1655, "DECLINE", "BAD", "N", nil)},
		{"ok/avs-good", rawSale("1.00", `"billing_street":" 5800  nw 39th ave","billing_zip":"32606-1234"`), approved("1.00", "GOOD", "Y", "N")},
		{"ok/avs-street-only", rawSale("1.00", `"billing_street":"5800 NW 39th AVE","billing_zip":"10001"`), approved("1.00", "ZIP", "A", "N")},
		{"ok/avs-zip-only", rawSale("1.00", `"billing_zip":"32606"`), approved("1.00", "STREET", "Z", "N")},
		{"ok/cvv-999", rawSale("1.00", `"cvv":"999"`), approved("1.00", "BAD", "N", "M")},
		{"ok/cvv-124-without-auto-decline", rawSale("1.00", `"cvv":"124"`), approved("1.00", "BAD", "N", "P")},
		{"ok/cvv-other", rawSale("1.00", `"cvv":"555"`), approved("1.00", "BAD", "N", "N")},
		{"ok/cvv-amex-1234", `"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_number":"371449635398431","exp_date":"1228","cvv":"1234"`, approved("1.00", "BAD", "N", "M")},
		{"ok/cvv-amex-999-is-other", `"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_number":"371449635398431","exp_date":"1228","cvv":"999"`, approved("1.00", "BAD", "N", "N")},
		{"ok/cvv-s-on-strict-service-with-m", rawSale("1.00", `"cvv":"999"`, `"product_transaction_id":"`+strict.ID+`"`), approved("1.00", "BAD", "N", "M")},
		{"ok/any-expiry", `"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_number":"4111111111111111","exp_date":"0919"`, approved("1.00", "BAD", "N", "N")},
		{"fail/5.00-deny", rawSale("5.00"), declined(1500, "DENY", nil, nil, nil)},
		{"fail/5.40-setup", rawSale("5.40"), declined(1540, "SETUP", nil, nil, nil)},
		{"fail/6.15-do-not-honor", rawSale("6.15"), declined(1615, "DO NOT HONOR", nil, nil, nil)},
		{"fail/6.31-account-closed", rawSale("6.31"), declined(1631, "ACCOUNT_CLOSED", nil, nil, nil)},
		{"fail/8.10-deny", rawSale("8.10"), declined(1500, "DENY", nil, nil, nil)},
		{"fail/8.99-deny", rawSale("8.99"), declined(1500, "DENY", nil, nil, nil)},
		{"fail/authonly-6.16", strings.Replace(rawSale("6.16"), `"sale"`, `"authonly"`, 1), declined(1616, "INSUFFICIENT_FUNDS", nil, nil, nil)},
		{"fail/avs-denial-street", rawSale("1.00", `"billing_street":"2831 nw 41ST st  ste j"`), declined(1655, "DECLINE", "BAD", "N", nil)},
		{"fail/avs-denial-zip", rawSale("1.00", `"billing_zip":"32615-0001"`), declined(1655, "DECLINE", "BAD", "N", nil)},
		{"fail/cvv-auto-decline-s", rawSale("1.00", `"cvv":"125"`, `"product_transaction_id":"`+strict.ID+`"`), declined(1656, "DECLINE", "BAD", "N", "S")},
		{"fail/cvv-auto-decline-x", rawSale("1.00", `"cvv":"127"`, `"product_transaction_id":"`+strict.ID+`"`), declined(1656, "DECLINE", "BAD", "N", "X")},
		{"fail/cvv-amex-auto-decline-u", `"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_number":"371449635398431","exp_date":"1228","cvv":"9996","product_transaction_id":"` + strict.ID + `"`, declined(1656, "DECLINE", "BAD", "N", "U")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diff(t, tt.want, pick(s.mustTxn(t, tt.fields), show...))
		})
	}
	t.Run("ok/amounts-ignored-by-avsonly-refund-debit", func(t *testing.T) {
		v := s.mustTxn(t, `"action":"avsonly","payment_method":"cc","transaction_amount":"5.00","account_number":"4111111111111111","exp_date":"1228"`)
		diff(t, []any{float64(121), "0.00", ""}, []any{v["status_id"], v["transaction_amount"], v["auth_code"]})
		sale := s.mustTxn(t, rawSale("9.00"))
		r := s.mustTxn(t, `"action":"refund","payment_method":"cc","transaction_amount":"5.00","previous_transaction_id":"`+sale["id"].(string)+`"`)
		diff(t, []any{float64(111), float64(1000), nil, nil}, []any{r["status_id"], r["reason_code_id"], r["avs"], r["cvv_response"]})
		d := s.mustTxn(t, `"action":"debit","payment_method":"ach","transaction_amount":"5.00","account_number":"700953657","routing":"072000326","account_type":"savings","account_holder_name":"Jo","ach_sec_code":"PPD"`)
		diff(t, []any{float64(131), "PENDING", "savings", nil}, []any{d["status_id"], d["verbiage"], d["account_type"], d["first_six"]})
	})
}

// TestTransactionSources runs sales on every account source of §3.7.
func TestTransactionSources(t *testing.T) {
	s := mustServer(t)
	loc := s.creds.Fortis.LocationID
	contact := s.mustContact(t, `"last_name":"Payer"`)["id"].(string)
	v := s.mustVault(t, `"payment_method":"cc","account_number":"5454545454545454","exp_date":"1230","account_vault_api_id":"Card9","billing_address":"5800 NW 39th AVE","billing_zip":"32606","contact_id":"`+contact+`","account_holder_name":"Vault Holder"`)
	show := []string{"account_vault_id", "is_accountvault", "first_six", "last_four", "account_holder_name", "contact_id", "avs", "status_id"}

	t.Run("ok/account-vault-id", func(t *testing.T) {
		got := s.mustTxn(t, `"action":"sale","payment_method":"cc","transaction_amount":"4.00","account_vault_id":"`+v["id"].(string)+`","cvv":"999"`)
		diff(t, map[string]any{"account_vault_id": v["id"], "is_accountvault": true, "first_six": "545454", "last_four": "5454",
			"account_holder_name": "Vault Holder", "contact_id": contact, "avs": "GOOD", "status_id": float64(101)}, pick(got, show...))
	})
	// is_accountvault is true when the request's source is a vault (§3.7); a refund's, or a
	// sale's from previous_transaction_id, is the earlier transaction, even one made on a
	// vault. Both still name the sale's vault in account_vault_id (TestTransactionAccountVault).
	t.Run("ok/from-vault-sale", func(t *testing.T) {
		sale := s.mustTxn(t, `"action":"sale","payment_method":"cc","transaction_amount":"4.00","account_vault_id":"`+v["id"].(string)+`"`)["id"].(string)
		refund := s.mustTxn(t, `"action":"refund","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"`+sale+`"`)
		diff(t, []any{v["id"], false, "545454"}, []any{refund["account_vault_id"], refund["is_accountvault"], refund["first_six"]})
		again := s.mustTxn(t, `"action":"sale","payment_method":"cc","transaction_amount":"2.00","previous_transaction_id":"`+sale+`"`)
		diff(t, []any{v["id"], false, "545454"}, []any{again["account_vault_id"], again["is_accountvault"], again["first_six"]})
	})
	t.Run("ok/account-vault-api-id-with-overrides", func(t *testing.T) {
		got := s.mustTxn(t, `"action":"sale","payment_method":"cc","transaction_amount":"4.00","account_vault_api_id":"Card9","billing_zip":"10001","account_holder_name":"Override"`)
		diff(t, map[string]any{"account_vault_id": v["id"], "is_accountvault": true, "first_six": "545454", "last_four": "5454",
			"account_holder_name": "Override", "contact_id": contact, "avs": "ZIP", "status_id": float64(101)}, pick(got, show...))
		diff(t, []any{"10001", "5800 NW 39th AVE"}, []any{got["billing_zip"], got["billing_street"]})
	})
	t.Run("ok/ticket-consumed-once-with-its-cvv", func(t *testing.T) {
		tk := must(t, s.post(t, "/v2/cardtickets", `{"cardticket":{"location_id":"`+loc+`","account_number":"6011000995500000","exp_date":"1228","cvv":"999","billing_zip":"32606"}}`), http.StatusCreated).record(t, "cardticket")["id"].(string)
		// An earlier source wins and the ignored ticket is not consumed.
		s.mustTxn(t, rawSale("1.00", `"ticket":"`+tk+`"`))
		got := s.mustTxn(t, `"action":"sale","payment_method":"cc","transaction_amount":"1.00","ticket":"`+tk+`"`)
		diff(t, []any{"601100", "M", "STREET", false, "disc"}, []any{got["first_six"], got["cvv_response"], got["avs"], got["is_accountvault"], got["account_type"]})
		r := must(t, s.post(t, "/v2/transactions", txnBody(`"action":"sale","payment_method":"cc","transaction_amount":"1.00","ticket":"`+tk+`"`)), http.StatusUnprocessableEntity)
		diff(t, `{"errors":{"ticket":["Ticket is invalid."]}}`, string(r.Body))
	})
	t.Run("ok/declined-sale-consumes-its-ticket", func(t *testing.T) {
		tk := must(t, s.post(t, "/v2/cardtickets", `{"cardticket":{"location_id":"`+loc+`","account_number":"4111111111111111","exp_date":"1228"}}`), http.StatusCreated).record(t, "cardticket")["id"].(string)
		got := s.mustTxn(t, `"action":"sale","payment_method":"cc","transaction_amount":"5.00","ticket":"`+tk+`"`)
		diff(t, float64(301), got["status_id"])
		must(t, s.post(t, "/v2/transactions", txnBody(`"action":"sale","payment_method":"cc","transaction_amount":"1.00","ticket":"`+tk+`"`)), http.StatusUnprocessableEntity)
	})
	t.Run("ok/previous-transaction", func(t *testing.T) {
		first := s.mustTxn(t, rawSale("1.00", `"transaction_api_id":"First1","account_holder_name":"Raw Payer"`))
		for _, src := range []string{`"previous_transaction_id":"` + first["id"].(string) + `"`, `"previous_transaction_api_id":"First1"`} {
			got := s.mustTxn(t, `"action":"authonly","payment_method":"cc","transaction_amount":"3.00",`+src)
			diff(t, []any{"411111", "1111", "Raw Payer", float64(102), nil, false}, []any{got["first_six"], got["last_four"], got["account_holder_name"], got["status_id"], got["account_vault_id"], got["is_accountvault"]})
		}
	})
	t.Run("ok/previous-ach-debit", func(t *testing.T) {
		first := s.mustTxn(t, `"action":"debit","payment_method":"ach","transaction_amount":"5.00","account_number":"700953657","routing":"072000326","account_type":"checking","account_holder_name":"Jo","ach_sec_code":"CCD"`)
		got := s.mustTxn(t, `"action":"debit","payment_method":"ach","transaction_amount":"6.00","previous_transaction_id":"`+first["id"].(string)+`"`)
		diff(t, []any{"3657", "072000326", "CCD", "Jo"}, []any{got["last_four"], got["routing"], got["ach_sec_code"], got["account_holder_name"]})
	})
	t.Run("ok/contact", func(t *testing.T) {
		got := s.mustTxn(t, rawSale("1.00", `"contact_id":"`+contact+`"`))
		diff(t, contact, got["contact_id"])
	})
}

// TestTransactionAccountVault covers which vault a transaction names and the account fields
// it shows with it. account_vault_id is the vault the account data belongs to: the source
// itself when that is a vault (is_accountvault true, §3.7), and the earlier transaction's
// vault when the source is an earlier transaction, a refund's sale or the
// previous_transaction_id of a sale, authonly or avsonly (is_accountvault false), so that a
// vault sale, its refunds and every transaction made from either show the same vault, card
// fields and contact, and the list's account_vault_id filter finds them all. A transaction
// whose account was never in a vault names none, and neither does run_avs's check (§2.5).
func TestTransactionAccountVault(t *testing.T) {
	s := mustServer(t)
	contact := s.mustContact(t, `"last_name":"Holder"`)["id"].(string)
	other := s.mustContact(t, `"last_name":"Other"`)["id"].(string)
	vid := s.mustVault(t, `"payment_method":"cc","account_number":"5454545454545454","exp_date":"1230","contact_id":"`+contact+`","account_holder_name":"Vault Holder","billing_zip":"32606"`)["id"].(string)
	show := []string{"account_vault_id", "is_accountvault", "first_six", "last_four", "account_type", "account_holder_name", "contact_id", "billing_zip", "payment_method"}
	want := func(fromVault bool, contact any) map[string]any {
		return map[string]any{"account_vault_id": vid, "is_accountvault": fromVault, "first_six": "545454", "last_four": "5454",
			"account_type": "mc", "account_holder_name": "Vault Holder", "contact_id": contact, "billing_zip": "32606", "payment_method": "cc"}
	}
	sale := s.mustTxn(t, `"action":"sale","payment_method":"cc","transaction_amount":"9.00","account_vault_id":"`+vid+`","transaction_api_id":"VaultSale1"`)
	diff(t, want(true, contact), pick(sale, show...))
	ids := []string{sale["id"].(string)}
	refund := s.mustTxn(t, `"action":"refund","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"`+sale["id"].(string)+`"`)
	ids = append(ids, refund["id"].(string))
	again := s.mustTxn(t, `"action":"sale","payment_method":"cc","transaction_amount":"2.00","previous_transaction_id":"`+sale["id"].(string)+`"`)
	ids = append(ids, again["id"].(string))

	for _, tt := range []struct {
		name, fields string
		contact      any
		status       float64
	}{
		{"ok/refund-of-the-vault-sale", `"action":"refund","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"` + sale["id"].(string) + `"`, contact, 111},
		{"ok/sale-from-previous-transaction-id", `"action":"sale","payment_method":"cc","transaction_amount":"2.00","previous_transaction_id":"` + sale["id"].(string) + `"`, contact, 101},
		{"ok/authonly-from-previous-transaction-api-id", `"action":"authonly","payment_method":"cc","transaction_amount":"2.00","previous_transaction_api_id":"VaultSale1"`, contact, 102},
		{"ok/avsonly-from-previous-transaction", `"action":"avsonly","payment_method":"cc","previous_transaction_id":"` + sale["id"].(string) + `"`, contact, 121},
		{"ok/declined-sale-from-previous-transaction", `"action":"sale","payment_method":"cc","transaction_amount":"5.00","previous_transaction_id":"` + sale["id"].(string) + `"`, contact, 301},
		{"ok/sale-from-a-refund", `"action":"sale","payment_method":"cc","transaction_amount":"2.00","previous_transaction_id":"` + refund["id"].(string) + `"`, contact, 101},
		{"ok/sale-from-a-sale-from-previous", `"action":"sale","payment_method":"cc","transaction_amount":"2.00","previous_transaction_id":"` + again["id"].(string) + `"`, contact, 101},
		{"ok/refund-of-a-sale-from-previous", `"action":"refund","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"` + again["id"].(string) + `"`, contact, 111},
		{"ok/request-contact-wins", `"action":"sale","payment_method":"cc","transaction_amount":"2.00","previous_transaction_id":"` + sale["id"].(string) + `","contact_id":"` + other + `"`, other, 101},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := s.mustTxn(t, tt.fields)
			diff(t, want(false, tt.contact), pick(got, show...))
			diff(t, tt.status, got["status_id"])
			read := must(t, s.get(t, "/v2/transactions/"+got["id"].(string)+"?expand=account_vault"), http.StatusOK).record(t, "transaction")
			diff(t, want(false, tt.contact), pick(read, show...))
			av, _ := read["account_vault"].(map[string]any)
			diff(t, vid, av["id"])
			ids = append(ids, got["id"].(string))
		})
	}
	t.Run("ok/list-filter-finds-them-all", func(t *testing.T) {
		list := must(t, s.get(t, "/v2/transactions?account_vault_id="+vid+"&page_size=100&sort=id"), http.StatusOK).json(t)["transactions"].([]any)
		var got []string
		for _, x := range list {
			got = append(got, x.(map[string]any)["id"].(string))
		}
		sort.Strings(ids)
		diff(t, ids, got)
	})
	t.Run("ok/ach-debit-from-previous-transaction", func(t *testing.T) {
		av := s.mustVault(t, `"payment_method":"ach","account_number":"700953657","routing":"072000326","account_type":"savings","is_company":true,"account_holder_name":"Bank Holder"`)["id"].(string)
		first := s.mustTxn(t, `"action":"debit","payment_method":"ach","transaction_amount":"5.00","account_vault_id":"`+av+`"`)
		got := s.mustTxn(t, `"action":"debit","payment_method":"ach","transaction_amount":"6.00","previous_transaction_id":"`+first["id"].(string)+`"`)
		keys := []string{"account_vault_id", "first_six", "last_four", "account_type", "routing", "ach_sec_code", "account_holder_name"}
		want := map[string]any{"account_vault_id": av, "first_six": nil, "last_four": "3657", "account_type": "savings", "routing": "072000326", "ach_sec_code": "CCD", "account_holder_name": "Bank Holder"}
		diff(t, want, pick(first, keys...))
		diff(t, want, pick(got, keys...))
		diff(t, []any{true, false}, []any{first["is_accountvault"], got["is_accountvault"]})
	})
	t.Run("ok/never-in-a-vault", func(t *testing.T) {
		raw := s.mustTxn(t, rawSale("1.00"))
		got := s.mustTxn(t, `"action":"sale","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"`+raw["id"].(string)+`"`)
		diff(t, []any{nil, false, "411111", "1111", "visa"}, []any{got["account_vault_id"], got["is_accountvault"], got["first_six"], got["last_four"], got["account_type"]})
	})
	t.Run("ok/saved-account", func(t *testing.T) {
		saved := s.mustTxn(t, rawSale("1.00", `"save_account":1`))
		got := s.mustTxn(t, `"action":"sale","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"`+saved["id"].(string)+`"`)
		diff(t, []any{saved["account_vault_id"], false}, []any{got["account_vault_id"], got["is_accountvault"]})
	})
	t.Run("ok/run-avs-check-names-no-vault", func(t *testing.T) {
		for _, src := range []string{`"previous_transaction_id":"` + sale["id"].(string) + `"`, `"previous_account_vault_id":"` + vid + `"`} {
			nv := s.mustVault(t, `"payment_method":"cc","run_avs":true,`+src)
			check := must(t, s.get(t, "/v2/transactions?type_id=21&sort=-id&page_size=1"), http.StatusOK).json(t)["transactions"].([]any)[0].(map[string]any)
			diff(t, []any{nil, false, "5454"}, []any{check["account_vault_id"], check["is_accountvault"], check["last_four"]})
			if nv["id"] == vid {
				t.Fatal("the vault create returned its source")
			}
		}
		n := must(t, s.get(t, "/v2/transactions?account_vault_id="+vid+"&page_size=1"), http.StatusOK).json(t)["meta"].(map[string]any)["pagination"].(map[string]any)["totalCount"]
		diff(t, float64(len(ids)), n)
	})
	t.Run("ok/deleted-contact-is-not-carried", func(t *testing.T) {
		gone := s.mustContact(t, `"last_name":"Gone"`)["id"].(string)
		first := s.mustTxn(t, rawSale("1.00", `"contact_id":"`+gone+`"`))
		must(t, s.del(t, "/v2/contacts/"+gone), http.StatusNoContent)
		got := s.mustTxn(t, `"action":"sale","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"`+first["id"].(string)+`"`)
		diff(t, []any{gone, nil}, []any{must(t, s.get(t, "/v2/transactions/"+first["id"].(string)), http.StatusOK).record(t, "transaction")["contact_id"], got["contact_id"]})
	})
	t.Run("ok/refund-deleted-contact-is-not-carried", func(t *testing.T) {
		gone := s.mustContact(t, `"last_name":"Gone"`)["id"].(string)
		first := s.mustTxn(t, rawSale("3.00", `"contact_id":"`+gone+`"`))
		must(t, s.del(t, "/v2/contacts/"+gone), http.StatusNoContent)
		got := s.mustTxn(t, `"action":"refund","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"`+first["id"].(string)+`"`)
		diff(t, []any{nil, float64(111)}, []any{got["contact_id"], got["status_id"]})
		n := must(t, s.get(t, "/v2/transactions?contact_id="+gone), http.StatusOK).json(t)["meta"].(map[string]any)["pagination"].(map[string]any)["totalCount"]
		diff(t, float64(1), n) // the sale keeps its contact; the refund does not name the deleted one
	})
	t.Run("ok/refund-request-contact-wins", func(t *testing.T) {
		payer := s.mustContact(t, `"last_name":"Payer"`)["id"].(string)
		first := s.mustTxn(t, rawSale("3.00", `"contact_id":"`+contact+`"`))
		got := s.mustTxn(t, `"action":"refund","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"`+first["id"].(string)+`","contact_id":"`+payer+`"`)
		diff(t, payer, got["contact_id"])
		diff(t, payer, must(t, s.get(t, "/v2/transactions/"+got["id"].(string)), http.StatusOK).record(t, "transaction")["contact_id"])
	})
	t.Run("ok/deleted-vault-still-named", func(t *testing.T) {
		dv := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1230"`)["id"].(string)
		first := s.mustTxn(t, `"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_vault_id":"`+dv+`"`)
		must(t, s.del(t, "/v2/accountvaults/"+dv), http.StatusNoContent)
		// The earlier transaction still pays; the vault it came from is still named (like
		// a refund's), though the vault itself can no longer be a source.
		got := s.mustTxn(t, `"action":"sale","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"`+first["id"].(string)+`"`)
		diff(t, []any{dv, false, float64(101)}, []any{got["account_vault_id"], got["is_accountvault"], got["status_id"]})
		r := must(t, s.post(t, "/v2/transactions", txnBody(`"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_vault_id":"`+dv+`"`)), http.StatusUnprocessableEntity)
		diff(t, `{"errors":{"account_vault_id":["Account Vault Id is invalid."]}}`, string(r.Body))
	})
}

// TestOtherAPITransactionNotASource checks that a transaction made through the Paysafe API in
// the same location, whose id this API answers as unknown (404), is no source either: a
// sale, an avsonly or a vault create naming it is 422 on the field, as for any unknown id
// (§1.5), alone or with other field errors, and a Fortis transaction still is one.
func TestOtherAPITransactionNotASource(t *testing.T) {
	s := mustServer(t)
	ctx := context.Background()
	p, err := s.svc.AuthenticateUser(ctx, s.user.dev, s.user.id, s.user.key)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := s.svc.Location(ctx, s.creds.MerchantID, s.creds.Fortis.LocationID)
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.ps.Authorize(ctx, p, payments.AuthRequest{API: "paysafe", Type: payments.TypeSale, Location: loc, Amount: 100,
		Source: payments.Source{Number: "4111111111111111", Expiry: card.Expiry{Month: 12, Year: 2028}}})
	if err != nil || !other.Approved() {
		t.Fatalf("paysafe sale: %v", err)
	}
	must(t, s.get(t, "/v2/transactions/"+other.ID), http.StatusNotFound)
	tests := []struct{ name, path, body, want string }{
		{"fail/sale", "/v2/transactions", txnBody(`"action":"sale","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"` + other.ID + `"`),
			`{"errors":{"previous_transaction_id":["Previous Transaction Id is invalid."]}}`},
		{"fail/avsonly", "/v2/transactions", txnBody(`"action":"avsonly","payment_method":"cc","previous_transaction_id":"` + other.ID + `"`),
			`{"errors":{"previous_transaction_id":["Previous Transaction Id is invalid."]}}`},
		{"fail/sale-with-other-errors", "/v2/transactions", txnBody(`"action":"sale","payment_method":"cc","transaction_amount":"1.00","order_num":"a-b","previous_transaction_id":"` + other.ID + `"`),
			`{"errors":{"order_num":["Order Num is invalid."],"previous_transaction_id":["Previous Transaction Id is invalid."]}}`},
		{"fail/unknown-action", "/v2/transactions", txnBody(`"action":"void","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"` + other.ID + `"`),
			`{"errors":{"action":["Action is invalid."],"previous_transaction_id":["Previous Transaction Id is invalid."]}}`},
		{"fail/vault", "/v2/accountvaults", `{"accountvault":{"location_id":"` + loc.ID + `","payment_method":"cc","previous_transaction_id":"` + other.ID + `"}}`,
			`{"errors":{"previous_transaction_id":["Previous Transaction Id is invalid."]}}`},
		{"fail/vault-with-other-errors", "/v2/accountvaults", `{"accountvault":{"location_id":"` + loc.ID + `","payment_method":"cc","title":"12345678901234567","previous_transaction_id":"` + other.ID + `"}}`,
			`{"errors":{"previous_transaction_id":["Previous Transaction Id is invalid."],"title":["Title should contain at most 16 characters."]}}`},
		{"fail/vault-run-avs", "/v2/accountvaults", `{"accountvault":{"location_id":"` + loc.ID + `","payment_method":"cc","run_avs":true,"previous_transaction_id":"` + other.ID + `"}}`,
			`{"errors":{"previous_transaction_id":["Previous Transaction Id is invalid."]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diff(t, tt.want, string(must(t, s.post(t, tt.path, tt.body), http.StatusUnprocessableEntity).Body))
		})
	}
	t.Run("ok/fortis-transaction", func(t *testing.T) {
		first := s.mustTxn(t, rawSale("1.00"))
		s.mustTxn(t, `"action":"sale","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"`+first["id"].(string)+`"`)
		s.mustVault(t, `"payment_method":"cc","previous_transaction_id":"`+first["id"].(string)+`"`)
	})
}

// TestTransactionRules covers the 422s, the 403 and the 405s of §3.7: nothing is stored.
func TestTransactionRules(t *testing.T) {
	s := mustServer(t)
	ctx := context.Background()
	loc := s.creds.Fortis.LocationID
	other := s.mustLocation(t, "Other")
	otherPT, err := s.svc.CreateProductTransaction(ctx, s.creds.MerchantID, vault.NewProductTransaction{LocationID: other.Location.ID, PaymentMethod: "cc"})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := s.svc.Store().GetLocation(ctx, s.creds.MerchantID, loc)
	_, otherUser := s.mustUser(t, vault.NewUser{Username: "other", PrimaryLocationID: other.Location.ID})
	deleted := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"`)["id"].(string)
	must(t, s.del(t, "/v2/accountvaults/"+deleted), http.StatusNoContent)
	achVault := s.mustVault(t, `"payment_method":"ach","account_number":"700953657","routing":"072000326","account_holder_name":"Jo"`)["id"].(string)
	foreignVault := must(t, s.do(t, call{Method: "POST", Path: "/v2/accountvaults", As: &otherUser,
		Body: `{"accountvault":{"location_id":"` + other.Location.ID + `","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"}}`}), 201).record(t, "accountvault")["id"].(string)
	foreignContact := must(t, s.do(t, call{Method: "POST", Path: "/v2/contacts", As: &otherUser,
		Body: `{"contact":{"location_id":"` + other.Location.ID + `","last_name":"X"}}`}), 201).record(t, "contact")["id"].(string)
	authonly := s.mustTxn(t, strings.Replace(rawSale("3.00"), `"sale"`, `"authonly"`, 1))["id"].(string)
	declinedSale := s.mustTxn(t, rawSale("5.00"))["id"].(string)
	sale := s.mustTxn(t, rawSale("3.00", `"transaction_api_id":"Taken1"`))["id"].(string)
	debit := s.mustTxn(t, `"action":"debit","payment_method":"ach","transaction_amount":"5.00","account_number":"700953657","routing":"072000326","account_type":"checking","account_holder_name":"Jo","ach_sec_code":"WEB"`)["id"].(string)

	tests := []struct {
		name   string
		fields string
		want   string
	}{
		{"fail/empty", ``, `{"errors":{"account_number":["Account Number cannot be blank."],"action":["Action cannot be blank."],"payment_method":["Payment Method cannot be blank."],"transaction_amount":["Transaction Amount cannot be blank."]}}`},
		{"fail/unknown-action", `"action":"credit","payment_method":"cc","transaction_amount":"1.00","account_number":"4111111111111111","exp_date":"1228"`, `{"errors":{"action":["Action is invalid."]}}`},
		{"fail/debit-by-card", `"action":"debit","payment_method":"cc","transaction_amount":"1.00","account_number":"4111111111111111","exp_date":"1228"`, `{"errors":{"action":["Action is invalid."]}}`},
		{"fail/sale-by-ach", `"action":"sale","payment_method":"ach","transaction_amount":"1.00","account_vault_id":"` + achVault + `"`, `{"errors":{"action":["Action is invalid."]}}`},
		{"fail/method", `"action":"sale","payment_method":"xyz","transaction_amount":"1.00","account_number":"4111111111111111","exp_date":"1228"`, `{"errors":{"payment_method":["Payment Method is invalid."]}}`},
		{"fail/amount-missing", `"action":"sale","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"`, `{"errors":{"transaction_amount":["Transaction Amount cannot be blank."]}}`},
		{"fail/amount-text", rawSale("ten"), `{"errors":{"transaction_amount":["Transaction Amount must be a number."]}}`},
		{"fail/amount-three-decimals", rawSale("1.005"), `{"errors":{"transaction_amount":["Transaction Amount must be a number."]}}`},
		{"fail/amount-exponent", `"action":"sale","payment_method":"cc","transaction_amount":1e2,"account_number":"4111111111111111","exp_date":"1228"`, `{"errors":{"transaction_amount":["Transaction Amount must be a number."]}}`},
		// §3.7: "up to 10 characters with 2 decimals (`must be a number.`)".
		{"fail/amount-too-long", rawSale("12345678.00"), `{"errors":{"transaction_amount":["Transaction Amount must be a number."]}}`},
		{"fail/amount-too-long-json-number", `"action":"sale","payment_method":"cc","transaction_amount":12345678.00,"account_number":"4111111111111111","exp_date":"1228"`, `{"errors":{"transaction_amount":["Transaction Amount must be a number."]}}`},
		{"fail/amount-zero", rawSale("0.00"), `{"errors":{"transaction_amount":["` + "Transaction amount must be greater than zero for the following actions: [sale, authonly, authcomplete, authincrement, debit, credit, refund, tipadjust]" + `"]}}`},
		{"fail/amount-negative", `"action":"refund","payment_method":"cc","transaction_amount":-1,"previous_transaction_id":"` + sale + `"`, `{"errors":{"transaction_amount":["` + "Transaction amount must be greater than zero for the following actions: [sale, authonly, authcomplete, authincrement, debit, credit, refund, tipadjust]" + `"]}}`},
		{"fail/card-luhn", `"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_number":"4111111111111112","exp_date":"1228"`, `{"errors":{"account_number":["Account Number is invalid."]}}`},
		{"fail/card-exp-missing", `"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_number":"4111111111111111"`, `{"errors":{"exp_date":["Exp Date cannot be blank."]}}`},
		{"fail/card-exp-month", `"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_number":"4111111111111111","exp_date":"1328"`, `{"errors":{"exp_date":["Exp Date is invalid."]}}`},
		{"fail/cvv", rawSale("1.00", `"cvv":"12a"`), `{"errors":{"cvv":["Cvv is invalid."]}}`},
		{"fail/ach-sec-code-blank", `"action":"debit","payment_method":"ach","transaction_amount":"1.00","account_number":"700953657","routing":"072000326","account_type":"checking","account_holder_name":"Jo"`, `{"errors":{"ach_sec_code":["ach_sec_code cannot be blank"]}}`},
		{"fail/ach-all-blank", `"action":"debit","payment_method":"ach","transaction_amount":"1.00","account_number":"700953657"`, `{"errors":{"account_holder_name":["Account Holder Name cannot be blank."],"account_type":["Account Type cannot be blank."],"ach_sec_code":["ach_sec_code cannot be blank"],"routing":["Routing cannot be blank."]}}`},
		{"fail/ach-ticket", `"action":"debit","payment_method":"ach","transaction_amount":"1.00","ticket":"abc"`, `{"errors":{"ticket":["Ticket is invalid."]}}`},
		{"fail/vault-deleted", `"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_vault_id":"` + deleted + `"`, `{"errors":{"account_vault_id":["Account Vault Id is invalid."]}}`},
		{"fail/vault-other-location", `"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_vault_id":"` + foreignVault + `"`, `{"errors":{"account_vault_id":["Account Vault Id is invalid."]}}`},
		{"fail/vault-wrong-method", `"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_vault_id":"` + achVault + `"`, `{"errors":{"account_vault_id":["Account Vault Id is invalid."]}}`},
		{"fail/vault-unknown-api-id", `"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_vault_api_id":"Nope"`, `{"errors":{"account_vault_api_id":["Account Vault Api Id is invalid."]}}`},
		{"fail/ticket-unknown", `"action":"sale","payment_method":"cc","transaction_amount":"1.00","ticket":"nope"`, `{"errors":{"ticket":["Ticket is invalid."]}}`},
		{"fail/previous-unknown", `"action":"sale","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"0190aaaa-0000-7000-8000-000000000000"`, `{"errors":{"previous_transaction_id":["Previous Transaction Id is invalid."]}}`},
		{"fail/previous-wrong-method", `"action":"sale","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"` + debit + `"`, `{"errors":{"previous_transaction_id":["Previous Transaction Id is invalid."]}}`},
		{"fail/refund-without-previous", rawSale("1.00") + `,"action":"refund"`, `{"errors":{"previous_transaction_id":["Previous Transaction Id cannot be blank."]}}`},
		{"fail/refund-of-authonly", `"action":"refund","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"` + authonly + `"`, `{"errors":{"previous_transaction_id":["Previous Transaction Id is invalid."]}}`},
		{"fail/refund-of-declined", `"action":"refund","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"` + declinedSale + `"`, `{"errors":{"previous_transaction_id":["Previous Transaction Id is invalid."]}}`},
		{"fail/refund-over", `"action":"refund","payment_method":"cc","transaction_amount":"3.01","previous_transaction_api_id":"Taken1"`, `{"errors":{"transaction_amount":["Transaction Amount is invalid."]}}`},
		{"fail/api-id-taken", rawSale("1.00", `"transaction_api_id":"Taken1"`), `{"errors":{"transaction_api_id":["Transaction Api Id \"Taken1\" has already been taken."]}}`},
		{"fail/location", rawSale("1.00", `"location_id":"`+other.Location.ID+`"`), `{"errors":{"location_id":["location_id provided is not valid"]}}`},
		{"fail/product-transaction-of-other-location", rawSale("1.00", `"product_transaction_id":"`+otherPT.ID+`"`), `{"errors":{"product_transaction_id":["Product Transaction Id is invalid."]}}`},
		{"fail/product-transaction-of-other-method", rawSale("1.00", `"product_transaction_id":"`+l.DefaultACH+`"`), `{"errors":{"product_transaction_id":["Product Transaction Id is invalid."]}}`},
		{"fail/contact-of-other-location", rawSale("1.00", `"contact_id":"`+foreignContact+`"`), `{"errors":{"contact_id":["Contact Id is invalid."]}}`},
		{"fail/billing", rawSale("1.00", `"billing_zip":"123","billing_phone":"12345","billing_state":"F1","billing_street":"`+strings.Repeat("x", 33)+`"`), `{"errors":{"billing_phone":["Billing Phone should contain 10 characters."],"billing_state":["Billing State is invalid."],"billing_street":["Billing Street should contain at most 32 characters."],"billing_zip":["Billing Zip should contain at least 4 characters."]}}`},
		{"fail/order-num", rawSale("1.00", `"order_num":"A-1"`), `{"errors":{"order_num":["Order Num is invalid."]}}`},
		{"fail/description", rawSale("1.00", `"description":"`+strings.Repeat("d", 65)+`"`), `{"errors":{"description":["Description should contain at most 64 characters."]}}`},
	}
	before := countTxns(t, s)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := must(t, s.post(t, "/v2/transactions", txnBody(tt.fields)), http.StatusUnprocessableEntity)
			diff(t, tt.want, string(r.Body))
		})
	}
	if after := countTxns(t, s); after != before {
		t.Errorf("refused requests stored %d transactions", after-before)
	}

	t.Run("fail/no-services", func(t *testing.T) {
		bare := s.mustLocation(t, "Bare")
		err := s.store.Write(ctx, func(tx vault.Tx) error {
			bare.Location.DefaultCC, bare.Location.DefaultACH = "", ""
			return tx.UpdateLocation(ctx, bare.Location)
		})
		if err != nil {
			t.Fatal(err)
		}
		_, u := s.mustUser(t, vault.NewUser{Username: "bare", PrimaryLocationID: bare.Location.ID})
		r := must(t, s.do(t, call{Method: "POST", Path: "/v2/transactions", As: &u, Body: txnBody(rawSale("1.00"))}), http.StatusUnprocessableEntity)
		diff(t, `{"errors":{"product_transaction_id":["Product Transaction Id cannot be blank."]}}`, string(r.Body))
		ach := `"action":"debit","payment_method":"ach","transaction_amount":"5.00","account_number":"700953657","routing":"072000326","account_type":"checking","account_holder_name":"Jo","ach_sec_code":"WEB"`
		r = must(t, s.do(t, call{Method: "POST", Path: "/v2/transactions", As: &u, Body: txnBody(ach)}), http.StatusForbidden)
		diff(t, `{"name":"Forbidden","message":"You are not signed up for the ACH service.","code":0,"status":403}`, string(r.Body))
		// Validation comes before the 403.
		r = must(t, s.do(t, call{Method: "POST", Path: "/v2/transactions", As: &u, Body: txnBody(ach + `,"order_num":"-"`)}), http.StatusUnprocessableEntity)
		diff(t, `{"errors":{"order_num":["Order Num is invalid."]}}`, string(r.Body))
	})
	t.Run("fail/methods", func(t *testing.T) {
		for _, c := range []call{{Method: "PUT", Path: "/v2/transactions/" + sale, Body: "{}"}, {Method: "DELETE", Path: "/v2/transactions/" + sale},
			{Method: "POST", Path: "/v2/transactions/" + sale, Body: "{}"}, {Method: "DELETE", Path: "/v2/transactions"}} {
			r := must(t, s.do(t, c), http.StatusMethodNotAllowed)
			if c.Path == "/v2/transactions" {
				diff(t, "GET, POST", r.Header.Get("Allow"))
			} else {
				diff(t, `{"name":"Method Not Allowed","message":"Method Not Allowed. This URL can only handle the following request methods: GET.","code":0,"status":405}`, string(r.Body))
			}
		}
	})
	t.Run("fail/bad-json", func(t *testing.T) {
		r := must(t, s.do(t, call{Method: "POST", Path: "/v2/transactions", Body: `{"transaction":`, Malformed: true}), http.StatusBadRequest)
		diff(t, `{"name":"Bad Request","message":"Invalid JSON data in request body: Syntax error.","code":0,"status":400}`, string(r.Body))
	})
	t.Run("fail/foreign-transaction-is-404", func(t *testing.T) {
		must(t, s.do(t, call{Method: "GET", Path: "/v2/transactions/" + sale, As: &otherUser}), http.StatusNotFound)
		must(t, s.get(t, "/v2/transactions/0190aaaa-0000-7000-8000-000000000000"), http.StatusNotFound)
	})
	t.Run("ok/bininfo", func(t *testing.T) {
		b := must(t, s.get(t, "/v2/transactions/"+sale+"/bininfo"), http.StatusOK).record(t, "bininfo")
		diff(t, []any{"V", "X", "C"}, []any{b["detail_card_product"], b["detail_card_indicator"], b["card_class"]})
		r := must(t, s.get(t, "/v2/transactions/"+debit+"/bininfo"), http.StatusNotFound)
		diff(t, `{"name":"Not Found","message":"BIN info is not available for ach accounts.","code":0,"status":404}`, string(r.Body))
	})
	// The card fields of a raw cc source (§3.7) mean nothing to a bank account: a debit
	// ignores exp_date and cvv, whatever they hold.
	t.Run("ok/debit-ignores-card-fields", func(t *testing.T) {
		x := s.mustTxn(t, `"action":"debit","payment_method":"ach","transaction_amount":"1.00","account_number":"700953657","routing":"072000326","account_type":"checking","account_holder_name":"Jo","ach_sec_code":"PPD","exp_date":"zz","cvv":"zz"`)
		diff(t, []any{float64(131), nil}, []any{x["status_id"], x["cvv_response"]})
		x = s.mustTxn(t, `"action":"debit","payment_method":"ach","transaction_amount":"1.00","account_number":"700953657","routing":"072000326","account_type":"checking","account_holder_name":"Jo","ach_sec_code":"PPD","exp_date":[],"cvv":{}`)
		diff(t, float64(131), x["status_id"])
	})
}

// countTxns counts the merchant's stored transactions, whatever their status.
func countTxns(tb testing.TB, s *server) int {
	tb.Helper()
	_, n, err := s.ps.List(context.Background(), s.principal(tb), vault.Query{})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// principal authenticates the merchant's user for direct core calls.
func (s *server) principal(tb testing.TB) *vault.Principal {
	tb.Helper()
	p, err := s.svc.AuthenticateUser(context.Background(), s.user.dev, s.user.id, s.user.key)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestTransactionList covers §3.7's list: filters, ranges, sort, expands and paging.
func TestTransactionList(t *testing.T) {
	s := mustServer(t)
	contact := s.mustContact(t, `"last_name":"Lister"`)["id"].(string)
	v := s.mustVault(t, `"payment_method":"cc","account_number":"5454545454545454","exp_date":"1230","contact_id":"`+contact+`"`)["id"].(string)
	sale := s.mustTxn(t, rawSale("3.00", `"account_holder_name":"Alice Liddell"`))["id"].(string)
	declined := s.mustTxn(t, rawSale("5.00"))["id"].(string)
	auth := s.mustTxn(t, `"action":"authonly","payment_method":"cc","transaction_amount":"7.00","account_vault_id":"`+v+`"`)["id"].(string)
	refund := s.mustTxn(t, `"action":"refund","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"`+sale+`"`)["id"].(string)
	avs := s.mustTxn(t, `"action":"avsonly","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"`)["id"].(string)
	debit := s.mustTxn(t, `"action":"debit","payment_method":"ach","transaction_amount":"2.50","account_number":"700953657","routing":"072000326","account_type":"checking","account_holder_name":"Bob","ach_sec_code":"WEB"`)["id"].(string)
	ids := func(r *result) []string {
		out := []string{}
		for _, x := range r.json(t)["transactions"].([]any) {
			out = append(out, x.(map[string]any)["id"].(string))
		}
		return out
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{debit, avs, refund, auth, declined, sale}},
		{"status_id=101,301", []string{declined, sale}},
		{"status_id=301", []string{declined}},
		{"status_id=131", []string{debit}},
		{"type_id=20", []string{auth, declined, sale}},
		{"type_id=21,30", []string{avs, refund}},
		{"reason_code_id=1500", []string{declined}},
		// Codes are exact filters (§3.7's table); a|b is no code and matches nothing.
		{"status_id=101|301", []string{}},
		{"type_id=20|30", []string{}},
		{"reason_code_id=1000|1500", []string{}},
		{"transaction_amount=2.50|5", []string{debit, declined, sale}},
		{"transaction_amount=7", []string{auth}},
		{"account_holder_name=LIDD", []string{refund, sale}},
		{"account_vault_id=" + v, []string{auth}},
		{"contact_id=" + contact, []string{auth}},
		{"payment_method=ach", []string{debit}},
		{"last_four=3657", []string{debit}},
		{"sort=transaction_amount", []string{avs, refund, debit, sale, declined, auth}},
		{"sort=status_id,-id", []string{sale, auth, refund, avs, debit, declined}},
		{"sort=-type_id", []string{debit, refund, avs, auth, declined, sale}},
		{"created_ts=today", []string{debit, avs, refund, auth, declined, sale}},
		{"first_six=411111&status_id=101", []string{sale}},
	}
	for _, tt := range tests {
		t.Run("ok/"+tt.query, func(t *testing.T) {
			diff(t, tt.want, ids(must(t, s.get(t, "/v2/transactions?"+tt.query), http.StatusOK)))
		})
	}
	t.Run("ok/paging-and-meta", func(t *testing.T) {
		r := must(t, s.get(t, "/v2/transactions?page_size=4&page=2&sort=-transaction_amount"), http.StatusOK)
		diff(t, []string{refund, avs}, ids(r))
		p := meta(t, r)["pagination"].(map[string]any)
		diff(t, []any{float64(6), float64(2), float64(1)}, []any{p["totalCount"], p["pageCount"], p["currentPage"]})
		diff(t, map[string]any{"transaction_amount": "desc"}, meta(t, r)["sort"].(map[string]any)["attributes"])
	})
	t.Run("ok/expands", func(t *testing.T) {
		r := must(t, s.get(t, "/v2/transactions/"+auth+"?expand=account_vault,contact,location,created_user,product_transaction,nope"), http.StatusOK)
		x := r.record(t, "transaction")
		diff(t, []any{v, contact, s.creds.Fortis.LocationID, s.creds.Fortis.UserID, x["product_transaction_id"]},
			[]any{x["account_vault"].(map[string]any)["id"], x["contact"].(map[string]any)["id"], x["location"].(map[string]any)["id"],
				x["created_user"].(map[string]any)["id"], x["product_transaction"].(map[string]any)["id"]})
		keys := keyOrder(t, r.Body, "transaction")
		diff(t, []string{"account_vault", "contact", "location", "created_user", "product_transaction", "_links"}, keys[len(keys)-6:])
		items := must(t, s.get(t, "/v2/transactions?expand=account_vault,contact&status_id=101"), http.StatusOK).json(t)["transactions"].([]any)
		first := items[0].(map[string]any)
		diff(t, []any{nil, nil}, []any{first["account_vault"], first["contact"]})
	})
	t.Run("fail/inaccessible-location", func(t *testing.T) {
		other := s.mustLocation(t, "Elsewhere")
		r := must(t, s.get(t, "/v2/transactions?location_id="+other.Location.ID), http.StatusUnprocessableEntity)
		diff(t, `{"errors":{"location_id":["location_id provided is not valid"]}}`, string(r.Body))
	})
}

// TestVaultFromTransaction creates vaults from previous transactions (§2.4): the account
// data, exp_date included, comes from the transaction; request fields override the rest.
func TestVaultFromTransaction(t *testing.T) {
	s := mustServer(t)
	sale := s.mustTxn(t, `"action":"sale","payment_method":"cc","transaction_amount":"2.00","account_number":"4012888888881881","exp_date":"0731",
		"account_holder_name":"Tx Holder","billing_street":"1 Main St","billing_city":"Gainesville","billing_state":"FL","billing_zip":"32606","billing_phone":"3525550100","transaction_api_id":"TxA"`)
	show := []string{"first_six", "last_four", "exp_date", "account_holder_name", "billing_address", "billing_city", "billing_state", "billing_zip", "billing_phone", "account_type", "title"}
	for _, src := range []string{`"previous_transaction_id":"` + sale["id"].(string) + `"`, `"previous_transaction_api_id":"TxA"`} {
		t.Run("ok/"+strings.SplitN(src, `"`, 3)[1], func(t *testing.T) {
			v := s.mustVault(t, `"payment_method":"cc",`+src+`,"title":"From tx","billing_zip":"10001"`)
			diff(t, map[string]any{"first_six": "401288", "last_four": "1881", "exp_date": "0731", "account_holder_name": "Tx Holder",
				"billing_address": "1 Main St", "billing_city": "Gainesville", "billing_state": "FL", "billing_zip": "10001",
				"billing_phone": "3525550100", "account_type": "visa", "title": "From tx"}, pick(v, show...))
		})
	}
	t.Run("ok/ach-debit-is-company-false", func(t *testing.T) {
		d := s.mustTxn(t, `"action":"debit","payment_method":"ach","transaction_amount":"5.00","account_number":"700953657","routing":"072000326","account_type":"savings","account_holder_name":"Acme","ach_sec_code":"PPD"`)
		v := s.mustVault(t, `"payment_method":"ach","previous_transaction_id":"`+d["id"].(string)+`"`)
		diff(t, []any{"3657", "072000326", "savings", "PPD", "Acme", nil}, []any{v["last_four"], v["routing"], v["account_type"], v["ach_sec_code"], v["account_holder_name"], v["first_six"]})
		in, err := s.svc.Store().GetInstrument(t.Context(), s.creds.MerchantID, v["id"].(string))
		if err != nil || in.IsCompany {
			t.Errorf("is_company = %v, %v", in.IsCompany, err)
		}
	})
	t.Run("ok/declined-transaction-is-a-source", func(t *testing.T) {
		d := s.mustTxn(t, rawSale("5.00"))
		v := s.mustVault(t, `"payment_method":"cc","previous_transaction_id":"`+d["id"].(string)+`"`)
		diff(t, "1228", v["exp_date"])
	})
	t.Run("fail/method-or-location", func(t *testing.T) {
		r := must(t, s.post(t, "/v2/accountvaults", `{"accountvault":{"location_id":"`+s.creds.Fortis.LocationID+`","payment_method":"ach","previous_transaction_id":"`+sale["id"].(string)+`"}}`), http.StatusUnprocessableEntity)
		diff(t, `{"errors":{"previous_transaction_id":["Previous Transaction Id is invalid."]}}`, string(r.Body))
		// A user reaching both locations still cannot copy a transaction across them.
		other := s.mustLocation(t, "Other place")
		_, both := s.mustUser(t, vault.NewUser{Username: "both", PrimaryLocationID: s.creds.Fortis.LocationID, LocationIDs: []string{other.Location.ID}})
		r = must(t, s.do(t, call{Method: "POST", Path: "/v2/accountvaults", As: &both,
			Body: `{"accountvault":{"location_id":"` + other.Location.ID + `","payment_method":"cc","previous_transaction_id":"` + sale["id"].(string) + `"}}`}), http.StatusUnprocessableEntity)
		diff(t, `{"errors":{"previous_transaction_id":["Previous Transaction Id is invalid."]}}`, string(r.Body))
	})
}

// TestRunAVS covers §2.5: the avsonly before a cc vault is stored, recorded either way.
func TestRunAVS(t *testing.T) {
	s := mustServer(t)
	ctx := context.Background()
	loc := s.creds.Fortis.LocationID
	card := `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"`
	vaults := func() int {
		return int(must(t, s.get(t, "/v2/accountvaults?page_size=1"), http.StatusOK).json(t)["meta"].(map[string]any)["pagination"].(map[string]any)["totalCount"].(float64))
	}
	avsTxns := func() []any {
		return must(t, s.get(t, "/v2/transactions?type_id=21&sort=-id"), http.StatusOK).json(t)["transactions"].([]any)
	}
	show := []string{"type_id", "transaction_amount", "account_vault_id", "status_id", "reason_code_id", "avs", "is_accountvault"}

	t.Run("ok/pass", func(t *testing.T) {
		v := s.mustVault(t, card+`,"run_avs":true,"billing_address":"5800 NW 39th AVE","billing_zip":"32606"`)
		diff(t, "5800 NW 39th AVE", v["billing_address"])
		x := avsTxns()[0].(map[string]any)
		diff(t, map[string]any{"type_id": float64(21), "transaction_amount": "0.00", "account_vault_id": nil, "status_id": float64(121),
			"reason_code_id": float64(1000), "avs": "GOOD", "is_accountvault": false}, pick(x, show...))
	})
	t.Run("ok/no-address-passes", func(t *testing.T) {
		n := len(avsTxns())
		s.mustVault(t, card+`,"run_avs":"1"`)
		diff(t, n+1, len(avsTxns()))
	})
	for _, tt := range []struct{ name, fields string }{
		{"zip", `"billing_zip":"32615"`},
		{"street", `"billing_address":"2831  nw 41ST st   STE j"`},
	} {
		t.Run("fail/"+tt.name, func(t *testing.T) {
			before := vaults()
			r := must(t, s.post(t, "/v2/accountvaults", `{"accountvault":{"location_id":"`+loc+`",`+card+`,"run_avs":true,`+tt.fields+`}}`), http.StatusUnprocessableEntity)
			diff(t, `{"errors":{"run_avs":["Account Verification failed"]}}`, string(r.Body))
			diff(t, before, vaults())
			x := avsTxns()[0].(map[string]any)
			diff(t, map[string]any{"type_id": float64(21), "transaction_amount": "0.00", "account_vault_id": nil, "status_id": float64(301),
				"reason_code_id": float64(1655), "avs": "BAD", "is_accountvault": false}, pick(x, show...))
		})
	}
	t.Run("fail/ticket-left-unused", func(t *testing.T) {
		tk := must(t, s.post(t, "/v2/cardtickets", `{"cardticket":{"location_id":"`+loc+`","account_number":"4111111111111111","exp_date":"1228","billing_zip":"32615"}}`), http.StatusCreated).record(t, "cardticket")["id"].(string)
		body := `{"accountvault":{"location_id":"` + loc + `","payment_method":"cc","ticket":"` + tk + `","run_avs":1}}`
		must(t, s.post(t, "/v2/accountvaults", body), http.StatusUnprocessableEntity)
		// The ticket still works, and is consumed by the vault that passes.
		v := s.mustVault(t, `"payment_method":"cc","ticket":"`+tk+`","run_avs":1,"billing_zip":"32606"`)
		diff(t, "32606", v["billing_zip"])
		must(t, s.post(t, "/v2/accountvaults", `{"accountvault":{"location_id":"`+loc+`","payment_method":"cc","ticket":"`+tk+`","run_avs":0}}`), http.StatusUnprocessableEntity)
	})
	t.Run("ok/service-setting", func(t *testing.T) {
		// run_avs absent follows the default cc service's run_avs_on_accountvault_create;
		// run_avs false skips the check; ach ignores it.
		n := len(avsTxns())
		s.mustVault(t, card+`,"billing_zip":"32615"`)
		diff(t, n, len(avsTxns()))
		pt, err := s.svc.CreateProductTransaction(ctx, s.creds.MerchantID, vault.NewProductTransaction{LocationID: loc, PaymentMethod: "cc", RunAVSOnCreate: true, MakeDefault: true})
		if err != nil {
			t.Fatal(err)
		}
		r := must(t, s.post(t, "/v2/accountvaults", `{"accountvault":{"location_id":"`+loc+`",`+card+`,"billing_zip":"32615"}}`), http.StatusUnprocessableEntity)
		diff(t, `{"errors":{"run_avs":["Account Verification failed"]}}`, string(r.Body))
		diff(t, pt.ID, avsTxns()[0].(map[string]any)["product_transaction_id"])
		s.mustVault(t, card+`,"billing_zip":"32615","run_avs":false`)
		s.mustVault(t, `"payment_method":"ach","account_number":"700953657","routing":"072000326","account_holder_name":"Jo","billing_zip":"32615","run_avs":true`)
		diff(t, n+1, len(avsTxns()))
	})
	t.Run("ok/from-previous-vault", func(t *testing.T) {
		from := s.mustVault(t, card+`,"billing_address":"5800 NW 39th AVE","run_avs":false`)["id"].(string)
		s.mustVault(t, `"payment_method":"cc","previous_account_vault_id":"`+from+`","run_avs":true`)
		x := avsTxns()[0].(map[string]any)
		diff(t, []any{"ZIP", nil, false}, []any{x["avs"], x["account_vault_id"], x["is_accountvault"]})
	})
	t.Run("fail/no-cc-service", func(t *testing.T) {
		bare := s.mustLocation(t, "No cc")
		err := s.store.Write(ctx, func(tx vault.Tx) error {
			bare.Location.DefaultCC = ""
			return tx.UpdateLocation(ctx, bare.Location)
		})
		if err != nil {
			t.Fatal(err)
		}
		_, u := s.mustUser(t, vault.NewUser{Username: "nocc", PrimaryLocationID: bare.Location.ID})
		body := `{"accountvault":{"location_id":"` + bare.Location.ID + `",` + card + `,"run_avs":true}}`
		r := must(t, s.do(t, call{Method: "POST", Path: "/v2/accountvaults", As: &u, Body: body}), http.StatusUnprocessableEntity)
		diff(t, `{"errors":{"product_transaction_id":["Product Transaction Id cannot be blank."]}}`, string(r.Body))
		// Without run_avs no service is needed.
		must(t, s.do(t, call{Method: "POST", Path: "/v2/accountvaults", As: &u, Body: strings.Replace(body, `,"run_avs":true`, ``, 1)}), http.StatusCreated)
	})
}

// TestSaveAccount covers save_account (§0.1 #7): the vault is validated before the processor
// is called and created only on approval, in the transaction that completes it.
func TestSaveAccount(t *testing.T) {
	s := mustServer(t)
	vaults := func() int {
		return int(must(t, s.get(t, "/v2/accountvaults?page_size=1"), http.StatusOK).json(t)["meta"].(map[string]any)["pagination"].(map[string]any)["totalCount"].(float64))
	}
	t.Run("ok/approved", func(t *testing.T) {
		x := s.mustTxn(t, rawSale("4.00", `"save_account":1,"save_account_title":"Saved card","account_holder_name":"Sam","billing_street":"1 Elm St","billing_zip":"32606"`))
		id, _ := x["account_vault_id"].(string)
		if id == "" {
			t.Fatalf("no account_vault_id: %v", x)
		}
		diff(t, []any{float64(101), false}, []any{x["status_id"], x["is_accountvault"]})
		v := must(t, s.get(t, "/v2/accountvaults/"+id), http.StatusOK).record(t, "accountvault")
		diff(t, map[string]any{"title": "Saved card", "account_holder_name": "Sam", "billing_address": "1 Elm St", "billing_zip": "32606",
			"exp_date": "1228", "last_four": "1111", "location_id": s.creds.Fortis.LocationID},
			pick(v, "title", "account_holder_name", "billing_address", "billing_zip", "exp_date", "last_four", "location_id"))
		// The transaction keeps it, and the vault pays.
		diff(t, id, must(t, s.get(t, "/v2/transactions/"+x["id"].(string)), http.StatusOK).record(t, "transaction")["account_vault_id"])
		diff(t, float64(101), s.mustTxn(t, `"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_vault_id":"`+id+`"`)["status_id"])
	})
	t.Run("ok/declined-saves-nothing", func(t *testing.T) {
		before := vaults()
		x := s.mustTxn(t, rawSale("5.00", `"save_account":true,"save_account_title":"Nope"`))
		diff(t, []any{float64(301), nil}, []any{x["status_id"], x["account_vault_id"]})
		diff(t, before, vaults())
	})
	t.Run("ok/ach-debit", func(t *testing.T) {
		x := s.mustTxn(t, `"action":"debit","payment_method":"ach","transaction_amount":"5.00","account_number":"700953657","routing":"072000326","account_type":"checking","account_holder_name":"Jo","ach_sec_code":"PPD","save_account":"1"`)
		v := must(t, s.get(t, "/v2/accountvaults/"+x["account_vault_id"].(string)), http.StatusOK).record(t, "accountvault")
		diff(t, []any{"ach", "072000326", "PPD", "Jo"}, []any{v["payment_method"], v["routing"], v["ach_sec_code"], v["account_holder_name"]})
	})
	t.Run("ok/ignored-for-a-vault-source", func(t *testing.T) {
		v := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"`)["id"].(string)
		before := vaults()
		x := s.mustTxn(t, `"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_vault_id":"`+v+`","save_account":1`)
		diff(t, v, x["account_vault_id"])
		diff(t, before, vaults())
	})
	for _, tt := range []struct{ name, fields, want string }{
		{"title", `"save_account":1,"save_account_title":"A title far too long"`, `{"errors":{"save_account_title":["Save Account Title should contain at most 16 characters."]}}`},
		{"vault-zip-rule", `"save_account":1,"billing_zip":"1234"`, `{"errors":{"billing_zip":["Billing Zip should contain at least 5 characters."]}}`},
	} {
		t.Run("fail/"+tt.name+"-before-the-processor", func(t *testing.T) {
			before := countTxns(t, s)
			r := must(t, s.post(t, "/v2/transactions", txnBody(rawSale("4.00", tt.fields))), http.StatusUnprocessableEntity)
			diff(t, tt.want, string(r.Body))
			diff(t, before, countTxns(t, s))
		})
	}
	t.Run("ok/zip-fine-without-save", func(t *testing.T) {
		s.mustTxn(t, rawSale("4.00", `"billing_zip":"1234"`))
	})
}

// TestMoneyAndRaces fires refunds of one sale and sales on one ticket in parallel, on both
// engines: refunds never exceed the sale, and a ticket is consumed exactly once.
func TestMoneyAndRaces(t *testing.T) {
	engines(t, func(t *testing.T, s *server) {
		loc := s.creds.Fortis.LocationID
		sale := s.mustTxn(t, rawSale("10.00"))["id"].(string)
		const n = 12
		refund := call{Method: "POST", Path: "/v2/transactions", Body: txnBody(`"action":"refund","payment_method":"cc","transaction_amount":"3.00","previous_transaction_id":"` + sale + `"`)}
		calls := make([]call, n)
		for i := range calls {
			calls[i] = refund
		}
		ok := 0
		for _, r := range s.doParallel(t, calls) {
			switch r.Status {
			case http.StatusCreated:
				ok++
			case http.StatusUnprocessableEntity:
				diff(t, `{"errors":{"transaction_amount":["Transaction Amount is invalid."]}}`, string(r.Body))
			default:
				t.Errorf("refund: %d %s", r.Status, r.Body)
			}
		}
		diff(t, 3, ok)
		// What is left (1.00) can still be refunded, and then nothing.
		s.mustTxn(t, `"action":"refund","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"`+sale+`"`)
		must(t, s.post(t, "/v2/transactions", txnBody(`"action":"refund","payment_method":"cc","transaction_amount":"0.01","previous_transaction_id":"`+sale+`"`)), http.StatusUnprocessableEntity)
		items := must(t, s.get(t, "/v2/transactions?type_id=30&page_size=50"), http.StatusOK).json(t)["transactions"].([]any)
		diff(t, 4, len(items))

		// One ticket, raced by sales and vault creates: exactly one wins.
		tk := must(t, s.post(t, "/v2/cardtickets", `{"cardticket":{"location_id":"`+loc+`","account_number":"4111111111111111","exp_date":"1228"}}`), http.StatusCreated).record(t, "cardticket")["id"].(string)
		calls = calls[:0]
		for i := 0; i < 4; i++ {
			calls = append(calls,
				call{Method: "POST", Path: "/v2/transactions", Body: txnBody(`"action":"sale","payment_method":"cc","transaction_amount":"1.00","ticket":"` + tk + `"`)},
				call{Method: "POST", Path: "/v2/accountvaults", Body: `{"accountvault":{"location_id":"` + loc + `","payment_method":"cc","ticket":"` + tk + `"}}`},
				call{Method: "POST", Path: "/v2/accountvaults", Body: `{"accountvault":{"location_id":"` + loc + `","payment_method":"cc","ticket":"` + tk + `","run_avs":true}}`})
		}
		won := 0
		for _, r := range s.doParallel(t, calls) {
			switch r.Status {
			case http.StatusCreated:
				won++
			case http.StatusUnprocessableEntity:
				if !strings.Contains(string(r.Body), `"ticket":["Ticket is invalid."]`) {
					t.Errorf("loser: %s", r.Body)
				}
			default:
				t.Errorf("ticket race: %d %s", r.Status, r.Body)
			}
		}
		diff(t, 1, won)

		// The core's own view: the sale has nothing left.
		got, err := s.ps.Get(t.Context(), s.principal(t), loc, sale)
		if err != nil || got.Available != 0 {
			t.Errorf("sale available = %d, %v", got.Available, err)
		}
		_ = payments.TypeSale
	})
}

// TestVTRequire checks a service's vt_require_* flags (§3.3 "A vt_require_* flag makes that
// billing field required on cc transactions") against the billing a transaction carries: the
// request's fields over its vault's, ticket's or earlier transaction's. A refund carries its
// sale's and is never refused for them.
func TestVTRequire(t *testing.T) {
	s := mustServer(t)
	ctx := t.Context()
	loc := s.creds.Fortis.LocationID
	l, err := s.svc.Location(ctx, s.creds.MerchantID, loc)
	if err != nil {
		t.Fatal(err)
	}
	plain := l.DefaultCC
	// Vaults made before the flags, some with billing data and some without.
	s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","account_vault_api_id":"Card1","billing_zip":"32606"`)
	s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","account_vault_api_id":"Full1","billing_address":"5800 NW 39th AVE","billing_zip":"32606"`)
	bare := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","account_vault_api_id":"Bare1"`)["id"].(string)
	s.mustTxn(t, rawSale("1.00", `"transaction_api_id":"Zip1","billing_zip":"32606"`))
	s.mustTxn(t, rawSale("1.00", `"transaction_api_id":"NoZip1"`))
	ticket := func(t *testing.T, zip string) string {
		t.Helper()
		body := `{"cardticket":{"location_id":"` + loc + `","account_number":"4111111111111111","exp_date":"1228"` + zip + `}}`
		return must(t, s.post(t, "/v2/cardtickets", body), http.StatusCreated).record(t, "cardticket")["id"].(string)
	}

	// The location's default cc service now requires the zip; another requires both.
	if _, err := s.svc.CreateProductTransaction(ctx, s.creds.MerchantID, vault.NewProductTransaction{
		LocationID: loc, PaymentMethod: "cc", Title: "zip", VTRequireZip: true, MakeDefault: true}); err != nil {
		t.Fatal(err)
	}
	both, err := s.svc.CreateProductTransaction(ctx, s.creds.MerchantID, vault.NewProductTransaction{
		LocationID: loc, PaymentMethod: "cc", Title: "street and zip", VTRequireZip: true, VTRequireStreet: true})
	if err != nil {
		t.Fatal(err)
	}
	const zipBlank = `{"errors":{"billing_zip":["Billing Zip cannot be blank."]}}`
	const streetBlank = `{"errors":{"billing_street":["Billing Street cannot be blank."]}}`
	const bothBlank = `{"errors":{"billing_street":["Billing Street cannot be blank."],"billing_zip":["Billing Zip cannot be blank."]}}`
	sale := `"action":"sale","payment_method":"cc","transaction_amount":"1.00",`
	withBoth := `"product_transaction_id":"` + both.ID + `",`

	tests := []struct {
		name, fields string
		zip, street  any    // the transaction's billing_zip and billing_street when it is made
		fail         string // the 422 when it is refused
	}{
		{"ok/vault-supplies-zip", sale + `"account_vault_api_id":"Card1"`, "32606", nil, ""},
		{"ok/request-supplies-zip-vault-has-none", sale + `"account_vault_id":"` + bare + `","billing_zip":"10001"`, "10001", nil, ""},
		{"ok/request-over-vault", sale + `"account_vault_api_id":"Card1","billing_zip":"10001"`, "10001", nil, ""},
		{"ok/avsonly-from-vault", `"action":"avsonly","payment_method":"cc","account_vault_api_id":"Card1"`, "32606", nil, ""},
		{"ok/previous-transaction-supplies-zip", sale + `"previous_transaction_api_id":"Zip1"`, "32606", nil, ""},
		{"ok/raw-with-zip", rawSale("1.00", `"billing_zip":"32606"`), "32606", nil, ""},
		{"ok/both-from-vault", sale + withBoth + `"account_vault_api_id":"Full1"`, "32606", "5800 NW 39th AVE", ""},
		{"ok/both-vault-and-request", sale + withBoth + `"account_vault_api_id":"Card1","billing_street":"1 Main St"`, "32606", "1 Main St", ""},
		{"fail/vault-without-zip", sale + `"account_vault_api_id":"Bare1"`, nil, nil, zipBlank},
		{"fail/previous-transaction-without-zip", sale + `"previous_transaction_api_id":"NoZip1"`, nil, nil, zipBlank},
		{"fail/raw-without-zip", rawSale("1.00"), nil, nil, zipBlank},
		{"fail/raw-without-zip-with-other-errors", rawSale("1.00", `"order_num":"-"`), nil, nil,
			`{"errors":{"billing_zip":["Billing Zip cannot be blank."],"order_num":["Order Num is invalid."]}}`},
		{"fail/vault-without-street", sale + withBoth + `"account_vault_api_id":"Card1"`, nil, nil, streetBlank},
		// §1.4: all failing fields are reported, whatever the source supplies.
		{"fail/vault-without-street-or-zip", sale + withBoth + `"account_vault_api_id":"Bare1"`, nil, nil, bothBlank},
		{"fail/previous-transaction-without-street-or-zip", sale + withBoth + `"previous_transaction_api_id":"NoZip1"`, nil, nil, bothBlank},
		{"fail/raw-without-street-or-zip", rawSale("1.00", `"product_transaction_id":"`+both.ID+`"`), nil, nil, bothBlank},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.post(t, "/v2/transactions", txnBody(tt.fields))
			if tt.fail != "" {
				diff(t, tt.fail, string(must(t, r, http.StatusUnprocessableEntity).Body))
				return
			}
			got := must(t, r, http.StatusCreated).record(t, "transaction")
			diff(t, []any{tt.zip, tt.street}, []any{got["billing_zip"], got["billing_street"]})
		})
	}
	t.Run("ok/ticket-supplies-zip", func(t *testing.T) {
		got := s.mustTxn(t, sale+`"ticket":"`+ticket(t, `,"billing_zip":"32606"`)+`"`)
		diff(t, "32606", got["billing_zip"])
	})
	t.Run("fail/ticket-without-zip-is-not-consumed", func(t *testing.T) {
		tk := ticket(t, "")
		r := must(t, s.post(t, "/v2/transactions", txnBody(sale+`"ticket":"`+tk+`"`)), http.StatusUnprocessableEntity)
		diff(t, zipBlank, string(r.Body))
		got := s.mustTxn(t, sale+`"ticket":"`+tk+`","billing_zip":"32606"`)
		diff(t, "32606", got["billing_zip"])
	})
	t.Run("ok/refund-never-refused", func(t *testing.T) {
		// A sale made on the plain service without a zip is refunded on the default one.
		s.mustTxn(t, rawSale("2.00", `"transaction_api_id":"Plain1","product_transaction_id":"`+plain+`"`))
		for _, src := range []string{`"previous_transaction_api_id":"Plain1"`, `"previous_transaction_api_id":"NoZip1"`} {
			got := s.mustTxn(t, `"action":"refund","payment_method":"cc","transaction_amount":"1.00",`+src)
			diff(t, nil, got["billing_zip"])
		}
		s.mustTxn(t, `"action":"refund","payment_method":"cc","transaction_amount":"1.00",`+withBoth+`"previous_transaction_api_id":"Plain1"`)
	})
}

// TestVTRequireRunAVS checks a vault create whose run_avs check (§2.5) runs on a service with
// vt_require_* flags: a billing field the check needs and the vault lacks is reported on the
// vault's own field (its street is billing_address), as required (§1.4 "cannot be blank."),
// every missing one, and the vault is not stored.
func TestVTRequireRunAVS(t *testing.T) {
	s := mustServer(t)
	if _, err := s.svc.CreateProductTransaction(t.Context(), s.creds.MerchantID, vault.NewProductTransaction{
		LocationID: s.creds.Fortis.LocationID, PaymentMethod: "cc", Title: "strict", RunAVSOnCreate: true,
		VTRequireZip: true, VTRequireStreet: true, MakeDefault: true}); err != nil {
		t.Fatal(err)
	}
	card := `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"`
	tests := []struct{ name, fields, want string }{
		{"fail/no-address-or-zip", card,
			`{"errors":{"billing_address":["Billing Address cannot be blank."],"billing_zip":["Billing Zip cannot be blank."]}}`},
		{"fail/no-address", card + `,"billing_zip":"32606"`, `{"errors":{"billing_address":["Billing Address cannot be blank."]}}`},
		{"fail/no-zip", card + `,"billing_address":"5800 NW 39th AVE"`, `{"errors":{"billing_zip":["Billing Zip cannot be blank."]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := must(t, s.post(t, "/v2/accountvaults", `{"accountvault":{"location_id":"`+s.creds.Fortis.LocationID+`",`+tt.fields+`}}`), http.StatusUnprocessableEntity)
			diff(t, tt.want, string(r.Body))
		})
	}
	t.Run("ok/both", func(t *testing.T) {
		v := s.mustVault(t, card+`,"billing_address":"5800 NW 39th AVE","billing_zip":"32606"`)
		diff(t, "32606", v["billing_zip"])
	})
	t.Run("ok/run-avs-false", func(t *testing.T) {
		s.mustVault(t, card+`,"run_avs":false`)
	})
}

// queriedProcessor is a processor that can be asked again what became of a transaction
// (payments.Querier): it approved every one it saw.
type queriedProcessor struct{ payments.Processor }

func (q queriedProcessor) Query(ctx context.Context, r *payments.Request) (*payments.Outcome, error) {
	return &payments.Outcome{Decision: payments.Approved, AuthCode: "654321"}, nil
}

// TestTransactionInFlightKept: a card sale or authonly whose processor call was made but
// whose outcome could not be recorded (the database went away during the call) answers 503
// in the Fortis envelope with Retry-After, and that answer is kept: a retry with its
// Idempotency-Key, once the database is back, replays it instead of reaching the processor
// again. The transaction stays RECEIVED, for recovery to complete; once it has, a retry gets
// the 201 its request would have had, and keeps getting that one.
func TestTransactionInFlightKept(t *testing.T) {
	const unavailable = `{"name":"Service Unavailable","message":"The service is temporarily unavailable.","code":0,"status":503}`
	for _, action := range []string{"sale", "authonly"} {
		t.Run(action, func(t *testing.T) {
			var down atomic.Bool
			var calls atomic.Int32
			s := mustServerWith(t, serverOpts{
				over: func(st storetest.Store) payments.Store { return storetest.DownStore{Store: st, Down: &down} },
				wrap: func(p payments.Processor) payments.Processor {
					return queriedProcessor{payments.ProcessorFunc(func(ctx context.Context, r *payments.Request) (*payments.Outcome, error) {
						calls.Add(1)
						out, err := p.Process(ctx, r)
						down.Store(true) // the database goes away while the processor answers
						return out, err
					})}
				},
			})
			c := call{Method: http.MethodPost, Path: "/v2/transactions",
				Body:   txnBody(strings.Replace(rawSale("1.00"), `"sale"`, `"`+action+`"`, 1)),
				Header: map[string]string{idempotency.Header: "k-inflight-" + action}}
			first := must(t, s.do(t, c), http.StatusServiceUnavailable)
			down.Store(false)
			again := must(t, s.do(t, c), http.StatusServiceUnavailable)
			for _, r := range []*result{first, again} {
				diff(t, unavailable, string(r.Body))
				diff(t, httpx.RetryAfterUnavailable, r.Header.Get("Retry-After"))
			}
			diff(t, []string{"", "true"}, []string{first.Header.Get(idempotency.ReplayedHeader), again.Header.Get(idempotency.ReplayedHeader)})
			diff(t, int32(1), calls.Load())
			txns, n, err := s.ps.List(t.Context(), s.principal(t), vault.Query{})
			if err != nil || n != 1 || len(txns) != 1 || txns[0].Status != payments.StatusReceived {
				t.Fatalf("stored: %d transactions, %v; want one, RECEIVED", n, err)
			}

			s.clock.Add(10 * time.Minute) // past the processor timeout: recovery asks the processor
			if n, err := s.ps.Recover(t.Context()); err != nil || n != 1 {
				t.Fatalf("recover = %d, %v", n, err)
			}
			done := must(t, s.do(t, c), http.StatusCreated)
			got := done.record(t, "transaction")
			if got["id"] != txns[0].ID || got["auth_code"] != "654321" || done.Header.Get(idempotency.ReplayedHeader) != "true" {
				t.Errorf("retry once recovered = %s %v", done.Body, done.Header)
			}
			later := must(t, s.do(t, c), http.StatusCreated)
			diff(t, string(done.Body), string(later.Body))
			diff(t, int32(1), calls.Load())
		})
	}
}

// TestRunAVSInFlightNotAnsweredAsTransaction: a vault create whose run_avs check left its
// avsonly transaction in flight (the database went away during the processor call) answers
// 503 without keeping it for the key: the check moved no money and no vault was stored, so a
// retry with the same key runs the create again and gets its vault, never the check's
// transaction, which recovery fails (the check is a step of the vault create,
// AuthRequest.Step, and only /v2/transactions answers from a transaction).
func TestRunAVSInFlightNotAnsweredAsTransaction(t *testing.T) {
	var down, once atomic.Bool
	s := mustServerWith(t, serverOpts{
		over: func(st storetest.Store) payments.Store { return storetest.DownStore{Store: st, Down: &down} },
		wrap: func(p payments.Processor) payments.Processor {
			return queriedProcessor{payments.ProcessorFunc(func(ctx context.Context, r *payments.Request) (*payments.Outcome, error) {
				out, err := p.Process(ctx, r)
				if once.CompareAndSwap(false, true) {
					down.Store(true) // the database goes away while the first check's processor answers
				}
				return out, err
			})}
		},
	})
	c := call{Method: http.MethodPost, Path: "/v2/accountvaults", Header: map[string]string{idempotency.Header: "k-avs"},
		Body: `{"accountvault":{"location_id":"` + s.creds.Fortis.LocationID + `","payment_method":"cc","account_number":"4111111111111111",` +
			`"exp_date":"1228","run_avs":true,"billing_address":"5800 NW 39th AVE","billing_zip":"32606"}}`}
	first := must(t, s.do(t, c), http.StatusServiceUnavailable)
	down.Store(false)
	s.clock.Add(10 * time.Minute)
	if n, err := s.ps.Recover(t.Context()); err != nil || n != 1 {
		t.Fatalf("recover = %d, %v", n, err)
	}
	if first.Header.Get("Retry-After") == "" {
		t.Errorf("the 503 has no Retry-After")
	}
	again := must(t, s.do(t, c), http.StatusCreated)
	if strings.Contains(string(again.Body), `"transaction"`) || again.Header.Get(idempotency.ReplayedHeader) != "" {
		t.Fatalf("the retry was not a new vault create: %s %v", again.Body, again.Header)
	}
	v := again.record(t, "accountvault")
	diff(t, []any{"1111", "cc"}, []any{v["last_four"], v["payment_method"]})
	// Now the answer is kept: the same key replays the vault.
	replay := must(t, s.do(t, c), http.StatusCreated)
	diff(t, []any{string(again.Body), "true"}, []any{string(replay.Body), replay.Header.Get(idempotency.ReplayedHeader)})
}

// TestRunAVSRecoveredFirst: when recovery completes a vault create's run_avs check before
// the create's own completion does (the node was slow past the processor timeout, and
// recovery asked the processor), the check is approved but no vault was stored: the create
// answers 503 without keeping it for the key, and a retry with the same key runs the create
// again and gets its vault.
func TestRunAVSRecoveredFirst(t *testing.T) {
	var once atomic.Bool
	var s *server
	s = mustServerWith(t, serverOpts{
		wrap: func(p payments.Processor) payments.Processor {
			return queriedProcessor{payments.ProcessorFunc(func(ctx context.Context, r *payments.Request) (*payments.Outcome, error) {
				out, err := p.Process(ctx, r)
				if once.CompareAndSwap(false, true) {
					s.clock.Add(10 * time.Minute) // past the processor timeout: recovery asks the processor
					if n, err := s.ps.Recover(ctx); err != nil || n != 1 {
						t.Errorf("recover = %d, %v", n, err)
					}
				}
				return out, err
			})}
		},
	})
	c := call{Method: http.MethodPost, Path: "/v2/accountvaults", Header: map[string]string{idempotency.Header: "k-avs-recovered"},
		Body: `{"accountvault":{"location_id":"` + s.creds.Fortis.LocationID + `","payment_method":"cc","account_number":"4111111111111111",` +
			`"exp_date":"1228","run_avs":true,"billing_address":"5800 NW 39th AVE","billing_zip":"32606"}}`}
	first := must(t, s.do(t, c), http.StatusServiceUnavailable)
	if first.Header.Get("Retry-After") == "" {
		t.Errorf("the 503 has no Retry-After")
	}
	if _, n, err := s.store.ListInstruments(t.Context(), s.creds.MerchantID, vault.Query{}); err != nil || n != 0 {
		t.Fatalf("%d vaults stored (%v), want none", n, err)
	}
	txns, n, err := s.ps.List(t.Context(), s.principal(t), vault.Query{})
	if err != nil || n != 1 || !txns[0].Approved() {
		t.Fatalf("checks: %d, %v; want one, approved by recovery", n, err)
	}
	again := must(t, s.do(t, c), http.StatusCreated)
	if again.Header.Get(idempotency.ReplayedHeader) != "" {
		t.Fatalf("the retry was not a new vault create: %s %v", again.Body, again.Header)
	}
	v := again.record(t, "accountvault")
	must(t, s.get(t, "/v2/accountvaults/"+v["id"].(string)), http.StatusOK)
	replay := must(t, s.do(t, c), http.StatusCreated)
	diff(t, []any{string(again.Body), "true"}, []any{string(replay.Body), replay.Header.Get(idempotency.ReplayedHeader)})
}
