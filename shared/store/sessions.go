package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// RefreshRecord is a stored refresh token with what decides whether it may be exchanged.
type RefreshRecord struct {
	ID              uuid.UUID  // the token's id, carried in the opaque token
	FamilyID        uuid.UUID  // the login session it belongs to
	UserID          uuid.UUID  // whose session
	TokenHash       []byte     // SHA-256 of the token's secret part
	ExpiresAt       time.Time  // after this it is refused
	RotatedAt       *time.Time // set once exchanged; presenting it again is reuse
	FamilyRevokedAt *time.Time // set when the whole session was ended
}

// CreateSession starts a login session (a refresh-token family) for user with its first token.
func (tx *Tx) CreateSession(ctx context.Context, userID uuid.UUID, tokenID uuid.UUID, tokenHash []byte, expires time.Time) (uuid.UUID, error) {
	var family uuid.UUID
	if err := tx.QueryRow(ctx, `INSERT INTO refresh_token_families (tenant_id, user_id) VALUES ($1, $2) RETURNING id`,
		tx.tenant, userID).Scan(&family); err != nil {
		return uuid.Nil, fmt.Errorf("create session for %s: %w", userID, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (tenant_id, id, family_id, token_hash, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, tx.tenant, tokenID, family, tokenHash, expires); err != nil {
		return uuid.Nil, fmt.Errorf("store refresh token: %w", err)
	}
	return family, nil
}

// RefreshToken reads a refresh token and locks it until the transaction ends, so two concurrent
// exchanges of one token are serialized and the second sees it rotated.
func (tx *Tx) RefreshToken(ctx context.Context, id uuid.UUID) (RefreshRecord, error) {
	var r RefreshRecord
	err := tx.QueryRow(ctx, `SELECT t.id, t.family_id, f.user_id, t.token_hash, t.expires_at, t.rotated_at, f.revoked_at
		FROM refresh_tokens t JOIN refresh_token_families f ON f.tenant_id = t.tenant_id AND f.id = t.family_id
		WHERE t.tenant_id = $1 AND t.id = $2 FOR UPDATE OF t`, tx.tenant, id).
		Scan(&r.ID, &r.FamilyID, &r.UserID, &r.TokenHash, &r.ExpiresAt, &r.RotatedAt, &r.FamilyRevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return RefreshRecord{}, fmt.Errorf("refresh token %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return RefreshRecord{}, fmt.Errorf("read refresh token %s: %w", id, err)
	}
	return r, nil
}

// RotateRefreshToken marks old exchanged and stores its successor in the same family.
func (tx *Tx) RotateRefreshToken(ctx context.Context, old RefreshRecord, newID uuid.UUID, newHash []byte, expires time.Time) error {
	tag, err := tx.Exec(ctx, `UPDATE refresh_tokens SET rotated_at = now()
		WHERE tenant_id = $1 AND id = $2 AND rotated_at IS NULL`, tx.tenant, old.ID)
	if err != nil {
		return fmt.Errorf("rotate refresh token %s: %w", old.ID, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("rotate refresh token %s: %w", old.ID, ErrStateChanged)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (tenant_id, id, family_id, token_hash, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, tx.tenant, newID, old.FamilyID, newHash, expires); err != nil {
		return fmt.Errorf("store rotated refresh token: %w", err)
	}
	return nil
}

// RevokeSession ends a login session: none of its refresh tokens will be exchanged again.
func (tx *Tx) RevokeSession(ctx context.Context, familyID uuid.UUID, reason string) error {
	if _, err := tx.Exec(ctx, `UPDATE refresh_token_families SET revoked_at = now(), revoke_reason = $3
		WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL`, tx.tenant, familyID, reason); err != nil {
		return fmt.Errorf("revoke session %s: %w", familyID, err)
	}
	return nil
}

// RevokeUserSessions ends every session of a user and returns their ids.
func (tx *Tx) RevokeUserSessions(ctx context.Context, userID uuid.UUID, reason string) ([]uuid.UUID, error) {
	rows, err := tx.Query(ctx, `UPDATE refresh_token_families SET revoked_at = now(), revoke_reason = $3
		WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id`, tx.tenant, userID, reason)
	if err != nil {
		return nil, fmt.Errorf("revoke sessions of %s: %w", userID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("revoke sessions of %s: %w", userID, err)
	}
	return ids, nil
}

// RevokeAllSessions ends every login session of the tenant (tenant suspension).
func (tx *Tx) RevokeAllSessions(ctx context.Context, reason string) error {
	if _, err := tx.Exec(ctx, `UPDATE refresh_token_families SET revoked_at = now(), revoke_reason = $2
		WHERE tenant_id = $1 AND revoked_at IS NULL`, tx.tenant, reason); err != nil {
		return fmt.Errorf("revoke sessions of tenant %s: %w", tx.tenant, err)
	}
	return nil
}
