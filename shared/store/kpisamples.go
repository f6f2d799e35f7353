package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/phoenixotel/phoenix/shared/experiment"
)

// KPISample is one KPI of one variant over one closed window.
type KPISample struct {
	Variant     experiment.Variant // baseline or candidate
	Metric      string             // e.g. series, datapoints_per_second
	WindowStart time.Time          // inclusive
	WindowEnd   time.Time          // exclusive
	Value       float64            // the KPI's value over the window
}

// AddKPISamples stores samples for an experiment; a window already stored is left as it was, so
// closing a window twice (a redelivered tick) changes nothing.
func (tx *Tx) AddKPISamples(ctx context.Context, experimentID uuid.UUID, samples []KPISample) error {
	batch := &pgx.Batch{}
	for _, s := range samples {
		batch.Queue(`INSERT INTO kpi_samples (tenant_id, experiment_id, variant, metric, window_start, window_end, value)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
			tx.tenant, experimentID, s.Variant, s.Metric, s.WindowStart, s.WindowEnd, s.Value)
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("store KPI samples of %s: %w", experimentID, err)
	}
	return nil
}

// KPISeries returns each metric's values per variant, in window order. The database assembles
// one array per variant and metric, read in the order of the covering index kpi_samples_series
// (an index-only scan, no sort): far fewer rows to decode than one per sample.
func (tx *Tx) KPISeries(ctx context.Context, experimentID uuid.UUID) (map[string]map[experiment.Variant][]float64, error) {
	rows, err := tx.Query(ctx, `SELECT variant, metric, array_agg(value) FROM (
			SELECT variant, metric, value FROM kpi_samples
			WHERE tenant_id = $1 AND experiment_id = $2 ORDER BY variant, metric, window_start) s
		GROUP BY variant, metric`, tx.tenant, experimentID)
	if err != nil {
		return nil, fmt.Errorf("read KPI samples of %s: %w", experimentID, err)
	}
	defer rows.Close()
	out := map[string]map[experiment.Variant][]float64{}
	for rows.Next() {
		var (
			variant experiment.Variant
			metric  string
			values  []float64
		)
		if err := rows.Scan(&variant, &metric, &values); err != nil {
			return nil, fmt.Errorf("read KPI samples of %s: %w", experimentID, err)
		}
		if out[metric] == nil {
			out[metric] = map[experiment.Variant][]float64{}
		}
		out[metric][variant] = values
	}
	return out, rows.Err()
}
