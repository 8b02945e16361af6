package paysafe_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// golden is one example exchange of the Paysafe reference, in testdata/golden. Placeholders
// {profile}, {address}, {sepa} and {card} in the request and the response stand for the ids
// of setup objects.
type golden struct {
	Spec    string   `json:"spec"`
	Setup   []string `json:"setup"`
	Auth    string   `json:"auth"`
	Request struct {
		Method string          `json:"method"`
		Path   string          `json:"path"`
		Body   json.RawMessage `json:"body"`
		Raw    string          `json:"raw"`
	} `json:"request"`
	Response struct {
		Status   int             `json:"status"`
		Location string          `json:"location"`
		Body     json.RawMessage `json:"body"`
	} `json:"response"`
}

// TestGolden replays the reference's example exchanges. Ids, tokens and times differ from
// the examples, so both sides are normalised: each distinct UUID becomes <id1>, <id2>… in
// the order of a sorted walk (so references between ids must match), tokens become their
// kind and timestamps <time>; the server's base URL reads https://host.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var g golden
			if err := json.Unmarshal(b, &g); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			e := MustEnv(t)
			ids := e.setup(t, g.Setup)
			subst := func(s string) string {
				for k, v := range ids {
					s = strings.ReplaceAll(s, "{"+k+"}", v)
				}
				return s
			}
			c := call{method: g.Request.Method, path: subst(g.Request.Path), body: subst(string(g.Request.Body)), loose: g.Request.Raw != ""}
			if g.Request.Raw != "" {
				c.body = g.Request.Raw
			}
			if g.Auth == "sut" {
				c.user, c.pass = e.creds.Paysafe.SingleUseKeyID, e.creds.Paysafe.SingleUseKeySecret
			}
			r := e.do(t, c)
			if r.status != g.Response.Status {
				t.Fatalf("%s: status %d, want %d\n%s", g.Spec, r.status, g.Response.Status, r.raw)
			}
			var want, got any
			if err := json.Unmarshal([]byte(subst(string(g.Response.Body))), &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(strings.ReplaceAll(string(r.raw), e.url, "https://host")), &got); err != nil {
				t.Fatal(err)
			}
			wantDoc := map[string]any{"body": want, "location": subst(g.Response.Location)}
			gotDoc := map[string]any{"body": got, "location": strings.Replace(r.header.Get("Location"), e.url, "https://host", 1)}
			if d := cmp.Diff(normalize(wantDoc), normalize(gotDoc)); d != "" {
				t.Errorf("%s (-want +got)\n%s", g.Spec, d)
			}
		})
	}
}

// setup creates the named objects and returns their ids.
func (e *env) setup(tb testing.TB, names []string) map[string]string {
	tb.Helper()
	ids := map[string]string{}
	for _, n := range names {
		switch n {
		case "profile":
			ids[n] = e.MustProfile(tb, "golden-profile")
		case "address":
			ids[n] = e.MustAddress(tb, ids["profile"])
		case "sepa":
			ids[n] = e.must(tb, 201, call{method: "POST", path: "/customervault/v1/profiles/" + ids["profile"] + "/sepabankaccounts",
				body: `{"accountHolderName":"Sally Barnes","iban":"DE89370400440532013000","billingAddressId":"` + ids["address"] + `"}`}).str("id")
		case "card":
			ids[n] = e.must(tb, 201, call{method: "POST", path: "/customervault/v1/profiles/" + ids["profile"] + "/cards",
				body: `{"cardNum":"5200400000000009","cardExpiry":{"month":1,"year":2033}}`}).str("id")
		default:
			tb.Fatalf("unknown setup %q", n)
		}
	}
	return ids
}

var (
	uuidRE  = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	tokenRE = regexp.MustCompile(`^(S[CAE]|[PCBM])[A-Za-z0-9]{14}$`)
	timeRE  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$`)
)

// normalize replaces ids, tokens and times by stable labels (see TestGolden).
func normalize(v any) any {
	labels := map[string]string{}
	var walk func(v any) any
	walk = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			out := map[string]any{}
			for _, k := range keys {
				out[k] = walk(v[k])
			}
			return out
		case []any:
			out := make([]any, len(v))
			for i, x := range v {
				out[i] = walk(x)
			}
			return out
		case string:
			if m := tokenRE.FindStringSubmatch(v); m != nil {
				return "<token " + m[1] + ">"
			}
			if timeRE.MatchString(v) {
				return "<time>"
			}
			return uuidRE.ReplaceAllStringFunc(v, func(id string) string {
				if _, ok := labels[id]; !ok {
					labels[id] = "<id" + strconv.Itoa(len(labels)+1) + ">"
				}
				return labels[id]
			})
		}
		return v
	}
	return walk(v)
}
