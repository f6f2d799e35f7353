package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// MaxCaptures is how many captures a tenant keeps at once: each holds up to its max_bytes.
const MaxCaptures = 20

// Capture is a bounded sample of an experiment's baseline output (see migration 00016).
type Capture struct {
	ID           uuid.UUID `json:"id"`
	Name         string    `json:"name"`
	ExperimentID uuid.UUID `json:"experiment_id"`
	StartsAt     time.Time `json:"starts_at"`
	EndsAt       time.Time `json:"ends_at"`   // requests after this are not captured
	MaxBytes     int64     `json:"max_bytes"` // the bound on the bodies kept
	Bytes        int64     `json:"bytes"`     // the bodies kept so far
	Requests     int       `json:"requests"`  // requests kept
	Datapoints   int64     `json:"datapoints"`
	Dropped      int       `json:"dropped"` // requests that did not fit under MaxBytes
	CreatedBy    string    `json:"created_by"`
	CreatedAt    time.Time `json:"created_at"`
	ExpiresAt    time.Time `json:"expires_at"` // deleted after this
}

// NewCapture is what a caller supplies to open a capture.
type NewCapture struct {
	Name         string
	ExperimentID uuid.UUID
	Duration     time.Duration // how long it captures, from now
	MaxBytes     int64         // the bound on the bodies kept
	Retention    time.Duration // how long it is kept after it ends
	CreatedBy    string
}

const captureColumns = `id, name, experiment_id, starts_at, ends_at, max_bytes, bytes, requests, datapoints, dropped,
	created_by, created_at, expires_at`

func scanCapture(row pgx.Row) (Capture, error) {
	var c Capture
	err := row.Scan(&c.ID, &c.Name, &c.ExperimentID, &c.StartsAt, &c.EndsAt, &c.MaxBytes, &c.Bytes, &c.Requests, &c.Datapoints,
		&c.Dropped, &c.CreatedBy, &c.CreatedAt, &c.ExpiresAt)
	return c, err
}

// ErrLimit says the tenant holds as many of something as it may.
var ErrLimit = errors.New("limit reached")

// purgeCaptures deletes the tenant's captures past their retention. It runs whenever the tenant
// opens or lists captures: an expired capture is never served, and its rows go at the next touch.
func (tx *Tx) purgeCaptures(ctx context.Context) error {
	_, err := tx.Exec(ctx, `DELETE FROM captures WHERE tenant_id = $1 AND expires_at <= now()`, tx.tenant)
	return err
}

// CreateCapture opens a capture of an experiment's baseline output. ErrLimit when the tenant
// holds MaxCaptures already; ErrNotFound when it has no such experiment.
func (tx *Tx) CreateCapture(ctx context.Context, n NewCapture) (Capture, error) {
	if err := tx.purgeCaptures(ctx); err != nil {
		return Capture{}, fmt.Errorf("purge expired captures: %w", err)
	}
	var held int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM captures WHERE tenant_id = $1`, tx.tenant).Scan(&held); err != nil {
		return Capture{}, fmt.Errorf("count captures: %w", err)
	}
	if held >= MaxCaptures {
		return Capture{}, fmt.Errorf("%d captures held: %w", held, ErrLimit)
	}
	c, err := scanCapture(tx.QueryRow(ctx, `INSERT INTO captures (tenant_id, name, experiment_id, ends_at, max_bytes, created_by, expires_at)
		SELECT $1, $2, e.id, now() + $3 * interval '1 millisecond', $4, $5, now() + ($3 + $6) * interval '1 millisecond'
		FROM experiments e WHERE e.tenant_id = $1 AND e.id = $7
		RETURNING `+captureColumns, tx.tenant, n.Name, n.Duration.Milliseconds(), n.MaxBytes, n.CreatedBy, n.Retention.Milliseconds(), n.ExperimentID))
	return found(c, err, "experiment "+n.ExperimentID.String())
}

// Captures lists the tenant's captures, newest first.
func (tx *Tx) Captures(ctx context.Context) ([]Capture, error) {
	if err := tx.purgeCaptures(ctx); err != nil {
		return nil, fmt.Errorf("purge expired captures: %w", err)
	}
	return collect(ctx, tx.Tx, "list captures", scanCapture, `SELECT `+captureColumns+` FROM captures
		WHERE tenant_id = $1 ORDER BY created_at DESC, id`, tx.tenant)
}

// Capture reads one unexpired capture; ErrNotFound if the tenant has none by id.
func (tx *Tx) Capture(ctx context.Context, id uuid.UUID) (Capture, error) {
	c, err := scanCapture(tx.QueryRow(ctx, `SELECT `+captureColumns+` FROM captures
		WHERE tenant_id = $1 AND id = $2 AND expires_at > now()`, tx.tenant, id))
	return found(c, err, "capture")
}

// DeleteCapture deletes a capture and its data; ErrNotFound if the tenant has none by id.
func (tx *Tx) DeleteCapture(ctx context.Context, id uuid.UUID) error {
	tag, err := tx.Exec(ctx, `DELETE FROM captures WHERE tenant_id = $1 AND id = $2`, tx.tenant, id)
	if err != nil {
		return fmt.Errorf("delete capture %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("capture %s: %w", id, ErrNotFound)
	}
	return nil
}

// AppendCaptureChunk keeps body (an OTLP request, protobuf, holding datapoints) in an open
// capture, in arrival order. It reports false, and counts the request as dropped, when the
// capture has ended or body would take it past its bound.
func (tx *Tx) AppendCaptureChunk(ctx context.Context, id uuid.UUID, body []byte, datapoints int) (bool, error) {
	tag, err := tx.Exec(ctx, `WITH c AS (
			UPDATE captures SET bytes = bytes + $3, requests = requests + 1, datapoints = datapoints + $4
			WHERE tenant_id = $1 AND id = $2 AND now() < ends_at AND bytes + $3 <= max_bytes RETURNING requests)
		INSERT INTO capture_chunks (tenant_id, capture_id, seq, body) SELECT $1, $2, requests, $5 FROM c`,
		tx.tenant, id, len(body), datapoints, body)
	if err != nil {
		return false, fmt.Errorf("append to capture %s: %w", id, err)
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	if _, err := tx.Exec(ctx, `UPDATE captures SET dropped = dropped + 1 WHERE tenant_id = $1 AND id = $2 AND now() < ends_at`, tx.tenant, id); err != nil {
		return false, fmt.Errorf("count a request the capture %s dropped: %w", id, err)
	}
	return false, nil
}

// CaptureChunks calls fn with each chunk of a capture, in order.
func (tx *Tx) CaptureChunks(ctx context.Context, id uuid.UUID, fn func(body []byte) error) error {
	rows, err := tx.Query(ctx, `SELECT body FROM capture_chunks WHERE tenant_id = $1 AND capture_id = $2 ORDER BY seq`, tx.tenant, id)
	if err != nil {
		return fmt.Errorf("read capture %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return fmt.Errorf("read capture %s: %w", id, err)
		}
		if err := fn(body); err != nil {
			return err
		}
	}
	return rows.Err()
}

// State is "capturing" while the capture takes requests at now, else "complete".
func (c Capture) State(now time.Time) string {
	if now.Before(c.EndsAt) && c.Bytes < c.MaxBytes {
		return "capturing"
	}
	return "complete"
}
