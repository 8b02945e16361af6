package paysafe

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/vault"
)

// The JSON of a card create (POST /customervault/v1/profiles/{p}/cards), decoded and encoded
// without the store or HTTP: benchstat-comparable figures for the wire layer alone.

const benchCardBody = `{"nickName":"John's corporate Visa","merchantRefNum":"e6a5f4ed-42c5-4e09-ab73-bb1fd1a4b3cb","holderName":"John Smith","cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2030},"billingAddressId":"","defaultCardIndicator":true}`

// BenchmarkCardCreateDecode reads and validates a card create body.
func BenchmarkCardCreateDecode(b *testing.B) {
	a := &API{brands: brandTable()}
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "/customervault/v1/profiles/p/cards", strings.NewReader(benchCardBody))
		o, err := readObject(r)
		if err != nil {
			b.Fatal(err)
		}
		c := a.readCard(o, cardCreate)
		if err := o.errs.err(); err != nil || c.pan == "" {
			b.Fatal(err)
		}
	}
}

// BenchmarkCardCreateEncode renders and marshals a card create answer.
func BenchmarkCardCreateEncode(b *testing.B) {
	a := &API{brands: brandTable()}
	in := &vault.Instrument{ID: "01928c6e-7b3a-7c1d-9e2f-3a4b5c6d7e8f", ProfileID: "01928c6e-0000-7c1d-9e2f-3a4b5c6d7e8f",
		Kind: vault.KindCard, Status: "ACTIVE", BIN: "411111", LastFour: "1111", PANLength: 16, Brand: "visa",
		ExpMonth: 12, ExpYear: 2030, HolderName: "John Smith", NickName: "John's corporate Visa",
		MerchantRefNum: "e6a5f4ed-42c5-4e09-ab73-bb1fd1a4b3cb", Token: "Cabcdefghijklmn", DefaultCard: true, Created: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := marshalBody(a.toCardJSON(in)); err != nil {
			b.Fatal(err)
		}
	}
}
