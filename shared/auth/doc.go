// Package auth owns Phoenix's access tokens: their format, the Ed25519 keys
// that sign them, and the one way every deployable verifies them, so the HTTP
// API, the WebSocket gateway and the event functions accept exactly the same
// callers.
//
// Token format. An access token is a JWS compact serialisation (RFC 7515)
// signed with EdDSA over Ed25519 (RFC 8037). Its header carries "kid" (which
// key of the KeySet signed it) and "typ" = "at+jwt" (RFC 9068). Its payload
// carries the registered claims iss, aud, sub, exp, iat, nbf and jti, plus
// "tenant" (a canonical UUID), "roles" and "typ" = "access", so a refresh
// token or any other token type signed by the same key never passes as an
// access token.
//
// Keys. A KeySet holds one or more Ed25519 keys, each named by a kid (by
// default its RFC 7638 thumbprint). The first key with private material is
// the active signing key; every other key only verifies. Rotation happens in
// three deployments: publish the new key beside the old one, make it first
// (active), and drop the old key once the longest-lived token it signed has
// expired. Keys are read from PEM (PKCS#8 private keys, PKIX public keys), and
// JWKS serves the public halves at /.well-known/jwks.json.
//
// Verification. Verifier accepts only EdDSA, takes the key only from its own
// KeySet by kid (never from jku, x5u, jwk or x5c headers), and requires exp,
// iat, jti, sub, a non-nil tenant, the configured iss and aud and the access
// token type, within a small clock leeway. Every rejection wraps
// ErrUnauthenticated, which callers map to 401 at one edge; the specific
// reason is wrapped inside it for logs.
//
// What it must not do. The package stores nothing: no sessions, no users, no
// refresh tokens, no revocation list. Revocation is the Revocation hook a
// caller may plug into the Verifier (a Redis-backed one lives elsewhere).
// Nor does it authorise: roles are reported in the Principal, and deciding
// what a role may do belongs to the caller.
package auth
