package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/shared/deployer"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/test/kubeapi"
)

func TestDeployer_AppliesAnExperimentAsItsServiceAccountAndTearsItDown(t *testing.T) {
	f := setup(t)
	id := f.experiment(t, "")
	if failure, err := f.send(t, events.DeployRequested, id); err != nil || failure != nil {
		t.Fatalf("deploy: %v %+v", err, failure)
	}

	objs := f.objects(t, id)
	check, skip := checkable(objs)
	for _, o := range skip {
		t.Logf("not checked: %s: %s; the deployer took the API server's 404 for it as no Prometheus Operator", o.id(), unchecked[o.group()])
	}
	stored := f.stored(t, objs)
	kinds := map[string]int{}
	for _, o := range check {
		s, ok := stored[o.id()]
		if !ok {
			t.Errorf("%s was not applied", o.id())
			continue
		}
		kinds[o.kind()]++
		if s.namespace() != pipeline.DefaultNamespace {
			t.Errorf("%s is in %q", s.id(), s.namespace())
		}
		if !managedBy(s, deployer.FieldManager) {
			t.Errorf("%s is not managed by %s: %v", s.id(), deployer.FieldManager, s["metadata"])
		}
		if o.kind() == "Secret" && f.tokenRevoked(t, s) {
			t.Errorf("%s holds a revoked token", s.id())
		}
	}
	if want := map[string]int{"Secret": 2, "ConfigMap": 2, "DaemonSet": 2, "Service": 2}; fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("applied %v, want %v", kinds, want)
	}

	if failure, err := f.send(t, events.TeardownRequested, id); err != nil || failure != nil {
		t.Fatalf("teardown: %v %+v", err, failure)
	}
	if left := get(t, f.kubeconfig, check...); len(left) != 0 {
		t.Errorf("teardown left %d objects, the first %s", len(left), left[0].id())
	}
	for _, o := range check {
		if o.kind() == "Secret" && !f.tokenRevoked(t, stored[o.id()]) {
			t.Errorf("the token of %s is still live after teardown", o.id())
		}
	}
}

func TestDeployer_RedeliveryChangesNothingTheGeneratorRendered(t *testing.T) {
	f := setup(t)
	id := f.experiment(t, "")
	if failure, err := f.send(t, events.DeployRequested, id); err != nil || failure != nil {
		t.Fatalf("deploy: %v %+v", err, failure)
	}
	objs := f.objects(t, id)
	first := f.stored(t, objs)
	if failure, err := f.send(t, events.DeployRequested, id); err != nil || failure != nil {
		t.Fatalf("redelivered deploy: %v %+v", err, failure)
	}
	second := f.stored(t, objs)
	var rotated []string
	for key, o := range first {
		// Server-side apply of the same content is a no-op: the resourceVersion stays.
		if o.meta("resourceVersion") == second[key].meta("resourceVersion") {
			continue
		}
		if o.kind() != "Secret" {
			t.Errorf("a redelivery rewrote %s (resourceVersion %s → %s)", key, o.meta("resourceVersion"), second[key].meta("resourceVersion"))
			continue
		}
		rotated = append(rotated, key)
	}
	// The Secrets too: the deployer keeps the live token each holds, so the collectors keep
	// running with theirs and no second token is issued.
	if len(rotated) > 0 {
		slices.Sort(rotated)
		t.Errorf("a redelivery rewrote %v with a new ingest token", rotated)
	}
}

