package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

const (
	// DefaultLeeway is the clock skew tolerated on exp, nbf and iat when
	// VerifierConfig.Leeway is zero.
	DefaultLeeway = 30 * time.Second

	// MaxLeeway bounds VerifierConfig.Leeway: leeway extends every token's
	// life, so a large one quietly undoes a short TTL.
	MaxLeeway = 5 * time.Minute
)

// Principal is the verified caller a token speaks for.
type Principal struct {
	// Subject is the sub claim: who the caller is.
	Subject string
	// Tenant is the tenant the caller acts in; never uuid.Nil.
	Tenant uuid.UUID
	// Roles are the caller's roles within Tenant, as issued (users).
	Roles []string
	// Permissions are "resource:action" grants held directly (service accounts).
	Permissions []string
	// SubjectType is SubjectUser or SubjectServiceAccount.
	SubjectType string
	// SessionID is the login session a user token belongs to; empty for service accounts.
	SessionID string
	// IssuedAt is when the token was issued; "valid after" revocation compares with it.
	IssuedAt time.Time
	// TokenID is the jti claim, the handle revocation and audit logs use.
	TokenID string
	// ExpiresAt is when the token stops being valid (before leeway).
	ExpiresAt time.Time
}

// Revocation decides whether an otherwise valid token has been revoked, for
// example by token id or by "every token of this subject issued before T".
// The Verifier calls it last, only for tokens that passed every other check,
// so an implementation backed by a network store is not hit by forgeries.
type Revocation interface {
	// Revoked reports whether the token described by p and issuedAt is
	// revoked. An error means the answer is unknown; the Verifier then
	// rejects the token.
	Revoked(ctx context.Context, p Principal, issuedAt time.Time) (bool, error)
}

// VerifierConfig configures a Verifier. Zero values of Leeway, Now and
// Revocation are useful.
type VerifierConfig struct {
	// Keys holds every key a token may be signed with, selected by kid.
	Keys *KeySet
	// Issuer is the iss claim a token must carry.
	Issuer string
	// Audience must be one of the token's aud values.
	Audience string
	// Leeway is the clock skew tolerated on exp, nbf and iat; zero means
	// DefaultLeeway.
	Leeway time.Duration
	// Now returns the current time; nil means time.Now. Tests pin it.
	Now func() time.Time
	// Revocation, if not nil, is asked about every token that passes all
	// other checks; nil means no revocation.
	Revocation Revocation
}

// Verifier checks access tokens. It is safe for concurrent use. To rotate
// keys, build a new Verifier from the new KeySet.
type Verifier struct {
	// keys is the only source of verification keys.
	keys *KeySet
	// parser is pinned to EdDSA and checks exp, nbf, iat, iss and aud.
	parser *jwt.Parser
	// revocation is the optional revocation hook.
	revocation Revocation
}

// NewVerifier checks cfg and returns a Verifier.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Keys == nil || len(cfg.Keys.keys) == 0 {
		return nil, errors.New("new verifier: key set is empty")
	}
	if cfg.Issuer == "" {
		return nil, errors.New("new verifier: issuer is empty")
	}
	if cfg.Audience == "" {
		return nil, errors.New("new verifier: audience is empty")
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	if leeway < 0 || leeway > MaxLeeway {
		return nil, fmt.Errorf("new verifier: leeway %s is outside (0, %s]", leeway, MaxLeeway)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
		// Strict base64 rejects non-canonical encodings, so one signed token
		// has exactly one spelling (no malleable copies past a jti cache).
		jwt.WithStrictDecoding(),
	)
	return &Verifier{keys: cfg.Keys, parser: parser, revocation: cfg.Revocation}, nil
}

