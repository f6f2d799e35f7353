package auth

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

const (
	// DefaultTTL is an access token's lifetime when IssuerConfig.TTL is zero.
	DefaultTTL = 10 * time.Minute

	// MaxTTL bounds IssuerConfig.TTL. Revocation is only an optional hook, so
	// expiry is what really ends a leaked token's life; it must stay short.
	MaxTTL = time.Hour
)

// IssuerConfig configures an Issuer. Zero values of TTL and Now are useful.
type IssuerConfig struct {
	// Keys supplies the signing key: the set's active key signs every token.
	Keys *KeySet
	// Issuer is the iss claim, the name verifiers expect (for example the
	// API's base URL).
	Issuer string
	// Audience is the aud claim, naming the services the token is for.
	Audience string
	// TTL is how long a token stays valid; zero means DefaultTTL.
	TTL time.Duration
	// Now returns the current time; nil means time.Now. Tests pin it.
	Now func() time.Time
}

// Issuer signs access tokens with one key. It is safe for concurrent use.
// To rotate, build a new Issuer from the new KeySet.
type Issuer struct {
	// key is the active key of the configured set, captured at construction.
	key Key
	// issuer is the iss claim of every token.
	issuer string
	// audience is the aud claim of every token.
	audience string
	// ttl is the lifetime of every token.
	ttl time.Duration
	// now is the clock tokens are stamped with.
	now func() time.Time
}

// NewIssuer checks cfg and returns an Issuer that signs with the active key.
func NewIssuer(cfg IssuerConfig) (*Issuer, error) {
	key, ok := cfg.Keys.Active()
	if !ok {
		return nil, errors.New("new issuer: key set has no active signing key")
	}
	if cfg.Issuer == "" {
		return nil, errors.New("new issuer: issuer is empty")
	}
	if cfg.Audience == "" {
		return nil, errors.New("new issuer: audience is empty")
	}
	ttl := cfg.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < time.Second || ttl > MaxTTL {
		return nil, fmt.Errorf("new issuer: TTL %s is outside [1s, %s]", ttl, MaxTTL)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Issuer{key: key, issuer: cfg.Issuer, audience: cfg.Audience, ttl: ttl, now: now}, nil
}

// Grant is what an access token says about its bearer.
type Grant struct {
	Subject     string    // user or service-account id
	SubjectType string    // SubjectUser (default) or SubjectServiceAccount
	Tenant      uuid.UUID // the tenant the bearer acts in
	Roles       []string  // a user's roles
	Permissions []string  // a service account's "resource:action" grants
	SessionID   string    // the login session (refresh family) of a user token
}

// Issue signs an access token for subject acting in tenant with roles. It
// returns the compact token and the claims it carries, so a caller can report
// the expiry without parsing its own token back.
func (i *Issuer) Issue(g Grant) (string, Claims, error) {
	subject, tenant := g.Subject, g.Tenant
	if subject == "" {
		return "", Claims{}, errors.New("issue token: subject is empty")
	}
	if tenant == uuid.Nil {
		return "", Claims{}, errors.New("issue token: tenant is the nil UUID")
	}
	if g.SubjectType == "" {
		g.SubjectType = SubjectUser
	}
	if g.SubjectType != SubjectUser && g.SubjectType != SubjectServiceAccount {
		return "", Claims{}, fmt.Errorf("issue token: unknown subject type %q", g.SubjectType)
	}
	jti, err := uuid.NewRandom()
	if err != nil {
		return "", Claims{}, fmt.Errorf("issue token: token id: %w", err)
	}
	now := i.now()
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings{i.audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(i.ttl)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        jti.String(),
		},
		Tenant:         tenant.String(),
		Roles:          slices.Clone(g.Roles),
		Permissions:    slices.Clone(g.Permissions),
		SubjectType:    g.SubjectType,
		SessionID:      g.SessionID,
		IssuedAtMillis: now.UnixMilli(),
		Type:           TokenTypeAccess,
	}
	token := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	token.Header["typ"] = HeaderType
	token.Header["kid"] = i.key.ID
	signed, err := token.SignedString(i.key.PrivateKey)
	if err != nil {
		return "", Claims{}, fmt.Errorf("issue token for %s: sign: %w", subject, err)
	}
	// Refuse here rather than hand out a token every verifier will reject.
	if len(signed) > MaxTokenLength {
		return "", Claims{}, fmt.Errorf("issue token for %s: token is %d bytes, over the %d limit (too many roles?)", subject, len(signed), MaxTokenLength)
	}
	return signed, claims, nil
}
