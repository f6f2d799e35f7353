package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// DeadLetter is an event the broker gave up delivering.
type DeadLetter struct {
	ID          uuid.UUID       `json:"id"`
	ReceivedAt  time.Time       `json:"received_at"`
	EventID     string          `json:"event_id"`
	EventType   string          `json:"event_type"`
	EventSource string          `json:"event_source"`
	ErrorDest   string          `json:"error_dest"`           // the subscriber that failed
	ErrorCode   *int            `json:"error_code,omitempty"` // its last HTTP status
	ErrorData   string          `json:"error_data,omitempty"` // the start of its last answer
	Event       json.RawMessage `json:"event"`                // the event, structured JSON
}

// AddDeadLetter records a dead letter; the same event failing at the same subscriber is kept once.
// The error text is a subscriber's answer, cut short by the broker: it is made storable the way
// audit strings are.
func (tx *Tx) AddDeadLetter(ctx context.Context, d DeadLetter) error {
	d.ErrorData = clean(d.ErrorData, 4096)
	_, err := tx.Exec(ctx, `INSERT INTO dead_letters (tenant_id, event_id, event_type, event_source, error_dest, error_code, error_data, event)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
		tx.tenant, d.EventID, d.EventType, d.EventSource, d.ErrorDest, d.ErrorCode, d.ErrorData, d.Event)
	if err != nil {
		return fmt.Errorf("record dead letter %s: %w", d.EventID, err)
	}
	return nil
}

// DeadLetters lists the tenant's dead letters, newest first.
func (tx *Tx) DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	return collect(ctx, tx.Tx, "list dead letters", func(r pgx.Row) (DeadLetter, error) {
		var d DeadLetter
		err := r.Scan(&d.ID, &d.ReceivedAt, &d.EventID, &d.EventType, &d.EventSource, &d.ErrorDest, &d.ErrorCode, &d.ErrorData, &d.Event)
		return d, err
	}, `SELECT id, received_at, event_id, event_type, event_source, error_dest, error_code, error_data, event
		FROM dead_letters WHERE tenant_id = $1 ORDER BY received_at DESC, id LIMIT $2`, tx.tenant, clampLimit(limit))
}
