package store

import (
	"context"
	"encoding/json"
	"errors"
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

// AnalysisRecord is a stored analysis result.
type AnalysisRecord struct {
	ID        uuid.UUID       // primary key within the tenant
	Verdict   string          // promote, reject or inconclusive
	Report    json.RawMessage // the full report
	CreatedAt time.Time       // when it was computed
}

// SaveAnalysis stores the result of the analysis caused by causeID. The same cause stored twice
// returns the first result unchanged.
func (tx *Tx) SaveAnalysis(ctx context.Context, experimentID uuid.UUID, causeID, verdict string, report json.RawMessage) (AnalysisRecord, error) {
	var r AnalysisRecord
	err := tx.QueryRow(ctx, `INSERT INTO analysis_results (tenant_id, experiment_id, cause_event_id, verdict, report)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, experiment_id, cause_event_id) DO NOTHING
		RETURNING id, verdict, report, created_at`, tx.tenant, experimentID, causeID, verdict, report).
		Scan(&r.ID, &r.Verdict, &r.Report, &r.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		err = tx.QueryRow(ctx, `SELECT id, verdict, report, created_at FROM analysis_results
			WHERE tenant_id = $1 AND experiment_id = $2 AND cause_event_id = $3`, tx.tenant, experimentID, causeID).
			Scan(&r.ID, &r.Verdict, &r.Report, &r.CreatedAt)
	}
	if err != nil {
		return AnalysisRecord{}, fmt.Errorf("save analysis of %s: %w", experimentID, err)
	}
	return r, nil
}

// LatestAnalysis reads the most recent analysis of an experiment; ErrNotFound if there is none.
func (tx *Tx) LatestAnalysis(ctx context.Context, experimentID uuid.UUID) (AnalysisRecord, error) {
	var r AnalysisRecord
	err := tx.QueryRow(ctx, `SELECT id, verdict, report, created_at FROM analysis_results
		WHERE tenant_id = $1 AND experiment_id = $2 ORDER BY created_at DESC, id LIMIT 1`, tx.tenant, experimentID).
		Scan(&r.ID, &r.Verdict, &r.Report, &r.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return AnalysisRecord{}, fmt.Errorf("analysis of %s: %w", experimentID, ErrNotFound)
	}
	if err != nil {
		return AnalysisRecord{}, fmt.Errorf("read analysis of %s: %w", experimentID, err)
	}
	return r, nil
}
