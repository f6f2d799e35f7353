package auth_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/auth"
)

func TestIssue_WritesAccessTokenClaims(t *testing.T) {
	f := newFixture(t, nil)
	roles := []string{"editor", "viewer"}
	tok, claims, err := f.issuer.Issue(auth.Grant{Subject: "user-42", Tenant: f.tenant, Roles: roles})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	roles[0] = "admin" // the token must not share the caller's slice

	parsed, _, err := jwt.NewParser().ParseUnverified(tok, &auth.Claims{})
	if err != nil {
		t.Fatalf("ParseUnverified: %v", err)
	}
	if got := parsed.Header; got["alg"] != "EdDSA" || got["typ"] != auth.HeaderType || got["kid"] != f.key.ID {
		t.Errorf("header = %v, want alg EdDSA, typ %s, kid %s", got, auth.HeaderType, f.key.ID)
	}
	got := parsed.Claims.(*auth.Claims)
	jti, err := uuid.Parse(got.ID)
	if err != nil || jti.Version() != 4 {
		t.Errorf("jti %q is not a v4 UUID (%v)", got.ID, err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"iss", got.Issuer, testIssuer},
		{"aud", []string(got.Audience), []string{testAudience}},
		{"sub", got.Subject, "user-42"},
		{"tenant", got.Tenant, f.tenant.String()},
		{"roles", got.Roles, []string{"editor", "viewer"}},
		{"typ", got.Type, auth.TokenTypeAccess},
		{"iat", got.IssuedAt.Time, epoch},
		{"nbf", got.NotBefore.Time, epoch},
		{"exp", got.ExpiresAt.Time, epoch.Add(auth.DefaultTTL)},
		{"returned jti", claims.ID, got.ID},
		{"returned exp", claims.ExpiresAt.Time, got.ExpiresAt.Time},
	}
	for _, c := range checks {
		if !equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestIssue_FreshTokenIDs(t *testing.T) {
	f := newFixture(t, nil)
	_, a := mustIssue(t, f.issuer, f.tenant)
	_, b := mustIssue(t, f.issuer, f.tenant)
	if a.ID == b.ID {
		t.Errorf("two tokens share jti %s", a.ID)
	}
}

func TestIssue_ConfiguredTTL(t *testing.T) {
	keys := mustKeySet(t, mustKey(t))
	iss, err := auth.NewIssuer(auth.IssuerConfig{
		Keys: keys, Issuer: testIssuer, Audience: testAudience, TTL: 2 * time.Minute, Now: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, claims := mustIssue(t, iss, uuid.New())
	if want := epoch.Add(2 * time.Minute); !claims.ExpiresAt.Time.Equal(want) {
		t.Errorf("exp = %s, want %s", claims.ExpiresAt.Time, want)
	}
}

func TestNewIssuer_RejectsBadConfig(t *testing.T) {
	key := mustKey(t)
	valid := auth.IssuerConfig{Keys: mustKeySet(t, key), Issuer: testIssuer, Audience: testAudience}
	tests := []struct {
		name string
		edit func(*auth.IssuerConfig)
	}{
		{"no keys", func(c *auth.IssuerConfig) { c.Keys = nil }},
		{"verify-only keys", func(c *auth.IssuerConfig) { c.Keys = mustKeySet(t, key.VerifyOnly()) }},
		{"no issuer", func(c *auth.IssuerConfig) { c.Issuer = "" }},
		{"no audience", func(c *auth.IssuerConfig) { c.Audience = "" }},
		{"negative TTL", func(c *auth.IssuerConfig) { c.TTL = -time.Minute }},
		{"TTL over the maximum", func(c *auth.IssuerConfig) { c.TTL = auth.MaxTTL + time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.edit(&cfg)
			if _, err := auth.NewIssuer(cfg); err == nil {
				t.Error("NewIssuer succeeded, want error")
			}
		})
	}
}

func TestIssue_RejectsBadInput(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name    string
		subject string
		tenant  uuid.UUID
		roles   []string
		msg     string
	}{
		{"empty subject", "", f.tenant, nil, "subject"},
		{"nil tenant", "user-42", uuid.Nil, nil, "tenant"},
		{"token over the size limit", "user-42", f.tenant, manyRoles(1000), "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := f.issuer.Issue(auth.Grant{Subject: tt.subject, Tenant: tt.tenant, Roles: tt.roles})
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Issue error = %v, want one mentioning %q", err, tt.msg)
			}
		})
	}
}

func equal(a, b any) bool {
	switch a := a.(type) {
	case []string:
		return slices.Equal(a, b.([]string))
	case time.Time:
		return a.Equal(b.(time.Time))
	default:
		return a == b
	}
}

func TestIssue_ServiceAccountGrantRoundTrips(t *testing.T) {
	f := newFixture(t, nil)
	tok, _, err := f.issuer.Issue(auth.Grant{Subject: "sa-1", SubjectType: auth.SubjectServiceAccount,
		Tenant: f.tenant, Permissions: []string{"experiment:read"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.verifier.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.SubjectType != auth.SubjectServiceAccount || !slices.Equal(p.Permissions, []string{"experiment:read"}) || len(p.Roles) != 0 {
		t.Fatalf("principal %+v", p)
	}
	if !p.IssuedAt.Equal(epoch) {
		t.Fatalf("IssuedAt %v, want %v", p.IssuedAt, epoch)
	}
	if _, _, err := f.issuer.Issue(auth.Grant{Subject: "x", SubjectType: "robot", Tenant: f.tenant}); err == nil {
		t.Fatal("unknown subject type issued")
	}
}

func TestIssue_IssuedAtKeepsMilliseconds(t *testing.T) {
	f := newFixture(t, nil)
	at := epoch.Add(1500 * time.Millisecond)
	iss, err := auth.NewIssuer(auth.IssuerConfig{Keys: f.keys, Issuer: testIssuer, Audience: testAudience, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := iss.Issue(auth.Grant{Subject: "u", Tenant: f.tenant})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.verifier.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if !p.IssuedAt.Equal(at) {
		t.Fatalf("IssuedAt %v, want %v (milliseconds kept)", p.IssuedAt, at)
	}
}
