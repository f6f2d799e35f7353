package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Recommendation is a pipeline proposed for a capture, with the preview behind it.
type Recommendation struct {
	ID           uuid.UUID       `json:"id"`
	CaptureID    *uuid.UUID      `json:"capture_id,omitempty"` // nil once the capture is deleted
	ExperimentID uuid.UUID       `json:"experiment_id"`        // whose baseline was captured
	Rank         int             `json:"rank"`                 // 1 saves the most
	Name         string          `json:"name"`
	Explanation  string          `json:"explanation"`
	Choice       PipelineChoice  `json:"choice"`  // the pipeline, as an experiment takes it
	Preview      json.RawMessage `json:"preview"` // the preview.Result that justified it
	CreatedBy    string          `json:"created_by"`
	CreatedAt    time.Time       `json:"created_at"`
}

const recommendationColumns = `id, capture_id, experiment_id, rank, name, explanation, choice, preview, created_by, created_at`

func scanRecommendation(row pgx.Row) (Recommendation, error) {
	var r Recommendation
	err := row.Scan(&r.ID, &r.CaptureID, &r.ExperimentID, &r.Rank, &r.Name, &r.Explanation, &r.Choice, &r.Preview, &r.CreatedBy, &r.CreatedAt)
	return r, err
}

// SaveRecommendation stores r (ID and CreatedAt are set by the store) and returns it as stored.
func (tx *Tx) SaveRecommendation(ctx context.Context, r Recommendation) (Recommendation, error) {
	saved, err := scanRecommendation(tx.QueryRow(ctx, `INSERT INTO recommendations
		(tenant_id, capture_id, experiment_id, rank, name, explanation, choice, preview, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING `+recommendationColumns,
		tx.tenant, r.CaptureID, r.ExperimentID, r.Rank, r.Name, r.Explanation, r.Choice, r.Preview, r.CreatedBy))
	if err != nil {
		return Recommendation{}, fmt.Errorf("save recommendation %q: %w", r.Name, err)
	}
	return saved, nil
}

// Recommendation reads one; ErrNotFound if the tenant has none by id.
func (tx *Tx) Recommendation(ctx context.Context, id uuid.UUID) (Recommendation, error) {
	r, err := scanRecommendation(tx.QueryRow(ctx, `SELECT `+recommendationColumns+` FROM recommendations
		WHERE tenant_id = $1 AND id = $2`, tx.tenant, id))
	return found(r, err, "recommendation")
}
