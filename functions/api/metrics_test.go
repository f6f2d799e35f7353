package api

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/monitoring/promtest"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

func censusRegistry(t *testing.T, st *store.Store, timeout time.Duration) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(newExperimentsCollector(st, timeout, slog.New(slog.DiscardHandler))); err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestExperimentsCollector_CountsEveryTenantsExperimentsByState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.Migrated(t)
	st := db.AppStore(t, store.Options{})
	reg := censusRegistry(t, st, CensusTimeout)

	// No experiment yet: every state is exported as zero, so the family exists from the start.
	for _, s := range experiment.States() {
		if got := promtest.Value(t, reg, MetricExperiments, promtest.Labels{"state": string(s)}); got != 0 {
			t.Errorf("empty database: %s = %g", s, got)
		}
	}
	if got := len(promtest.Series(t, reg, MetricOldestInState)); got != 6 {
		t.Errorf("%d oldest-in-state series, want one per non-terminal state (6)", got)
	}

	// Two tenants; states and ages set as the owner would find them after real moves.
	acme, globex := pgtest.Tenant(t, st, "acme"), pgtest.Tenant(t, st, "globex")
	owner, err := pgx.Connect(ctx, db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)
	place := []struct {
		tenant bool // acme (true) or globex
		state  experiment.State
		age    time.Duration
	}{
		{true, experiment.Running, 30 * time.Minute},
		{false, experiment.Running, 2 * time.Hour},
		{false, experiment.Running, time.Minute},
		{true, experiment.Generating, 20 * time.Minute},
		{true, experiment.Failed, 48 * time.Hour},
		{false, experiment.Pending, 0},
	}
	for _, p := range place {
		tenant := globex
		if p.tenant {
			tenant = acme
		}
		id := pgtest.Experiment(t, st, tenant)
		if _, err := owner.Exec(ctx, `UPDATE experiments SET state = $2, state_changed_at = now() - make_interval(secs => $3) WHERE id = $1`,
			id, string(p.state), p.age.Seconds()); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		state  experiment.State
		count  float64
		oldest time.Duration // -1: not exported (terminal)
	}{
		{experiment.Pending, 1, 0},
		{experiment.Generating, 1, 20 * time.Minute},
		{experiment.Deploying, 0, 0},
		{experiment.Running, 3, 2 * time.Hour},
		{experiment.Analyzing, 0, 0},
		{experiment.Completed, 0, 0},
		{experiment.Failed, 1, -1},
		{experiment.Cancelled, 0, -1},
		{experiment.Promoted, 0, -1},
		{experiment.RolledBack, 0, -1},
	}
	for _, tt := range tests {
		t.Run(string(tt.state), func(t *testing.T) {
			if got := promtest.Value(t, reg, MetricExperiments, promtest.Labels{"state": string(tt.state)}); got != tt.count {
				t.Errorf("count %g, want %g", got, tt.count)
			}
			if tt.oldest < 0 {
				for _, s := range promtest.Series(t, reg, MetricOldestInState) {
					if s == `state="`+string(tt.state)+`"` {
						t.Errorf("a terminal state's age is exported")
					}
				}
				return
			}
			got := promtest.Value(t, reg, MetricOldestInState, promtest.Labels{"state": string(tt.state)})
			// The database's clock moves on between the update and the scrape: allow a minute.
			if got < tt.oldest.Seconds() || got > tt.oldest.Seconds()+60 {
				t.Errorf("oldest %g s, want %g s", got, tt.oldest.Seconds())
			}
		})
	}
	if got := promtest.Value(t, reg, MetricCensusFailures, nil); got != 0 {
		t.Errorf("%g failed censuses", got)
	}
}

func TestExperimentsCollector_AFailedCensusExportsNoValues(t *testing.T) {
	t.Parallel()
	unreachable, err := store.Open("postgres://phoenix_app@127.0.0.1:1/phoenix?sslmode=disable&connect_timeout=1", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unreachable.Close)
	tests := []struct {
		name    string
		st      *store.Store
		timeout time.Duration
	}{
		{"database unreachable", unreachable, CensusTimeout},
		{"query slower than the timeout", pgtest.Migrated(t).AppStore(t, store.Options{}), time.Nanosecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := censusRegistry(t, tt.st, tt.timeout)
			for scrape := 1; scrape <= 2; scrape++ {
				if n := len(promtest.Series(t, reg, MetricExperiments)) + len(promtest.Series(t, reg, MetricOldestInState)); n != 0 {
					t.Fatalf("%d series exported from a failed census", n)
				}
			}
			// Every gather runs a census: the four above and the one reading the counter.
			if got := promtest.Value(t, reg, MetricCensusFailures, nil); got != 5 {
				t.Fatalf("failures %g, want 5 (one per scrape)", got)
			}
		})
	}
}

func TestService_ExportsTheCensus(t *testing.T) {
	t.Parallel()
	st := pgtest.Migrated(t).AppStore(t, store.Options{})
	reg, err := newRegistry(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(promtest.Series(t, reg, MetricExperiments)); n != len(experiment.States()) {
		t.Fatalf("%d series, want one per state", n)
	}
}
