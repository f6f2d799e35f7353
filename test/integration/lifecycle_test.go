package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/phoenixotel/phoenix/cmd/phoenix/smoke"
	"github.com/phoenixotel/phoenix/test/collector"
)

// lifecycleSteps are the lifecycle scenario's checks up to running.
var lifecycleSteps = []string{
	"create an experiment and subscribe to it",
	"start: the experiment starts generating",
	"manifests are generated for both variants",
	"both variants' collectors are deployed: running",
}

// TestLifecycle_ReachesRunningAndStops runs the lifecycle scenario on phoenix dev with the real
// collector: the experiment is generated, both collectors start (running), and stopping it
// cancels it, every move streamed as the API lists it.
func TestLifecycle_ReachesRunningAndStops(t *testing.T) {
	t.Parallel()
	p := startDev(t, devOptions{collector: collector.Binary(t)})
	acct := p.user(t, p.tenant(t, "lifecycle"), "ops@lifecycle.example", "operator")
	res := smoke.Lifecycle(context.Background(), p.target, smoke.Credentials{Primary: acct}, smoke.Options{})
	requirePassed(t, res, append(lifecycleSteps, "stop: the experiment is cancelled", "the streamed transitions equal the API's")...)
	if s := res.Step("the streamed transitions equal the API's"); !strings.Contains(s.Detail, "4:running→cancelled]") {
		t.Fatalf("transitions %s, want the four moves ending running→cancelled", s.Detail)
	}
	if res.Completed != "" {
		t.Fatalf("a stopped experiment is reported completed: %s", res.Completed)
	}
}

// TestLifecycle_WithoutCollectorsFailsWhileDeploying shows the scenario on a platform where no
// collector can run: it fails at deploying with Phoenix's own reason, leaves the experiment
// failed, and the analysis scenario then refuses that experiment with its state and reason.
func TestLifecycle_WithoutCollectorsFailsWhileDeploying(t *testing.T) {
	t.Parallel()
	p := startDev(t, devOptions{})
	acct := p.user(t, p.tenant(t, "no-collectors"), "ops@nc.example", "operator")
	creds := smoke.Credentials{Primary: acct}
	ctx := context.Background()

	res := smoke.Lifecycle(ctx, p.target, creds, smoke.Options{})
	requireFailedAt(t, res, lifecycleSteps[3], "the experiment became failed while deploying its collectors")
	requireFailedAt(t, res, lifecycleSteps[3], "build it with `make collector`")
	requirePassed(t, smoke.Result{Scenario: "lifecycle", Steps: res.Steps[:3]}, lifecycleSteps[:3]...)
	cleanup := res.Step("cleanup: stop the experiment")
	if cleanup == nil || cleanup.Status != smoke.Pass || !strings.HasSuffix(cleanup.Detail, "left failed") {
		t.Fatalf("cleanup %+v, want the failed experiment left as it is", cleanup)
	}
	id := strings.Fields(res.Steps[0].Detail)[1]
	id = strings.TrimSuffix(id, ":")

	an := smoke.Analysis(ctx, p.target, creds, smoke.Options{Experiment: id})
	requireFailedAt(t, an, "the named experiment has completed", "is failed (failure reason")
	requirePassed(t, smoke.Result{Scenario: "analysis", Steps: an.Steps[:1]}, "an experiment that has not run has no analysis")
}
