package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/phoenixotel/phoenix/migrations"
)

// Migrator applies the embedded schema with goose. It connects as the schema owner; a session
// advisory lock keeps two migrators (say, two rollout jobs) from running at once.
type Migrator struct {
	db       *sql.DB         // owner connection, opened through pgx's database/sql driver
	provider *goose.Provider // goose's migration engine over migrations.FS
}

// MigrationStatus is one migration and whether it is applied.
type MigrationStatus struct {
	Version int64  // the migration's number
	Name    string // its file name
	Applied bool   // whether the database has it
}

// NewMigrator prepares a migrator for the database at url. It does not connect yet.
func NewMigrator(url string) (*Migrator, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse migration database url: %w", redactErr(err))
	}
	db := stdlib.OpenDB(*cfg)
	return newMigrator(db, migrations.FS)
}

func newMigrator(db *sql.DB, fsys fs.FS) (*Migrator, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("create migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithSessionLocker(locker))
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return &Migrator{db: db, provider: p}, nil
}

// Close releases the owner connection.
func (m *Migrator) Close() error { return m.provider.Close() }

// Up applies every pending migration and returns the versions it applied.
func (m *Migrator) Up(ctx context.Context) ([]int64, error) {
	res, err := m.provider.Up(ctx)
	return versions(res), wrapMigrationErr("migrate up", err)
}

// UpTo applies pending migrations up to and including version.
func (m *Migrator) UpTo(ctx context.Context, version int64) ([]int64, error) {
	res, err := m.provider.UpTo(ctx, version)
	return versions(res), wrapMigrationErr(fmt.Sprintf("migrate up to %d", version), err)
}

// Down reverts the n most recent migrations (all of them when n exceeds the applied count) and
// returns the versions it reverted.
func (m *Migrator) Down(ctx context.Context, n int) ([]int64, error) {
	if n < 1 {
		return nil, fmt.Errorf("migrate down: count must be at least 1, got %d", n)
	}
	var done []int64
	for range n {
		res, err := m.provider.Down(ctx)
		if errors.Is(err, goose.ErrNoNextVersion) || errors.Is(err, goose.ErrNoCurrentVersion) {
			break
		}
		if err != nil {
			return done, wrapMigrationErr("migrate down", err)
		}
		done = append(done, res.Source.Version)
	}
	return done, nil
}

// Version is the most recent applied migration, 0 when none is.
func (m *Migrator) Version(ctx context.Context) (int64, error) {
	v, err := m.provider.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// Status lists every embedded migration and whether it is applied.
func (m *Migrator) Status(ctx context.Context) ([]MigrationStatus, error) {
	st, err := m.provider.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("read migration status: %w", err)
	}
	out := make([]MigrationStatus, 0, len(st))
	for _, s := range st {
		out = append(out, MigrationStatus{
			Version: s.Source.Version,
			Name:    s.Source.Path,
			Applied: s.State == goose.StateApplied,
		})
	}
	return out, nil
}

func versions(res []*goose.MigrationResult) []int64 {
	out := make([]int64, 0, len(res))
	for _, r := range res {
		if r.Error == nil {
			out = append(out, r.Source.Version)
		}
	}
	return out
}

// wrapMigrationErr names the failing migration: goose's PartialError carries it.
func wrapMigrationErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var partial *goose.PartialError
	if errors.As(err, &partial) && partial.Failed != nil {
		return fmt.Errorf("%s: migration %s failed: %w", op, partial.Failed.Source.Path, partial.Err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// EnsureDatabase creates the database url names if it does not exist yet, connecting to the
// server's maintenance database "postgres" with the same credentials. It reports whether it
// created it. A role that may not create databases gets PostgreSQL's own error.
func EnsureDatabase(ctx context.Context, url string) (bool, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return false, fmt.Errorf("parse database url: %w", redactErr(err))
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return false, conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name: no such database
		return false, fmt.Errorf("connect to database %q: %w", cfg.Database, err)
	}
	name := cfg.Database
	cfg.Database = "postgres"
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("connect to create database %q: %w", name, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.DuplicateDatabase { // created concurrently
			return false, nil
		}
		return false, fmt.Errorf("create database %q: %w", name, err)
	}
	return true, nil
}
