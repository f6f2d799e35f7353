// Package pgtest gives each integration test a fresh PostgreSQL database of its own on the real
// server, so suites can run side by side and never see each other's rows.
//
// The server is found through PHOENIX_TEST_ADMIN_URL (default: postgres as user postgres on
// 127.0.0.1:5432, the machine's trust-auth setup). The admin connection creates and drops the
// databases and owns the schema, as the migration role does in production; tests that check
// isolation connect as phoenix_app.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/phoenixotel/phoenix/shared/store"
)

// DefaultAdminURL reaches this machine's PostgreSQL as a superuser.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// DB is one test's database.
type DB struct {
	Name     string // the database's name, unique per test
	OwnerURL string // connects as the admin/owner role (runs migrations)
	AppURL   string // connects as phoenix_app, the runtime role
}

// New creates an empty database on the machine's server and drops it when the test ends.
func New(t testing.TB) *DB {
	t.Helper()
	admin := os.Getenv("PHOENIX_TEST_ADMIN_URL")
	if admin == "" {
		admin = DefaultAdminURL
	}
	return NewOn(t, admin)
}

// NewOn creates an empty database on the server admin reaches (as a superuser) and drops it
// when the test ends.
func NewOn(t testing.TB, admin string) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: connect to PostgreSQL (set PHOENIX_TEST_ADMIN_URL): %v", err)
	}
	defer conn.Close(ctx)

	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "phoenix_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("pgtest: connect to drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	return &DB{Name: name, OwnerURL: withDatabase(t, admin, name, ""), AppURL: withDatabase(t, admin, name, "phoenix_app")}
}

// Migrated creates a database with every migration applied.
func Migrated(t testing.TB) *DB {
	t.Helper()
	db := New(t)
	m, err := store.NewMigrator(db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// AppStore opens the runtime-role store on db and closes it when the test ends.
func (db *DB) AppStore(t testing.TB, opts store.Options) *store.Store {
	t.Helper()
	s, err := store.Open(db.AppURL, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// withDatabase points url at database name, as user when user is not empty.
func withDatabase(t testing.TB, raw, name, user string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("pgtest: admin url: %v", err)
	}
	u.Path = "/" + name
	if user != "" {
		u.User = url.User(user)
	}
	return u.String()
}
