// Package ingesttoken owns the credentials collectors present to Phoenix's ingest function: one
// opaque token per variant of an experiment, of the form "pit_" + base64url(tenant id, 32 random
// bytes). The tenant travels in the token so the ingest finds the token's row inside that
// tenant's transaction (row-level security) without any cross-tenant lookup; only the SHA-256 of
// the random part is stored, so a database dump holds no usable token.
//
// Tokens are issued when a variant is deployed (the Kubernetes deployer puts the token in a
// Secret, the local runner in the collector's environment) and never rendered into a stored
// configuration: configs and manifests reference the environment variable EnvVar instead. A token
// stops working when it is revoked, when it expires (the deploying timeout plus the experiment's
// duration plus a margin after it was issued), and — checked on every request — whenever its
// experiment is not running.
package ingesttoken

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/store"
)

const (
	// Prefix marks an ingest token.
	Prefix = "pit_"
	// EnvVar is the environment variable rendered collector configs read the token from.
	EnvVar = pipeline.IngestTokenEnv
	// secretBytes is the size of the random part.
	secretBytes = 32
	// Margin is added to a token's lifetime beyond the run, so the last window's exports and
	// a collector's retries still authenticate; the experiment's state refuses them anyway once
	// the run is over.
	Margin = 10 * time.Minute
)

var b64 = base64.RawURLEncoding

// ErrMalformed means a presented token is not one Phoenix issued.
var ErrMalformed = errors.New("malformed ingest token")

// New returns a fresh token for tenant and the SHA-256 to store for it.
func New(tenant uuid.UUID) (token string, sum []byte) {
	b := make([]byte, 16+secretBytes)
	copy(b, tenant[:])
	_, _ = rand.Read(b[16:]) // crypto/rand.Read never fails (Go 1.24+)
	h := sha256.Sum256(b[16:])
	return Prefix + b64.EncodeToString(b), h[:]
}

// Parse reads the tenant and the SHA-256 of the secret from a token, or ErrMalformed.
func Parse(token string) (tenant uuid.UUID, sum []byte, err error) {
	if len(token) > 200 || !strings.HasPrefix(token, Prefix) {
		return uuid.Nil, nil, ErrMalformed
	}
	b, err := b64.DecodeString(token[len(Prefix):])
	if err != nil || len(b) != 16+secretBytes {
		return uuid.Nil, nil, ErrMalformed
	}
	tenant, _ = uuid.FromBytes(b[:16])
	if tenant == uuid.Nil {
		return uuid.Nil, nil, ErrMalformed
	}
	h := sha256.Sum256(b[16:])
	return tenant, h[:], nil
}

// Lifetime is when a token issued at now for an experiment running duration expires: deploying
// may take up to the deploying timeout, then the run lasts duration, plus Margin.
func Lifetime(now time.Time, duration, deploying time.Duration) time.Time {
	return now.Add(deploying + duration + Margin)
}

// Issue creates a token for one variant of an experiment of tenant and returns it; the caller
// hands it to the collector (Env, or a Kubernetes Secret) and keeps it nowhere else. deploying is
// the configured deploying timeout (config PHOENIX_TIMEOUT_DEPLOYING). Every call issues a new
// token; earlier ones stay valid until revoked or expired (a deployer keeps a Live one instead).
func Issue(ctx context.Context, st *store.Store, tenant, experimentID uuid.UUID, variant experiment.Variant, deploying time.Duration) (string, error) {
	token, sum := New(tenant)
	err := st.WithTenant(ctx, tenant, func(tx *store.Tx) error {
		exp, err := tx.Experiment(ctx, experimentID)
		if err != nil {
			return err
		}
		// A run the analysis may extend (continue) can last up to the spec's maximum.
		expires := Lifetime(time.Now(), exp.Spec.MaxDuration(time.Duration(exp.DurationSeconds)*time.Second), deploying)
		_, err = tx.CreateIngestToken(ctx, experimentID, variant, sum, expires)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("issue ingest token for %s/%s: %w", experimentID, variant, err)
	}
	return token, nil
}

// Live reports whether token is a live ingest token of tenant for this variant of the experiment:
// issued for it, neither revoked nor expired. The deployer keeps such a token on a redelivery, so
// that applying the same Secret again changes nothing. A token that does not parse is not live.
func Live(ctx context.Context, st *store.Store, tenant, experimentID uuid.UUID, variant experiment.Variant, token string) (bool, error) {
	owner, sum, err := Parse(token)
	if err != nil || owner != tenant {
		return false, nil
	}
	var scope store.IngestScope
	err = st.WithTenant(ctx, tenant, func(tx *store.Tx) (err error) {
		scope, err = tx.IngestScope(ctx, sum)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read ingest token of %s/%s: %w", experimentID, variant, err)
	}
	return scope.ExperimentID == experimentID && scope.Variant == variant && !scope.Revoked && time.Now().Before(scope.ExpiresAt), nil
}

// Revoke revokes every ingest token of a variant of an experiment (both when variant is empty).
// The ingest function stops accepting them within its scope cache's lifetime (a few seconds).
func Revoke(ctx context.Context, st *store.Store, tenant, experimentID uuid.UUID, variant experiment.Variant) (int64, error) {
	var n int64
	err := st.WithTenant(ctx, tenant, func(tx *store.Tx) (err error) {
		n, err = tx.RevokeIngestTokens(ctx, experimentID, variant)
		return err
	})
	return n, err
}

// Env is the environment a locally run collector needs for token: append it to the process's
// environment (exec.Cmd.Env) when running a config rendered by shared/pipeline.
func Env(token string) []string { return []string{EnvVar + "=" + token} }
