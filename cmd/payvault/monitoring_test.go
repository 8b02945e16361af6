package main

import (
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMonitoringMetrics scrapes GET /metrics of a served store as docs/operations.md
// (Monitoring) tells an operator to: every payvault_ metric the section names is served, and
// every payvault_ metric served is named there. The health check and the scrape itself are
// counted under their own routes, not among the unmatched requests (a scanner's 404s).
func TestMonitoringMetrics(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## Monitoring\n")
	if !ok {
		t.Fatal("docs/operations.md has no Monitoring section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	documented := uniqueSorted(regexp.MustCompile(`payvault_[a-z_]+`).FindAllString(section, -1))

	s := MustServe(t, t.TempDir(), nil)
	defer s.Stop(t)
	scrape := func() string {
		t.Helper()
		resp, err := http.Get(s.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /metrics = %d, %v", resp.StatusCode, err)
		}
		return string(b)
	}
	scrape() // the second scrape counts the first
	body := scrape()
	var served []string
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (payvault_\S+) `).FindAllStringSubmatch(body, -1) {
		served = append(served, m[1])
	}
	if d := cmp.Diff(documented, uniqueSorted(served)); d != "" {
		t.Errorf("payvault metrics, (-named in docs/operations.md +served)\n%s", d)
	}
	for _, route := range []string{"/healthz", "/metrics"} {
		if !strings.Contains(body, `payvault_http_requests_total{api="",code="200",method="GET",route="`+route+`"}`) {
			t.Errorf("GET %s is not counted under its route:\n%s", route, grepLines(body, "payvault_http_requests_total{"))
		}
	}
}

func uniqueSorted(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// grepLines returns the lines of text that contain sub.
func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
