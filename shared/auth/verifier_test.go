package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/auth"
)

func TestVerify_AcceptsIssuedToken(t *testing.T) {
	f := newFixture(t, nil)
	tok, claims := mustIssue(t, f.issuer, f.tenant)

	got, err := f.verifier.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := auth.Principal{
		Subject:   "user-42",
		Tenant:    f.tenant,
		Roles:     []string{"editor"},
		TokenID:   claims.ID,
		ExpiresAt: epoch.Add(auth.DefaultTTL),
	}
	if got.Subject != want.Subject || got.Tenant != want.Tenant || !slices.Equal(got.Roles, want.Roles) ||
		got.TokenID != want.TokenID || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("Verify = %+v, want %+v", got, want)
	}
}

func TestVerify_AcceptsWithinLeewayAndEquivalentForms(t *testing.T) {
	f := newFixture(t, nil)
	attacker := mustKey(t)
	tests := []struct {
		name string
		edit func(h map[string]any, c jwt.MapClaims)
	}{
		{"as issued", nil},
		{"expired less than leeway ago", func(_ map[string]any, c jwt.MapClaims) {
			c["exp"] = epoch.Add(-10 * time.Second).Unix()
		}},
		{"nbf within leeway", func(_ map[string]any, c jwt.MapClaims) { c["nbf"] = epoch.Add(20 * time.Second).Unix() }},
		{"iat within leeway", func(_ map[string]any, c jwt.MapClaims) { c["iat"] = epoch.Add(20 * time.Second).Unix() }},
		{"no nbf", func(_ map[string]any, c jwt.MapClaims) { delete(c, "nbf") }},
		{"no roles", func(_ map[string]any, c jwt.MapClaims) { delete(c, "roles") }},
		{"aud list including ours", func(_ map[string]any, c jwt.MapClaims) {
			c["aud"] = []string{"phoenix-gateway", testAudience}
		}},
		{"header typ as media type", func(h map[string]any, _ jwt.MapClaims) { h["typ"] = "application/AT+JWT" }},
		// A jku pointing elsewhere is ignored, not obeyed: the key still comes
		// from the set by kid, so a genuine token stays genuine.
		{"ignored jku and jwk headers", func(h map[string]any, _ jwt.MapClaims) {
			h["jku"] = "https://evil.example/jwks.json"
			h["jwk"] = jwkHeader(attacker)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.verifier.Verify(context.Background(), f.mint(t, tt.edit)); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestVerify_RejectsHostileTokens(t *testing.T) {
	const revokedID = "7b1f0c52-2c55-4d8e-9a3f-6e0c4b1d2a99"
	f := newFixture(t, revokeList{ids: map[string]bool{revokedID: true}})
	attacker := mustKey(t)
	outsider := mustKey(t) // a well-formed key nobody put in the set

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkix, err := x509.MarshalPKIXPublicKey(f.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	publicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	ourHeader := map[string]any{"kid": f.key.ID, "typ": auth.HeaderType}

	tests := []struct {
		name  string
		token func(t *testing.T) string
		// reason, if set, must also be in the error chain.
		reason error
		// msg, if set, must appear in the error text: it proves the token
		// failed for the intended reason, not an incidental one.
		msg string
	}{
		{name: "empty", token: func(*testing.T) string { return "" }, msg: "empty"},
		{name: "not a JWT", token: func(*testing.T) string { return "not-a-jwt" }, reason: jwt.ErrTokenMalformed},
		{name: "two segments", token: func(t *testing.T) string {
			parts := strings.Split(f.mint(t, nil), ".")
			return parts[0] + "." + parts[1]
		}, reason: jwt.ErrTokenMalformed},
		{name: "alg none", token: func(t *testing.T) string {
			return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, ourHeader, f.validClaims())
		}, reason: jwt.ErrTokenSignatureInvalid, msg: "none"},
		{name: "alg none header on a genuine token", token: func(t *testing.T) string {
			parts := strings.Split(f.mint(t, nil), ".")
			h := `{"alg":"none","kid":"` + f.key.ID + `","typ":"at+jwt"}`
			return base64.RawURLEncoding.EncodeToString([]byte(h)) + "." + parts[1] + "."
		}, reason: jwt.ErrTokenSignatureInvalid},
		{name: "HS256 keyed with the raw public key", token: func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, []byte(f.key.PublicKey), ourHeader, f.validClaims())
		}, reason: jwt.ErrTokenSignatureInvalid, msg: "HS256"},
		{name: "HS256 keyed with the public key PEM", token: func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, publicPEM, ourHeader, f.validClaims())
		}, reason: jwt.ErrTokenSignatureInvalid, msg: "HS256"},
		{name: "RS256", token: func(t *testing.T) string {
			return sign(t, jwt.SigningMethodRS256, rsaKey, ourHeader, f.validClaims())
		}, reason: jwt.ErrTokenSignatureInvalid, msg: "RS256"},
		{name: "ES256", token: func(t *testing.T) string {
			return sign(t, jwt.SigningMethodES256, ecKey, ourHeader, f.validClaims())
		}, reason: jwt.ErrTokenSignatureInvalid, msg: "ES256"},
		{name: "EdDSA by another key under our kid", token: func(t *testing.T) string {
			return sign(t, jwt.SigningMethodEdDSA, attacker.PrivateKey, ourHeader, f.validClaims())
		}, reason: jwt.ErrTokenSignatureInvalid},
		{name: "payload edited after signing", token: func(t *testing.T) string {
			genuine := f.mint(t, nil)
			payload := decodeSegment(t, strings.Split(genuine, ".")[1])
			edited := strings.Replace(payload, `"roles":["editor"]`, `"roles":["admin"]`, 1)
			if edited == payload {
				t.Fatalf("payload %s has no roles to edit", payload)
			}
			return reencodePayload(t, genuine, edited)
		}, reason: jwt.ErrTokenSignatureInvalid},
		{name: "signature stripped", token: func(t *testing.T) string {
			parts := strings.Split(f.mint(t, nil), ".")
			return parts[0] + "." + parts[1] + "."
		}, reason: jwt.ErrTokenSignatureInvalid},
		{name: "signature spliced from another token", token: func(t *testing.T) string {
			a := strings.Split(f.mint(t, nil), ".")
			b := strings.Split(f.mint(t, func(_ map[string]any, c jwt.MapClaims) { c["sub"] = "user-7" }), ".")
			return b[0] + "." + b[1] + "." + a[2]
		}, reason: jwt.ErrTokenSignatureInvalid},
		{name: "non-canonical base64 signature", token: func(t *testing.T) string {
			return nonCanonicalSignature(t, f.mint(t, nil))
		}, reason: jwt.ErrTokenMalformed},
		{name: "expired beyond leeway", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) {
				c["iat"] = epoch.Add(-11 * time.Minute).Unix()
				c["nbf"] = c["iat"]
				c["exp"] = epoch.Add(-time.Minute).Unix()
			})
		}, reason: jwt.ErrTokenExpired},
		{name: "missing exp", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { delete(c, "exp") })
		}, reason: jwt.ErrTokenRequiredClaimMissing, msg: "exp"},
		{name: "nbf beyond leeway", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { c["nbf"] = epoch.Add(5 * time.Minute).Unix() })
		}, reason: jwt.ErrTokenNotValidYet},
		{name: "iat beyond leeway", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { c["iat"] = epoch.Add(5 * time.Minute).Unix() })
		}, reason: jwt.ErrTokenUsedBeforeIssued},
		{name: "missing iat", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { delete(c, "iat") })
		}, msg: "iat"},
		{name: "wrong iss", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { c["iss"] = "https://evil.example" })
		}, reason: jwt.ErrTokenInvalidIssuer},
		{name: "missing iss", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { delete(c, "iss") })
		}, reason: jwt.ErrTokenRequiredClaimMissing, msg: "iss"},
		{name: "wrong aud", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { c["aud"] = "phoenix-billing" })
		}, reason: jwt.ErrTokenInvalidAudience},
		{name: "aud list without ours", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { c["aud"] = []string{"a", "b"} })
		}, reason: jwt.ErrTokenInvalidAudience},
		{name: "missing aud", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { delete(c, "aud") })
		}, reason: jwt.ErrTokenRequiredClaimMissing, msg: "aud"},
		{name: "iat_ms outside iat's second", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { c["iat_ms"] = epoch.Add(-time.Hour).UnixMilli() })
		}, msg: "iat_ms"},
		{name: "unknown sub_type", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { c["sub_type"] = "admin" })
		}, msg: "sub_type"},
		{name: "missing sub_type", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { delete(c, "sub_type") })
		}, msg: "sub_type"},
		{name: "typ refresh", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { c["typ"] = "refresh" })
		}, msg: `"refresh"`},
		{name: "typ missing", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { delete(c, "typ") })
		}, msg: "token typ"},
		{name: "header typ JWT", token: func(t *testing.T) string {
			return f.mint(t, func(h map[string]any, _ jwt.MapClaims) { h["typ"] = "JWT" })
		}, reason: jwt.ErrTokenUnverifiable, msg: "header typ"},
		{name: "header typ missing", token: func(t *testing.T) string {
			return f.mint(t, func(h map[string]any, _ jwt.MapClaims) { h["typ"] = nil })
		}, reason: jwt.ErrTokenUnverifiable, msg: "header typ"},
		{name: "unknown kid", token: func(t *testing.T) string {
			h := map[string]any{"kid": outsider.ID, "typ": auth.HeaderType}
			return sign(t, jwt.SigningMethodEdDSA, outsider.PrivateKey, h, f.validClaims())
		}, reason: jwt.ErrTokenUnverifiable, msg: "not in the key set"},
		{name: "missing kid", token: func(t *testing.T) string {
			return f.mint(t, func(h map[string]any, _ jwt.MapClaims) { h["kid"] = nil })
		}, reason: jwt.ErrTokenUnverifiable, msg: "kid is missing"},
		{name: "non-string kid", token: func(t *testing.T) string {
			return f.mint(t, func(h map[string]any, _ jwt.MapClaims) { h["kid"] = 1 })
		}, reason: jwt.ErrTokenUnverifiable, msg: "kid is missing"},
		{name: "path-like kid", token: func(t *testing.T) string {
			return f.mint(t, func(h map[string]any, _ jwt.MapClaims) { h["kid"] = "../../etc/passwd" })
		}, reason: jwt.ErrTokenUnverifiable, msg: "not in the key set"},
		{name: "jku header naming an attacker key", token: func(t *testing.T) string {
			h := map[string]any{"kid": attacker.ID, "typ": auth.HeaderType, "jku": "https://evil.example/jwks.json"}
			return sign(t, jwt.SigningMethodEdDSA, attacker.PrivateKey, h, f.validClaims())
		}, reason: jwt.ErrTokenUnverifiable, msg: "not in the key set"},
		{name: "embedded jwk header with an attacker key", token: func(t *testing.T) string {
			h := map[string]any{"typ": auth.HeaderType, "jwk": jwkHeader(attacker)}
			return sign(t, jwt.SigningMethodEdDSA, attacker.PrivateKey, h, f.validClaims())
		}, reason: jwt.ErrTokenUnverifiable, msg: "kid is missing"},
		{name: "embedded jwk header with an attacker key under our kid", token: func(t *testing.T) string {
			h := map[string]any{"kid": f.key.ID, "typ": auth.HeaderType, "jwk": jwkHeader(attacker)}
			return sign(t, jwt.SigningMethodEdDSA, attacker.PrivateKey, h, f.validClaims())
		}, reason: jwt.ErrTokenSignatureInvalid},
		{name: "x5u header naming an attacker key", token: func(t *testing.T) string {
			h := map[string]any{"kid": attacker.ID, "typ": auth.HeaderType, "x5u": "https://evil.example/cert.pem"}
			return sign(t, jwt.SigningMethodEdDSA, attacker.PrivateKey, h, f.validClaims())
		}, reason: jwt.ErrTokenUnverifiable, msg: "not in the key set"},
		{name: "crit header", token: func(t *testing.T) string {
			return f.mint(t, func(h map[string]any, _ jwt.MapClaims) { h["crit"] = []string{"b64"}; h["b64"] = false })
		}, reason: jwt.ErrTokenUnverifiable, msg: "crit"},
		{name: "over 8 KiB", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { c["roles"] = manyRoles(1000) })
		}, msg: "over the 8192 limit"},
		{name: "nil tenant", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { c["tenant"] = uuid.Nil.String() })
		}, msg: "nil UUID"},
		{name: "missing tenant", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { delete(c, "tenant") })
		}, msg: "tenant"},
		{name: "malformed tenant", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { c["tenant"] = "acme" })
		}, msg: "not a UUID"},
		{name: "non-canonical tenant", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { c["tenant"] = "{" + strings.ToUpper(f.tenant.String()) + "}" })
		}, msg: "not a canonical UUID"},
		{name: "non-string tenant", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { c["tenant"] = 7 })
		}, reason: jwt.ErrTokenMalformed},
		{name: "missing sub", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { delete(c, "sub") })
		}, msg: "sub"},
		{name: "missing jti", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { delete(c, "jti") })
		}, msg: "jti"},
		{name: "revoked via the hook", token: func(t *testing.T) string {
			return f.mint(t, func(_ map[string]any, c jwt.MapClaims) { c["jti"] = revokedID })
		}, msg: "revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := f.verifier.Verify(context.Background(), tt.token(t))
			t.Logf("rejected: %v", err)
			if !errors.Is(err, auth.ErrUnauthenticated) {
				t.Fatalf("Verify error = %v, want ErrUnauthenticated", err)
			}
			if tt.reason != nil && !errors.Is(err, tt.reason) {
				t.Errorf("Verify error = %v, want it to wrap %v", err, tt.reason)
			}
			if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Verify error = %q, want it to mention %q", err, tt.msg)
			}
			if p.Subject != "" || p.Tenant != uuid.Nil || p.Roles != nil || p.TokenID != "" {
				t.Errorf("Verify returned principal %+v with its error", p)
			}
		})
	}
}

