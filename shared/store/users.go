package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// User is a person who logs in to one tenant.
type User struct {
	ID           uuid.UUID  // primary key within the tenant
	TenantID     uuid.UUID  // the tenant the user belongs to
	Email        string     // unique per tenant, compared case-insensitively
	Role         string     // one of the roles table's tenant roles
	PasswordHash string     // argon2id PHC string; never logged or returned by the API
	DisabledAt   *time.Time // set when the user may no longer log in
	CreatedAt    time.Time  // when the user was created
}

// CreateUser adds a user to the transaction's tenant. passwordHash must come from package
// password. An email already used in the tenant gives ErrConflict; an unknown role an error that
// names it.
func (tx *Tx) CreateUser(ctx context.Context, email, role, passwordHash string) (User, error) {
	email = strings.TrimSpace(email)
	if len(email) < 3 || len(email) > 254 || !strings.Contains(email[1:len(email)-1], "@") {
		return User{}, fmt.Errorf("email %q is not a valid address", email)
	}
	u := User{TenantID: tx.tenant, Email: email, Role: role, PasswordHash: passwordHash}
	err := tx.QueryRow(ctx, `INSERT INTO users (tenant_id, email, role, password_hash)
		VALUES ($1, $2, $3, $4) RETURNING id, created_at`,
		tx.tenant, email, role, passwordHash).Scan(&u.ID, &u.CreatedAt)
	var pgErr *pgconn.PgError
	switch {
	case isUniqueViolation(err):
		return User{}, fmt.Errorf("user %q: %w", email, ErrConflict)
	case errors.As(err, &pgErr) && pgErr.Code == pgerrcode.ForeignKeyViolation && pgErr.ConstraintName == "users_role_fkey":
		return User{}, fmt.Errorf("role %q does not exist (tenant roles: viewer, operator, admin; platform operators: platform-admin)", role)
	case err != nil:
		return User{}, fmt.Errorf("create user %q: %w", email, err)
	}
	return u, nil
}

// UserByEmail finds a user of the transaction's tenant; ErrNotFound if there is none.
func (tx *Tx) UserByEmail(ctx context.Context, email string) (User, error) {
	var u User
	err := tx.QueryRow(ctx, `SELECT id, tenant_id, email, role, password_hash, disabled_at, created_at
		FROM users WHERE tenant_id = $1 AND lower(email) = lower($2)`, tx.tenant, email).
		Scan(&u.ID, &u.TenantID, &u.Email, &u.Role, &u.PasswordHash, &u.DisabledAt, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, fmt.Errorf("user %q: %w", email, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("find user %q: %w", email, err)
	}
	return u, nil
}