func TestDeployer_IsRefusedOutsideItsRole(t *testing.T) {
	f := setup(t)
	cases := []struct {
		namespace string
		why       string
	}{
		{phoenixNamespace, "Phoenix's own namespace, where its credentials live"},
		{"kube-system", "another namespace that exists"},
		{"phoenix-nowhere", "a namespace that does not exist (RBAC answers before the namespace is looked up)"},
	}
	for _, c := range cases {
		t.Run(c.namespace, func(t *testing.T) {
			id := f.experiment(t, c.namespace)
			failure, err := f.send(t, events.DeployRequested, id)
			if err != nil || failure == nil {
				t.Fatalf("deploying into %s (%s): failure %+v, error %v; want a refusal", c.namespace, c.why, failure, err)
			}
			// The first request is reading the baseline's Secret (a live token in it is kept): the
			// refusal names it and the ServiceAccount, in the API server's own words.
			secret := pipeline.IngestSecretName(pipeline.Request{ExperimentID: id, Variant: string(experiment.Baseline)})
			want := fmt.Sprintf(`(403): secrets %q is forbidden: User %q cannot get resource "secrets" in API group "" in the namespace %q`,
				secret, deployerUser, c.namespace)
			if failure.Variant != string(experiment.Baseline) || !strings.Contains(failure.Reason, want) {
				t.Fatalf("failure %+v, want the reason to hold %s", failure, want)
			}
			check, _ := checkable(f.objects(t, id))
			if left := get(t, f.kubeconfig, check...); len(left) != 0 {
				t.Fatalf("%s holds %s", c.namespace, left[0].id())
			}
		})
	}
}

func TestDeployer_ARoleMissingOneVerbFailsAtTheStepThatNeedsIt(t *testing.T) {
	f := setup(t)
	rules, _ := f.role["rules"].([]any)
	// ruleFor finds the Role's rule granting resource.
	ruleFor := func(resource string) int {
		for i, r := range rules {
			res, _ := r.(map[string]any)["resources"].([]any)
			if slices.Contains(res, any(resource)) {
				return i
			}
		}
		t.Fatalf("deploy/experiments' Role %s has no rule for %s", deployerAccount, resource)
		return -1
	}
	cases := []struct {
		name     string
		resource string   // whose rule loses verbs
		verbs    []string // the verbs taken away
		deploy   string   // what the deploy's failure names ("" when it succeeds)
		teardown string   // what the teardown's error names ("" when it succeeds)
	}{
		{"server-side apply needs patch", "secrets", []string{"patch"}, `cannot patch resource "secrets"`, ""},
		{"server-side apply creating an object needs create", "secrets", []string{"create"}, `cannot create resource "secrets"`, ""},
		{"the DaemonSet comes after the Secret and the ConfigMap", "daemonsets", []string{"patch"}, `cannot patch resource "daemonsets"`, ""},
		{"teardown needs delete", "configmaps", []string{"delete"}, "", `cannot delete resource "configmaps"`},
		{"teardown of the DaemonSets needs delete", "daemonsets", []string{"delete"}, "", `cannot delete resource "daemonsets"`},
		// Before issuing a token the deployer reads the variant's Secret: a redelivery keeps the
		// live token it holds.
		{"keeping a live token needs get", "secrets", []string{"get"}, `cannot get resource "secrets"`, ""},
		// The hand-written client never lists, watches or updates: these verbs are granted for
		// tools and for a future client that watches rollouts, and losing them changes nothing.
		{"the deployer uses no other verb", "secrets", []string{"list", "watch", "update"}, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rule := ruleFor(c.resource)
			narrowed := f.role.clone(t)
			granted, _ := rules[rule].(map[string]any)["verbs"].([]any)
			var kept []any
			for _, v := range granted {
				if !slices.Contains(c.verbs, v.(string)) {
					kept = append(kept, v)
				}
			}
			narrowed.set(t, kept, "rules", rule, "verbs")
			f.setRole(t, narrowed, c.resource, c.verbs[0], false)
			t.Cleanup(func() { f.setRole(t, f.role, c.resource, c.verbs[0], true) })

			id := f.experiment(t, "")
			failure, err := f.send(t, events.DeployRequested, id)
			switch {
			case err != nil:
				t.Fatalf("deploy: %v", err)
			case c.deploy == "" && failure != nil:
				t.Fatalf("deploy failed: %+v", failure)
			case c.deploy != "" && (failure == nil || !strings.Contains(failure.Reason, c.deploy) || !strings.Contains(failure.Reason, "(403)")):
				t.Fatalf("deploy: failure %+v, want one naming %s", failure, c.deploy)
			case failure != nil:
				t.Logf("deploy failed as it must: %s", failure.Reason)
			}
			_, err = f.send(t, events.TeardownRequested, id)
			if err != nil {
				t.Logf("teardown: %v", err)
			}
			switch {
			case c.teardown == "" && err != nil:
				t.Fatalf("teardown: %v", err)
			case c.teardown != "" && (err == nil || !strings.Contains(err.Error(), c.teardown)):
				t.Fatalf("teardown: %v, want an error naming %s", err, c.teardown)
			}
		})
	}
}

