package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/phoenixotel/phoenix/shared/experiment"
)

// StateCensus is how many experiments, across tenants, are in one state, and how long the one
// that entered it first has been there.
type StateCensus struct {
	State  experiment.State // the state
	Count  int64            // experiments in it
	Oldest time.Duration    // time since the earliest of them entered it, by the database's clock
}

// ExperimentCensus counts every tenant's experiments by state, for the API's gauges. It reads
// only state and state_changed_at, columns the platform_schedule policy already lets the platform
// role read (no names, pipelines or results), and only states that have experiments are listed.
// The database's clock measures the ages, so replicas with skewed clocks agree.
func (tx *PlatformTx) ExperimentCensus(ctx context.Context) ([]StateCensus, error) {
	return collect(ctx, tx.Tx, "count experiments by state", func(r pgx.Row) (StateCensus, error) {
		var c StateCensus
		var secs float64
		if err := r.Scan(&c.State, &c.Count, &secs); err != nil {
			return c, err
		}
		c.Oldest = time.Duration(max(secs, 0) * float64(time.Second))
		return c, nil
	}, `SELECT state, count(*), extract(epoch FROM now() - min(state_changed_at))::float8
		FROM experiments GROUP BY state`)
}
