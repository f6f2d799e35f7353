package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is a pool of connections as the runtime role.
type Store struct {
	pool *pgxpool.Pool // connections as phoenix_app; never holds session-level tenant settings
}

// Options tune the pool; the zero value works.
type Options struct {
	MaxConns int32 // upper bound of open connections; 0 keeps pgx's default (max(4, NumCPU))
}

// Open parses url and prepares a pool. It does not connect: a function must listen before it makes
// any network call, so the first connection is made by the first query (or by VerifyRuntimeRole).
func Open(url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", redactErr(err))
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "phoenix"
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("create database pool: %w", err)
	}
	return &Store{pool: pool}, nil
}

// Close releases every connection.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers; readiness probes use it.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// collect runs a query in tx and reads each row with scan; an error says what was listed.
func collect[T any](ctx context.Context, tx pgx.Tx, what string, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// Tx is a transaction confined to one tenant by row-level security.
type Tx struct {
	pgx.Tx
	tenant uuid.UUID // the tenant app.tenant_id was set to
}

// TenantID is the tenant this transaction is confined to.
func (tx *Tx) TenantID() uuid.UUID { return tx.tenant }

// WithTenant runs fn in a transaction in which row-level security admits only tenant's rows. The
// transaction commits if fn returns nil and rolls back otherwise.
func (s *Store) WithTenant(ctx context.Context, tenant uuid.UUID, fn func(*Tx) error) error {
	if tenant == uuid.Nil {
		return ErrNoTenant
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config('app.tenant_id', $1, true)", tenant.String()); err != nil {
			return fmt.Errorf("set tenant: %w", err)
		}
		return fn(&Tx{Tx: tx, tenant: tenant})
	})
}

// ReadTenant runs fn in a read-only transaction of tenant, as WithTenant does, at repeatable read:
// every statement sees the database as it was at the first, so reads that must agree with each
// other (a look's paired windows, coverage and parity) see the same windows even while new ones
// are stored.
func (s *Store) ReadTenant(ctx context.Context, tenant uuid.UUID, fn func(*Tx) error) error {
	if tenant == uuid.Nil {
		return ErrNoTenant
	}
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	return pgx.BeginTxFunc(ctx, s.pool, opts, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config('app.tenant_id', $1, true)", tenant.String()); err != nil {
			return fmt.Errorf("set tenant: %w", err)
		}
		return fn(&Tx{Tx: tx, tenant: tenant})
	})
}

// Catalog runs fn in a transaction with no tenant set, for the global catalog (roles and
// permissions). Row-level security shows such a transaction no tenant's rows and refuses its
// writes to tenant tables.
func (s *Store) Catalog(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// PlatformTx is a transaction as phoenix_platform: it sees the tenants table and nothing else.
type PlatformTx struct {
	pgx.Tx
}

// Platform runs fn in a transaction switched to the phoenix_platform role, the one explicit path
// for work that spans tenants. SET LOCAL ends with the transaction, so the pooled connection returns
// to phoenix_app.
func (s *Store) Platform(ctx context.Context, fn func(*PlatformTx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL ROLE phoenix_platform"); err != nil {
			return fmt.Errorf("switch to platform role: %w", err)
		}
		return fn(&PlatformTx{Tx: tx})
	})
}

// RoleProblem says why a connection may not be used at runtime.
type RoleProblem struct {
	Role   string // the role the connection authenticated as
	Reason string // what lets it around row-level security
}

func (p *RoleProblem) Error() string {
	return fmt.Sprintf("database role %q could bypass row-level security (%s); connect as phoenix_app "+
		"(set PHOENIX_DATABASE_URL to a URL with user phoenix_app)", p.Role, p.Reason)
}

// VerifyRuntimeRole refuses a connection that could get around row-level security: a role that
// is, or may become (SET ROLE counts, so membership is checked, not inheritance), a superuser or
// a BYPASSRLS role, or the owner of any table or schema of this database (owners may disable RLS
// or drop what they own); and a session that already carries app.tenant_id (set in the URL's
// options), which would hand every tenant-less transaction that tenant's rows. Functions call it
// at start and exit if it fails.
func (s *Store) VerifyRuntimeRole(ctx context.Context) error {
	var (
		role                          string
		super, bypass, becomes, owner bool
		setting                       string
	)
	err := s.pool.QueryRow(ctx, `
		SELECT r.rolname, r.rolsuper, r.rolbypassrls,
		       EXISTS (SELECT 1 FROM pg_roles o
		                WHERE o.oid <> r.oid AND (o.rolsuper OR o.rolbypassrls)
		                  AND pg_has_role(r.oid, o.oid, 'MEMBER')),
		       EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		                WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
		                  AND pg_has_role(r.oid, c.relowner, 'MEMBER'))
		       OR EXISTS (SELECT 1 FROM pg_namespace n
		                WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
		                  AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
		                  AND pg_has_role(r.oid, n.nspowner, 'MEMBER')),
		       coalesce(current_setting('app.tenant_id', true), '')
		  FROM pg_roles r WHERE r.rolname = current_user`).Scan(&role, &super, &bypass, &becomes, &owner, &setting)
	if err != nil {
		return fmt.Errorf("inspect database role: %w", err)
	}
	switch {
	case super:
		return &RoleProblem{Role: role, Reason: "superuser"}
	case bypass:
		return &RoleProblem{Role: role, Reason: "BYPASSRLS"}
	case becomes:
		return &RoleProblem{Role: role, Reason: "member of a superuser or BYPASSRLS role"}
	case owner:
		return &RoleProblem{Role: role, Reason: "owns, or is a member of the owner of, Phoenix tables or schemas"}
	case setting != "":
		return &RoleProblem{Role: role, Reason: "the connection sets app.tenant_id for the whole session; remove it from the URL options"}
	}
	return nil
}

// Errors callers map to user-facing answers.
var (
	ErrNoTenant = errors.New("no tenant given")
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
	ErrInvalid  = errors.New("invalid")
	// ErrUnknownTenant means a write named a tenant that does not exist.
	ErrUnknownTenant = errors.New("unknown tenant")
)

// isUniqueViolation tells whether err is PostgreSQL's unique_violation.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UniqueViolation
}

// redactErr keeps a password in a malformed URL out of the error text.
func redactErr(err error) error {
	var perr *pgconn.ParseConfigError
	if errors.As(err, &perr) {
		return errors.New("invalid connection string (check its syntax; the value is not shown because it may hold a password)")
	}
	return err
}

// IsInvalidInput reports whether PostgreSQL refused a value itself (SQLSTATE class 22, data
// exception: a NUL byte, invalid UTF-8, a value out of range) — the caller's input, not an outage.
func IsInvalidInput(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22")
}

// IsForeignKey reports whether err is a foreign-key violation (a row naming a parent, such as a
// tenant, that does not exist).
func IsForeignKey(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == pgerrcode.ForeignKeyViolation
}

// found finishes a read of one row: pgx.ErrNoRows becomes ErrNotFound, any other error is wrapped
// with what was read.
func found[T any](v T, err error, what string) (T, error) {
	var zero T
	if errors.Is(err, pgx.ErrNoRows) {
		return zero, fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	if err != nil {
		return zero, fmt.Errorf("read %s: %w", what, err)
	}
	return v, nil
}
