package integration

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/phoenixotel/phoenix/cmd/phoenix/smoke"
)

// tenancySteps are the tenancy scenario's checks, in order.
var tenancySteps = []string{
	"both accounts log in, to different tenants",
	"both accounts may do what the checks need",
	"tenant A creates an experiment and reads it",
	"tenant B gets 404 for every read of A's experiment",
	"tenant B's list shows only B's experiments",
	"tenant B gets 404 for every command on A's experiment, which stays untouched",
	"tenant B cannot subscribe to A's experiment",
	"tenant B's live events exclude A's",
}

// TestMultiTenant_IsolationThroughTheAPIAndGateway runs the tenancy scenario against the real API
// and gateway with two tenants' operators, then shows it fails when the accounts cannot prove
// isolation (one tenant, or a viewer) and when the API or the gateway leaks.
func TestMultiTenant_IsolationThroughTheAPIAndGateway(t *testing.T) {
	t.Parallel()
	p := startDev(t, devOptions{})
	ta, tb := p.tenant(t, "tenancy-a"), p.tenant(t, "tenancy-b")
	ctx := context.Background()
	accounts := func(name string) smoke.Credentials {
		return smoke.Credentials{
			Primary: p.user(t, ta, name+"@a.example", "operator"),
			Other:   p.user(t, tb, name+"@b.example", "admin"),
		}
	}

	t.Run("two tenants' operators pass", func(t *testing.T) {
		res := smoke.Tenancy(ctx, p.target, accounts("ops"), smoke.Options{})
		requirePassed(t, res, tenancySteps...)
		for _, s := range res.Steps {
			if strings.HasPrefix(s.Name, "cleanup: stop") && !strings.Contains(s.Detail, "cancelled") {
				t.Errorf("cleanup %q left %s", s.Name, s.Detail)
			}
		}
	})

	t.Run("two accounts of one tenant fail", func(t *testing.T) {
		c := smoke.Credentials{Primary: p.user(t, ta, "same@a.example", "operator"), Other: p.user(t, ta, "same-other@a.example", "operator")}
		res := smoke.Tenancy(ctx, p.target, c, smoke.Options{})
		requireFailedAt(t, res, tenancySteps[0], "the scenario needs accounts of two tenants")
	})

	t.Run("a viewer as the other account fails", func(t *testing.T) {
		c := smoke.Credentials{Primary: p.user(t, ta, "with-viewer@a.example", "operator"), Other: p.user(t, tb, "viewer@b.example", "viewer")}
		res := smoke.Tenancy(ctx, p.target, c, smoke.Options{})
		requireFailedAt(t, res, tenancySteps[1], "lacks experiment:create, experiment:start, experiment:stop")
	})

	t.Run("an API that serves another tenant's transitions is caught", func(t *testing.T) {
		api := tamperAPI(t, p.target.API, func(r *http.Request, a answer) answer {
			if strings.HasSuffix(r.URL.Path, "/transitions") && a.Status == http.StatusNotFound {
				return answer{Status: http.StatusOK, Body: []byte(`{"items":[]}`)}
			}
			return a
		})
		res := smoke.Tenancy(ctx, smoke.Target{API: api, Gateway: p.target.Gateway}, accounts("leaky-api"), smoke.Options{})
		requireFailedAt(t, res, tenancySteps[3], "/transitions answered 200: tenant isolation is broken")
	})

	t.Run("a gateway that subscribes another tenant's experiment is caught", func(t *testing.T) {
		var mu sync.Mutex
		gw := tamperGateway(t, p.target.Gateway, func(f map[string]any) map[string]any {
			mu.Lock()
			defer mu.Unlock()
			if f["type"] == "error" && f["code"] == "not_found" {
				return map[string]any{"type": "subscribed", "channel": f["channel"], "seq": 0}
			}
			return f
		})
		res := smoke.Tenancy(ctx, smoke.Target{API: p.target.API, Gateway: gw}, accounts("leaky-gw"), smoke.Options{})
		requireFailedAt(t, res, tenancySteps[6], "answered subscribed, want not_found")
	})
}