func TestVerify_Rotation(t *testing.T) {
	ctx := context.Background()
	oldKey, newKey := mustKey(t), mustKey(t)
	tenant := uuid.New()

	// Step 1: only the old key exists and signs.
	before := mustKeySet(t, oldKey)
	oldToken, _ := mustIssue(t, mustIssuer(t, before), tenant)

	// Step 2: the new key is published beside the old one but does not sign yet.
	published := mustKeySet(t, oldKey, newKey)
	if active, _ := published.Active(); active.ID != oldKey.ID {
		t.Fatalf("published set signs with %s, want the old key %s", active.ID, oldKey.ID)
	}
	if _, err := mustVerifier(t, published, nil).Verify(ctx, oldToken); err != nil {
		t.Fatalf("old token with both keys published: %v", err)
	}

	// Step 3: the new key becomes active; the old one only verifies.
	rotated := mustKeySet(t, newKey, oldKey.VerifyOnly())
	newToken, _ := mustIssue(t, mustIssuer(t, rotated), tenant)
	if kid := headerKID(t, newToken); kid != newKey.ID {
		t.Errorf("token after rotation carries kid %s, want %s", kid, newKey.ID)
	}
	both := mustVerifier(t, rotated, nil)
	for name, tok := range map[string]string{"old": oldToken, "new": newToken} {
		if _, err := both.Verify(ctx, tok); err != nil {
			t.Errorf("%s token while both keys are in the set: %v", name, err)
		}
	}
	// A verifier that has not yet seen the rotated set still has the new key
	// from step 2, which is why publication comes first.
	if _, err := mustVerifier(t, published, nil).Verify(ctx, newToken); err != nil {
		t.Errorf("new token at a verifier with the published set: %v", err)
	}

	// Step 4: the old key is removed once its tokens have expired.
	after := mustVerifier(t, mustKeySet(t, newKey), nil)
	if _, err := after.Verify(ctx, newToken); err != nil {
		t.Errorf("new token after old key removal: %v", err)
	}
	if _, err := after.Verify(ctx, oldToken); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("old token after old key removal: error = %v, want ErrUnauthenticated", err)
	}
}

