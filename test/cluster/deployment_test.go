// Package cluster applies Phoenix's deployment to a real Kubernetes API server (test/kubeapi:
// kube-apiserver and etcd built from Kubernetes' own code) and runs the deployer against it with
// its real ServiceAccount and Role. Where test/deploy checks what the manifests say, these tests
// check what a cluster does with them: schemas, admission, RBAC, server-side apply.
//
// The server runs no controllers: objects are validated and stored, never reconciled, so
// nothing here proves a pod would start.
package cluster

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/phoenixotel/phoenix/cmd/phoenix/validate"
	"github.com/phoenixotel/phoenix/test/kubeapi"
)

// unchecked are the API groups of objects deploy/ renders that no API server here can check, with
// why (phoenix validate's cluster check leaves the same out).
var unchecked = validate.Unchecked

// checkable splits objs into those the server can check and those it cannot (unchecked).
func checkable(objs []object) (check, skip []object) {
	for _, o := range objs {
		if _, ok := unchecked[o.group()]; ok {
			skip = append(skip, o)
			continue
		}
		check = append(check, o)
	}
	return check, skip
}

func TestDeployment_EveryKustomizationIsAcceptedByARealAPIServer(t *testing.T) {
	_, kubeconfig := adminKubeconfig(t)
	knativeCRDs(t, kubeconfig)

	dirs := kustomizations(t)
	for _, want := range []string{"base", "experiments", "migrate", "overlays/dev", "overlays/production"} {
		if !slices.Contains(dirs, want) {
			t.Fatalf("deploy/%s/kustomization.yaml is missing (found %v)", want, dirs)
		}
	}
	// One server for every kustomization, applied one after another as releases would be: the
	// overlays update what base created, which is itself something a server may refuse
	// (immutable fields, ownership) where a fresh one would not.
	kinds := map[string]bool{}
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			check, skip := checkable(render(t, dir))
			for _, o := range skip {
				t.Logf("not checked: %s (%s): %s", o.id(), o.apiVersion(), unchecked[o.group()])
			}
			warnings, err := apply(t, kubeconfig, check...)
			if err != nil {
				t.Fatalf("the API server refused deploy/%s: %v", dir, err)
			}
			if strings.TrimSpace(warnings) != "" {
				t.Logf("the API server warned:\n%s", warnings)
			}
			// Accepted is not enough: each object must be stored, as this manager's.
			stored := get(t, kubeconfig, check...)
			if len(stored) != len(check) {
				t.Fatalf("applied %d objects, the server holds %d", len(check), len(stored))
			}
			for _, o := range stored {
				if !managedBy(o, rolloutManager) {
					t.Errorf("%s is not managed by %s: %v", o.id(), rolloutManager, o["metadata"])
				}
				kinds[o.group()+"/"+o.kind()] = true
			}
		})
	}
	// What the issue names must really have gone through the server, Knative's CRDs included.
	for _, k := range []string{"/Namespace", "/ServiceAccount", "rbac.authorization.k8s.io/Role", "rbac.authorization.k8s.io/RoleBinding",
		"/ConfigMap", "apps/Deployment", "policy/PodDisruptionBudget", "batch/Job", "serving.knative.dev/Service",
		"eventing.knative.dev/Broker", "eventing.knative.dev/Trigger", "sources.knative.dev/ApiServerSource", "sources.knative.dev/PingSource"} {
		if !kinds[k] {
			t.Errorf("no %s was applied and stored (applied: %v)", k, kinds)
		}
	}
}

// managedBy says whether manager owns fields of o (server-side apply's managedFields).
func managedBy(o object, manager string) bool {
	meta, _ := o["metadata"].(map[string]any)
	fields, _ := meta["managedFields"].([]any)
	for _, f := range fields {
		if m, _ := f.(map[string]any); m["manager"] == manager {
			return true
		}
	}
	return false
}

