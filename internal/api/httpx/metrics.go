package httpx

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds payvault's Prometheus collectors on their own registry. Labels are route
// patterns and codes, never ids or request data.
type Metrics struct {
	Registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics returns metrics on a fresh registry with the Go and process collectors.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payvault_http_requests_total", Help: "HTTP requests by API, route, method and status code.",
		}, []string{"api", "route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "payvault_http_request_duration_seconds", Help: "HTTP request latency by API and route.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"api", "route"}),
	}
	reg.MustRegister(m.requests, m.duration, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) observe(i *Info, method string, status int, d time.Duration) {
	route := i.Pattern
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(i.API, route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(i.API, route).Observe(d.Seconds())
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

func fmtType(v any) string { return fmt.Sprintf("%T", v) }