func TestVerify_RevocationHook(t *testing.T) {
	backendDown := errors.New("redis: connection refused")
	tests := []struct {
		name      string
		hook      revokeList
		wantErr   bool
		want401   bool
		wantCause error
	}{
		{name: "not revoked", hook: revokeList{}},
		{name: "revoked", hook: revokeList{ids: map[string]bool{}}, wantErr: true, want401: true},
		// The token is refused, but as a server fault: a 401 would send
		// every client to sign in again because Redis blinked.
		{name: "hook fails", hook: revokeList{err: backendDown}, wantErr: true, wantCause: backendDown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen revocationCall
			tt.hook.seen = &seen
			f := newFixture(t, nil)
			tok, claims := mustIssue(t, f.issuer, f.tenant)
			if tt.hook.ids != nil {
				tt.hook.ids[claims.ID] = true
			}
			v := mustVerifier(t, f.keys, tt.hook)

			p, err := v.Verify(context.Background(), tok)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Verify error = %v, want error %t", err, tt.wantErr)
			}
			if got := errors.Is(err, auth.ErrUnauthenticated); got != tt.want401 {
				t.Errorf("errors.Is(%v, ErrUnauthenticated) = %t, want %t", err, got, tt.want401)
			}
			if tt.wantCause != nil && !errors.Is(err, tt.wantCause) {
				t.Errorf("Verify error = %v, want it to wrap %v", err, tt.wantCause)
			}
			if err != nil && p.TokenID != "" {
				t.Errorf("Verify returned principal %+v with its error", p)
			}
			if seen.p.TokenID != claims.ID || seen.p.Tenant != f.tenant || !seen.issuedAt.Equal(epoch) {
				t.Errorf("hook saw %+v issued at %s, want token %s of tenant %s issued at %s",
					seen.p, seen.issuedAt, claims.ID, f.tenant, epoch)
			}
		})
	}
}

