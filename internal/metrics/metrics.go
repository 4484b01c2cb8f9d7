// Package metrics exposes Coffre's Prometheus metrics. Labels never carry
// personal data: only counts and durations of the audit log for now.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

var (
	sequenced = prometheus.NewDesc("coffre_audit_entries_sequenced", "Audit entries sequenced (the last entry number).", nil, nil)
	integr    = prometheus.NewDesc("coffre_audit_entries_integrated", "Audit entries covered by the latest signed checkpoint.", nil, nil)
	lag       = prometheus.NewDesc("coffre_audit_integration_lag_seconds", "Age of the oldest audit entry not yet in a checkpoint (0 when none).", nil, nil)
	cpAge     = prometheus.NewDesc("coffre_audit_checkpoint_age_seconds", "Time since the latest checkpoint was signed.", nil, nil)
)

// auditCollector reads the audit log's state once per scrape.
type auditCollector struct {
	store store.Store
	log   *slog.Logger
}

func (c auditCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sequenced
	ch <- integr
	ch <- lag
	ch <- cpAge
}

func (c auditCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := auditlog.ReadStatus(ctx, c.store, time.Now())
	if err != nil {
		c.log.Error("metrics: read audit status", "error", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(sequenced, prometheus.GaugeValue, float64(st.Sequenced))
	ch <- prometheus.MustNewConstMetric(integr, prometheus.GaugeValue, float64(st.Integrated))
	ch <- prometheus.MustNewConstMetric(lag, prometheus.GaugeValue, st.Lag.Seconds())
	if st.HasCheckpoint {
		ch <- prometheus.MustNewConstMetric(cpAge, prometheus.GaugeValue, st.CheckpointAge.Seconds())
	}
}

// Handler returns the /metrics handler: the audit log's state and the Go
// runtime's.
func Handler(store store.Store, log *slog.Logger) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(auditCollector{store: store, log: log}, collectors.NewGoCollector())
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
