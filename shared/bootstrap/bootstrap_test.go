package bootstrap_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/bootstrap"
	"github.com/phoenixotel/phoenix/shared/config"
	"github.com/phoenixotel/phoenix/shared/logging"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

func open(t *testing.T, url string, logs *bytes.Buffer) *bootstrap.Resources {
	t.Helper()
	cfg, err := config.Load(func(k string) (string, bool) {
		if k == "PHOENIX_DATABASE_URL" {
			return url, true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := bootstrap.Open(cfg, logging.New(logs, "test", slog.LevelInfo), bootstrap.Needs{Store: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(res.Close)
	return res
}

func TestStart_RefusesABypassingRoleAtOnce(t *testing.T) {
	db := pgtest.Migrated(t)
	var logs bytes.Buffer
	err := open(t, db.OwnerURL, &logs).Start(context.Background())
	var problem *store.RoleProblem
	if !errors.As(err, &problem) {
		t.Fatalf("owner accepted: %v", err)
	}
	if err := open(t, db.AppURL, &logs).Start(context.Background()); err != nil {
		t.Fatalf("runtime role refused: %v", err)
	}
}

func TestStart_KeepsTryingAnUnreachableDatabase(t *testing.T) {
	var logs bytes.Buffer
	res := open(t, "postgres://phoenix_app@127.0.0.1:1/phoenix?sslmode=disable&connect_timeout=1", &logs)
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	err := res.Start(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start = %v, want it to retry until the context ends", err)
	}
	if n := strings.Count(logs.String(), "will retry"); n < 2 {
		t.Fatalf("retried %d times in 700ms, want several:\n%s", n, logs.String())
	}
}

func TestOpen_KeysAreRequiredWhenNeeded(t *testing.T) {
	cfg, _ := config.Load(func(string) (string, bool) { return "", false })
	_, err := bootstrap.Open(cfg, logging.New(&bytes.Buffer{}, "t", slog.LevelInfo), bootstrap.Needs{Keys: true})
	if err == nil || !strings.Contains(err.Error(), "PHOENIX_JWT_KEYS_FILE") || !strings.Contains(err.Error(), "PHOENIX_JWT_KEYS ") {
		t.Fatalf("got %v, want a message naming PHOENIX_JWT_KEYS_FILE", err)
	}
}

func TestOpen_KeysFromTheEnvironment(t *testing.T) {
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	var pem bytes.Buffer
	if err := auth.WritePEM(&pem, key); err != nil {
		t.Fatal(err)
	}
	cfg, _ := config.Load(func(k string) (string, bool) {
		if k == "PHOENIX_JWT_KEYS" {
			return pem.String(), true
		}
		return "", false
	})
	res, err := bootstrap.Open(cfg, logging.New(&bytes.Buffer{}, "t", slog.LevelInfo), bootstrap.Needs{Keys: true})
	if err != nil {
		t.Fatal(err)
	}
	if active, ok := res.Keys.Active(); !ok || active.ID != key.ID {
		t.Fatalf("active key %v, want %s", active.ID, key.ID)
	}
	cfg.JWTKeys = "not pem"
	if _, err := bootstrap.Open(cfg, logging.New(&bytes.Buffer{}, "t", slog.LevelInfo), bootstrap.Needs{Keys: true}); err == nil ||
		!strings.Contains(err.Error(), "PHOENIX_JWT_KEYS") {
		t.Fatalf("bad PEM in PHOENIX_JWT_KEYS: %v", err)
	}
}
