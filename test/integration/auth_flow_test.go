package integration

import (
	"context"
	"errors"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/phoenixotel/phoenix/cmd/phoenix/smoke"
	"github.com/phoenixotel/phoenix/test/bintest"
)

// authSteps are the auth scenario's checks, in order.
var authSteps = []string{
	"login with a wrong password is refused",
	"login issues an access and a refresh token",
	"a request without a valid token is refused",
	"/v1/auth/me names the caller",
	"refresh rotates both tokens",
	"a rotated refresh token presented again is refused",
	"the reuse ended the whole session",
	"logout revokes the access token and its session",
}

const (
	serviceAccountGrant  = "a service account's client credentials grant a token"
	serviceAccountRevoke = "disabling the service account revokes its token"
)

// TestAuthFlow_AgainstPhoenixDev runs the auth scenario against the real API: as an admin every
// flow passes, the service account's included; as a viewer the service account is skipped; with
// a wrong password the scenario fails at login; and `phoenix test integration --focus auth`
// reports the same through the binary, exiting 0 or 1.
func TestAuthFlow_AgainstPhoenixDev(t *testing.T) {
	t.Parallel()
	p := startDev(t, devOptions{})
	tenant := p.tenant(t, "auth")
	// One account per subtest: logins count against a per-account limit (10 a minute).
	admin := p.user(t, tenant, "admin@auth.example", "admin")
	viewer := p.user(t, tenant, "viewer@auth.example", "viewer")
	proxied := p.user(t, tenant, "proxied@auth.example", "admin")
	scripted := p.user(t, tenant, "ci@auth.example", "admin")
	ctx := context.Background()

	t.Run("an admin passes every flow", func(t *testing.T) {
		res := smoke.Auth(ctx, p.target, smoke.Credentials{Primary: admin}, smoke.Options{})
		requirePassed(t, res, append(authSteps, serviceAccountGrant, serviceAccountRevoke)...)
		last := res.Steps[len(res.Steps)-1]
		if !strings.HasPrefix(last.Name, "cleanup: disable service account smoke-auth-") || last.Detail != "already disabled" {
			t.Fatalf("the last step is %+v, want the service account's cleanup finding it disabled", last)
		}
	})

	t.Run("a viewer passes, the service account skipped", func(t *testing.T) {
		res := smoke.Auth(ctx, p.target, smoke.Credentials{Primary: viewer}, smoke.Options{})
		requirePassed(t, res, authSteps...)
		requireSteps(t, res, map[string]smoke.Status{serviceAccountGrant: smoke.Skip})
	})

	t.Run("a wrong password fails at login", func(t *testing.T) {
		wrong := admin
		wrong.Password = "not the password at all"
		res := smoke.Auth(ctx, p.target, smoke.Credentials{Primary: wrong}, smoke.Options{})
		requireFailedAt(t, res, authSteps[1], "answered 401")
	})

	t.Run("a refresh endpoint that never rotates is caught", func(t *testing.T) {
		// The proxy answers every refresh after the first with the first answer again: the
		// old refresh token "works" and nothing rotates.
		var (
			mu    sync.Mutex
			first []byte
		)
		api := tamperAPI(t, p.target.API, func(r *http.Request, a answer) answer {
			mu.Lock()
			defer mu.Unlock()
			if r.URL.Path != "/v1/auth/refresh" {
				return a
			}
			if first == nil {
				if a.Status == http.StatusOK {
					first = a.Body
				}
				return a
			}
			return answer{Status: http.StatusOK, Body: first}
		})
		res := smoke.Auth(ctx, smoke.Target{API: api, Gateway: p.target.Gateway}, smoke.Credentials{Primary: proxied}, smoke.Options{})
		requireFailedAt(t, res, "a rotated refresh token presented again is refused", "a refresh token was exchanged twice")
	})

	t.Run("phoenix test integration --focus auth", func(t *testing.T) {
		run := func(pw string) (string, error) {
			cmd := exec.Command(p.bin, "test", "integration", "--focus", "auth", "--api", p.target.API, "--gateway", p.target.Gateway,
				"--tenant", scripted.Tenant, "--email", scripted.Email) // #nosec G204 -- the CLI built for the tests
			cmd.Env = append(bintest.Env(), "PHOENIX_SMOKE_PASSWORD="+pw)
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		out, err := run(scripted.Password)
		if err != nil || !strings.Contains(out, "PASS auth") || !strings.Contains(out, "1 of 1 scenarios passed") {
			t.Fatalf("with the right password: %v\n%s", err, out)
		}
		if strings.Contains(out, scripted.Password) {
			t.Fatal("the report shows the password")
		}
		out, err = run("a wrong but long password")
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(out, "FAIL auth") ||
			!strings.Contains(out, "FAIL login issues an access and a refresh token") ||
			!strings.Contains(out, "1 of 1 scenarios failed (auth: login issues an access and a refresh token)") {
			t.Fatalf("with a wrong password: %v\n%s", err, out)
		}
	})
}
