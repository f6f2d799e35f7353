package gateway

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/wsproto"
)

// shortLife is how long the expiring tokens of these tests live: long enough for the env to be
// built and the connection to be dialled on a loaded machine, short enough to wait for.
const shortLife = 2 * time.Second

func TestCredential_ExpiryClosesTheConnection(t *testing.T) {
	e := newEnv(t, withTokens(tokenTable{"short": {Tenant: uuid.New(), Subject: "s", ReadExperiments: true,
		ExpiresAt: time.Now().Add(shortLife)}}))
	c := e.dial(t, "short")
	expectClose(t, c, wsproto.CloseTokenExpired)
	waitFor(t, "the disconnect to be counted", func() bool {
		return metric(t, e.reg, "phoenix_gateway_disconnects_total", disconnectExpired) == 1
	})
}

func TestCredential_InBandAuthenticationExtendsExpiry(t *testing.T) {
	tenant := uuid.New()
	later := time.Now().Add(time.Hour).Truncate(time.Second)
	short := time.Now().Add(shortLife)
	e := newEnv(t, withTokens(tokenTable{
		"short":    {Tenant: tenant, Subject: "s", ReadExperiments: true, ExpiresAt: short},
		"fresh":    {Tenant: tenant, Subject: "s", ReadExperiments: true, ExpiresAt: later},
		"other":    {Tenant: tenant, Subject: "someone else", ReadExperiments: true, ExpiresAt: later},
		"foreign":  {Tenant: uuid.New(), Subject: "s", ReadExperiments: true, ExpiresAt: later},
		"readless": {Tenant: tenant, Subject: "s", ExpiresAt: later},
	}))
	c := e.dial(t, "short")
	tests := []struct {
		token string
		code  string
	}{
		{"nope", wsproto.CodeUnauthorized},
		{"other", wsproto.CodeForbidden},
		{"foreign", wsproto.CodeForbidden},
		{"readless", wsproto.CodeForbidden},
	}
	for _, tt := range tests {
		send(t, c, `{"type":"auth","token":"`+tt.token+`"}`)
		expectError(t, c, tt.code, "")
	}
	send(t, c, `{"type":"auth","token":"fresh"}`)
	f := expect(t, c, wsproto.Authenticated, "")
	if f.ExpiresAt != later.UTC().Format(time.RFC3339) {
		t.Fatalf("authenticated expires_at %q, want %s", f.ExpiresAt, later.UTC().Format(time.RFC3339))
	}
	// Past the first token's expiry the connection still answers.
	deadline := short.Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		send(t, c, `{"type":"ping"}`)
		expect(t, c, wsproto.Pong, "")
	}
}

func TestCredential_RevocationClosesTheConnection(t *testing.T) {
	var revoked, failing atomic.Bool
	failed := make(chan struct{}, 16)
	check := func(context.Context) (bool, error) {
		if failing.Load() {
			select {
			case failed <- struct{}{}:
			default:
			}
			return false, errors.New("redis down")
		}
		return revoked.Load(), nil
	}
	tenant := uuid.New()
	e := newEnv(t, withOptions(func(o *Options) { o.RecheckInterval = 50 * time.Millisecond }),
		withTokens(tokenTable{"watched": {Tenant: tenant, Subject: "w", ReadExperiments: true, Credential: "jti-1", Revoked: check}}))
	// Two connections of one credential: checked once per sweep, both closed.
	c, twin := e.dial(t, "watched"), e.dial(t, "watched")
	// A check that cannot answer keeps the connections: a ping still gets its pong later.
	failing.Store(true)
	for range 3 { // three rechecks fail
		select {
		case <-failed:
		case <-time.After(waitTimeout):
			t.Fatal("no recheck happened")
		}
	}
	failing.Store(false)
	send(t, c, `{"type":"ping"}`)
	expect(t, c, wsproto.Pong, "") // still connected after the failed checks
	revoked.Store(true)
	expectClose(t, c, wsproto.CloseTokenRevoked)
	expectClose(t, twin, wsproto.CloseTokenRevoked)
}

func TestCredential_RevocationNoticeClosesAtOnce(t *testing.T) {
	var revoked atomic.Bool
	check := func(context.Context) (bool, error) { return revoked.Load(), nil }
	tenant := uuid.New()
	e := newEnv(t, withOptions(func(o *Options) { o.RecheckInterval = time.Hour }),
		withTokens(tokenTable{
			"watched": {Tenant: tenant, Subject: "w", ReadExperiments: true, Revoked: check},
		}))
	c := e.dial(t, "watched")
	other := e.dial(t, tokenA) // another tenant: not re-checked, not closed
	revoked.Store(true)
	start := time.Now()
	if err := e.pub.PublishRevocation(context.Background(), tenant); err != nil {
		t.Fatal(err)
	}
	expectClose(t, c, wsproto.CloseTokenRevoked)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("closed %v after the notice, want within 2 s", took)
	}
	send(t, other, `{"type":"ping"}`)
	expect(t, other, wsproto.Pong, "")
	if got := metric(t, e.reg, "phoenix_gateway_disconnects_total", disconnectRevoked); got != 1 {
		waitFor(t, "the disconnect to be counted", func() bool {
			return metric(t, e.reg, "phoenix_gateway_disconnects_total", disconnectRevoked) == 1
		})
	}
}
