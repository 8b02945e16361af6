package fortis_test

import (
	"net/http"
	"testing"
)

func TestSmoke(t *testing.T) {
	s := mustServer(t)
	v := s.mustVault(t, `"payment_method":"cc","account_number":"5454545454545454","exp_date":"0919"`)
	t.Logf("%v", v)
	r := must(t, s.get(t, "/v2/accountvaults?expand=location,contact,created_user,product_transaction,signature,account_vault_cau_logs"), http.StatusOK)
	t.Logf("%s", r.Body)
}
