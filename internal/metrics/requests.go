package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coffre/coffre/internal/store"
)

// Requests counts and times the API's requests (httpapi.RequestObserver):
// by listener (api, partners), route pattern (GET /v1/subjects/{id},
// never a path with an id in it), method, status and declared purpose.
// Register it with Handler.
type Requests struct {
	count    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewRequests makes the request metrics.
func NewRequests() *Requests {
	return &Requests{
		count: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coffre_http_requests_total",
			Help: "Requests answered, by listener (api, partners), route pattern, method, status and declared purpose (empty: none, or one the policy does not declare).",
		}, []string{"listener", "route", "method", "status", "purpose"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "coffre_http_request_duration_seconds",
			Help:    "Time to answer a request, by listener, route pattern, method and declared purpose.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"listener", "route", "method", "purpose"}),
	}
}

// Observe implements httpapi.RequestObserver.
func (q *Requests) Observe(listener, route, method string, status int, purpose string, d time.Duration) {
	q.count.WithLabelValues(listener, route, method, strconv.Itoa(status), purpose).Inc()
	q.duration.WithLabelValues(listener, route, method, purpose).Observe(d.Seconds())
}

// Describe implements prometheus.Collector.
func (q *Requests) Describe(ch chan<- *prometheus.Desc) {
	q.count.Describe(ch)
	q.duration.Describe(ch)
}

// Collect implements prometheus.Collector.
func (q *Requests) Collect(ch chan<- prometheus.Metric) {
	q.count.Collect(ch)
	q.duration.Collect(ch)
}

// BuildInfo is coffre_build_info, 1, labelled with what `coffre version`
// prints: the module version, the commit, its date and the Go version.
func BuildInfo(version, commit, date, goVersion string) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "coffre_build_info",
		Help:        "1, labelled with the build's version, commit, commit date and Go version (as coffre version prints them).",
		ConstLabels: prometheus.Labels{"version": version, "commit": commit, "date": date, "go": goVersion},
	})
	g.Set(1)
	return g
}

var (
	groupCommits  = prometheus.NewDesc("coffre_store_group_commits_total", "Transactions the store's writer committed (each holding a group of writes: accesses and their audit entries).", nil, nil)
	groupRequests = prometheus.NewDesc("coffre_store_group_requests_total", "Writes the group commits held; over coffre_store_group_commits_total, the mean group size.", nil, nil)
)

// GroupCounter is a store that counts its group commits.
type GroupCounter interface {
	Stats() (groups, requests int64)
}

// GroupCommits shows a store's group commits and the writes they held.
func GroupCommits(s GroupCounter) prometheus.Collector { return groupCollector{s} }

type groupCollector struct{ s GroupCounter }

func (c groupCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- groupCommits
	ch <- groupRequests
}

func (c groupCollector) Collect(ch chan<- prometheus.Metric) {
	g, r := c.s.Stats()
	ch <- prometheus.MustNewConstMetric(groupCommits, prometheus.CounterValue, float64(g))
	ch <- prometheus.MustNewConstMetric(groupRequests, prometheus.CounterValue, float64(r))
}

var (
	poolConns  = prometheus.NewDesc("coffre_store_pool_connections", "The store's pooled connections (SQLite: the read pool; PostgreSQL: every transaction's), by state: in_use, idle, max (the pool's size).", []string{"state"}, nil)
	poolWaits  = prometheus.NewDesc("coffre_store_pool_waits_total", "Acquisitions of a pooled connection that found none idle and waited.", nil, nil)
	poolWaited = prometheus.NewDesc("coffre_store_pool_wait_seconds_total", "The time those acquisitions waited, in total.", nil, nil)
)

// PoolCounter is a store that reports its connection pool.
type PoolCounter interface {
	PoolStats() store.PoolStats
}

// Pool shows a store's connection pool: its connections by state and the
// waits for one.
func Pool(s PoolCounter) prometheus.Collector { return poolCollector{s} }

type poolCollector struct{ s PoolCounter }

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolConns
	ch <- poolWaits
	ch <- poolWaited
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.PoolStats()
	for state, n := range map[string]int{"in_use": st.InUse, "idle": st.Idle, "max": st.Max} {
		ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(n), state)
	}
	ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(st.Waits))
	ch <- prometheus.MustNewConstMetric(poolWaited, prometheus.CounterValue, st.Waited.Seconds())
}

// Decisions counts the guard's decisions on the accesses
// (vault.DecisionObserver): coffre_guard_decisions_total by action,
// verdict (allow, limit, lock) and detector code. Register it with
// Handler.
type Decisions struct{ count *prometheus.CounterVec }

// NewDecisions makes the guard decision counter.
func NewDecisions() *Decisions {
	return &Decisions{count: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "coffre_guard_decisions_total",
		Help: "The guard's decisions on accesses, by action (read, lookup, create…), verdict (allow, limit, lock) and the detector's code (empty for an allow).",
	}, []string{"action", "verdict", "code"})}
}

// Decided implements vault.DecisionObserver.
func (d *Decisions) Decided(action, verdict, code string) {
	d.count.WithLabelValues(action, verdict, code).Inc()
}

// Describe implements prometheus.Collector.
func (d *Decisions) Describe(ch chan<- *prometheus.Desc) { d.count.Describe(ch) }

// Collect implements prometheus.Collector.
func (d *Decisions) Collect(ch chan<- prometheus.Metric) { d.count.Collect(ch) }
