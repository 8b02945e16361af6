package admin_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/storetest"
)

// TestWriteAnswerNeedsNoLaterRead: every admin write answers from its own transaction, never
// from a read after its commit, so a database going away right after it cannot turn a stored
// merchant, location, user or product transaction into a 5xx (which a script retries, making
// a second one). Where a GET shows the record, the answer is what it shows.
func TestWriteAnswerNeedsNoLaterRead(t *testing.T) {
	var st *storetest.GoneAfterCommit
	e := MustEnvStore(t, func(s storetest.Store) storetest.Store { st = &storetest.GoneAfterCommit{Store: s}; return st })
	c, _ := MustMerchant(t, e)
	mid, uid := c.MerchantID, c.Fortis.UserID
	m := "/admin/v1/merchants/" + mid
	mandate := MustMandate(t, e, c, "GONE1")
	for _, tt := range []struct {
		name, method, path, body string
		status                   int
		get                      string // get is the GET whose answer the write's must equal ("" for none; "+id" adds the new id to path).
	}{
		{"ok/merchant-create", "POST", "/admin/v1/merchants", `{"name":"Gone"}`, 201, ""},
		{"ok/merchant-origins", "PUT", m + "/allowed-origins", `{"allowed_origins":["https://shop.example"]}`, 200, ""},
		{"ok/location-create", "POST", m + "/locations", `{"name":"Second"}`, 201, ""},
		{"ok/location-origins", "PUT", m + "/locations/" + c.Fortis.LocationID + "/allowed-origins", `{"allowed_origins":["https://shop.example"]}`, 200, ""},
		{"ok/user-create", "POST", m + "/users", `{"username":"gone-user"}`, 201, ""},
		{"ok/user-update", "PUT", m + "/users/" + uid, `{"status":0}`, 200, m + "/users/" + uid},
		{"ok/product-transaction-create", "POST", m + "/product-transactions", `{"payment_method":"cc","title":"Second","make_default":true}`, 201, "+id"},
		{"ok/mandate-status", "POST", "/admin/v1/mandates/" + mandate + "/status", `{"status":"ACTIVE"}`, 200, ""},
		{"ok/batch", "POST", "/admin/v1/batch", `{"merchant_id":"` + mid + `"}`, 200, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r reply
			st.Armed(t, func() { r = e.do(t, tt.method, tt.path, tt.body, "") })
			if r.status != tt.status {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			get := tt.get
			if get == "+id" {
				get = tt.path + "/" + r.str("id")
			}
			if get == "" {
				return
			}
			if d := cmp.Diff(r.body, e.must(t, 200, "GET", get, "").body); d != "" {
				t.Errorf("answer and stored record differ (-answer +GET)\n%s", d)
			}
		})
	}
}