// Verify checks token and returns the caller it speaks for. Every rejection
// wraps ErrUnauthenticated with the reason inside. The one failure that does
// not is an error from the Revocation hook: the token is still refused, but
// the fault is the revocation store's, so the caller should answer 503 rather
// than make a legitimate client sign in again.
func (v *Verifier) Verify(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, unauthenticated(errors.New("token is empty"))
	}
	// Before any parsing: the parser base64- and JSON-decodes the header and
	// payload before it can check the signature.
	if len(token) > MaxTokenLength {
		return Principal{}, unauthenticated(fmt.Errorf("token is %d bytes, over the %d limit", len(token), MaxTokenLength))
	}
	var claims Claims
	if _, err := v.parser.ParseWithClaims(token, &claims, v.key); err != nil {
		return Principal{}, unauthenticated(err)
	}
	p, err := principal(&claims)
	if err != nil {
		return Principal{}, unauthenticated(err)
	}
	if v.revocation != nil {
		revoked, err := v.revocation.Revoked(ctx, p, p.IssuedAt)
		if err != nil {
			return Principal{}, fmt.Errorf("verify token %s: revocation check: %w", p.TokenID, err)
		}
		if revoked {
			return Principal{}, unauthenticated(fmt.Errorf("token %s is revoked", p.TokenID))
		}
	}
	return p, nil
}

// key is the parser's key lookup. It reads only alg, typ, crit and kid from
// the unverified header; jku, x5u, jwk and x5c are never consulted, since a
// key named by the token itself proves nothing.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	// The parser has already refused other algorithms; checking the type as
	// well keeps a change to the method list from silently widening it.
	if _, ok := t.Method.(*jwt.SigningMethodEd25519); !ok {
		return nil, fmt.Errorf("signing method %s is not EdDSA", quoteBounded(t.Method.Alg()))
	}
	if typ, _ := t.Header["typ"].(string); !isAccessHeaderType(typ) {
		return nil, fmt.Errorf("header typ %s is not %q", quoteBounded(typ), HeaderType)
	}
	// RFC 7515 §4.1.11: a recipient must reject critical extensions it does
	// not understand, and this package understands none.
	if _, ok := t.Header["crit"]; ok {
		return nil, errors.New("header crit is not supported")
	}
	kid, ok := t.Header["kid"].(string)
	if !ok || kid == "" {
		return nil, errors.New("header kid is missing")
	}
	k, ok := v.keys.Lookup(kid)
	if !ok {
		return nil, fmt.Errorf("kid %s is not in the key set", quoteBounded(kid))
	}
	return k.PublicKey, nil
}

// principal checks the claims the parser does not know about and builds the
// Principal from them.
func principal(c *Claims) (Principal, error) {
	if c.Type != TokenTypeAccess {
		return Principal{}, fmt.Errorf("token typ %s is not %q", quoteBounded(c.Type), TokenTypeAccess)
	}
	if c.Subject == "" {
		return Principal{}, errors.New("sub claim is missing")
	}
	if c.ID == "" {
		return Principal{}, errors.New("jti claim is missing")
	}
	// Revocation by "issued before" needs iat; the parser only checks it
	// when present.
	if c.IssuedAt == nil {
		return Principal{}, errors.New("iat claim is missing")
	}
	tenant, err := parseTenant(c.Tenant)
	if err != nil {
		return Principal{}, err
	}
	switch c.SubjectType {
	case SubjectUser, SubjectServiceAccount:
	default:
		return Principal{}, fmt.Errorf("sub_type claim %s is not a known subject type", quoteBounded(c.SubjectType))
	}
	issued := c.IssuedAt.Time
	if c.IssuedAtMillis != 0 {
		// Only a refinement of iat within the same second is accepted.
		ms := time.UnixMilli(c.IssuedAtMillis)
		if ms.Before(issued) || !ms.Before(issued.Add(time.Second)) {
			return Principal{}, errors.New("iat_ms claim disagrees with iat")
		}
		issued = ms
	}
	return Principal{
		Subject:     c.Subject,
		Tenant:      tenant,
		Roles:       c.Roles,
		Permissions: c.Permissions,
		SubjectType: c.SubjectType,
		SessionID:   c.SessionID,
		TokenID:     c.ID,
		IssuedAt:    issued,
		ExpiresAt:   c.ExpiresAt.Time,
	}, nil
}
