package gateway

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestCredential_ExpiryClosesTheConnection(t *testing.T) {
	e := newEnv(t, withTokens(tokenTable{"short": {Tenant: uuid.New(), Subject: "s", ExpiresAt: time.Now().Add(300 * time.Millisecond)}}))
	c := e.dial(t, "short")
	expectClose(t, c, CloseTokenExpired)
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
	e := newEnv(t, withOptions(func(o *Options) { o.RecheckInterval = 50 * time.Millisecond }),
		withTokens(tokenTable{"watched": {Tenant: uuid.New(), Subject: "w", Revoked: check}}))
	c := e.dial(t, "watched")
	// A check that cannot answer keeps the connection: a ping still gets its pong later.
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
	expect(t, c, typePong, "") // still connected after the failed checks
	revoked.Store(true)
	expectClose(t, c, CloseTokenRevoked)
}
