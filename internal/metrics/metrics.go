// Package metrics exposes Coffre's Prometheus metrics. Labels never carry
// personal data: counts and durations of the audit log and its stream's
// sinks (by their configured address), and of the delivery queue by
// channel (email, webhook, sms).
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/auditstream"
	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/outbox"
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

var (
	chLabel    = []string{"channel"}
	depth      = prometheus.NewDesc("coffre_delivery_queue_depth", "Messages waiting to be sent (pending), by channel (person: notices to people, sent by email or SMS).", chLabel, nil)
	oldest     = prometheus.NewDesc("coffre_delivery_oldest_pending_seconds", "Age of the oldest pending message, by channel (0 when none).", chLabel, nil)
	sent       = prometheus.NewDesc("coffre_delivery_sent_total", "Messages sent, by channel.", chLabel, nil)
	failed     = prometheus.NewDesc("coffre_delivery_failed_total", "Failed attempts to send, by channel (retried or not).", chLabel, nil)
	dead       = prometheus.NewDesc("coffre_delivery_dead_total", "Messages given up on (dead letters), by channel.", chLabel, nil)
	unexpanded = prometheus.NewDesc("coffre_outbox_unexpanded", "Queued events (alerts) not yet turned into messages: with no contact configured they stay here.", nil, nil)
	unexpAge   = prometheus.NewDesc("coffre_outbox_oldest_unexpanded_seconds", "Age of the oldest queued event not yet turned into messages (0 when none).", nil, nil)
)

// deliveryCollector reads the delivery queue's counts once per scrape,
// from the store: every node shows the whole queue.
type deliveryCollector struct {
	store store.Store
	log   *slog.Logger
}

func (c deliveryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{depth, oldest, sent, failed, dead, unexpanded, unexpAge} {
		ch <- d
	}
}

func (c deliveryCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var st outbox.Stats
	err := c.store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		st, err = tx.DeliveryStats(ctx)
		return err
	})
	if err != nil {
		c.log.Error("metrics: read delivery stats", "error", err)
		return
	}
	now := time.Now()
	age := func(t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return max(0, now.Sub(t).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(unexpanded, prometheus.GaugeValue, float64(st.Unexpanded))
	ch <- prometheus.MustNewConstMetric(unexpAge, prometheus.GaugeValue, age(st.OldestUnexpanded))
	for _, name := range []string{outbox.ChannelEmail, outbox.ChannelWebhook, outbox.ChannelSMS, outbox.ChannelPerson} {
		cs := st.Channels[name]
		ch <- prometheus.MustNewConstMetric(depth, prometheus.GaugeValue, float64(cs.Pending), name)
		ch <- prometheus.MustNewConstMetric(oldest, prometheus.GaugeValue, age(cs.Oldest), name)
		ch <- prometheus.MustNewConstMetric(sent, prometheus.CounterValue, float64(cs.Sent), name)
		ch <- prometheus.MustNewConstMetric(failed, prometheus.CounterValue, float64(cs.Failures), name)
		ch <- prometheus.MustNewConstMetric(dead, prometheus.CounterValue, float64(cs.Dead), name)
	}
}

var (
	incidentsOpen = prometheus.NewDesc("coffre_incidents_open", "Incidents not closed (open or contained).", nil, nil)
	deadline      = prometheus.NewDesc("coffre_incident_deadline_seconds",
		"Time left before a legal deadline of an incident not closed (negative: overdue), by incident id and clock (gdpr-notification, nis2-early-warning, nis2-notification, nis2-final-report); a clock whose report was filed is left out.",
		[]string{"incident", "clock"}, nil)
)

// incidentCollector shows the clocks of the incidents not closed.
type incidentCollector struct {
	store store.Store
	log   *slog.Logger
}

func (c incidentCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- incidentsOpen
	ch <- deadline
}

func (c incidentCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var list []incident.Incident
	if err := c.store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		list, err = tx.Incidents(ctx)
		return err
	}); err != nil {
		c.log.Error("metrics: read incidents", "error", err)
		return
	}
	now, open := time.Now(), 0
	for _, inc := range list {
		if inc.Status == incident.Closed {
			continue
		}
		open++
		for _, cl := range inc.Clocks(now) {
			if cl.Done.IsZero() {
				ch <- prometheus.MustNewConstMetric(deadline, prometheus.GaugeValue, cl.Left.Seconds(), inc.ID, cl.Name)
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(incidentsOpen, prometheus.GaugeValue, float64(open))
}

var (
	streamLag     = prometheus.NewDesc("coffre_audit_stream_lag_entries", "Sequenced audit entries a sink is not yet known to hold, by sink (syslog:host:port), on the server streaming to it.", []string{"sink"}, nil)
	streamFailing = prometheus.NewDesc("coffre_audit_stream_failing", "1 while the stream to a sink fails and is retried, by sink; 0 when it works.", []string{"sink"}, nil)
)

// streamCollector shows the audit stream's sinks that this server streams to.
type streamCollector struct{ status func() []auditstream.Status }

func (c streamCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- streamLag
	ch <- streamFailing
}

func (c streamCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.status() {
		if !st.Streaming {
			continue // another server streams to it, and shows it
		}
		failing := 0.0
		if !st.Since.IsZero() {
			failing = 1
		}
		ch <- prometheus.MustNewConstMetric(streamLag, prometheus.GaugeValue, float64(st.Lag()), st.Sink)
		ch <- prometheus.MustNewConstMetric(streamFailing, prometheus.GaugeValue, failing, st.Sink)
	}
}

// Handler returns the /metrics handler: the audit log's state, the
// delivery queue's, the incidents' clocks, the audit stream's sinks
// (streams, when not nil), the Go runtime's, and more (the request
// metrics, the build's).
func Handler(store store.Store, log *slog.Logger, streams func() []auditstream.Status, more ...prometheus.Collector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(auditCollector{store: store, log: log}, deliveryCollector{store: store, log: log}, incidentCollector{store: store, log: log},
		collectors.NewGoCollector())
	reg.MustRegister(more...)
	if streams != nil {
		reg.MustRegister(streamCollector{status: streams})
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
