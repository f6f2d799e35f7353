package ingesttoken

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
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
