package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Tenant is one customer of the platform.
type Tenant struct {
	ID        uuid.UUID `json:"id"`         // primary key, the value of app.tenant_id in its transactions
	Name      string    `json:"name"`       // unique, DNS-label-like; users log in with it
	Status    string    `json:"status"`     // active or suspended
	CreatedAt time.Time `json:"created_at"` // when it was created
}

// tenantName mirrors the tenants.name CHECK so that callers get a clear message, not a 23514.
var tenantName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$`)

// ValidateTenantName explains what is wrong with a tenant name, or returns nil.
func ValidateTenantName(name string) error {
	if !tenantName.MatchString(name) {
		return fmt.Errorf("tenant name %q is invalid: use 2-63 lowercase letters, digits and '-', starting and ending with a letter or digit", name)
	}
	return nil
}

// CreateTenant adds a tenant. A taken name gives ErrConflict.
func (tx *PlatformTx) CreateTenant(ctx context.Context, name string) (Tenant, error) {
	if err := ValidateTenantName(name); err != nil {
		return Tenant{}, err
	}
	var t Tenant
	err := tx.QueryRow(ctx, `INSERT INTO tenants (name) VALUES ($1)
		RETURNING id, name, status, created_at`, name).Scan(&t.ID, &t.Name, &t.Status, &t.CreatedAt)
	if isUniqueViolation(err) {
		return Tenant{}, fmt.Errorf("tenant %q: %w", name, ErrConflict)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("create tenant %q: %w", name, err)
	}
	return t, nil
}

// TenantByName finds a tenant by its name; ErrNotFound if there is none.
func (tx *PlatformTx) TenantByName(ctx context.Context, name string) (Tenant, error) {
	var t Tenant
	err := tx.QueryRow(ctx, `SELECT id, name, status, created_at FROM tenants WHERE name = $1`, name).
		Scan(&t.ID, &t.Name, &t.Status, &t.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Tenant{}, fmt.Errorf("tenant %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("find tenant %q: %w", name, err)
	}
	return t, nil
}

// Tenant reads the transaction's own tenant row (the only one its policy admits).
func (tx *Tx) Tenant(ctx context.Context) (Tenant, error) {
	var t Tenant
	err := tx.QueryRow(ctx, `SELECT id, name, status, created_at FROM tenants WHERE id = $1`, tx.tenant).
		Scan(&t.ID, &t.Name, &t.Status, &t.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Tenant{}, fmt.Errorf("tenant %s: %w", tx.tenant, ErrNotFound)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("read tenant %s: %w", tx.tenant, err)
	}
	return t, nil
}
