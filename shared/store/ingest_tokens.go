package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/phoenixotel/phoenix/shared/experiment"
)

// IngestScope is what one ingest token allows, together with the state of its experiment at the
// time of reading: the ingest function decides from it whether a request may write.
type IngestScope struct {
	TokenID           uuid.UUID          // the token's row
	ExperimentID      uuid.UUID          // the only experiment the token writes to
	Variant           experiment.Variant // the only variant the token writes to
	ExpiresAt         time.Time          // after this the token is refused
	Revoked           bool               // revoked, or its tenant suspended or its tokens revoked since: refused
	State             experiment.State   // the experiment's current state; only running accepts data
	CriticalProcesses []string           // the experiment's spec.critical_processes (RE2, matched whole)
	RunStartedAt      *time.Time         // when the run started, if it has
	Duration          time.Duration      // how long the run lasts
	Pipeline          PipelineChoice     // the variant's pipeline
	// Capture is the newest open capture of the experiment, for a baseline token: the ingest
	// function keeps the baseline's output in it until CaptureEnds.
	Capture     *uuid.UUID
	CaptureEnds time.Time
}

// CreateIngestToken stores the SHA-256 of a new ingest token for one variant of an experiment.
// ErrNotFound if the tenant has no such experiment.
func (tx *Tx) CreateIngestToken(ctx context.Context, experimentID uuid.UUID, variant experiment.Variant, sha256 []byte, expiresAt time.Time) (uuid.UUID, error) {
	if !variant.Valid() {
		return uuid.Nil, fmt.Errorf("ingest token for variant %q: %w", variant, ErrInvalid)
	}
	var id uuid.UUID
	err := tx.QueryRow(ctx, `INSERT INTO ingest_tokens (tenant_id, experiment_id, variant, token_sha256, expires_at)
		SELECT $1, e.id, $3, $4, $5 FROM experiments e WHERE e.tenant_id = $1 AND e.id = $2
		RETURNING id`, tx.tenant, experimentID, variant, sha256, expiresAt).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, fmt.Errorf("experiment %s: %w", experimentID, ErrNotFound)
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("store ingest token of %s/%s: %w", experimentID, variant, err)
	}
	return id, nil
}

// IngestScope reads the token with this SHA-256 and its experiment; ErrNotFound if the tenant has
// no such token.
func (tx *Tx) IngestScope(ctx context.Context, sha256 []byte) (IngestScope, error) {
	var s IngestScope
	var critical []byte
	var seconds int
	err := tx.QueryRow(ctx, `SELECT t.id, t.experiment_id, t.variant, t.expires_at,
			t.revoked_at IS NOT NULL OR n.status <> 'active' OR t.created_at < n.tokens_valid_after,
			e.state, coalesce(e.spec->'critical_processes', '[]'), e.run_started_at, e.duration_seconds,
			CASE t.variant WHEN 'baseline' THEN e.baseline ELSE e.candidate END, c.id, coalesce(c.ends_at, 'epoch')
		FROM ingest_tokens t JOIN experiments e ON e.tenant_id = t.tenant_id AND e.id = t.experiment_id
		JOIN tenants n ON n.id = t.tenant_id
		LEFT JOIN LATERAL (SELECT id, ends_at FROM captures c WHERE c.tenant_id = t.tenant_id AND c.experiment_id = t.experiment_id
			AND t.variant = 'baseline' AND now() < c.ends_at AND c.bytes < c.max_bytes ORDER BY c.created_at DESC LIMIT 1) c ON true
		WHERE t.tenant_id = $1 AND t.token_sha256 = $2`, tx.tenant, sha256).
		Scan(&s.TokenID, &s.ExperimentID, &s.Variant, &s.ExpiresAt, &s.Revoked, &s.State, &critical, &s.RunStartedAt, &seconds, &s.Pipeline,
			&s.Capture, &s.CaptureEnds)
	s, err = found(s, err, "ingest token")
	if err != nil {
		return IngestScope{}, err
	}
	if err := json.Unmarshal(critical, &s.CriticalProcesses); err != nil {
		return IngestScope{}, fmt.Errorf("critical processes of %s: %w", s.ExperimentID, err)
	}
	s.Duration = time.Duration(seconds) * time.Second
	return s, nil
}

// RevokeIngestTokens revokes every unrevoked ingest token of an experiment's variant (both
// variants when variant is empty) and returns how many it revoked.
func (tx *Tx) RevokeIngestTokens(ctx context.Context, experimentID uuid.UUID, variant experiment.Variant) (int64, error) {
	tag, err := tx.Exec(ctx, `UPDATE ingest_tokens SET revoked_at = now()
		WHERE tenant_id = $1 AND experiment_id = $2 AND ($3 = '' OR variant = $3) AND revoked_at IS NULL`,
		tx.tenant, experimentID, string(variant))
	if err != nil {
		return 0, fmt.Errorf("revoke ingest tokens of %s: %w", experimentID, err)
	}
	return tag.RowsAffected(), nil
}