func TestVerify_HookNotCalledForForgeries(t *testing.T) {
	var seen revocationCall
	f := newFixture(t, nil)
	v := mustVerifier(t, f.keys, revokeList{seen: &seen})
	forged := sign(t, jwt.SigningMethodEdDSA, mustKey(t).PrivateKey,
		map[string]any{"kid": f.key.ID, "typ": auth.HeaderType}, f.validClaims())
	if _, err := v.Verify(context.Background(), forged); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("Verify error = %v, want ErrUnauthenticated", err)
	}
	if seen.p.TokenID != "" {
		t.Errorf("revocation hook called for a forged token: %+v", seen.p)
	}
}

func TestNewVerifier_RejectsBadConfig(t *testing.T) {
	keys := mustKeySet(t, mustKey(t))
	valid := auth.VerifierConfig{Keys: keys, Issuer: testIssuer, Audience: testAudience}
	tests := []struct {
		name string
		edit func(*auth.VerifierConfig)
	}{
		{"no keys", func(c *auth.VerifierConfig) { c.Keys = nil }},
		{"no issuer", func(c *auth.VerifierConfig) { c.Issuer = "" }},
		{"no audience", func(c *auth.VerifierConfig) { c.Audience = "" }},
		{"negative leeway", func(c *auth.VerifierConfig) { c.Leeway = -time.Second }},
		{"leeway over the maximum", func(c *auth.VerifierConfig) { c.Leeway = auth.MaxLeeway + time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.edit(&cfg)
			if _, err := auth.NewVerifier(cfg); err == nil {
				t.Error("NewVerifier succeeded, want error")
			}
		})
	}
	if _, err := auth.NewVerifier(valid); err != nil {
		t.Errorf("NewVerifier(valid): %v", err)
	}
}

