package function

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/phoenixotel/phoenix/shared/events"
)

// The runtime's metric names. deploy/monitoring's rules and dashboards query exactly these, and
// test/monitoring checks every name they use against what the registries really hold.
const (
	MetricRequests        = "phoenix_function_requests_total"
	MetricRequestDuration = "phoenix_function_request_duration_seconds"
	MetricInFlight        = "phoenix_function_requests_in_flight"
	MetricReady           = "phoenix_function_ready"
)

// Route labels for requests that have no pattern or event type of their own.
const (
	routeUnmatched    = "unmatched" // an HTTP request no pattern matched (405s, for instance)
	routeInvalidEvent = "invalid"   // a POST that was not a valid CloudEvent
	routeOtherEvent   = "other"     // a valid CloudEvent of a type outside events.Catalog
)

// DurationBuckets are the request-duration histogram's upper bounds in seconds. 0.1 is one of them
// so that "answered within the plan's 100 ms" is an exact bucket, not an interpolation.
var DurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// metrics are the runtime's RED metrics and readiness. Every label is bounded: kind is event or
// http; route is a ServeMux pattern of the function's own routes, an event type from
// events.Catalog, or one of the route* constants; code is an HTTP status. Never an id or a raw path.
type metrics struct {
	requests   *prometheus.CounterVec   // requests and events answered, by kind, route and status code
	duration   *prometheus.HistogramVec // time to answer, by kind and route
	inFlight   *prometheus.GaugeVec     // requests and events being handled now, by kind
	ready      prometheus.Gauge         // 1 when the last readiness check passed
	eventTypes map[string]bool          // the event types that become route labels; others are routeOtherEvent
}

func newMetrics(reg *prometheus.Registry, name string) *metrics {
	constant := prometheus.Labels{"function": name}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        MetricRequests,
			Help:        "Requests and CloudEvents answered, by kind (event or http), route (pattern or event type) and status code.",
			ConstLabels: constant,
		}, []string{"kind", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        MetricRequestDuration,
			Help:        "Time to answer a request or CloudEvent, by kind and route.",
			ConstLabels: constant,
			Buckets:     DurationBuckets,
		}, []string{"kind", "route"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name:        MetricInFlight,
			Help:        "Requests and CloudEvents being handled now, by kind.",
			ConstLabels: constant,
		}, []string{"kind"}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        MetricReady,
			Help:        "1 when the last readiness check passed (started, not draining, dependencies answering), else 0.",
			ConstLabels: constant,
		}),
		eventTypes: map[string]bool{},
	}
	for _, s := range events.Catalog() {
		m.eventTypes[s.Type] = true
	}
	reg.MustRegister(m.requests, m.duration, m.inFlight, m.ready,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector())
	return m
}

// eventRoute is the route label of a CloudEvent type: the type itself when Phoenix knows it, so a
// sender cannot grow the label set by inventing types.
func (m *metrics) eventRoute(typ string) string {
	if m.eventTypes[typ] {
		return typ
	}
	return routeOtherEvent
}

// routeKey carries a request's route label from the handler that learns it back to instrument.
type routeKey struct{}

// setRoute records the route label of the request ctx belongs to, if it is instrumented.
func setRoute(ctx context.Context, route string) {
	if p, ok := ctx.Value(routeKey{}).(*string); ok {
		*p = route
	}
}

// instrument counts and times next's requests. The route is what the handler recorded (event
// types), else the pattern the function's own ServeMux matched: ServeMux writes it into the very
// request it is given, so it is readable here once next returns.
func (rt *runtime) instrument(kind string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		inFlight := rt.metrics.inFlight.WithLabelValues(kind)
		inFlight.Inc()
		defer inFlight.Dec()
		var route string
		r = r.WithContext(context.WithValue(r.Context(), routeKey{}, &route))
		r.Pattern = ""
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		elapsed := time.Since(start)
		switch {
		case route != "":
		case r.Pattern != "":
			route = r.Pattern
		case kind == "http" && !isMux(next):
			// A handler without a ServeMux of its own (the gateway) is one route.
			route = "/"
		default:
			route = routeUnmatched
		}
		rt.metrics.requests.WithLabelValues(kind, route, strconv.Itoa(sw.status)).Inc()
		rt.metrics.duration.WithLabelValues(kind, route).Observe(elapsed.Seconds())
		logRequest(r, sw.status, elapsed)
	})
}

// isMux reports whether h routes by pattern, so an empty pattern after it means nothing matched.
func isMux(h http.Handler) bool {
	_, ok := h.(*http.ServeMux)
	return ok
}

// PoolStats is a connection pool's state at one moment, in terms common to pgxpool.Stat and
// go-redis's PoolStats, so one collector serves both.
type PoolStats struct {
	Max      int64         // connections the pool may open; 0 when unknown
	Idle     int64         // open connections not lent out
	InUse    int64         // open connections lent out
	Acquires uint64        // connections handed out since the pool was created
	Waits    uint64        // acquisitions that found no idle connection and waited for one
	WaitTime time.Duration // total time acquisitions spent waiting
	Failures uint64        // acquisitions that timed out or were cancelled while waiting
}

