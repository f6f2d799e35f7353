package api

import (
	"net/http"
	"testing"

	"github.com/phoenixotel/phoenix/shared/password"
)

// BenchmarkLoginFailure shows that every failed login costs the same argon2id work whatever
// failed, so response time does not tell which tenants or users exist. Compare the ns/op of the
// sub-benchmarks (they use the production cost, password.Default()):
//
//	go test -run '^$' -bench LoginFailure -benchtime 20x ./functions/api
func BenchmarkLoginFailure(b *testing.B) {
	f := setup(b)
	f.api.o.Password = password.Default()
	f.api.o.Limits.LoginAccount.Rate = 0 // measure the work, not the limiter
	f.api.o.Limits.LoginIP.Rate = 0
	f.user(b, f.acme, "ops@acme.example", "viewer")
	for _, c := range []struct{ name, tenant, email, pw string }{
		{"unknown-tenant", "nobody", "ops@acme.example", "a wrong password"},
		{"unknown-user", "acme", "who@acme.example", "a wrong password"},
		{"wrong-password", "acme", "ops@acme.example", "a wrong password"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				r := f.do(b, "POST", "/v1/auth/login", "", jsonBody(map[string]string{"tenant": c.tenant, "email": c.email, "password": c.pw}))
				if r.code != http.StatusUnauthorized {
					b.Fatalf("status %d", r.code)
				}
			}
		})
	}
}
