package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Notify holds the collectors of notification delivery. It implements
// notify.Observer.
type Notify struct {
	deliveries *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	queue      prometheus.Gauge
}

// NewNotify registers the delivery collectors on m's registry. Call it
// once per Metrics.
func (m *Metrics) NewNotify() *Notify {
	n := &Notify{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coffer_notify_attempts_total",
			Help: "Delivery attempts (webhooks, callbacks, postbacks) by format and result (delivered, retry, failed, disabled, lost).",
		}, []string{"format", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "coffer_notify_attempt_duration_seconds",
			Help:    "Time from sending a delivery attempt to its answer, by format.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"format"}),
		queue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "coffer_notify_queue_depth",
			Help: "Deliveries due and not yet delivered, sampled by the dispatcher.",
		}),
	}
	m.Registry.MustRegister(n.deliveries, n.latency, n.queue)
	return n
}

// ObserveDelivery records one attempt.
func (n *Notify) ObserveDelivery(format, result string, took time.Duration) {
	n.deliveries.WithLabelValues(format, result).Inc()
	n.latency.WithLabelValues(format).Observe(took.Seconds())
}

// SetQueueDepth records the number of due deliveries.
func (n *Notify) SetQueueDepth(v int) { n.queue.Set(float64(v)) }
