package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

const tenantColumns = `id, name, status, created_at`

func scanTenant(row pgx.Row) (Tenant, error) {
	var t Tenant
	err := row.Scan(&t.ID, &t.Name, &t.Status, &t.CreatedAt)
	return t, err
}

// TenantByID reads a tenant; ErrNotFound if there is none.
func (tx *PlatformTx) TenantByID(ctx context.Context, id uuid.UUID) (Tenant, error) {
	t, err := scanTenant(tx.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id))
	return found(t, err, fmt.Sprintf("tenant %s", id))
}

// Tenants lists tenants by name, limit at a time after the name after.
func (tx *PlatformTx) Tenants(ctx context.Context, limit int, after string) ([]Tenant, error) {
	return collect(ctx, tx.Tx, "list tenants", scanTenant, `SELECT `+tenantColumns+` FROM tenants WHERE name > $1 ORDER BY name LIMIT $2`,
		after, clampLimit(limit))
}

// SetTenantStatus suspends or resumes a tenant. Suspension also makes every token issued so far
// invalid; it returns that instant.
func (tx *PlatformTx) SetTenantStatus(ctx context.Context, id uuid.UUID, status string) (Tenant, time.Time, error) {
	var at time.Time
	var t Tenant
	err := tx.QueryRow(ctx, `UPDATE tenants SET status = $2, updated_at = now(),
		tokens_valid_after = CASE WHEN $2 = 'suspended' THEN now() ELSE tokens_valid_after END
		WHERE id = $1 RETURNING `+tenantColumns+`, tokens_valid_after`, id, status).
		Scan(&t.ID, &t.Name, &t.Status, &t.CreatedAt, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return Tenant{}, at, fmt.Errorf("tenant %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Tenant{}, at, fmt.Errorf("set status of tenant %s: %w", id, err)
	}
	return t, at, nil
}
