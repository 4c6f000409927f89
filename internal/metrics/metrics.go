// Package metrics holds Coffer's Prometheus collectors on a registry of its
// own (no global registry), served at /metrics.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the set of collectors.
type Metrics struct {
	Registry *prometheus.Registry

	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	batchJobs     prometheus.Histogram
	batchSize     prometheus.Histogram
	commitSeconds prometheus.Histogram
	batches       *prometheus.CounterVec
}

// New registers every collector, including the Go runtime and process ones.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coffer_http_requests_total", Help: "HTTP requests by surface and status code.",
		}, []string{"surface", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "coffer_http_request_duration_seconds", Help: "HTTP request latency by surface.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"surface"}),
		batchJobs: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "coffer_ledger_batch_jobs", Help: "Caller jobs per ledger batch (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "coffer_ledger_batch_transfers", Help: "Transfer requests per ledger batch.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "coffer_ledger_commit_duration_seconds", Help: "Time to apply and durably commit one batch.",
			Buckets: []float64{.0002, .0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 5},
		}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coffer_ledger_batches_total", Help: "Ledger batches by result (ok, error).",
		}, []string{"result"}),
	}
	r.MustRegister(m.requests, m.latency, m.batchJobs, m.batchSize, m.commitSeconds, m.batches,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// ObserveRequest records one finished HTTP request.
func (m *Metrics) ObserveRequest(surface string, code int, d time.Duration) {
	m.requests.WithLabelValues(surface, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(surface).Observe(d.Seconds())
}

// ObserveBatch records one ledger batch; it fits ledger.Options.OnBatch.
func (m *Metrics) ObserveBatch(jobs, transfers int, took time.Duration, err error) {
	m.batchJobs.Observe(float64(jobs))
	m.batchSize.Observe(float64(transfers))
	m.commitSeconds.Observe(took.Seconds())
	if err != nil {
		m.batches.WithLabelValues("error").Inc()
	} else {
		m.batches.WithLabelValues("ok").Inc()
	}
}
