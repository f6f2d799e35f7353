package api

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
)

// The API's metric names; deploy/monitoring's rules and dashboards query them, and
// test/monitoring checks them against what the API really exports.
const (
	MetricExperiments    = "phoenix_experiments"
	MetricOldestInState  = "phoenix_experiment_oldest_in_state_seconds"
	MetricCensusFailures = "phoenix_experiments_census_failures_total"
)

// CensusTimeout bounds the census query of one scrape, well inside Prometheus's default 10 s
// scrape timeout: a slow database costs the scrape these two families, never the whole scrape.
const CensusTimeout = 2 * time.Second

// experimentsCollector counts every tenant's experiments by state when scraped, through the
// platform path (the platform_schedule policy: state and state_changed_at only). The values are
// as fresh as the scrape and an idle API runs no query between scrapes. Every API replica exports
// the same global values, so queries aggregate with max, not sum.
type experimentsCollector struct {
	store    *store.Store       // read through Platform
	timeout  time.Duration      // how long one scrape's query may take
	log      *slog.Logger       // where a failed census is reported
	count    *prometheus.Desc   // phoenix_experiments{state}
	oldest   *prometheus.Desc   // phoenix_experiment_oldest_in_state_seconds{state}
	failures prometheus.Counter // scrapes whose census failed (timed out, database down)
}

// newExperimentsCollector exports phoenix_experiments{state} for every state (0 when none is in
// it) and phoenix_experiment_oldest_in_state_seconds{state} for every state an experiment can
// still leave (0 when none is in it): in a terminal state the age only grows and means nothing.
// A census that fails or takes longer than timeout exports neither family for that scrape,
// only phoenix_experiments_census_failures_total, so no stale or made-up value is ever read.
func newExperimentsCollector(st *store.Store, timeout time.Duration, log *slog.Logger) *experimentsCollector {
	return &experimentsCollector{
		store:   st,
		timeout: timeout,
		log:     log,
		count: prometheus.NewDesc(MetricExperiments,
			"Experiments in each state, across tenants, read from PostgreSQL at scrape time.", []string{"state"}, nil),
		oldest: prometheus.NewDesc(MetricOldestInState,
			"How long the experiment that has been longest in each non-terminal state has been there (0 when none is), at scrape time.",
			[]string{"state"}, nil),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: MetricCensusFailures,
			Help: "Scrapes whose experiment census failed or timed out; phoenix_experiments is missing from those scrapes."}),
	}
}

func (c *experimentsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.count
	ch <- c.oldest
	c.failures.Describe(ch)
}

func (c *experimentsCollector) Collect(ch chan<- prometheus.Metric) {
	defer c.failures.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	var census []store.StateCensus
	err := c.store.Platform(ctx, func(tx *store.PlatformTx) (err error) {
		census, err = tx.ExperimentCensus(ctx)
		return err
	})
	if err != nil {
		c.failures.Inc()
		c.log.Warn("experiment census for /metrics failed", "err", err, "timeout", c.timeout.String())
		return
	}
	by := make(map[experiment.State]store.StateCensus, len(census))
	for _, s := range census {
		by[s.State] = s
	}
	for _, s := range experiment.States() {
		ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(by[s].Count), string(s))
		if !s.Terminal() {
			ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, by[s].Oldest.Seconds(), string(s))
		}
	}
}

// newRegistry is the API's own metrics registry, holding the experiment census; the runtime adds
// its request metrics and bootstrap the pool and dependency metrics.
func newRegistry(st *store.Store, log *slog.Logger) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(newExperimentsCollector(st, CensusTimeout, log)); err != nil {
		return nil, fmt.Errorf("api: register metrics: %w", err)
	}
	return reg, nil
}
