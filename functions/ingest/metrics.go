package ingest

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
)

// The ingest function's metric names; deploy/monitoring's rules and dashboards query them, and
// test/monitoring checks them against what the function really exports.
const (
	MetricDatapoints             = "phoenix_ingest_datapoints_total"
	MetricPayloadBytes           = "phoenix_ingest_payload_bytes_total"
	MetricRejected               = "phoenix_ingest_rejected_total"
	MetricWindowsClosed          = "phoenix_kpi_windows_closed_total"
	MetricWindowsMissingCritical = "phoenix_kpi_windows_missing_critical_total"
)

// Why an export request was refused: the label values of phoenix_ingest_rejected_total. Every
// refusal but foreignResources refuses the whole request, named after the status it is answered
// with; foreignResources is a request accepted in part (OTLP partial success).
const (
	rejectedMalformed    = "malformed"            // 400: not an OTLP request, or a corrupt gzip body
	rejectedUnauthorized = "unauthenticated"      // 401: no token, or an unknown, expired or revoked one
	rejectedTooSlow      = "too_slow"             // 408: the body did not arrive within ReadTimeout
	rejectedNotRunning   = "not_running"          // 409: the token's experiment is not running
	rejectedTooLarge     = "too_large"            // 413: over MaxBody on the wire or MaxDecoded inflated
	rejectedUnsupported  = "unsupported_encoding" // 415: a Content-Type or Content-Encoding OTLP/HTTP does not use
	rejectedInternal     = "internal"             // 500: the answer could not be encoded
	rejectedUnavailable  = "unavailable"          // 503: busy, or PostgreSQL or Redis did not answer; the collector retries
	rejectedOther        = "other"                // any other status (none is answered today)
	foreignResources     = "foreign_resources"    // some datapoints carried another experiment's or variant's identity
	lateData             = "late"                 // the request's data came after its window closed (beyond the lateness bound)
)

// rejectedReason names the refusal a status answers.
func rejectedReason(status int) string {
	switch status {
	case http.StatusBadRequest:
		return rejectedMalformed
	case http.StatusUnauthorized:
		return rejectedUnauthorized
	case http.StatusRequestTimeout:
		return rejectedTooSlow
	case http.StatusConflict:
		return rejectedNotRunning
	case http.StatusRequestEntityTooLarge:
		return rejectedTooLarge
	case http.StatusUnsupportedMediaType:
		return rejectedUnsupported
	case http.StatusInternalServerError:
		return rejectedInternal
	case http.StatusServiceUnavailable:
		return rejectedUnavailable
	}
	return rejectedOther
}

// metrics are the ingest function's instruments. Labels are a variant (baseline or candidate),
// whether a window was complete, or a refusal reason: fixed sets, never an experiment's, a
// tenant's or a token's id. Together they say how much each variant sends across every running
// experiment; per experiment, the KPI windows themselves are exact.
type metrics struct {
	datapoints *prometheus.CounterVec // datapoints of pipeline output counted into windows, by variant
	bytes      *prometheus.CounterVec // payload bytes of pipeline output counted into windows, by variant
	rejected   *prometheus.CounterVec // export requests refused in whole or in part, by reason
	closed     *prometheus.CounterVec // KPI windows stored, by variant and complete
	missing    *prometheus.CounterVec // stored windows in which a critical process went unseen, by variant
}

// newMetrics creates the instruments with a series for every label value they can take, so a
// rate over any of them reads zero rather than "no data" before the first such event.
func newMetrics() *metrics {
	m := &metrics{
		datapoints: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricDatapoints,
			Help: "Datapoints of the pipelines' output counted into KPI windows, by variant (a collector's retry of a counted request is not counted again)."},
			[]string{"variant"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricPayloadBytes,
			Help: "Bytes on the wire of export requests carrying pipeline output, counted into KPI windows, by variant."},
			[]string{"variant"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricRejected,
			Help: "Export requests refused, by reason: in whole (malformed, unauthenticated, too_slow, not_running, too_large, unsupported_encoding, internal, unavailable) or in part (foreign_resources), or not counted because it came after its KPI window closed (late)."},
			[]string{"reason"}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricWindowsClosed,
			Help: "KPI windows closed and stored, by variant and whether the window lay wholly inside the run (complete windows feed the analysis)."},
			[]string{"variant", "complete"}),
		missing: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricWindowsMissingCritical,
			Help: "KPI windows closed in which at least one of the experiment's critical processes was not seen, by variant."},
			[]string{"variant"}),
	}
	for _, v := range []experiment.Variant{experiment.Baseline, experiment.Candidate} {
		m.datapoints.WithLabelValues(string(v))
		m.bytes.WithLabelValues(string(v))
		m.closed.WithLabelValues(string(v), "true")
		m.closed.WithLabelValues(string(v), "false")
		m.missing.WithLabelValues(string(v))
	}
	for _, r := range []string{rejectedMalformed, rejectedUnauthorized, rejectedTooSlow, rejectedNotRunning, rejectedTooLarge,
		rejectedUnsupported, rejectedInternal, rejectedUnavailable, rejectedOther, foreignResources, lateData} {
		m.rejected.WithLabelValues(r)
	}
	return m
}

// register adds the instruments to reg.
func (m *metrics) register(reg prometheus.Registerer) error {
	cs := []prometheus.Collector{m.datapoints, m.bytes, m.rejected, m.closed, m.missing}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return fmt.Errorf("ingest: register metrics: %w", err)
		}
	}
	return nil
}

// refused counts a request refused in whole with status.
func (m *metrics) refused(status int) {
	m.rejected.WithLabelValues(rejectedReason(status)).Inc()
}

// recorded counts what one part of a request added to its variant's window: its datapoints, its
// share of the request's bytes (none for self-telemetry alone, as in the window), and a partial
// refusal (foreign: some resources were not the token's).
func (m *metrics) recorded(v experiment.Variant, datapoints, bytes int64, foreign bool) {
	if !v.Valid() {
		return
	}
	m.datapoints.WithLabelValues(string(v)).Add(float64(datapoints))
	m.bytes.WithLabelValues(string(v)).Add(float64(bytes))
	if foreign {
		m.rejected.WithLabelValues(foreignResources).Inc()
	}
}

// late counts a request whose data came after its window closed: counted nowhere.
func (m *metrics) late(v experiment.Variant) {
	if v.Valid() {
		m.rejected.WithLabelValues(lateData).Inc()
	}
}

// stored counts a window this replica stored (closing twice stores once).
func (m *metrics) stored(v experiment.Variant, w store.KPIWindow) {
	if !v.Valid() {
		return
	}
	m.closed.WithLabelValues(string(v), strconv.FormatBool(w.Complete)).Inc()
	if len(w.CriticalMissing) > 0 {
		m.missing.WithLabelValues(string(v)).Inc()
	}
}
