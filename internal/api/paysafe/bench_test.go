package paysafe_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// benchHandler returns the API behind the shared middleware, for in-process benchmarks over
// a real SQLite store.
func benchHandler(b *testing.B) (*env, http.Handler) {
	e := MustEnv(b)
	return e, e.h
}

func serve(b *testing.B, h http.Handler, e *env, method, path, body string, want int) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.SetBasicAuth(e.creds.Paysafe.APIKeyID, e.creds.Paysafe.APIKeySecret)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s = %d: %s", method, path, rec.Code, rec.Body)
	}
	return rec
}

// BenchmarkProfileCreate measures POST /customervault/v1/profiles end to end (auth, parse,
// validation, one durable SQLite transaction, response).
func BenchmarkProfileCreate(b *testing.B) {
	e, h := benchHandler(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		serve(b, h, e, "POST", "/customervault/v1/profiles", fmt.Sprintf(`{"merchantCustomerId":"b-%d","locale":"en_US","firstName":"A"}`, i), 201)
	}
}

// BenchmarkCardCreate measures POST …/cards: PAN checks, sealing, the per-profile duplicate
// fingerprint lookup and the insert, on profiles that each hold up to 20 cards.
func BenchmarkCardCreate(b *testing.B) {
	e, h := benchHandler(b)
	pid := e.MustProfile(b, "bench")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%20 == 0 && i > 0 {
			pid = e.MustProfile(b, fmt.Sprintf("bench-%d", i))
		}
		pan := luhnPAN(fmt.Sprintf("4%05d", i%20), 16)
		serve(b, h, e, "POST", "/customervault/v1/profiles/"+pid+"/cards", `{"cardNum":"`+pan+`","cardExpiry":{"month":12,"year":2040}}`, 201)
	}
}

// BenchmarkProfileGetWithFields measures GET …/profiles/{p}?fields=addresses,cards on a
// profile with an address and five cards.
func BenchmarkProfileGetWithFields(b *testing.B) {
	e, h := benchHandler(b)
	pid := e.MustProfile(b, "bench")
	e.MustAddress(b, pid)
	for i := 0; i < 5; i++ {
		e.must(b, 201, call{method: "POST", path: "/customervault/v1/profiles/" + pid + "/cards", body: `{"cardNum":"` + luhnPAN(fmt.Sprintf("4%05d", i), 16) + `","cardExpiry":{"month":12,"year":2040}}`})
	}
	b.ReportAllocs()
	for b.Loop() {
		serve(b, h, e, "GET", "/customervault/v1/profiles/"+pid+"?fields=addresses,cards", "", 200)
	}
}
