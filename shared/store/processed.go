package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Processed is what a consumer recorded for an event it handled before.
type Processed struct {
	Outcome string          // applied, ignored or rejected
	Reply   json.RawMessage // what the consumer recorded with the outcome (its result), nil if none
}

// ClaimEvent records that consumer is handling the event (source, id) in this transaction. If the
// event was handled before it returns the earlier record and first=false: the caller must not
// apply it again and answers with the recorded reply. A concurrent delivery of the same event
// waits on the primary key until this transaction ends, then sees it as handled.
func (tx *Tx) ClaimEvent(ctx context.Context, consumer, source, id, typ string) (first bool, prev Processed, err error) {
	tag, err := tx.Exec(ctx, `INSERT INTO processed_events (tenant_id, consumer, source, event_id, event_type, outcome)
		VALUES ($1, $2, $3, $4, $5, 'applied') ON CONFLICT DO NOTHING`, tx.tenant, consumer, source, id, typ)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.ForeignKeyViolation {
		return false, Processed{}, fmt.Errorf("tenant %s: %w", tx.tenant, ErrUnknownTenant)
	}
	if err != nil {
		return false, Processed{}, fmt.Errorf("claim event %s/%s: %w", source, id, err)
	}
	if tag.RowsAffected() == 1 {
		return true, Processed{}, nil
	}
	err = tx.QueryRow(ctx, `SELECT outcome, reply FROM processed_events
		WHERE tenant_id = $1 AND consumer = $2 AND source = $3 AND event_id = $4`,
		tx.tenant, consumer, source, id).Scan(&prev.Outcome, &prev.Reply)
	if err != nil {
		return false, Processed{}, fmt.Errorf("read processed event %s/%s: %w", source, id, err)
	}
	return false, prev, nil
}

// FinishEvent stores the outcome and reply of an event claimed in this transaction.
func (tx *Tx) FinishEvent(ctx context.Context, consumer, source, id, outcome string, reply json.RawMessage) error {
	_, err := tx.Exec(ctx, `UPDATE processed_events SET outcome = $5, reply = $6
		WHERE tenant_id = $1 AND consumer = $2 AND source = $3 AND event_id = $4`,
		tx.tenant, consumer, source, id, outcome, reply)
	if err != nil {
		return fmt.Errorf("record outcome of event %s/%s: %w", source, id, err)
	}
	return nil
}

// Nested runs fn inside a savepoint of tx: if fn fails, only its own writes are undone and the
// transaction goes on (a consumer records a rejected event without keeping half its effects).
func (tx *Tx) Nested(ctx context.Context, fn func(*Tx) error) error {
	return pgx.BeginFunc(ctx, tx.Tx, func(sp pgx.Tx) error { return fn(&Tx{Tx: sp, tenant: tx.tenant}) })
}
