package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/payvault/payvault/internal/sqlstore"
)

// registerStoreMetrics registers the store's counters: the COMMITs whose answer was lost
// (PostgreSQL), by what the server said of them when asked (sqlstore, commitlost.go).
func (m *Main) registerStoreMetrics() {
	for _, o := range []struct {
		outcome string
		n       func(sqlstore.WriteStats) int64
	}{
		{"committed", func(w sqlstore.WriteStats) int64 { return w.LostCommits.Committed }},
		{"rolled_back", func(w sqlstore.WriteStats) int64 { return w.LostCommits.RolledBack }},
		{"unknown", func(w sqlstore.WriteStats) int64 { return w.LostCommits.Unknown }},
	} {
		m.Metrics.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "payvault_lost_commits_total", Help: "COMMITs whose answer was lost (a connection ended during them), by what PostgreSQL said of them when asked.",
			ConstLabels: prometheus.Labels{"outcome": o.outcome},
		}, func() float64 { return float64(o.n(m.Store.WriteStats())) }))
	}
}