// Pool metric names, labelled by function and pool (postgres, redis).
const (
	MetricPoolConnections    = "phoenix_pool_connections"
	MetricPoolMaxConnections = "phoenix_pool_max_connections"
	MetricPoolAcquires       = "phoenix_pool_acquires_total"
	MetricPoolWaits          = "phoenix_pool_acquire_waits_total"
	MetricPoolWaitSeconds    = "phoenix_pool_acquire_wait_seconds_total"
	MetricPoolFailures       = "phoenix_pool_acquire_failures_total"
)

// poolCollector reads a pool's statistics at scrape time, so nothing in the request path pays.
type poolCollector struct {
	stats    func() PoolStats  // reads the pool's current statistics
	conns    *prometheus.Desc  // phoenix_pool_connections{state}
	max      *prometheus.Desc  // phoenix_pool_max_connections
	acquires *prometheus.Desc  // phoenix_pool_acquires_total
	waits    *prometheus.Desc  // phoenix_pool_acquire_waits_total
	waitTime *prometheus.Desc  // phoenix_pool_acquire_wait_seconds_total
	failures *prometheus.Desc  // phoenix_pool_acquire_failures_total
	labels   prometheus.Labels // function and pool
}

// NewPoolCollector exports a connection pool's saturation for function: open connections by
// state (idle, in_use), the maximum, and counters of acquisitions, waits, time waited and failed
// acquisitions. pool names it (postgres, redis); stats is called on every scrape.
func NewPoolCollector(function, pool string, stats func() PoolStats) prometheus.Collector {
	l := prometheus.Labels{"function": function, "pool": pool}
	return &poolCollector{
		stats:    stats,
		labels:   l,
		conns:    prometheus.NewDesc(MetricPoolConnections, "Open pool connections by state (idle, in_use).", []string{"state"}, l),
		max:      prometheus.NewDesc(MetricPoolMaxConnections, "Connections the pool may open.", nil, l),
		acquires: prometheus.NewDesc(MetricPoolAcquires, "Connections handed out by the pool.", nil, l),
		waits:    prometheus.NewDesc(MetricPoolWaits, "Acquisitions that found no idle connection and waited.", nil, l),
		waitTime: prometheus.NewDesc(MetricPoolWaitSeconds, "Total time acquisitions spent waiting for a connection.", nil, l),
		failures: prometheus.NewDesc(MetricPoolFailures, "Acquisitions that timed out or were cancelled while waiting.", nil, l),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.conns, c.max, c.acquires, c.waits, c.waitTime, c.failures} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(s.Idle), "idle")
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(s.InUse), "in_use")
	ch <- prometheus.MustNewConstMetric(c.max, prometheus.GaugeValue, float64(s.Max))
	ch <- prometheus.MustNewConstMetric(c.acquires, prometheus.CounterValue, float64(s.Acquires))
	ch <- prometheus.MustNewConstMetric(c.waits, prometheus.CounterValue, float64(s.Waits))
	ch <- prometheus.MustNewConstMetric(c.waitTime, prometheus.CounterValue, s.WaitTime.Seconds())
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(s.Failures))
}

// Dependency metric names, labelled by function and dependency.
const (
	MetricDependencyUp       = "phoenix_dependency_up"
	MetricDependencyDuration = "phoenix_dependency_check_duration_seconds"
)

// dependencyCollector checks dependencies when scraped: the answer is as fresh as the scrape, and
// an idle scaled-down function makes no calls at all.
type dependencyCollector struct {
	checks   map[string]func(context.Context) error // dependency name -> a cheap liveness check (a ping)
	timeout  time.Duration                          // how long one scrape waits for the checks
	up       *prometheus.Desc                       // phoenix_dependency_up{dependency}
	duration *prometheus.Desc                       // phoenix_dependency_check_duration_seconds{dependency}
}

// NewDependencyCollector exports, for function, whether each dependency answered its check
// (phoenix_dependency_up, 1 or 0) and how long the check took. The checks run concurrently on
// every scrape, each bounded by timeout (a check still running then counts as down).
func NewDependencyCollector(function string, timeout time.Duration, checks map[string]func(context.Context) error) prometheus.Collector {
	l := prometheus.Labels{"function": function}
	return &dependencyCollector{
		checks:   checks,
		timeout:  timeout,
		up:       prometheus.NewDesc(MetricDependencyUp, "1 when the dependency answered its check at this scrape, else 0.", []string{"dependency"}, l),
		duration: prometheus.NewDesc(MetricDependencyDuration, "How long the dependency's check took at this scrape.", []string{"dependency"}, l),
	}
}

func (c *dependencyCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.duration
}

func (c *dependencyCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	var wg sync.WaitGroup
	for name, check := range c.checks {
		wg.Go(func() {
			start := time.Now()
			err := check(ctx)
			up := 1.0
			if err != nil {
				up = 0
			}
			ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, name)
			ch <- prometheus.MustNewConstMetric(c.duration, prometheus.GaugeValue, time.Since(start).Seconds(), name)
		})
	}
	wg.Wait()
}
