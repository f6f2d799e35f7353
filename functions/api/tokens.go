package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/google/uuid"
)

// Opaque credentials. Each embeds the tenant and the row id it refers to, so the server finds the
// row inside that tenant's transaction (row-level security) without a cross-tenant lookup, and a
// random secret whose SHA-256 is all that is stored. To clients they are opaque strings.
const (
	refreshPrefix  = "prt_" // refresh token: tenant, token id, secret
	clientIDPrefix = "psa_" // service-account client id: tenant, account id
	secretPrefix   = "pss_" // service-account secret: secret id, secret
	secretBytes    = 32
)

var b64 = base64.RawURLEncoding

// errMalformed means a presented credential is not one Phoenix issued.
var errMalformed = errors.New("malformed credential")

// newSecret returns a fresh random secret and its SHA-256.
func newSecret() ([]byte, []byte) {
	s := make([]byte, secretBytes)
	_, _ = rand.Read(s) // crypto/rand.Read never fails (Go 1.24+)
	h := sha256.Sum256(s)
	return s, h[:]
}

func hashSecret(s []byte) []byte {
	h := sha256.Sum256(s)
	return h[:]
}

// encode joins a prefix and parts.
func encode(prefix string, parts ...[]byte) string {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return prefix + b64.EncodeToString(b)
}

// decode splits a credential into two ids and an optional secret of the expected sizes.
func decode(s, prefix string, secret bool) (uuid.UUID, uuid.UUID, []byte, error) {
	if len(s) > 200 || !strings.HasPrefix(s, prefix) {
		return uuid.Nil, uuid.Nil, nil, errMalformed
	}
	b, err := b64.DecodeString(s[len(prefix):])
	want := 32
	if secret {
		want += secretBytes
	}
	if err != nil || len(b) != want {
		return uuid.Nil, uuid.Nil, nil, errMalformed
	}
	a, _ := uuid.FromBytes(b[:16])
	c, _ := uuid.FromBytes(b[16:32])
	if a == uuid.Nil || c == uuid.Nil {
		return uuid.Nil, uuid.Nil, nil, errMalformed
	}
	return a, c, b[32:], nil
}

func refreshToken(tenant, id uuid.UUID, secret []byte) string {
	return encode(refreshPrefix, tenant[:], id[:], secret)
}

func parseRefreshToken(s string) (tenant, id uuid.UUID, secret []byte, err error) {
	return decode(s, refreshPrefix, true)
}

func clientID(tenant, account uuid.UUID) string { return encode(clientIDPrefix, tenant[:], account[:]) }

func parseClientID(s string) (tenant, account uuid.UUID, err error) {
	tenant, account, _, err = decode(s, clientIDPrefix, false)
	return tenant, account, err
}

// clientSecret is the secret's id followed by the secret itself.
func clientSecret(secretID uuid.UUID, secret []byte) string {
	return secretPrefix + b64.EncodeToString(append(append([]byte{}, secretID[:]...), secret...))
}

func parseClientSecret(s string) (uuid.UUID, []byte, error) {
	if len(s) > 200 || !strings.HasPrefix(s, secretPrefix) {
		return uuid.Nil, nil, errMalformed
	}
	b, err := b64.DecodeString(s[len(secretPrefix):])
	if err != nil || len(b) != 16+secretBytes {
		return uuid.Nil, nil, errMalformed
	}
	id, _ := uuid.FromBytes(b[:16])
	if id == uuid.Nil {
		return uuid.Nil, nil, errMalformed
	}
	return id, b[16:], nil
}
