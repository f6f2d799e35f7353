package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/phoenixotel/phoenix/shared/experiment"
)

// Transition is one recorded move of an experiment between states.
type Transition struct {
	Seq         int64            `json:"seq"`
	From        experiment.State `json:"from"`
	To          experiment.State `json:"to"`
	CauseID     string           `json:"cause_event_id"`
	CauseSource string           `json:"cause_event_source"`
	Reason      string           `json:"reason"`
	At          time.Time        `json:"at"`
}

// Move changes an experiment from one state to another with compare-and-set on its current state
// and records the transition in the same transaction. It returns the transition's sequence number.
// The run starts when the experiment first enters running and ends each time it leaves it; a run
// extended after an analysis (analyzing → running) keeps its start and is open again, so the
// windows of the extension count, and its duration runs from the first start.
func (tx *Tx) Move(ctx context.Context, id uuid.UUID, from, to experiment.State, causeID, causeSource, reason string) (int64, error) {
	var seq int64
	err := tx.QueryRow(ctx, `UPDATE experiments
		SET state = $3, version = version + 1, state_changed_at = now(), updated_at = now(),
		    run_started_at = CASE WHEN $3 = 'running' THEN coalesce(run_started_at, now()) ELSE run_started_at END,
		    run_ended_at = CASE WHEN $4 = 'running' THEN now() WHEN $3 = 'running' THEN NULL ELSE run_ended_at END,
		    failure_reason = CASE WHEN $3 = 'failed' THEN $5 ELSE failure_reason END
		WHERE tenant_id = $1 AND id = $2 AND state = $4
		RETURNING version`, tx.tenant, id, to, from, reason).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("move experiment %s from %s to %s: %w", id, from, to, ErrStateChanged)
	}
	if err != nil {
		return 0, fmt.Errorf("move experiment %s: %w", id, err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO experiment_transitions
		(tenant_id, experiment_id, seq, from_state, to_state, cause_event_id, cause_event_source, reason)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, tx.tenant, id, seq, from, to, causeID, causeSource, reason)
	if err != nil {
		return 0, fmt.Errorf("record transition of %s: %w", id, err)
	}
	return seq, nil
}

// Transitions lists an experiment's transitions in order.
func (tx *Tx) Transitions(ctx context.Context, id uuid.UUID) ([]Transition, error) {
	return collect(ctx, tx.Tx, fmt.Sprintf("list transitions of %s", id), func(r pgx.Row) (Transition, error) {
		var t Transition
		err := r.Scan(&t.Seq, &t.From, &t.To, &t.CauseID, &t.CauseSource, &t.Reason, &t.At)
		return t, err
	}, `SELECT seq, from_state, to_state, cause_event_id, cause_event_source, reason, created_at
		FROM experiment_transitions WHERE tenant_id = $1 AND experiment_id = $2 ORDER BY seq`, tx.tenant, id)
}
