package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// RevocationKind is what a tenant's revocation marker ends.
type RevocationKind string

// The kinds of tenant marker (the revocations.kind CHECK).
const (
	RevokedSession    RevocationKind = "session" // every token of one login session
	SubjectValidAfter RevocationKind = "subject" // a subject's tokens issued before an instant
	TenantValidAfter  RevocationKind = "tenant"  // the tenant's tokens issued before an instant
)

// Revocation is one durable marker of the transaction's tenant. Package revocation owns what the
// markers mean; the store only keeps them.
type Revocation struct {
	Kind       RevocationKind // what it ends
	Target     string         // the session id or the subject; empty for TenantValidAfter
	ValidAfter time.Time      // tokens issued before it are refused; zero for RevokedSession
	ExpiresAt  time.Time      // when no token it could refuse is left; the row may go then
}

// RevokedToken is one single access token revoked by its id.
type RevokedToken struct {
	ID        string    // the token's jti
	ExpiresAt time.Time // when the token, leeway included, has expired anyway
}

// pruneBatch bounds the expired rows one write deletes: pruning stays cheap on every write and
// still outpaces the one row each write adds.
const pruneBatch = 100

// RecordRevocation stores r, or strengthens the marker already there: a "valid after" instant
// only ever rises and an expiry only ever extends, so two revocations racing leave the later in
// force. It also deletes up to pruneBatch of the tenant's expired markers.
func (tx *Tx) RecordRevocation(ctx context.Context, r Revocation) error {
	var after *time.Time
	if r.Kind != RevokedSession {
		after = &r.ValidAfter
	}
	if _, err := tx.Exec(ctx, `INSERT INTO revocations (tenant_id, kind, target, valid_after, expires_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (tenant_id, kind, target) DO UPDATE
		SET valid_after = greatest(revocations.valid_after, excluded.valid_after),
		    expires_at = greatest(revocations.expires_at, excluded.expires_at)`,
		tx.tenant, string(r.Kind), r.Target, after, r.ExpiresAt); err != nil {
		return fmt.Errorf("record %s revocation %q: %w", r.Kind, r.Target, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM revocations WHERE tenant_id = $1 AND (kind, target) IN (
		SELECT kind, target FROM revocations WHERE tenant_id = $1 AND expires_at < now() LIMIT $2)`,
		tx.tenant, pruneBatch); err != nil {
		return fmt.Errorf("prune expired revocations: %w", err)
	}
	return nil
}

// LiveRevocations reads every marker of the tenant that has not expired.
func (tx *Tx) LiveRevocations(ctx context.Context) ([]Revocation, error) {
	rows, err := tx.Query(ctx, `SELECT kind, target, valid_after, expires_at
		FROM revocations WHERE tenant_id = $1 AND expires_at > now()`, tx.tenant)
	if err != nil {
		return nil, fmt.Errorf("read revocations: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Revocation, error) {
		var r Revocation
		var kind string
		var after *time.Time
		if err := row.Scan(&kind, &r.Target, &after, &r.ExpiresAt); err != nil {
			return Revocation{}, err
		}
		r.Kind = RevocationKind(kind)
		if after != nil {
			r.ValidAfter = *after
		}
		return r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read revocations: %w", err)
	}
	return out, nil
}

// RevokeAccessToken stores the revocation of one access token until expires, and deletes up to
// pruneBatch expired ones. The table is global (a jti names no tenant), so this runs with no
// tenant set; the table's policies let the runtime role add and read markers and delete only
// expired ones.
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, expires time.Time) error {
	err := s.Catalog(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2)
			ON CONFLICT (jti) DO NOTHING`, jti, expires); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM revoked_tokens WHERE jti IN (
			SELECT jti FROM revoked_tokens WHERE expires_at < now() LIMIT $1)`, pruneBatch)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke access token %s: %w", jti, err)
	}
	return nil
}

// RevokedAccessTokens reads every revoked access token that has not expired: as many as there
// were logouts within the longest token life.
func (s *Store) RevokedAccessTokens(ctx context.Context) ([]RevokedToken, error) {
	var out []RevokedToken
	err := s.Catalog(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > now()`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByPos[RevokedToken])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read revoked access tokens: %w", err)
	}
	return out, nil
}
