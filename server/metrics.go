package server

import (
	"fmt"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/artclass/artclass/classifier"
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
			Help: "Train calls by result: ok, invalid, rejected (quality gate), failed or canceled.",
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
