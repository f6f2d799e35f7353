package auth_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/auth"
)

const (
	testIssuer   = "https://auth.phoenix.test"
	testAudience = "phoenix-api"
)

// epoch is the pinned "now" of every test clock.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return epoch }

// fixture is one signing key, its issuer and a verifier that trusts it.
type fixture struct {
	key      auth.Key
	keys     *auth.KeySet
	issuer   *auth.Issuer
	verifier *auth.Verifier
	tenant   uuid.UUID
}

func newFixture(t *testing.T, revocation auth.Revocation) fixture {
	t.Helper()
	key := mustKey(t)
	keys, err := auth.NewKeySet(key)
	if err != nil {
		t.Fatalf("NewKeySet: %v", err)
	}
	return fixture{
		key:      key,
		keys:     keys,
		issuer:   mustIssuer(t, keys),
		verifier: mustVerifier(t, keys, revocation),
		tenant:   uuid.MustParse("6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"),
	}
}

func mustKey(t *testing.T) auth.Key {
	t.Helper()
	k, err := auth.GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	return k
}

func mustKeySet(t *testing.T, keys ...auth.Key) *auth.KeySet {
	t.Helper()
	s, err := auth.NewKeySet(keys...)
	if err != nil {
		t.Fatalf("NewKeySet: %v", err)
	}
	return s
}

func mustIssuer(t *testing.T, keys *auth.KeySet) *auth.Issuer {
	t.Helper()
	iss, err := auth.NewIssuer(auth.IssuerConfig{Keys: keys, Issuer: testIssuer, Audience: testAudience, Now: clock})
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	return iss
}

func mustVerifier(t *testing.T, keys *auth.KeySet, revocation auth.Revocation) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(auth.VerifierConfig{
		Keys: keys, Issuer: testIssuer, Audience: testAudience, Now: clock, Revocation: revocation,
	})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func mustIssue(t *testing.T, iss *auth.Issuer, tenant uuid.UUID) (string, auth.Claims) {
	t.Helper()
	tok, claims, err := iss.Issue(auth.Grant{Subject: "user-42", Tenant: tenant, Roles: []string{"editor"}})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return tok, claims
}

// validClaims is the payload the Issuer would write at epoch, as a map so a
// test can remove or corrupt any one claim.
func (f fixture) validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss":      testIssuer,
		"aud":      testAudience,
		"sub":      "user-42",
		"tenant":   f.tenant.String(),
		"roles":    []string{"editor"},
		"typ":      auth.TokenTypeAccess,
		"sub_type": auth.SubjectUser,
		"jti":      "3d7c1c9e-6a43-4f55-9d0a-0b8f7f1e2a11",
		"iat":      epoch.Unix(),
		"nbf":      epoch.Unix(),
		"exp":      epoch.Add(10 * time.Minute).Unix(),
	}
}

// mint signs claims with f's key after letting edit change the header and
// claims; a nil value in the header deletes that member.
func (f fixture) mint(t *testing.T, edit func(header map[string]any, claims jwt.MapClaims)) string {
	t.Helper()
	claims := f.validClaims()
	header := map[string]any{"kid": f.key.ID, "typ": auth.HeaderType}
	if edit != nil {
		edit(header, claims)
	}
	return sign(t, jwt.SigningMethodEdDSA, f.key.PrivateKey, header, claims)
}

func sign(t *testing.T, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
			continue
		}
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

// reencodePayload replaces a signed token's payload, keeping its header and
// signature: what an attacker editing a captured token produces.
func reencodePayload(t *testing.T, token, payload string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(payload))
	return strings.Join(parts, ".")
}

// revokeList is a Revocation that revokes listed token ids, or fails with err.
type revokeList struct {
	ids map[string]bool
	err error
	// seen records the last arguments, to check what the Verifier passes.
	seen *revocationCall
}

type revocationCall struct {
	p        auth.Principal
	issuedAt time.Time
}

func (r revokeList) Revoked(_ context.Context, p auth.Principal, issuedAt time.Time) (bool, error) {
	if r.seen != nil {
		*r.seen = revocationCall{p: p, issuedAt: issuedAt}
	}
	if r.err != nil {
		return false, r.err
	}
	return r.ids[p.TokenID], nil
}
