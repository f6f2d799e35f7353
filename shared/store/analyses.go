package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

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
