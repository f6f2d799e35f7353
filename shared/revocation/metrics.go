package revocation

import "github.com/prometheus/client_golang/prometheus"

// The metric names; dashboards and alerts query them.
const (
	MetricChecks   = "phoenix_revocation_checks_total"
	MetricRebuilds = "phoenix_revocation_cache_rebuilds_total"
)

// Answers of a check: the label values of phoenix_revocation_checks_total.
const (
	resultRevoked = "revoked"
	resultValid   = "valid"
	resultUnknown = "unknown" // Redis, or PostgreSQL behind a cold cache, did not answer: refused
)

// Outcomes of a rebuild: the label values of phoenix_revocation_cache_rebuilds_total.
const (
	rebuildDone       = "rebuilt"    // the markers and the sentinel are back in Redis
	rebuildSuperseded = "superseded" // Redis lost the claim meanwhile; the cache stays cold
	rebuildFailed     = "failed"     // PostgreSQL or Redis failed; the check answered from PostgreSQL or not at all
)

// Metrics are the revocation checks' Prometheus instruments, a Collector to register with a
// deployable's registry. Several Stores may share one (the gateway's two views of the markers).
type Metrics struct {
	checks   *prometheus.CounterVec // checks by answer
	rebuilds *prometheus.CounterVec // cache rebuilds by outcome
}

// NewMetrics creates the instruments, every label value at zero so that rates exist from the start.
func NewMetrics() *Metrics {
	m := &Metrics{
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricChecks,
			Help: "Revocation checks of access tokens by answer; unknown means the token was refused because neither Redis nor PostgreSQL could answer."},
			[]string{"result"}),
		rebuilds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricRebuilds,
			Help: "Rebuilds of the Redis revocation cache from PostgreSQL (a tenant's or the token ids' sentinel was missing), by outcome."},
			[]string{"result"}),
	}
	for _, r := range []string{resultRevoked, resultValid, resultUnknown} {
		m.checks.WithLabelValues(r)
	}
	for _, r := range []string{rebuildDone, rebuildSuperseded, rebuildFailed} {
		m.rebuilds.WithLabelValues(r)
	}
	return m
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.checks.Describe(ch)
	m.rebuilds.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.checks.Collect(ch)
	m.rebuilds.Collect(ch)
}

// checked counts one check's answer.
func (m *Metrics) checked(revoked bool, err error) {
	switch {
	case err != nil:
		m.checks.WithLabelValues(resultUnknown).Inc()
	case revoked:
		m.checks.WithLabelValues(resultRevoked).Inc()
	default:
		m.checks.WithLabelValues(resultValid).Inc()
	}
}

// rebuilt counts one rebuild's outcome.
func (m *Metrics) rebuilt(outcome string) { m.rebuilds.WithLabelValues(outcome).Inc() }
