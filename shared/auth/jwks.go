package auth

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

const (
	// JWKSPath is where JWKSHandler is conventionally mounted.
	JWKSPath = "/.well-known/jwks.json"

	// JWKSMaxAge is how long clients may cache the key set. A new key must be
	// published for longer than this before it becomes active, or a cached
	// copy will not know the kid of fresh tokens.
	JWKSMaxAge = 5 * time.Minute
)

// JWK is the public half of one key as an RFC 7517 JSON Web Key of type OKP
// (RFC 8037 §2).
type JWK struct {
	// KeyType is "OKP", the octet key pair type of Ed25519.
	KeyType string `json:"kty"`
	// Curve is "Ed25519".
	Curve string `json:"crv"`
	// X is the public key, base64url without padding.
	X string `json:"x"`
	// KeyID is the kid tokens signed by this key carry.
	KeyID string `json:"kid"`
	// Use is "sig": the key only verifies signatures.
	Use string `json:"use"`
	// Algorithm is "EdDSA", the only algorithm the key may verify.
	Algorithm string `json:"alg"`
}

// JWKSet is an RFC 7517 §5 JWK Set document.
type JWKSet struct {
	// Keys lists every key in set order, the active one included.
	Keys []JWK `json:"keys"`
}

// JWKS returns the public halves of every key in keys as a JWK Set. It never
// includes private material. Verify-only keys are listed too: they are either
// about to sign or still have tokens in flight.
func JWKS(keys *KeySet) JWKSet {
	doc := JWKSet{Keys: []JWK{}}
	for _, k := range keys.Keys() {
		doc.Keys = append(doc.Keys, JWK{
			KeyType:   "OKP",
			Curve:     "Ed25519",
			X:         base64.RawURLEncoding.EncodeToString(k.PublicKey),
			KeyID:     k.ID,
			Use:       "sig",
			Algorithm: "EdDSA",
		})
	}
	return doc
}

// JWKSHandler serves JWKS(keys) to GET and HEAD, with Cache-Control allowing
// public caching for JWKSMaxAge. Mount it at JWKSPath.
func JWKSHandler(keys *KeySet) http.Handler {
	// The document is fixed for the life of the set, so encode it once.
	body, err := json.Marshal(JWKS(keys))
	return jwksHandler{body: body, err: err}
}

type jwksHandler struct {
	// body is the encoded JWK Set.
	body []byte
	// err is why body could not be encoded; it cannot happen for these
	// string-only types, but a handler must answer something.
	err error
}

func (h jwksHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	if h.err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(JWKSMaxAge/time.Second)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Length", strconv.Itoa(len(h.body)))
	_, _ = w.Write(h.body)
}