func TestDeployment_ARealAPIServerRefusesWhatAStandInWouldAccept(t *testing.T) {
	s, kubeconfig := adminKubeconfig(t)
	admin := s.Token(t, kubeapi.Admin)
	knativeCRDs(t, kubeconfig)
	base := render(t, "base")
	migrate := render(t, "migrate")
	experiments := render(t, "experiments")
	for _, objs := range [][]object{base, migrate, experiments} {
		check, _ := checkable(objs)
		if _, err := apply(t, kubeconfig, check...); err != nil {
			t.Fatal(err)
		}
	}
	find := func(objs []object, group, kind, name string) object {
		for _, o := range objs {
			if o.group() == group && o.kind() == kind && (name == "" || o.name() == name) {
				return o.clone(t)
			}
		}
		t.Fatalf("deploy renders no %s/%s %s", group, kind, name)
		return nil
	}

	// Each case breaks a copy of what deploy/ renders and sends it to the API server itself, so
	// the refusal is the server's (schema, admission, validation), not kubectl's client-side check.
	// Server-side apply refuses an object that does not fit the schema while building the typed
	// patch, before validation, and answers 500 — not 422 as a create or an update would: a
	// client must not take every 5xx from an apply for an outage.
	cases := []struct {
		name   string
		broken func() object // a rendered object, broken
		status int           // the server's answer
		want   string        // what its message says
	}{
		{"a Knative Service's port is not a number (Serving's CRD schema)", func() object {
			o := find(base, "serving.knative.dev", "Service", "phoenix-api")
			o.set(t, "http", "spec", "template", "spec", "containers", 0, "ports", 0, "containerPort")
			return o
		}, http.StatusInternalServerError, `containerPort: expected numeric (int or float), got string`},
		{"a Knative Service has a field Serving's schema does not know", func() object {
			o := find(base, "serving.knative.dev", "Service", "phoenix-api")
			o.set(t, 3, "spec", "template", "spec", "replicas")
			return o
		}, http.StatusInternalServerError, `.spec.template.spec.replicas: field not declared in schema`},
		{"a Trigger's filter is not a map of attributes (Eventing's CRD schema)", func() object {
			o := find(base, "eventing.knative.dev", "Trigger", "")
			o.set(t, "type=io.phoenix.experiment.started.v1", "spec", "filter", "attributes")
			return o
		}, http.StatusInternalServerError, `.spec.filter.attributes: expected map, got`},
		{"a ConfigMap for a namespace that does not exist (admission)", func() object {
			o := find(base, "", "ConfigMap", "")
			o.set(t, "phoenix-missing", "metadata", "namespace")
			return o
		}, http.StatusNotFound, `namespaces "phoenix-missing" not found`},
		{"a RoleBinding re-pointed at another Role (roleRef is immutable)", func() object {
			o := find(experiments, "rbac.authorization.k8s.io", "RoleBinding", "phoenix-deployer")
			o.set(t, "phoenix-collectors-watcher", "roleRef", "name")
			return o
		}, http.StatusUnprocessableEntity, "roleRef: Invalid value"},
		{"the migration Job with another image (a Job's template is immutable: rollout.sh deletes it first)", func() object {
			o := find(migrate, "batch", "Job", "phoenix-migrate")
			o.set(t, "ghcr.io/phoenixotel/phoenix-migrate:next", "spec", "template", "spec", "containers", 0, "image")
			return o
		}, http.StatusUnprocessableEntity, "field is immutable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			broken := c.broken()
			before := get(t, kubeconfig, broken)
			status, body := serverApply(t, s, admin, broken)
			if status != c.status || !strings.Contains(body, c.want) {
				t.Fatalf("the API server answered %d %q; want %d with %q", status, body, c.status, c.want)
			}
			// A refusal changes nothing: the stored object (if any) keeps its resourceVersion.
			after := get(t, kubeconfig, broken)
			if len(before) != len(after) || (len(after) == 1 && after[0].meta("resourceVersion") != before[0].meta("resourceVersion")) {
				t.Fatalf("the refused apply changed %s", broken.id())
			}
		})
	}
}
