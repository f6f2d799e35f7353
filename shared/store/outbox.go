package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Enqueue writes an event to the outbox in this transaction; Outbox drains it after the commit.
func (tx *Tx) Enqueue(ctx context.Context, event json.RawMessage) error {
	if _, err := tx.Exec(ctx, `INSERT INTO outbox (tenant_id, event) VALUES ($1, $2)`, tx.tenant, event); err != nil {
		return fmt.Errorf("enqueue follow-up: %w", err)
	}
	return nil
}

// OutboxItem is an event waiting to be sent.
type OutboxItem struct {
	TenantID uuid.UUID       // whose event
	ID       uuid.UUID       // the outbox row
	Event    json.RawMessage // structured CloudEvent JSON
}

// DrainOutbox hands up to limit unsent events, oldest first and across tenants, to send, and
// marks each sent once send returns nil. It stops at the first failure: that row and the rest stay
// for the next drain. Rows are locked while being sent (SKIP LOCKED), so replicas draining at once
// never send one twice.
func (s *Store) DrainOutbox(ctx context.Context, limit int, send func(OutboxItem) error) (int, error) {
	sent := 0
	err := s.Platform(ctx, func(tx *PlatformTx) error {
		rows, err := tx.Query(ctx, `SELECT tenant_id, id, event FROM outbox WHERE sent_at IS NULL
			ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED`, limit)
		if err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxItem, error) {
			var it OutboxItem
			err := r.Scan(&it.TenantID, &it.ID, &it.Event)
			return it, err
		})
		if err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		for _, it := range items {
			if err := send(it); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE outbox SET sent_at = now() WHERE tenant_id = $1 AND id = $2`, it.TenantID, it.ID); err != nil {
				return fmt.Errorf("mark outbox row sent: %w", err)
			}
			sent++
		}
		return nil
	})
	return sent, err
}
