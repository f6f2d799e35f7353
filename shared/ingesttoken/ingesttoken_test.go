package ingesttoken

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

func TestNewAndParse_RoundTripTheTenantAndHash(t *testing.T) {
	tenant := uuid.New()
	token, sum := New(tenant)
	again, _ := New(tenant)
	if !strings.HasPrefix(token, Prefix) || token == again || len(sum) != 32 {
		t.Fatalf("token %q, hash %x", token, sum)
	}
	gotTenant, gotSum, err := Parse(token)
	if err != nil || gotTenant != tenant || !bytes.Equal(gotSum, sum) {
		t.Fatalf("parse: %v %v %x", gotTenant, err, gotSum)
	}
	if env := Env(token); len(env) != 1 || env[0] != "PHOENIX_INGEST_TOKEN="+token {
		t.Errorf("env %q", env)
	}
}

func TestParse_RefusesWhatPhoenixDidNotIssue(t *testing.T) {
	token, _ := New(uuid.New())
	nilTenant := Prefix + b64.EncodeToString(make([]byte, 48))
	tests := map[string]string{
		"empty":            "",
		"another prefix":   "prt_" + token[len(Prefix):],
		"truncated":        token[:len(token)-4],
		"not base64":       Prefix + strings.Repeat("!", 64),
		"too long":         token + strings.Repeat("A", 200),
		"nil tenant":       nilTenant,
		"padding appended": token + "==",
	}
	for name, tok := range tests {
		if _, _, err := Parse(tok); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	// A changed secret parses but hashes differently: the lookup finds no row.
	tampered := token[:len(token)-1] + map[bool]string{true: "A", false: "B"}[token[len(token)-1] != 'A']
	_, sum1, _ := Parse(token)
	if _, sum2, err := Parse(tampered); err == nil && bytes.Equal(sum1, sum2) {
		t.Error("a tampered token hashes like the original")
	}
}

func TestLifetime_CoversDeployingTheRunAndAMargin(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := Lifetime(now, time.Hour, 15*time.Minute); !got.Equal(now.Add(time.Hour + 15*time.Minute + Margin)) {
		t.Errorf("lifetime %s", got)
	}
}

// TestLive_OnlyAnUnrevokedTokenOfThatVariant: a redelivery keeps a Secret's token only while it
// is live for that very variant of that experiment.
func TestLive_OnlyAnUnrevokedTokenOfThatVariant(t *testing.T) {
	ctx := context.Background()
	st := pgtest.Migrated(t).AppStore(t, store.Options{})
	acme, other := pgtest.Tenant(t, st, "acme"), pgtest.Tenant(t, st, "other")
	exp, second := pgtest.Experiment(t, st, acme), pgtest.Experiment(t, st, acme)
	token, err := Issue(ctx, st, acme, exp, experiment.Baseline, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := New(other)
	cases := []struct {
		name    string
		tenant  uuid.UUID
		exp     uuid.UUID
		variant experiment.Variant
		token   string
		want    bool
	}{
		{"the token of that variant", acme, exp, experiment.Baseline, token, true},
		{"another variant", acme, exp, experiment.Candidate, token, false},
		{"another experiment", acme, second, experiment.Baseline, token, false},
		{"another tenant's claim", other, exp, experiment.Baseline, token, false},
		{"never issued", other, exp, experiment.Baseline, foreign, false},
		{"not a token", acme, exp, experiment.Baseline, "pit_nope", false},
	}
	for _, c := range cases {
		if got, err := Live(ctx, st, c.tenant, c.exp, c.variant, c.token); err != nil || got != c.want {
			t.Errorf("%s: live %v (%v), want %v", c.name, got, err, c.want)
		}
	}
	if _, err := Revoke(ctx, st, acme, exp, ""); err != nil {
		t.Fatal(err)
	}
	if live, err := Live(ctx, st, acme, exp, experiment.Baseline, token); err != nil || live {
		t.Errorf("a revoked token: live %v (%v)", live, err)
	}
}
