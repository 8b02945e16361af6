package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sdkClient replays one official Paysafe SDK's requests: its headers on every request, and
// the checks its response parser makes.
type sdkClient struct {
	t      *testing.T
	s      *server
	name   string
	header map[string]string
}

// call makes one request and checks the status and, for errors, the code. Every SDK here
// reads an error from the JSON body (Java and C# by HTTP status first, Node by a top-level
// "error", PHP by both), so any 4xx/5xx must carry error.code (an integer in a string: C#
// int.Parse's it) and error.message, and a success must not carry a top-level error.
func (c sdkClient) call(step, method, path, body string, want int, wantCode string) response {
	c.t.Helper()
	r := c.s.sendWith(c.t, basic{c.s.main.Credentials.Paysafe.APIKeyID, c.s.main.Credentials.Paysafe.APIKeySecret}.header(), method, path, body, c.header)
	if r.status != want || r.code() != wantCode {
		c.t.Fatalf("%s %s: %s %s = %d %q, want %d %q\n%s", c.name, step, method, path, r.status, r.code(), want, wantCode, r.raw)
	}
	if want >= 400 {
		e, _ := r.body["error"].(map[string]any)
		if _, err := strconv.Atoi(r.code()); err != nil || e["message"] == nil {
			c.t.Errorf("%s %s: an error the SDK cannot read: %s", c.name, step, r.raw)
		}
	} else if r.body["error"] != nil {
		c.t.Errorf("%s %s: a success with a top-level error: %s", c.name, step, r.raw)
	}
	return r
}

// next returns the href of a list's next link, or "".
func next(r response) string {
	links, _ := r.body["links"].([]any)
	for _, l := range links {
		if m, _ := l.(map[string]any); m["rel"] == "next" {
			s, _ := m["href"].(string)
			return s
		}
	}
	return ""
}

