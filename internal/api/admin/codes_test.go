package admin_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/api/admin"
)

// sourceCodes returns the error codes the package's code writes literally: writeError's and
// badRequest's code arguments and apiError literals' code fields.
func sourceCodes(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		tb.Fatal(err)
	}
	seen := map[string]bool{}
	lit := func(e ast.Expr) {
		if b, ok := e.(*ast.BasicLit); ok && b.Kind == token.STRING {
			s, _ := strconv.Unquote(b.Value)
			seen[s] = true
		}
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			tb.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				fn, _ := n.Fun.(*ast.Ident)
				switch {
				case fn == nil:
				case fn.Name == "writeError" && len(n.Args) == 5:
					lit(n.Args[2])
				case fn.Name == "badRequest" && len(n.Args) == 3:
					lit(n.Args[0])
				}
			case *ast.CompositeLit:
				if id, ok := n.Type.(*ast.Ident); ok && id.Name == "apiError" {
					for _, el := range n.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok && kv.Key.(*ast.Ident).Name == "code" {
							lit(kv.Value)
						}
					}
				}
			}
			return true
		})
	}
	return slices.Sorted(func(yield func(string) bool) {
		for s := range seen {
			if !yield(s) {
				return
			}
		}
	})
}

// TestErrorCodes: the README's error table, openapi.yaml's error code enum and the codes the
// package writes are the same set, and the README's statuses are the ones the fuzz target
// accepts.
func TestErrorCodes(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	table := map[string]int{}
	for _, m := range regexp.MustCompile("(?m)^\\| (\\d{3}) \\| `([a-z_]+)` \\|").FindAllStringSubmatch(string(readme), -1) {
		table[m[2]], _ = strconv.Atoi(m[1])
	}
	if d := cmp.Diff(adminCodes, table); d != "" {
		t.Errorf("README error table (-fuzz target's codes +README)\n%s", d)
	}
	doc, err := openapi3.NewLoader().LoadFromData(admin.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	var enum []string
	for _, v := range doc.Components.Responses["Error"].Value.Content["application/json"].Schema.Value.Properties["error"].Value.Properties["code"].Value.Enum {
		enum = append(enum, v.(string))
	}
	slices.Sort(enum)
	readmeCodes := slices.Sorted(func(yield func(string) bool) {
		for c := range table {
			if !yield(c) {
				return
			}
		}
	})
	if d := cmp.Diff(readmeCodes, enum); d != "" {
		t.Errorf("openapi.yaml's error codes (-README +openapi.yaml)\n%s", d)
	}
	if d := cmp.Diff(readmeCodes, sourceCodes(t)); d != "" {
		t.Errorf("codes written by the package (-README +code)\n%s", d)
	}
}

// TestIdempotencyConflict: an Idempotency-Key repeated with another body is 409
// idempotency_conflict; repeated with the same body it replays the first answer, unless that
// held secrets, which were not kept.
func TestIdempotencyConflict(t *testing.T) {
	e := MustEnv(t)
	_, rep := MustMerchant(t, e)
	pt := rep.Replace("/admin/v1/merchants/{mid}/product-transactions")
	send := func(t *testing.T, key, path, body string) reply {
		t.Helper()
		r := e.do(t, "POST", path, body, "", "Idempotency-Key", key)
		if ps, ok := r.body["paysafe"].(map[string]any); ok {
			e.logs.Forbid(ps["api_key_secret"].(string), ps["single_use_key_secret"].(string))
		}
		return r
	}
	first := send(t, "k2", pt, `{"payment_method":"cc","title":"One"}`)
	for _, tt := range []struct {
		name, key, path, body string
		want                  errAnswer
		sameID                bool
	}{
		{"ok/first", "k1", "/admin/v1/merchants", `{"name":"A"}`, errAnswer{Status: 201}, false},
		{"fail/other-body", "k1", "/admin/v1/merchants", `{"name":"B"}`, errAnswer{409, "idempotency_conflict", ""}, false},
		{"fail/secrets-not-kept", "k1", "/admin/v1/merchants", `{"name":"A"}`, errAnswer{409, "idempotency_conflict", ""}, false},
		{"fail/other-body-no-secrets", "k2", pt, `{"payment_method":"cc","title":"Two"}`, errAnswer{409, "idempotency_conflict", ""}, false},
		{"ok/replayed", "k2", pt, `{"payment_method":"cc","title":"One"}`, errAnswer{Status: 201}, true},
		// A refused create answered no secret: its repeat gets the same refusal.
		{"fail/refused-create", "k3", "/admin/v1/merchants", `{"name":"C","account_number":"x"}`, errAnswer{400, "invalid", "account_number"}, false},
		{"fail/refused-create-repeated", "k3", "/admin/v1/merchants", `{"name":"C","account_number":"x"}`, errAnswer{400, "invalid", "account_number"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := send(t, tt.key, tt.path, tt.body)
			if d := cmp.Diff(tt.want, r.answer()); d != "" {
				t.Errorf("(-want +got)\n%s\n%s", d, r.raw)
			}
			if tt.sameID && r.str("id") != first.str("id") {
				t.Errorf("replayed %s, first %s", r.raw, first.raw)
			}
		})
	}
}
