package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Look is one stored look of the analyzer at an experiment.
type Look struct {
	Kind      string          `json:"kind"`       // live, planned or extension
	Windows   int             `json:"windows"`    // paired windows at the look
	Verdict   string          `json:"verdict"`    // continue, or the verdict the look ended the run with
	Look      json.RawMessage `json:"look"`       // the look as the gateway streamed it
	CreatedAt time.Time       `json:"created_at"` // when it was taken
}

// SaveLook records a look caused by causeID; false when it is stored already, or when it is a live
// look at a number of windows already looked at (the other variant's window of the same pair, a
// window closed twice), which is kept as it was.
func (tx *Tx) SaveLook(ctx context.Context, experimentID uuid.UUID, causeID string, l Look) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO analysis_looks (tenant_id, experiment_id, kind, windows, cause_event_id, verdict, look)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		tx.tenant, experimentID, l.Kind, l.Windows, causeID, l.Verdict, l.Look)
	if err != nil {
		return false, fmt.Errorf("save look of %s: %w", experimentID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Looks reads an experiment's looks in the order they were taken (by windows, the due looks after
// the live one at the same count).
func (tx *Tx) Looks(ctx context.Context, experimentID uuid.UUID) ([]Look, error) {
	return collect(ctx, tx.Tx, fmt.Sprintf("read looks of %s", experimentID), func(r pgx.Row) (Look, error) {
		var l Look
		err := r.Scan(&l.Kind, &l.Windows, &l.Verdict, &l.Look, &l.CreatedAt)
		return l, err
	}, `SELECT kind, windows, verdict, look, created_at FROM analysis_looks
		WHERE tenant_id = $1 AND experiment_id = $2 ORDER BY windows, kind = 'live' DESC, created_at`, tx.tenant, experimentID)
}

// DueLooks counts the due looks (planned and extension) taken of an experiment.
func (tx *Tx) DueLooks(ctx context.Context, experimentID uuid.UUID) (int, error) {
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM analysis_looks
		WHERE tenant_id = $1 AND experiment_id = $2 AND kind <> 'live'`, tx.tenant, experimentID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count due looks of %s: %w", experimentID, err)
	}
	return n, nil
}