// TestOtherSDKRequestShapes replays the request shapes of the official Paysafe SDKs other than
// Python that differ from what TestPythonSDKServiceCalls and TestSeed000Calls already send:
//
//   - Node.js, paysafegroup/paysafe_sdk_nodejs lib/generic-service-handler.ts,
//     lib/CustomerServiceHandler.ts, lib/CardServiceHandler.ts: "Content-Type:
//     application/json; charset=utf-8"; a trailing slash before the query string
//     (GET …/profiles/?merchantCustomerId=, …/auths/?merchantRefNum=, …/voidauths/?…);
//     "?fields=" with nothing after it when no sub-component is asked for; trailing slashes on
//     POST …/auths/, …/auths/{id}/voidauths/ and mandate create; the Profile object as the
//     body of the mandate GET and DELETE; bank-account PUTs that send back the looked-up object
//     with its id, its "profile" object and its mandates; a mandate PUT with the whole mandate.
//   - Java, paysafegroup/paysafe_sdk_java PaysafeSDK/src/main/java/com/paysafe/PaysafeApiClient.java,
//     common/impl/Request.java, cardpayments/CardPaymentsService.java,
//     customervault/CustomerVaultService.java, cardpayments/impl/CardPaymentsPagerator.java:
//     HttpsURLConnection's default Accept and User-Agent; "application/json;charset=utf-8";
//     trailing slashes on every create path (bank accounts, settlements, refunds,
//     verifications); URLEncoder-encoded query strings (%2C in fields, %3A and %2B in dates),
//     in HashMap order; typed bodies (numbers, booleans, enum names); the pager follows the
//     next link's absolute href as is, which must start with the client's endpoint.
//   - PHP, paysafegroup/paysafe_sdk_php source/Paysafe/PaysafeApiClient.php, Request.php,
//     CustomerVaultService.php, CardPaymentService.php: http_build_query query strings; the
//     whole Mandates object as the body of the mandate DELETE; "Content-Length: 0" on DELETEs
//     without a body (not reproducible with net/http, which sends none: the body is empty
//     either way).
//   - Ruby, paysafegroup/paysafe_sdk_ruby lib/paysafe/paysafe_api_client.rb, request.rb,
//     customer_vault_service.rb, card_payment_service.rb: "Content-Type: application/json"
//     with no charset, and Net::HTTP's Accept, User-Agent and Accept-Encoding (gzip offered);
//     every GET ends in "?" even with no query (build_url always appends one); get_profile
//     always sends "fields=" (fields.length is truthy in Ruby even when 0); list queries put
//     the filter first and are passed through URI.encode, which leaves ":" and "+" raw; a
//     DELETE succeeds only on 200 with an empty body.
//   - C#, paysafegroup/paysafe_sdk_csharp Paysafe/PaysafeApiClient.cs, Common/Request.cs,
//     CardPayments/CardPaymentService.cs, CardPayments/Pagerator.cs: the "SDK-Type:
//     Paysafe_CSharp_SDK" header, no Expect; Uri.EscapeDataString query values; the pager
//     requests the next link's href as is; error codes parsed with int.Parse.
func TestOtherSDKRequestShapes(t *testing.T) {
	s := MustServer(t)
	c := s.main.Credentials
	s.logs.Forbid("4530910000012345", "5200400000000009", "4111111111111111", "DE89370400440532013000")
	year := time.Now().Year() + 5
	var n int
	ref := func() string { n++; return fmt.Sprintf("sdk%d%d", time.Now().UnixNano()%1e6, n) }
	const v1 = "/customervault/v1"
	acct := "/cardpayments/v1/accounts/" + c.Paysafe.AccountNumber

	node := sdkClient{t, s, "node", map[string]string{"Content-Type": "application/json; charset=utf-8"}}
	java := sdkClient{t, s, "java", map[string]string{
		"Content-Type": "application/json;charset=utf-8",
		"Accept":       "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2",
		"User-Agent":   "Java/17.0.9",
	}}
	php := sdkClient{t, s, "php", map[string]string{"Content-Type": "application/json; charset=utf-8", "Accept": "*/*"}}
	ruby := sdkClient{t, s, "ruby", map[string]string{
		"Content-Type":    "application/json",
		"Accept":          "*/*",
		"User-Agent":      "Ruby",
		"Accept-Encoding": "gzip;q=1.0,deflate;q=0.6,identity;q=0.3",
	}}
	csharp := sdkClient{t, s, "csharp", map[string]string{"Content-Type": "application/json; charset=utf-8", "SDK-Type": "Paysafe_CSharp_SDK"}}

	t.Run("node", func(t *testing.T) {
		node.t = t
		mcid := ref()
		p := node.call("createCustomerProfile", "POST", v1+"/profiles/", `{"merchantCustomerId":"`+mcid+`","locale":"en_US","firstName":"John"}`, 201, "")
		pid := p.str("id")
		if g := node.call("getCustomerProfile (merchantCustomerId)", "GET", v1+"/profiles/?merchantCustomerId="+mcid, "", 200, ""); g.str("id") != pid {
			t.Errorf("getCustomerProfile by merchantCustomerId = %s", g.raw)
		}
		if g := node.call("lookUpProfileBySubComponent (no flags)", "GET", v1+"/profiles/"+pid+"?fields=", "", 200, ""); g.str("id") != pid {
			t.Errorf("lookUpProfileBySubComponent = %s", g.raw)
		}
		a := node.call("createCustomerAddress", "POST", v1+"/profiles/"+pid+"/addresses/", `{"country":"GB","zip":"EC1A 1BB","street":"1 Bank St"}`, 201, "").str("id")

		// Bank accounts: created without a trailing slash; updated with the looked-up object,
		// its id and its profile still in it (update*BankAccount does not delete them).
		ach := node.call("createACHBankAccount", "POST", v1+"/profiles/"+pid+"/achbankaccounts",
			`{"accountHolderName":"XYZ Business","accountNumber":"988948193","routingNumber":"211589828","accountType":"CHECKING","billingAddressId":"`+a+`"}`, 201, "")
		achBody := `{"id":"` + ach.str("id") + `","status":"ACTIVE","accountHolderName":"XYZ Co","accountType":"SAVINGS","routingNumber":"211589828","lastDigits":"8193","billingAddressId":"` + a + `","paymentToken":"` + ach.str("paymentToken") + `","profile":{"id":"` + pid + `"}}`
		if r := node.call("updateACHBankAccount (looked-up object)", "PUT", v1+"/profiles/"+pid+"/achbankaccounts/"+ach.str("id"), achBody, 200, ""); r.str("accountHolderName") != "XYZ Co" || r.str("lastDigits") != "8193" {
			t.Errorf("updateACHBankAccount = %s", r.raw)
		}
		bacs := node.call("createBACSBankAccount", "POST", v1+"/profiles/"+pid+"/bacsbankaccounts",
			`{"accountHolderName":"Sally Barnes","accountNumber":"55779911","sortCode":"070116","billingAddressId":"`+a+`","mandates":[{"reference":"NODEREF1"}]}`, 201, "")
		ms, _ := bacs.body["mandates"].([]any)
		if len(ms) != 1 {
			t.Fatalf("createBACSBankAccount = %s", bacs.raw)
		}
		mandate, _ := json.Marshal(ms[0])
		bacsBody := `{"id":"` + bacs.str("id") + `","status":"ACTIVE","accountHolderName":"Sally B","sortCode":"070116","lastDigits":"9911","billingAddressId":"` + a + `","paymentToken":"` + bacs.str("paymentToken") + `","mandates":[` + string(mandate) + `],"profile":{"id":"` + pid + `"}}`
		node.call("updateBACSBankAccount (looked-up object)", "PUT", v1+"/profiles/"+pid+"/bacsbankaccounts/"+bacs.str("id"), bacsBody, 200, "")
		node.call("getBACSBankAccount", "GET", v1+"/profiles/"+pid+"/bacsbankaccounts/"+bacs.str("id"), "", 200, "")

		// Mandates: created with a trailing slash; looked up and deleted with the Profile
		// object (the SDK's mandates.profiles) as the body; updated with the whole mandate.
		sepa := node.call("createSEPABankAccount", "POST", v1+"/profiles/"+pid+"/sepabankaccounts",
			`{"accountHolderName":"Sally Barnes","iban":"DE89370400440532013000","bic":"COBADEFFXXX","billingAddressId":"`+a+`"}`, 201, "")
		sepaBody := `{"status":"ACTIVE","accountHolderName":"Sally Barnes","iban":"` + sepa.str("iban") + `","bic":"COBADEFFXXX","lastDigits":"3000","billingAddressId":"` + a + `","paymentToken":"` + sepa.str("paymentToken") + `","nickName":"n"}`
		if r := node.call("updateSEPABankAccount (looked-up object, masked iban)", "PUT", v1+"/profiles/"+pid+"/sepabankaccounts/"+sepa.str("id"), sepaBody, 200, ""); r.str("iban") != sepa.str("iban") || r.str("nickName") != "n" {
			t.Errorf("updateSEPABankAccount = %s", r.raw)
		}
		m := node.call("createMandates", "POST", v1+"/profiles/"+pid+"/sepabankaccounts/"+sepa.str("id")+"/mandates/", `{"reference":"NODEREF2"}`, 201, "")
		mid := m.str("id")
		profileBody := `{"id":"` + pid + `","merchantCustomerId":"` + mcid + `","locale":"en_US","firstName":"John","status":"ACTIVE","paymentToken":"` + p.str("paymentToken") + `"}`
		node.call("lookupMandates (profile as body)", "GET", v1+"/profiles/"+pid+"/mandates/"+mid, profileBody, 200, "")
		mb, _ := json.Marshal(map[string]any{"id": mid, "reference": "NODEREF2", "bankAccountId": sepa.str("id"), "statusChangeDate": m.str("statusChangeDate"), "paymentToken": m.str("paymentToken"), "status": "CANCELLED"})
		if r := node.call("updateMandates (whole mandate)", "PUT", v1+"/profiles/"+pid+"/mandates/"+mid, string(mb), 200, ""); r.str("status") != "CANCELLED" {
			t.Errorf("updateMandates = %s", r.raw)
		}
		if r := node.call("deleteMandates (profile as body)", "DELETE", v1+"/profiles/"+pid+"/mandates/"+mid, profileBody, 200, ""); len(r.raw) != 0 {
			t.Errorf("deleteMandates: body %q", r.raw)
		}

		// Card payments: POST …/auths/ and …/voidauths/ with a trailing slash, lists with a
		// trailing slash before the query, cancelSettlement with the settlement sent back.
		r1 := ref()
		auth := `{"merchantRefNum":"` + r1 + `","amount":1500,"settleWithAuth":false,"card":{"cardNum":"4530910000012345","cvv":"123","cardExpiry":{"month":12,"year":` + strconv.Itoa(year) + `}},"billingDetails":{"street":"100 Queen Street West","city":"Toronto","state":"ON","country":"CA","zip":"M5H 2N2"}}`
		au := node.call("authorize", "POST", acct+"/auths/", auth, 200, "")
		node.call("authorize (second)", "POST", acct+"/auths/", auth, 200, "")
		aid := au.str("id")
		vref := ref()
		node.call("reverseAuth", "POST", acct+"/auths/"+aid+"/voidauths/", `{"merchantRefNum":"`+vref+`","amount":500}`, 200, "")
		st := node.call("settlement", "POST", acct+"/auths/"+aid+"/settlements", `{"merchantRefNum":"`+ref()+`","amount":1000}`, 200, "")
		stBody := `{"links":[{"rel":"self","href":"` + s.url + acct + `/settlements/` + st.str("id") + `"}],"merchantRefNum":"` + st.str("merchantRefNum") + `","txnTime":"` + st.str("txnTime") + `","status":"CANCELLED","amount":1000,"availableToRefund":1000}`
		if r := node.call("cancelSettlement (settlement sent back)", "PUT", acct+"/settlements/"+st.str("id"), stBody, 200, ""); r.str("status") != "CANCELLED" {
			t.Errorf("cancelSettlement = %s", r.raw)
		}
		if l := node.call("searchByMerchantRef (Authorization)", "GET", acct+"/auths/?merchantRefNum="+r1+"&limit=1", "", 200, ""); len(l.body["auths"].([]any)) != 1 || next(l) == "" {
			t.Errorf("searchByMerchantRef auths = %s", l.raw)
		}
		if l := node.call("searchByMerchantRef (AuthorizationReversal)", "GET", acct+"/voidauths/?merchantRefNum="+vref, "", 200, ""); len(l.body["voidAuths"].([]any)) != 1 {
			t.Errorf("searchByMerchantRef voidauths = %s", l.raw)
		}
	})

	t.Run("java", func(t *testing.T) {
		java.t = t
		p := java.call("create(Profile)", "POST", v1+"/profiles/", `{"merchantCustomerId":"`+ref()+`","locale":"en_GB","firstName":"Jane","dateOfBirth":{"year":1980,"month":1,"day":31}}`, 201, "").str("id")
		a := java.call("create(Address)", "POST", v1+"/profiles/"+p+"/addresses/", `{"country":"US","zip":"10014","defaultShippingAddressIndicator":true}`, 201, "").str("id")
		java.call("create(ACHBankAccounts)", "POST", v1+"/profiles/"+p+"/achbankaccounts/",
			`{"accountHolderName":"Jane","accountNumber":"1234567","routingNumber":"211589828","accountType":"CHECKING","billingAddressId":"`+a+`"}`, 201, "")
		java.call("create(EFTBankAccounts)", "POST", v1+"/profiles/"+p+"/eftbankaccounts/",
			`{"accountHolderName":"Jane","accountNumber":"1234567","transitNumber":"25039","institutionId":"001","billingAddressId":"`+a+`"}`, 201, "")
		sepa := java.call("create(SEPABankAccounts)", "POST", v1+"/profiles/"+p+"/sepabankaccounts/",
			`{"accountHolderName":"Jane","iban":"DE89370400440532013000","billingAddressId":"`+a+`"}`, 201, "").str("id")
		bacs := java.call("create(BACSBankAccounts)", "POST", v1+"/profiles/"+p+"/bacsbankaccounts/",
			`{"accountHolderName":"Jane","accountNumber":"55779911","sortCode":"070116","billingAddressId":"`+a+`"}`, 201, "").str("id")
		java.call("create(Mandates, SEPA)", "POST", v1+"/profiles/"+p+"/sepabankaccounts/"+sepa+"/mandates/", `{"reference":"JAVAREF1"}`, 201, "")
		java.call("create(Mandates, BACS)", "POST", v1+"/profiles/"+p+"/bacsbankaccounts/"+bacs+"/mandates/", `{"reference":"JAVAREF2"}`, 201, "")
		card := java.call("create(Card)", "POST", v1+"/profiles/"+p+"/cards/",
			`{"cardNum":"5200400000000009","cardExpiry":{"month":6,"year":`+strconv.Itoa(year)+`},"billingAddressId":"`+a+`"}`, 201, "")
		g := java.call("lookup(Profile, all)", "GET", v1+"/profiles/"+p+"?fields=addresses%2Ccards%2Cachbankaccounts%2Cbacsbankaccounts%2Csepabankaccounts%2Ceftbankaccounts", "", 200, "")
		for _, k := range []string{"addresses", "cards", "achBankAccounts", "bacsBankAccounts", "eftBankAccounts", "sepaBankAccounts"} {
			if l, _ := g.body[k].([]any); len(l) != 1 {
				t.Errorf("lookup(Profile): %s = %v", k, g.body[k])
			}
		}

		r1 := ref()
		auth := `{"merchantRefNum":"` + r1 + `","amount":2000,"settleWithAuth":false,"dupCheck":false,"card":{"paymentToken":"` + card.str("paymentToken") + `"},"recurring":"INITIAL","storedCredential":{"type":"RECURRING","occurrence":"INITIAL"}}`
		au := java.call("authorize", "POST", acct+"/auths/", auth, 200, "")
		java.call("authorize (2)", "POST", acct+"/auths/", auth, 200, "")
		java.call("authorize (3)", "POST", acct+"/auths/", auth, 200, "")
		aid := au.str("id")
		sref := ref()
		st := java.call("settlement", "POST", acct+"/auths/"+aid+"/settlements/", `{"merchantRefNum":"`+sref+`","amount":1500,"dupCheck":true}`, 200, "")
		rref := ref()
		java.call("refund", "POST", acct+"/settlements/"+st.str("id")+"/refunds/", `{"merchantRefNum":"`+rref+`","amount":500}`, 200, "")
		java.call("reverseAuth", "POST", acct+"/auths/"+aid+"/voidauths/", `{"merchantRefNum":"`+ref()+`","amount":500}`, 200, "")
		veref := ref()
		java.call("verify", "POST", acct+"/verifications/", `{"merchantRefNum":"`+veref+`","card":{"paymentToken":"`+card.str("paymentToken")+`"}}`, 200, "")

		// getAuths(auth, filter): a HashMap-ordered, URLEncoder-encoded query, then the pager
		// follows each next link's href as is (Request.buildUrl refuses one that does not
		// start with the endpoint).
		l := java.call("getAuths", "GET", acct+"/auths/?limit=2&startDate=2015-01-01T00%3A00%3A00%2B00%3A00&merchantRefNum="+r1+"&endDate=2099-01-01T00%3A00%3A00Z", "", 200, "")
		seen := len(l.body["auths"].([]any))
		for h := next(l); h != ""; h = next(l) {
			if !strings.HasPrefix(h, s.url+"/") {
				t.Fatalf("getAuths: next link %q is not under the endpoint %s", h, s.url)
			}
			l = java.call("getAuths (next page)", "GET", strings.TrimPrefix(h, s.url), "", 200, "")
			seen += len(l.body["auths"].([]any))
		}
		if seen != 3 {
			t.Errorf("getAuths: %d auths over the pages, want 3", seen)
		}
		for _, q := range []struct{ path, key string }{
			{"/settlements/?merchantRefNum=" + sref, "settlements"},
			{"/refunds/?merchantRefNum=" + rref, "refunds"},
			{"/verifications/?offset=0&merchantRefNum=" + veref, "verifications"},
		} {
			if l := java.call("get"+q.key, "GET", acct+q.path, "", 200, ""); len(l.body[q.key].([]any)) != 1 {
				t.Errorf("%s = %s", q.path, l.raw)
			}
		}
	})

	t.Run("php", func(t *testing.T) {
		php.t = t
		p := php.call("createProfile", "POST", v1+"/profiles", `{"merchantCustomerId":"`+ref()+`","locale":"fr_CA","dateOfBirth":{"year":1975,"month":2,"day":3}}`, 201, "").str("id")
		a := php.call("createAddress", "POST", v1+"/profiles/"+p+"/addresses", `{"country":"GB","zip":"W1A 1AA"}`, 201, "").str("id")
		bacs := php.call("createBACSBankAccount", "POST", v1+"/profiles/"+p+"/bacsbankaccounts",
			`{"accountNumber":"55779911","sortCode":"070116","accountHolderName":"Sally","billingAddressId":"`+a+`"}`, 201, "").str("id")
		m := php.call("createMandates", "POST", v1+"/profiles/"+p+"/bacsbankaccounts/"+bacs+"/mandates", `{"reference":"PHPREF1"}`, 201, "")
		php.call("getBACSBankAccount", "GET", v1+"/profiles/"+p+"/bacsbankaccounts/"+bacs, "", 200, "")
		php.call("getProfile (fields)", "GET", v1+"/profiles/"+p+"?fields=addresses%2Cbacsbankaccounts", "", 200, "")
		mb := `{"reference":"PHPREF1","profileID":"` + p + `","bankAccountId":"` + bacs + `","id":"` + m.str("id") + `"}`
		php.call("getMandates (mandate as body, not sent on GET)", "GET", v1+"/profiles/"+p+"/mandates/"+m.str("id"), "", 200, "")
		if r := php.call("deleteMandates (mandate as body)", "DELETE", v1+"/profiles/"+p+"/mandates/"+m.str("id"), mb, 200, ""); len(r.raw) != 0 {
			t.Errorf("deleteMandates: body %q", r.raw)
		}
		r1 := ref()
		php.call("authorize", "POST", acct+"/auths",
			`{"merchantRefNum":"`+r1+`","amount":300,"settleWithAuth":true,"card":{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":`+strconv.Itoa(year)+`}}}`, 200, "")
		if l := php.call("getAuths (http_build_query)", "GET", acct+"/auths?merchantRefNum="+r1+"&limit=5&offset=0&startDate=2015-01-01T00%3A00%3A00Z", "", 200, ""); len(l.body["auths"].([]any)) != 1 {
			t.Errorf("getAuths = %s", l.raw)
		}
		php.call("getAuth (unknown)", "GET", acct+"/auths/00000000-0000-0000-0000-000000000000", "", 404, "5269")
	})

	t.Run("ruby", func(t *testing.T) {
		ruby.t = t
		if r := ruby.call("monitor", "GET", "/customervault/monitor?", "", 200, ""); r.str("status") != "READY" {
			t.Errorf("monitor = %s", r.raw)
		}
		p := ruby.call("create_profile", "POST", v1+"/profiles", `{"merchantCustomerId":"`+ref()+`","locale":"en_US","email":"ruby@example.com"}`, 201, "").str("id")
		ruby.call("get_profile (no fields)", "GET", v1+"/profiles/"+p+"?fields=", "", 200, "")
		a := ruby.call("create_address", "POST", v1+"/profiles/"+p+"/addresses", `{"country":"CA","zip":"M5H 2N2"}`, 201, "").str("id")
		ruby.call("get_address", "GET", v1+"/profiles/"+p+"/addresses/"+a+"?", "", 200, "")
		card := ruby.call("create_card", "POST", v1+"/profiles/"+p+"/cards", `{"cardNum":"4530910000012345","cardExpiry":{"month":7,"year":`+strconv.Itoa(year)+`}}`, 201, "")
		r1 := ref()
		au := ruby.call("authorize", "POST", acct+"/auths", `{"merchantRefNum":"`+r1+`","amount":900,"card":{"paymentToken":"`+card.str("paymentToken")+`"}}`, 200, "")
		ruby.call("get_auth", "GET", acct+"/auths/"+au.str("id")+"?", "", 200, "")
		ruby.call("settlement", "POST", acct+"/auths/"+au.str("id")+"/settlements", `{"amount":400,"dupCheck":false,"merchantRefNum":"`+ref()+`"}`, 200, "")
		if l := ruby.call("get_auths (URI.encode)", "GET", acct+"/auths/?limit=5&offset=0&startDate=2015-01-01T00:00:00+00:00&merchantRefNum="+r1, "", 200, ""); len(l.body["auths"].([]any)) != 1 {
			t.Errorf("get_auths = %s", l.raw)
		}
		if r := ruby.call("delete_card", "DELETE", v1+"/profiles/"+p+"/cards/"+card.str("id"), "", 200, ""); len(r.raw) != 0 {
			t.Errorf("delete_card: body %q", r.raw)
		}
	})

	t.Run("csharp", func(t *testing.T) {
		csharp.t = t
		p := csharp.call("create(Profile)", "POST", v1+"/profiles", `{"merchantCustomerId":"`+ref()+`","locale":"en_US","gender":"F"}`, 201, "").str("id")
		card := csharp.call("create(Card)", "POST", v1+"/profiles/"+p+"/cards",
			`{"cardNum":"4111111111111111","cardExpiry":{"month":3,"year":`+strconv.Itoa(year)+`},"holderName":"Jane"}`, 201, "")
		r1 := ref()
		body := `{"merchantRefNum":"` + r1 + `","amount":700,"settleWithAuth":true,"card":{"paymentToken":"` + card.str("paymentToken") + `"}}`
		for i := 0; i < 3; i++ {
			csharp.call("authorize", "POST", acct+"/auths", body, 200, "")
		}
		l := csharp.call("getAuths (EscapeDataString)", "GET", acct+"/auths?merchantRefNum="+r1+"&limit=2&startDate=2015-01-01T00%3A00%3A00Z", "", 200, "")
		h := next(l)
		if !strings.HasPrefix(h, s.url+"/") {
			t.Fatalf("getAuths: next link %q is not under the endpoint %s", h, s.url)
		}
		if l := csharp.call("getAuths (next page)", "GET", strings.TrimPrefix(h, s.url), "", 200, ""); len(l.body["auths"].([]any)) != 1 || next(l) != "" {
			t.Errorf("next page = %s", l.raw)
		}
		csharp.call("cancelHeldAuth", "PUT", acct+"/auths/"+l.body["auths"].([]any)[0].(map[string]any)["id"].(string), `{"status":"CANCELLED"}`, 400, "3031")
		csharp.call("get(Settlement) (unknown)", "GET", acct+"/settlements/nope", "", 404, "5269")
		csharp.call("authorize (decline)", "POST", acct+"/auths", `{"merchantRefNum":"`+ref()+`","amount":5,"card":{"paymentToken":"`+card.str("paymentToken")+`"}}`, 402, "3009")
	})

	// Java's HttpsURLConnection reads an error only from its error stream, and C# and PHP
	// parse it as JSON: every 4xx here, routing errors included, has a JSON error body.
	for _, tc := range []struct {
		method, path string
		want         int
		code         string
	}{
		{"GET", "/customervault/v1/nowhere", 404, "5273"},
		{"PATCH", v1 + "/profiles/x", 405, "5281"},
	} {
		java.t = t
		java.call("routing error", tc.method, tc.path, "", tc.want, tc.code)
	}
	req, _ := http.NewRequest("GET", s.url+v1+"/profiles/x", nil)
	req.Header.Set("User-Agent", "Java/17.0.9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !json.Valid(raw) {
		t.Errorf("no credentials: %d %s", resp.StatusCode, raw)
	}
}
