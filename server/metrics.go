package server

import (
	"fmt"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/modelstore"
)

// metrics are the server's Prometheus series: go-grpc-middleware's request
// counts and latencies by method and code, and artclass's own.
type metrics struct {
	grpc        *grpcprom.ServerMetrics
	predictions *prometheus.CounterVec   // assigned labels, by label
	confidence  *prometheus.HistogramVec // every topic's confidence, by label
	modelInfo   *prometheus.GaugeVec     // 1 for the active model's version
	trains      *prometheus.CounterVec   // Train calls, by result
	reloads     *prometheus.CounterVec   // Reload calls, by result
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		grpc: grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(
			grpcprom.WithHistogramBuckets([]float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 120}),
		)),
		predictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "artclass_predictions_total",
			Help: "Labels assigned to classified articles, by label.",
		}, []string{"label"}),
		confidence: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "artclass_topic_confidence",
			Help:    "The confidence of every topic of every classified article, by label.",
			Buckets: prometheus.LinearBuckets(0.1, 0.1, 10),
		}, []string{"label"}),
		modelInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "artclass_model_info",
			Help: "1 for the version of the active model.",
		}, []string{"version"}),
		trains: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "artclass_train_total",
			Help: "Train calls by result: ok, invalid, rejected (quality gate), conflict (lost a promotion race), failed or canceled.",
		}, []string{"result"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "artclass_reload_total",
			Help: "Model reloads by result: ok or failed.",
		}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{
		m.grpc, m.predictions, m.confidence, m.modelInfo, m.trains, m.reloads,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("server: register metrics: %w", err)
		}
	}
	return m, nil
}

// followStore registers the store follower's series, read from its
// status at each scrape.
func (m *metrics) followStore(reg *prometheus.Registry, f *modelstore.Follower) error {
	counter := func(name, help string, labels prometheus.Labels, v func(modelstore.Status) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(v(f.Status())) })
	}
	swaps := "Models the store follower handed over (ok) or refused (refused: failed to verify or load)."
	for _, c := range []prometheus.Collector{
		counter("artclass_store_polls_total", "Polls of the model store's active pointer.", nil,
			func(s modelstore.Status) uint64 { return s.Polls }),
		counter("artclass_store_poll_errors_total", "Polls of the model store that failed to read it.", nil,
			func(s modelstore.Status) uint64 { return s.PollErrors }),
		counter("artclass_store_swaps_total", swaps, prometheus.Labels{"result": "ok"},
			func(s modelstore.Status) uint64 { return s.Swaps }),
		counter("artclass_store_swaps_total", swaps, prometheus.Labels{"result": "refused"},
			func(s modelstore.Status) uint64 { return s.Refused }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "artclass_store_seconds_since_agreed",
			Help: "Seconds since this replica last found itself serving the store's active version (0 before the first poll).",
		}, func() float64 { return lagSeconds(f.Status()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "artclass_store_active_generation",
			Help: "The generation of the store's active pointer at the last successful poll.",
		}, func() float64 { return float64(f.Status().Active.Generation) }),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("server: register store metrics: %w", err)
		}
	}
	return nil
}

// setModel points the model info gauge at version.
func (m *metrics) setModel(version string) {
	m.modelInfo.Reset()
	m.modelInfo.WithLabelValues(version).Set(1)
}

// observe records one classified article.
func (m *metrics) observe(r classifier.Result) {
	for _, t := range r.Topics {
		m.confidence.WithLabelValues(t.Label).Observe(t.Confidence)
		if t.Assigned {
			m.predictions.WithLabelValues(t.Label).Inc()
		}
	}
}
