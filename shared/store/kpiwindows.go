// (Not kpi_windows.go: a _windows.go suffix is a GOOS build constraint.)

package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/phoenixotel/phoenix/shared/experiment"
)

// KPIWindow is one closed measurement window of one variant: the raw counts and the KPIs computed
// from them.
type KPIWindow struct {
	Variant          experiment.Variant `json:"variant"`                     // baseline or candidate
	WindowStart      time.Time          `json:"window_start"`                // inclusive
	WindowEnd        time.Time          `json:"window_end"`                  // exclusive
	Complete         bool               `json:"complete"`                    // the run spanned the whole window; only complete windows feed the analysis
	Series           int64              `json:"series"`                      // distinct series (metric name and every attribute, resource included)
	Datapoints       int64              `json:"datapoints"`                  // datapoints accepted
	PayloadBytes     int64              `json:"payload_bytes"`               // request bytes as received, of requests carrying pipeline output
	Requests         int64              `json:"requests"`                    // export requests accepted, self-telemetry included
	Rejected         int64              `json:"rejected_datapoints"`         // datapoints refused (identity not matching the token)
	CriticalCovered  []string           `json:"critical_covered"`            // critical process patterns seen in the output
	CriticalMissing  []string           `json:"critical_missing"`            // critical process patterns not seen
	CollectorCPU     *float64           `json:"collector_cpu"`               // CPU cores the variant's collectors used, nil without self-telemetry
	CollectorMemory  *float64           `json:"collector_memory"`            // resident bytes of the variant's collectors, nil without self-telemetry
	Collectors       int                `json:"collectors"`                  // collectors (by phoenix.collector, else service.instance.id) whose self-telemetry arrived
	IncompleteReason string             `json:"incomplete_reason,omitempty"` // why a window the run spanned is incomplete: its data is known to be partial
	ReceivedPoints   *int64             `json:"received_points"`             // points the variant's collectors' receivers accepted, before any processor; nil without a receiver interval
	ReceivedSeconds  *float64           `json:"received_seconds"`            // collector-seconds the receiver intervals span (received_points over it is the input rate); nil likewise
	RefusedPoints    *int64             `json:"refused_points"`              // points refused to their receivers; nil without a receiver interval
	Restarts         int                `json:"restarts"`                    // collector restarts seen in the window
	KPIs             map[string]float64 `json:"kpis"`                        // every KPI by name (shared/experiment Metrics)
	ClosedAt         time.Time          `json:"closed_at"`                   // when it was stored
}

