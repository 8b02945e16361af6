package app_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// MustImports returns, for every non-test Go file under the module's dir, its import paths.
func MustImports(tb testing.TB, dir string) map[string][]string {
	tb.Helper()
	root := filepath.Join("..", "..")
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			out[filepath.ToSlash(rel)] = append(out[filepath.ToSlash(rel)], p)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	if len(out) == 0 {
		tb.Fatalf("no Go files under %s", dir)
	}
	return out
}

// TestCoreImports checks docs/architecture.md's "One core, two APIs": the core (vault,
// payments) imports no net/http, no database/sql and no vendor API package.
func TestCoreImports(t *testing.T) {
	for _, dir := range []string{"internal/vault", "internal/payments"} {
		for file, imports := range MustImports(t, dir) {
			for _, p := range imports {
				if p == "net/http" || p == "database/sql" || strings.Contains(p, "/internal/api/") || strings.Contains(p, "/internal/sqlstore") {
					t.Errorf("%s imports %s", file, p)
				}
			}
		}
	}
}

// TestNoMathRand checks the security invariant that ids, tokens and secrets come from
// crypto/rand: no package but the load driver (internal/bench, whose workload only needs to
// vary) imports math/rand.
func TestNoMathRand(t *testing.T) {
	for _, dir := range []string{"cmd", "internal"} {
		for file, imports := range MustImports(t, dir) {
			if strings.HasPrefix(file, "internal/bench/") {
				continue
			}
			for _, p := range imports {
				if p == "math/rand" || p == "math/rand/v2" {
					t.Errorf("%s imports %s", file, p)
				}
			}
		}
	}
}
