package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/phoenixotel/phoenix/shared/analysis"
)

// PairedSeries is one metric's KPI values of the windows complete for both variants, in window
// order: Baseline[i] and Candidate[i] come from the same window.
type PairedSeries struct {
	Metric    string
	Baseline  []float64
	Candidate []float64
	Unpaired  int // complete windows of one variant with no complete twin for this metric
}

// PairedKPIs reads every metric's paired values. The database pairs the two variants' samples by
// window start with a merge join on the covering index kpi_samples_series (both sides arrive in
// (metric, window_start) order) and returns one pair of arrays per metric. Unpaired counts each
// metric's samples without a twin.
func (tx *Tx) PairedKPIs(ctx context.Context, experimentID uuid.UUID) (map[string]PairedSeries, error) {
	out, err := tx.paired(ctx, experimentID, nil)
	if err != nil {
		return nil, err
	}
	counts, err := tx.Query(ctx, `SELECT metric, count(*) FROM kpi_samples
		WHERE tenant_id = $1 AND experiment_id = $2 GROUP BY metric`, tx.tenant, experimentID)
	if err != nil {
		return nil, fmt.Errorf("count KPI samples of %s: %w", experimentID, err)
	}
	defer counts.Close()
	for counts.Next() {
		var metric string
		var n int
		if err := counts.Scan(&metric, &n); err != nil {
			return nil, fmt.Errorf("count KPI samples of %s: %w", experimentID, err)
		}
		s := out[metric]
		s.Metric = metric
		s.Unpaired = n - 2*len(s.Baseline)
		out[metric] = s
	}
	return out, counts.Err()
}

// PairedMetrics reads the paired values of the named metrics, as PairedKPIs does for all of
// them, without the count of unpaired samples.
func (tx *Tx) PairedMetrics(ctx context.Context, experimentID uuid.UUID, metrics []string) (map[string]PairedSeries, error) {
	return tx.paired(ctx, experimentID, metrics)
}

// paired reads the paired values of the named metrics, or of every metric when metrics is nil.
func (tx *Tx) paired(ctx context.Context, experimentID uuid.UUID, metrics []string) (map[string]PairedSeries, error) {
	rows, err := tx.Query(ctx, `SELECT metric, array_agg(b), array_agg(c) FROM (
			SELECT b.metric, b.value AS b, c.value AS c FROM kpi_samples b
			JOIN kpi_samples c ON c.tenant_id = b.tenant_id AND c.experiment_id = b.experiment_id
				AND c.variant = 'candidate' AND c.metric = b.metric AND c.window_start = b.window_start
			WHERE b.tenant_id = $1 AND b.experiment_id = $2 AND b.variant = 'baseline' AND ($3::text[] IS NULL OR b.metric = ANY($3))
			ORDER BY b.metric, b.window_start) p
		GROUP BY metric`, tx.tenant, experimentID, metrics)
	if err != nil {
		return nil, fmt.Errorf("read paired KPIs of %s: %w", experimentID, err)
	}
	defer rows.Close()
	out := map[string]PairedSeries{}
	for rows.Next() {
		var s PairedSeries
		if err := rows.Scan(&s.Metric, &s.Baseline, &s.Candidate); err != nil {
			return nil, fmt.Errorf("read paired KPIs of %s: %w", experimentID, err)
		}
		out[s.Metric] = s
	}
	return out, rows.Err()
}

// MeasuredMetrics names the KPIs of the newest complete window of either variant: what the
// collectors' output gives to decide on.
func (tx *Tx) MeasuredMetrics(ctx context.Context, experimentID uuid.UUID) ([]string, error) {
	var names []string
	err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(k ORDER BY k), '{}') FROM (
			SELECT DISTINCT jsonb_object_keys(kpis) AS k FROM (
				SELECT kpis FROM kpi_windows WHERE tenant_id = $1 AND experiment_id = $2 AND complete
				ORDER BY window_start DESC LIMIT 2) w) n`, tx.tenant, experimentID).Scan(&names)
	if err != nil {
		return nil, fmt.Errorf("read measured KPIs of %s: %w", experimentID, err)
	}
	return names, nil
}

// CoverageGaps reads the windows complete for both variants in which the candidate's output lacked
// some critical process, with what each variant covered: the only windows that can hold a miss
// (analysis.CheckCoverage decides which are).
func (tx *Tx) CoverageGaps(ctx context.Context, experimentID uuid.UUID) ([]analysis.CoverageWindow, error) {
	rows, err := tx.Query(ctx, `SELECT c.window_start, b.critical_covered, c.critical_covered
		FROM kpi_windows c JOIN kpi_windows b ON b.tenant_id = c.tenant_id AND b.experiment_id = c.experiment_id
			AND b.variant = 'baseline' AND b.window_start = c.window_start AND b.complete
		WHERE c.tenant_id = $1 AND c.experiment_id = $2 AND c.variant = 'candidate' AND c.complete
			AND cardinality(c.critical_missing) > 0
		ORDER BY c.window_start`, tx.tenant, experimentID)
	if err != nil {
		return nil, fmt.Errorf("read coverage of %s: %w", experimentID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (analysis.CoverageWindow, error) {
		var w analysis.CoverageWindow
		var start time.Time
		if err := r.Scan(&start, &w.Baseline, &w.Candidate); err != nil {
			return w, err
		}
		w.Start = start.UTC()
		return w, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read coverage of %s: %w", experimentID, err)
	}
	return out, nil
}

// InputParity reads what each variant's collectors received, for the input-parity check: per
// variant the complete windows it delivered, of those the ones with receiver telemetry and the
// points their receivers accepted and refused, and the restarts over the whole run. One pass over
// the covering index kpi_windows_parity, no join: the check compares points per reporting window,
// so it needs no pairing.
func (tx *Tx) InputParity(ctx context.Context, experimentID uuid.UUID) (analysis.ParityInput, error) {
	var p analysis.ParityInput
	rows, err := tx.Query(ctx, `SELECT variant, count(*) FILTER (WHERE complete),
			count(received_points) FILTER (WHERE complete),
			coalesce(sum(received_points) FILTER (WHERE complete), 0),
			coalesce(sum(received_seconds) FILTER (WHERE complete AND received_points IS NOT NULL), 0),
			coalesce(sum(refused_points) FILTER (WHERE complete), 0),
			coalesce(sum(restarts), 0)
		FROM kpi_windows WHERE tenant_id = $1 AND experiment_id = $2
		GROUP BY variant`, tx.tenant, experimentID)
	if err != nil {
		return p, fmt.Errorf("read input parity of %s: %w", experimentID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var variant string
		var r analysis.Received
		if err := rows.Scan(&variant, &r.Windows, &r.Reported, &r.Accepted, &r.Seconds, &r.Refused, &r.Restarts); err != nil {
			return p, fmt.Errorf("read input parity of %s: %w", experimentID, err)
		}
		if variant == "baseline" {
			p.Baseline = r
		} else {
			p.Candidate = r
		}
	}
	return p, rows.Err()
}
