package auth

import (
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

const (
	// TokenTypeAccess is the payload "typ" claim of an access token. Checking
	// it keeps any other token signed by the same keys (a refresh token, an
	// invitation) from being accepted as an access token.
	TokenTypeAccess = "access"

	// HeaderType is the JWS header "typ" of an access token (RFC 9068 §2.1).
	HeaderType = "at+jwt"

	// MaxTokenLength bounds a token in bytes. Real tokens are well under 1
	// KiB; the bound stops a hostile token from costing base64 and JSON work
	// before its signature is even checked.
	MaxTokenLength = 8 << 10

	// SubjectUser and SubjectServiceAccount are the kinds of subject a token names.
	SubjectUser           = "user"
	SubjectServiceAccount = "service_account"
)

// Claims is the payload of an access token.
type Claims struct {
	// RegisteredClaims carries iss, sub, aud, exp, nbf, iat and jti (RFC 7519 §4.1).
	jwt.RegisteredClaims
	// Tenant is the tenant the caller acts in, as a canonical UUID string.
	Tenant string `json:"tenant"`
	// Roles are the caller's roles within the tenant (users).
	Roles []string `json:"roles,omitempty"`
	// Permissions are "resource:action" grants held directly (service accounts).
	Permissions []string `json:"perms,omitempty"`
	// SubjectType says what sub names: SubjectUser or SubjectServiceAccount.
	SubjectType string `json:"sub_type"`
	// IssuedAtMillis is iat in milliseconds. iat has whole seconds only, too coarse to tell a
	// token issued just before a "valid after" revocation from one issued just after it.
	IssuedAtMillis int64 `json:"iat_ms,omitempty"`
	// SessionID names the login (refresh-token family) the token belongs to, so logout can end
	// the whole session; empty for service accounts, which have no refresh tokens.
	SessionID string `json:"sid,omitempty"`
	// Type is the token type; always TokenTypeAccess for an access token.
	Type string `json:"typ"`
}

// isAccessHeaderType reports whether a JWS header typ names an access token.
// RFC 9068 §4 allows the media type with or without its "application/" prefix,
// and RFC 7515 §4.1.9 says media types compare case-insensitively.
func isAccessHeaderType(typ string) bool {
	typ = strings.ToLower(typ)
	return typ == HeaderType || typ == "application/"+HeaderType
}

// parseTenant accepts only the canonical lowercase hyphenated form the
// Issuer writes: uuid.Parse also takes braces, URNs and bare hex, and a
// tenant id that can be spelled several ways invites mismatches in whatever
// compares it as a string later.
func parseTenant(s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, fmt.Errorf("tenant claim %s is not a UUID: %w", quoteBounded(s), err)
	}
	if id.String() != s {
		return uuid.Nil, fmt.Errorf("tenant claim %s is not a canonical UUID", quoteBounded(s))
	}
	if id == uuid.Nil {
		return uuid.Nil, fmt.Errorf("tenant claim is the nil UUID")
	}
	return id, nil
}