func TestVerify_ConfiguredLeeway(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.mint(t, func(_ map[string]any, c jwt.MapClaims) { c["exp"] = epoch.Add(-10 * time.Second).Unix() })
	tests := []struct {
		leeway time.Duration
		ok     bool
	}{
		{time.Second, false},
		{15 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.leeway.String(), func(t *testing.T) {
			v, err := auth.NewVerifier(auth.VerifierConfig{
				Keys: f.keys, Issuer: testIssuer, Audience: testAudience, Leeway: tt.leeway, Now: clock,
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(context.Background(), tok)
			if (err == nil) != tt.ok {
				t.Errorf("Verify error = %v, want ok %t", err, tt.ok)
			}
		})
	}
}

// jwkHeader is the attacker's key as an embedded "jwk" header (RFC 7515 §4.1.3).
func jwkHeader(k auth.Key) map[string]any {
	return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(k.PublicKey)}
}

func headerKID(t *testing.T, token string) string {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		t.Fatalf("ParseUnverified: %v", err)
	}
	kid, _ := tok.Header["kid"].(string)
	return kid
}

func decodeSegment(t *testing.T, seg string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("decode segment: %v", err)
	}
	return string(b)
}

// nonCanonicalSignature sets the unused low bits of the signature's last
// base64 character: lenient decoders read the same 64 bytes, so without
// strict decoding one token would have many spellings.
func nonCanonicalSignature(t *testing.T, token string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.LastIndexByte(alphabet, token[len(token)-1])
	if i < 0 || i&0x0f != 0 {
		t.Fatalf("signature does not end in a canonical character: %q", token[len(token)-1:])
	}
	return token[:len(token)-1] + string(alphabet[i|1])
}

func manyRoles(n int) []string {
	roles := make([]string, n)
	for i := range roles {
		roles[i] = "role-with-a-long-name"
	}
	return roles
}
