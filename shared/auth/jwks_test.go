package auth_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/phoenixotel/phoenix/shared/auth"
)

func TestJWKS_PublishesEveryPublicKey(t *testing.T) {
	active, old := mustKey(t), mustKey(t)
	keys := mustKeySet(t, active, old.VerifyOnly())

	doc := auth.JWKS(keys)
	if len(doc.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want 2", len(doc.Keys))
	}
	for i, want := range []auth.Key{active, old} {
		got := doc.Keys[i]
		x, err := base64.RawURLEncoding.DecodeString(got.X)
		if err != nil {
			t.Fatalf("key %d: x: %v", i, err)
		}
		if got.KeyType != "OKP" || got.Curve != "Ed25519" || got.Use != "sig" || got.Algorithm != "EdDSA" ||
			got.KeyID != want.ID || !bytes.Equal(x, want.PublicKey) {
			t.Errorf("key %d = %+v, want OKP/Ed25519/sig/EdDSA key %s", i, got, want.ID)
		}
		// The kid of a thumbprint-named key is recomputable from the JWK.
		if auth.Thumbprint(ed25519.PublicKey(x)) != got.KeyID {
			t.Errorf("key %d: kid %s is not the thumbprint of x", i, got.KeyID)
		}
	}
}

func TestJWKSHandler(t *testing.T) {
	keys := mustKeySet(t, mustKey(t))
	mux := http.NewServeMux()
	mux.Handle(auth.JWKSPath, auth.JWKSHandler(keys))

	tests := []struct {
		method     string
		wantStatus int
		wantBody   bool
	}{
		{http.MethodGet, http.StatusOK, true},
		{http.MethodHead, http.StatusOK, false},
		{http.MethodPost, http.StatusMethodNotAllowed, false},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(tt.method, auth.JWKSPath, nil))
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if tt.wantStatus != http.StatusOK {
				if rec.Header().Get("Allow") == "" {
					t.Error("405 without an Allow header")
				}
				return
			}
			if got := rec.Header().Get("Content-Type"); got != "application/jwk-set+json" {
				t.Errorf("Content-Type = %q", got)
			}
			if got := rec.Header().Get("Cache-Control"); got != "public, max-age=300" {
				t.Errorf("Cache-Control = %q", got)
			}
			if !tt.wantBody {
				return
			}
			var raw struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
				t.Fatalf("body: %v", err)
			}
			if len(raw.Keys) != 1 {
				t.Fatalf("body has %d keys, want 1", len(raw.Keys))
			}
			for _, private := range []string{"d", "p", "q", "k"} {
				if _, ok := raw.Keys[0][private]; ok {
					t.Errorf("published key has private member %q", private)
				}
			}
		})
	}
}
