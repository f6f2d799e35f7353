package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ServiceAccount is a non-human caller of one tenant (an operator, a CI job).
type ServiceAccount struct {
	ID          uuid.UUID  `json:"id"`
	TenantID    uuid.UUID  `json:"tenant_id"`
	Name        string     `json:"name"`
	Permissions []string   `json:"permissions"` // "resource:action"
	DisabledAt  *time.Time `json:"disabled_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

// ServiceAccountSecret is one credential of a service account; several may be valid at once so
// that rotation can overlap.
type ServiceAccountSecret struct {
	ID        uuid.UUID  `json:"id"`
	Hash      []byte     `json:"-"` // SHA-256 of the secret; the secret itself is never stored
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

const saColumns = `id, tenant_id, name, permissions, disabled_at, created_at`

func scanSA(row pgx.Row) (ServiceAccount, error) {
	var a ServiceAccount
	err := row.Scan(&a.ID, &a.TenantID, &a.Name, &a.Permissions, &a.DisabledAt, &a.CreatedAt)
	return a, err
}

// CreateServiceAccount adds a service account; a taken name gives ErrConflict.
func (tx *Tx) CreateServiceAccount(ctx context.Context, name string, perms []string) (ServiceAccount, error) {
	a, err := scanSA(tx.QueryRow(ctx, `INSERT INTO service_accounts (tenant_id, name, permissions)
		VALUES ($1, $2, $3) RETURNING `+saColumns, tx.tenant, name, perms))
	if isUniqueViolation(err) {
		return ServiceAccount{}, fmt.Errorf("service account %q: %w", name, ErrConflict)
	}
	if err != nil {
		return ServiceAccount{}, fmt.Errorf("create service account %q: %w", name, err)
	}
	return a, nil
}

// ServiceAccount reads one service account; ErrNotFound if the tenant has none by id.
func (tx *Tx) ServiceAccount(ctx context.Context, id uuid.UUID) (ServiceAccount, error) {
	a, err := scanSA(tx.QueryRow(ctx, `SELECT `+saColumns+` FROM service_accounts WHERE tenant_id = $1 AND id = $2`, tx.tenant, id))
	return found(a, err, fmt.Sprintf("service account %s", id))
}

// ServiceAccounts lists the tenant's service accounts by name.
func (tx *Tx) ServiceAccounts(ctx context.Context) ([]ServiceAccount, error) {
	return collect(ctx, tx.Tx, "list service accounts", scanSA, `SELECT `+saColumns+` FROM service_accounts WHERE tenant_id = $1 ORDER BY name LIMIT 1000`, tx.tenant)
}

// DisableServiceAccount stops a service account from obtaining tokens.
func (tx *Tx) DisableServiceAccount(ctx context.Context, id uuid.UUID) (ServiceAccount, error) {
	a, err := scanSA(tx.QueryRow(ctx, `UPDATE service_accounts SET disabled_at = coalesce(disabled_at, now())
		WHERE tenant_id = $1 AND id = $2 RETURNING `+saColumns, tx.tenant, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return ServiceAccount{}, fmt.Errorf("service account %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return ServiceAccount{}, fmt.Errorf("disable service account %s: %w", id, err)
	}
	return a, nil
}

// AddServiceAccountSecret stores a new secret. When overlap is not nil, every other secret that
// is still valid expires overlap from now (rotation: the old secret keeps working meanwhile).
func (tx *Tx) AddServiceAccountSecret(ctx context.Context, saID, secretID uuid.UUID, hash []byte, overlap *time.Duration) error {
	if overlap != nil {
		if _, err := tx.Exec(ctx, `UPDATE service_account_secrets
			SET expires_at = least(coalesce(expires_at, 'infinity'), now() + make_interval(secs => $3))
			WHERE tenant_id = $1 AND service_account_id = $2 AND revoked_at IS NULL`,
			tx.tenant, saID, overlap.Seconds()); err != nil {
			return fmt.Errorf("expire older secrets of %s: %w", saID, err)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO service_account_secrets (tenant_id, id, service_account_id, secret_hash)
		VALUES ($1, $2, $3, $4)`, tx.tenant, secretID, saID, hash); err != nil {
		return fmt.Errorf("store secret of %s: %w", saID, err)
	}
	return nil
}

// ServiceAccountSecret reads one secret of a service account.
func (tx *Tx) ServiceAccountSecret(ctx context.Context, saID, secretID uuid.UUID) (ServiceAccountSecret, error) {
	var s ServiceAccountSecret
	err := tx.QueryRow(ctx, `SELECT id, secret_hash, created_at, expires_at, revoked_at FROM service_account_secrets
		WHERE tenant_id = $1 AND service_account_id = $2 AND id = $3`, tx.tenant, saID, secretID).
		Scan(&s.ID, &s.Hash, &s.CreatedAt, &s.ExpiresAt, &s.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return ServiceAccountSecret{}, fmt.Errorf("secret %s: %w", secretID, ErrNotFound)
	}
	if err != nil {
		return ServiceAccountSecret{}, fmt.Errorf("read secret %s: %w", secretID, err)
	}
	return s, nil
}

// ServiceAccountSecrets lists a service account's secrets, newest first (hashes omitted in JSON).
func (tx *Tx) ServiceAccountSecrets(ctx context.Context, saID uuid.UUID) ([]ServiceAccountSecret, error) {
	return collect(ctx, tx.Tx, fmt.Sprintf("list secrets of %s", saID), func(r pgx.Row) (ServiceAccountSecret, error) {
		var s ServiceAccountSecret
		err := r.Scan(&s.ID, &s.Hash, &s.CreatedAt, &s.ExpiresAt, &s.RevokedAt)
		return s, err
	}, `SELECT id, secret_hash, created_at, expires_at, revoked_at FROM service_account_secrets
		WHERE tenant_id = $1 AND service_account_id = $2 ORDER BY created_at DESC LIMIT 100`, tx.tenant, saID)
}

// RevokeServiceAccountSecret revokes one secret at once.
func (tx *Tx) RevokeServiceAccountSecret(ctx context.Context, saID, secretID uuid.UUID) error {
	tag, err := tx.Exec(ctx, `UPDATE service_account_secrets SET revoked_at = coalesce(revoked_at, now())
		WHERE tenant_id = $1 AND service_account_id = $2 AND id = $3`, tx.tenant, saID, secretID)
	if err != nil {
		return fmt.Errorf("revoke secret %s: %w", secretID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("secret %s: %w", secretID, ErrNotFound)
	}
	return nil
}
