package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const userColumns = `id, tenant_id, email, role, password_hash, disabled_at, created_at`

func scanUser(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.TenantID, &u.Email, &u.Role, &u.PasswordHash, &u.DisabledAt, &u.CreatedAt)
	return u, err
}

// User reads one user of the tenant; ErrNotFound if there is none by id.
func (tx *Tx) User(ctx context.Context, id uuid.UUID) (User, error) {
	u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE tenant_id = $1 AND id = $2`, tx.tenant, id))
	return found(u, err, fmt.Sprintf("user %s", id))
}

// Users lists the tenant's users, oldest first, limit at a time after the cursor.
func (tx *Tx) Users(ctx context.Context, limit int, after *Cursor) ([]User, error) {
	var at *time.Time
	var id *uuid.UUID
	if after != nil {
		at, id = &after.CreatedAt, &after.ID
	}
	return collect(ctx, tx.Tx, "list users", scanUser, `SELECT `+userColumns+` FROM users
		WHERE tenant_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid))
		ORDER BY created_at, id LIMIT $4`, tx.tenant, at, id, clampLimit(limit))
}

// DisableUser stops a user from logging in and makes every token issued so far invalid. It
// returns the user and the instant from which tokens are valid again (none, while disabled).
func (tx *Tx) DisableUser(ctx context.Context, id uuid.UUID) (User, time.Time, error) {
	var at time.Time
	u, err := scanUser(tx.QueryRow(ctx, `UPDATE users SET disabled_at = coalesce(disabled_at, now()),
		tokens_valid_after = now(), updated_at = now() WHERE tenant_id = $1 AND id = $2
		RETURNING `+userColumns, tx.tenant, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, at, fmt.Errorf("user %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return User{}, at, fmt.Errorf("disable user %s: %w", id, err)
	}
	err = tx.QueryRow(ctx, `SELECT tokens_valid_after FROM users WHERE tenant_id = $1 AND id = $2`, tx.tenant, id).Scan(&at)
	return u, at, err
}

// SetUserRole changes a user's role; tokens carrying the old role stop working.
func (tx *Tx) SetUserRole(ctx context.Context, id uuid.UUID, role string) (User, time.Time, error) {
	var at time.Time
	u, err := scanUser(tx.QueryRow(ctx, `UPDATE users SET role = $3, tokens_valid_after = now(), updated_at = now()
		WHERE tenant_id = $1 AND id = $2 RETURNING `+userColumns, tx.tenant, id, role))
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return User{}, at, fmt.Errorf("user %s: %w", id, ErrNotFound)
	case errors.As(err, &pgErr) && pgErr.Code == pgerrcode.ForeignKeyViolation:
		return User{}, at, fmt.Errorf("role %q: %w", role, ErrInvalid)
	case err != nil:
		return User{}, at, fmt.Errorf("change role of %s: %w", id, err)
	}
	err = tx.QueryRow(ctx, `SELECT tokens_valid_after FROM users WHERE tenant_id = $1 AND id = $2`, tx.tenant, id).Scan(&at)
	return u, at, err
}

// UserValidAfter is the instant before which the user's tokens are refused.
func (tx *Tx) UserValidAfter(ctx context.Context, id uuid.UUID) (time.Time, error) {
	var at time.Time
	err := tx.QueryRow(ctx, `SELECT tokens_valid_after FROM users WHERE tenant_id = $1 AND id = $2`, tx.tenant, id).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return at, fmt.Errorf("user %s: %w", id, ErrNotFound)
	}
	return at, err
}

func clampLimit(n int) int {
	if n <= 0 || n > 200 {
		return 50
	}
	return n
}

// SetPassword replaces a user's password hash, ends every session and makes every token issued
// so far invalid; it returns that instant.
func (tx *Tx) SetPassword(ctx context.Context, id uuid.UUID, hash string) (time.Time, error) {
	var at time.Time
	err := tx.QueryRow(ctx, `UPDATE users SET password_hash = $3, tokens_valid_after = now(), updated_at = now()
		WHERE tenant_id = $1 AND id = $2 RETURNING tokens_valid_after`, tx.tenant, id, hash).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return at, fmt.Errorf("user %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return at, fmt.Errorf("set password of %s: %w", id, err)
	}
	if _, err := tx.RevokeUserSessions(ctx, id, "password changed"); err != nil {
		return at, err
	}
	return at, nil
}

// LockUser reads a user and holds a share lock on the row until the transaction ends, so that a
// concurrent disable, role or password change waits for it (and then revokes what it issued).
func (tx *Tx) LockUser(ctx context.Context, id uuid.UUID) (User, error) {
	u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE tenant_id = $1 AND id = $2 FOR SHARE`, tx.tenant, id))
	return found(u, err, fmt.Sprintf("user %s", id))
}