func TestDeployer_ReportsAConflictWithAnotherFieldManager(t *testing.T) {
	f := setup(t)
	id := f.experiment(t, "")
	if failure, err := f.send(t, events.DeployRequested, id); err != nil || failure != nil {
		t.Fatalf("deploy: %v %+v", err, failure)
	}
	var cm object
	for _, o := range f.objects(t, id) {
		if o.kind() == "ConfigMap" {
			cm = o
			break
		}
	}
	// Someone edits the collector's configuration by hand, taking the field from the deployer.
	path := fmt.Sprintf("/api/v1/namespaces/%s/configmaps/%s", cm.namespace(), cm.name())
	edit := []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + cm.name() + `"},"data":{"config.yaml":"edited: by hand\n"}}`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := f.server.Token(t, kubeapi.Admin)
	if status, body, err := f.server.Call(ctx, admin, http.MethodPatch, path+"?fieldManager=operator&force=true", edit, "application/apply-patch+yaml"); err != nil || status != http.StatusOK {
		t.Fatalf("edit by hand: %d %s %v", status, body, err)
	}
	// What the server answers the deployer's own apply when it does not force: the conflict, named.
	deployerToken := f.server.ServiceAccountToken(t, phoenixNamespace, deployerAccount)
	content := yamlToJSON(t, storedContent(t, f, id, "ConfigMap", cm.name()))
	status, body, err := f.server.Call(ctx, deployerToken, http.MethodPatch, path+"?fieldManager="+deployer.FieldManager, content, "application/apply-patch+yaml")
	if err != nil || status != http.StatusConflict {
		t.Fatalf("an unforced apply over another manager's field: %d %s %v, want 409", status, body, err)
	}
	var conflict struct {
		Message string `json:"message"`
		Reason  string `json:"reason"`
	}
	_ = json.Unmarshal(body, &conflict)

	// The deployer reports the conflict, in the server's words, and leaves the hand edit alone.
	failure, err := f.send(t, events.DeployRequested, id)
	got := f.stored(t, []object{cm})[cm.id()]
	data, _ := got["data"].(map[string]any)
	if err != nil || failure == nil || !strings.Contains(failure.Reason, "(409)") || !strings.Contains(failure.Reason, conflict.Message) ||
		data["config.yaml"] != "edited: by hand\n" {
		t.Fatalf("a redeploy over a hand edit: failure %+v, error %v, config.yaml now %q; want the 409 %q reported and the edit kept",
			failure, err, data["config.yaml"], conflict.Message)
	}
}

func TestDeployer_AnObjectTheServerRefusesFailsTheExperiment(t *testing.T) {
	f := setup(t)
	cases := []struct {
		name   string
		change func(object)
		status string // the API server's answer, as the failure quotes it
		want   string // what its message says
	}{
		{"invalid: the selector does not match the pod template (validation, 422)", func(o object) {
			o.set(t, map[string]any{"app": "elsewhere"}, "spec", "selector", "matchLabels")
		}, "(422)", "`selector` does not match template `labels`"},
		{"not the schema's type: hostPID is a string (server-side apply's typed patch, 500)", func(o object) {
			o.set(t, "yes", "spec", "template", "spec", "hostPID")
		}, "(500)", ".spec.template.spec.hostPID: expected boolean, got"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := f.experiment(t, "")
			f.tamper(t, id, c.change)
			failure, err := f.send(t, events.DeployRequested, id)
			if err != nil || failure == nil || failure.Variant != string(experiment.Baseline) ||
				!strings.Contains(failure.Reason, "DaemonSet") || !strings.Contains(failure.Reason, c.status) || !strings.Contains(failure.Reason, c.want) {
				t.Fatalf("deploy: failure %+v, error %v; want a failure of the baseline's DaemonSet %s with %q", failure, err, c.status, c.want)
			}
		})
	}
}