// SaveKPIWindow stores a closed window and, when it is complete, its KPIs as kpi_samples for the
// analyzer, in this transaction. A window stored before is left as it was and SaveKPIWindow
// returns false: closing the same window twice (two replicas, a retry after a crash) has one
// effect.
func (tx *Tx) SaveKPIWindow(ctx context.Context, experimentID uuid.UUID, w KPIWindow) (bool, error) {
	kpis, err := json.Marshal(w.KPIs)
	if err != nil {
		return false, fmt.Errorf("encode KPIs: %w", err)
	}
	covered, missing := nonNil(w.CriticalCovered), nonNil(w.CriticalMissing)
	tag, err := tx.Exec(ctx, `INSERT INTO kpi_windows (tenant_id, experiment_id, variant, window_start, window_end, complete,
			series, datapoints, payload_bytes, requests, rejected_datapoints, critical_covered, critical_missing,
			collector_cpu, collector_memory, collectors, received_points, received_seconds, refused_points, restarts, kpis, incomplete_reason)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, NULLIF($22, '')) ON CONFLICT DO NOTHING`,
		tx.tenant, experimentID, w.Variant, w.WindowStart, w.WindowEnd, w.Complete, w.Series, w.Datapoints, w.PayloadBytes,
		w.Requests, w.Rejected, covered, missing, w.CollectorCPU, w.CollectorMemory, w.Collectors,
		w.ReceivedPoints, w.ReceivedSeconds, w.RefusedPoints, w.Restarts, kpis, w.IncompleteReason)
	if err != nil {
		return false, fmt.Errorf("store KPI window %s of %s/%s: %w", w.WindowStart.Format(time.RFC3339), experimentID, w.Variant, err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	// The variant delivered: the clock's liveness check (experiment.Due) reads this.
	if _, err := tx.Exec(ctx, `UPDATE experiments SET
			baseline_delivered_at = CASE WHEN $3 = 'baseline' THEN greatest(baseline_delivered_at, $4) ELSE baseline_delivered_at END,
			candidate_delivered_at = CASE WHEN $3 = 'candidate' THEN greatest(candidate_delivered_at, $4) ELSE candidate_delivered_at END
		WHERE tenant_id = $1 AND id = $2`, tx.tenant, experimentID, string(w.Variant), w.WindowEnd); err != nil {
		return false, fmt.Errorf("record the delivery of %s/%s: %w", experimentID, w.Variant, err)
	}
	if !w.Complete || len(w.KPIs) == 0 {
		return true, nil
	}
	samples := make([]KPISample, 0, len(w.KPIs))
	for m, v := range w.KPIs {
		samples = append(samples, KPISample{Variant: w.Variant, Metric: m, WindowStart: w.WindowStart, WindowEnd: w.WindowEnd, Value: v})
	}
	return true, tx.AddKPISamples(ctx, experimentID, samples)
}

// StoredBefore reports whether any window of the experiment was stored before t.
func (tx *Tx) StoredBefore(ctx context.Context, experimentID uuid.UUID, t time.Time) (bool, error) {
	var yes bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM kpi_windows WHERE tenant_id = $1 AND experiment_id = $2 AND closed_at < $3)`,
		tx.tenant, experimentID, t).Scan(&yes); err != nil {
		return false, fmt.Errorf("read the windows of %s stored before %s: %w", experimentID, t.Format(time.RFC3339), err)
	}
	return yes, nil
}

// MarkWindowIncomplete records that a stored window's data is partial after all: it is no longer
// complete, it says why (a reason it had stays), and its KPI samples go, so the analysis leaves it
// out from the next look on. A window that was not stored is left alone.
func (tx *Tx) MarkWindowIncomplete(ctx context.Context, experimentID uuid.UUID, v experiment.Variant, start time.Time, reason string) error {
	tag, err := tx.Exec(ctx, `UPDATE kpi_windows SET complete = false, incomplete_reason = coalesce(incomplete_reason, $5)
		WHERE tenant_id = $1 AND experiment_id = $2 AND variant = $3 AND window_start = $4`, tx.tenant, experimentID, string(v), start, reason)
	if err != nil {
		return fmt.Errorf("mark KPI window %s of %s/%s incomplete: %w", start.Format(time.RFC3339), experimentID, v, err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `DELETE FROM kpi_samples WHERE tenant_id = $1 AND experiment_id = $2 AND variant = $3 AND window_start = $4`,
		tx.tenant, experimentID, string(v), start); err != nil {
		return fmt.Errorf("drop the KPI samples of window %s of %s/%s: %w", start.Format(time.RFC3339), experimentID, v, err)
	}
	return nil
}

// KPIFilter selects windows of an experiment; zero values select everything.
type KPIFilter struct {
	Variant experiment.Variant // one variant, or both when empty
	From    time.Time          // windows starting at or after this
	To      time.Time          // windows ending at or before this
	Limit   int                // at most this many, oldest first; 0 means 10000
}

// KPIWindows reads the closed windows of an experiment, oldest first.
func (tx *Tx) KPIWindows(ctx context.Context, experimentID uuid.UUID, f KPIFilter) ([]KPIWindow, error) {
	if f.Limit <= 0 {
		f.Limit = 10000
	}
	var from, to *time.Time
	if !f.From.IsZero() {
		from = &f.From
	}
	if !f.To.IsZero() {
		to = &f.To
	}
	rows, err := tx.Query(ctx, `SELECT variant, window_start, window_end, complete, series, datapoints, payload_bytes,
			requests, rejected_datapoints, critical_covered, critical_missing, collector_cpu, collector_memory, collectors,
			received_points, received_seconds, refused_points, restarts, kpis, closed_at, coalesce(incomplete_reason, '')
		FROM kpi_windows WHERE tenant_id = $1 AND experiment_id = $2 AND ($3 = '' OR variant = $3)
		  AND ($4::timestamptz IS NULL OR window_start >= $4) AND ($5::timestamptz IS NULL OR window_end <= $5)
		ORDER BY window_start, variant LIMIT $6`, tx.tenant, experimentID, string(f.Variant), from, to, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("read KPI windows of %s: %w", experimentID, err)
	}
	// A window whose KPIs do not decode is reported as such, not as a failed read.
	var decodeErr error
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (KPIWindow, error) {
		var w KPIWindow
		var kpis []byte
		if err := r.Scan(&w.Variant, &w.WindowStart, &w.WindowEnd, &w.Complete, &w.Series, &w.Datapoints, &w.PayloadBytes,
			&w.Requests, &w.Rejected, &w.CriticalCovered, &w.CriticalMissing, &w.CollectorCPU, &w.CollectorMemory,
			&w.Collectors, &w.ReceivedPoints, &w.ReceivedSeconds, &w.RefusedPoints, &w.Restarts, &kpis, &w.ClosedAt, &w.IncompleteReason); err != nil {
			return w, err
		}
		if err := json.Unmarshal(kpis, &w.KPIs); err != nil {
			decodeErr = fmt.Errorf("KPIs of a window of %s: %w", experimentID, err)
			return w, decodeErr
		}
		return w, nil
	})
	if decodeErr != nil {
		return nil, decodeErr
	}
	if err != nil {
		return nil, fmt.Errorf("read KPI windows of %s: %w", experimentID, err)
	}
	return out, nil
}

// nonNil turns a nil list into an empty one, which the column's NOT NULL accepts.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
