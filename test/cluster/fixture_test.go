package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"sigs.k8s.io/yaml"

	"github.com/phoenixotel/phoenix/functions/generator"
	"github.com/phoenixotel/phoenix/shared/deployer"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/ingesttoken"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/kubeapi"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

// The deployer's identity as deploy/ renders it: a ServiceAccount in namespace phoenix (deploy/base)
// bound to a Role in the experiment namespace (deploy/experiments).
const (
	phoenixNamespace = "phoenix"
	deployerAccount  = "phoenix-deployer"
	deployerUser     = "system:serviceaccount:" + phoenixNamespace + ":" + deployerAccount
)

// fixture is a real API server holding deploy/'s namespaces and the deployer's RBAC, a migrated
// database with one tenant, and the Kubernetes deployer authenticated with a real token of its
// ServiceAccount.
type fixture struct {
	server     *kubeapi.Server
	kubeconfig string               // the admin's, for setting up and reading back
	role       object               // the deployer's Role as deploy/experiments renders it
	st         *store.Store         // experiments, manifests and ingest tokens
	tenant     uuid.UUID            // the tenant every experiment belongs to
	k          *deployer.Kubernetes // the deployer under test
}

func setup(t *testing.T) *fixture {
	t.Helper()
	s, kubeconfig := adminKubeconfig(t)
	f := &fixture{server: s, kubeconfig: kubeconfig}
	var objs []object
	for _, o := range render(t, "base") {
		if o.group() == "" && (o.kind() == "Namespace" || o.kind() == "ServiceAccount") {
			objs = append(objs, o)
		}
	}
	for _, o := range render(t, "experiments") {
		objs = append(objs, o)
		if o.kind() == "Role" && o.name() == deployerAccount {
			f.role = o
		}
	}
	if f.role == nil {
		t.Fatalf("deploy/experiments renders no Role %s", deployerAccount)
	}
	if _, err := apply(t, kubeconfig, objs...); err != nil {
		t.Fatal(err)
	}
	// As the kubelet mounts it: a file the deployer re-reads for every request.
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(s.ServiceAccountToken(t, phoenixNamespace, deployerAccount)), 0o600); err != nil {
		t.Fatal(err)
	}

	f.st = pgtest.Migrated(t).AppStore(t, store.Options{})
	f.tenant = pgtest.Tenant(t, f.st, "acme")
	// As deployer.KubernetesService wires it: real tokens in the database.
	f.k = deployer.KubernetesWithTokens(f.st, deployer.Cluster{Server: s.URL, TokenFile: tokenFile, Client: s.HTTPClient()}, 10*time.Minute)
	return f
}

// experiment creates an experiment whose collectors run in namespace ("" for the default), has
// the real generator render and store its manifests, and leaves it deploying.
func (f *fixture) experiment(t *testing.T, namespace string) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	var id uuid.UUID
	err := f.st.WithTenant(ctx, f.tenant, func(tx *store.Tx) error {
		e, err := tx.CreateExperiment(ctx, store.NewExperiment{Name: "on a real API server", DurationSeconds: 600, CreatedBy: "test",
			Baseline:  store.PipelineChoice{Template: "process-baseline"},
			Candidate: store.PipelineChoice{Template: "process-topk", Parameters: map[string]any{"k": 10}},
			Spec:      experiment.Spec{Targets: experiment.Targets{Namespace: namespace}}})
		id = e.ID
		return err
	})
	if err != nil {
		t.Fatalf("create experiment: %v", err)
	}
	pgtest.Advance(t, f.st, f.tenant, id, experiment.Generating)
	g := generator.New(f.st, generator.Options{Target: pipeline.Kubernetes,
		Ingest: "http://phoenix-ingest.phoenix.svc.cluster.local", Image: "ghcr.io/phoenixotel/phoenix-collector:0.160.0-phoenix"})
	e, err := events.New(uuid.NewString(), events.ManifestsRequested, events.SourceController, f.tenant, id, events.ExperimentRef{ExperimentID: id})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := g.Handle(ctx, e)
	if err != nil || reply == nil || reply.Type() != events.ManifestsGenerated {
		t.Fatalf("generate manifests: %v %v", reply, err)
	}
	// The controller's move on manifests.generated (pgtest.Advance starts from pending).
	err = f.st.WithTenant(ctx, f.tenant, func(tx *store.Tx) error {
		_, err := tx.Move(ctx, id, experiment.Generating, experiment.Deploying, e.ID(), "test", "")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// send delivers a deploy or teardown request to the deployer and returns the workload failure it
// answers with, if any.
func (f *fixture) send(t *testing.T, typ string, id uuid.UUID) (*events.WorkloadFailure, error) {
	t.Helper()
	e, err := events.New(uuid.NewString(), typ, events.SourceController, f.tenant, id, events.ExperimentRef{ExperimentID: id})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reply, err := f.k.Handle(ctx, e)
	if err != nil || reply == nil {
		return nil, err
	}
	var failure events.WorkloadFailure
	if reply.Type() != events.WorkloadFailed || reply.DataAs(&failure) != nil {
		t.Fatalf("the deployer replied %s %s", reply.Type(), reply.Data())
	}
	return &failure, nil
}

// objects is everything the deployer applies for an experiment: the stored manifests and each
// variant's ingest Secret.
func (f *fixture) objects(t *testing.T, id uuid.UUID) []object {
	t.Helper()
	ms := f.manifests(t, id)
	var objs []object
	secrets := map[experiment.Variant]string{}
	for _, m := range ms {
		var o object
		if err := json.Unmarshal(yamlToJSON(t, m.Content), &o); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o)
		secrets[m.Variant] = o.namespace()
	}
	for v, ns := range secrets {
		objs = append(objs, object{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"namespace": ns,
			"name": pipeline.IngestSecretName(pipeline.Request{ExperimentID: id, Variant: string(v)})}})
	}
	return objs
}

// stored reads objs back as the admin, keyed by id; the ServiceMonitors are left out (no
// Prometheus Operator CRD here: see unchecked).
func (f *fixture) stored(t *testing.T, objs []object) map[string]object {
	t.Helper()
	check, _ := checkable(objs)
	out := map[string]object{}
	for _, o := range get(t, f.kubeconfig, check...) {
		out[o.id()] = o
	}
	return out
}

// tokenRevoked says whether the ingest token in a stored Secret has been revoked.
func (f *fixture) tokenRevoked(t *testing.T, secret object) bool {
	t.Helper()
	data, _ := secret["data"].(map[string]any)
	enc, _ := data["token"].(string)
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(raw) == 0 {
		t.Fatalf("%s holds no token: %v", secret.id(), secret["data"])
	}
	tenant, sum, err := ingesttoken.Parse(string(raw))
	if err != nil {
		t.Fatalf("%s: %v", secret.id(), err)
	}
	var scope store.IngestScope
	err = f.st.WithTenant(context.Background(), tenant, func(tx *store.Tx) (err error) {
		scope, err = tx.IngestScope(context.Background(), sum)
		return err
	})
	if err != nil {
		t.Fatalf("%s: the token is not one the deployer issued: %v", secret.id(), err)
	}
	return scope.Revoked
}

// setRole applies role as the admin and waits until the API server's authorizer answers that the
// deployer may (allowed) or may not use verb on resource in the experiment namespace: RBAC reads
// Roles from an informer cache, so a change is not in force the instant it is stored.
func (f *fixture) setRole(t *testing.T, role object, resource, verb string, allowed bool) {
	t.Helper()
	if _, err := apply(t, f.kubeconfig, role); err != nil {
		t.Fatal(err)
	}
	group := ""
	if resource == "daemonsets" {
		group = "apps"
	}
	review, _ := json.Marshal(map[string]any{"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
		"spec": map[string]any{"user": deployerUser, "groups": []string{"system:serviceaccounts", "system:serviceaccounts:" + phoenixNamespace},
			"resourceAttributes": map[string]any{"namespace": pipeline.DefaultNamespace, "group": group, "resource": resource, "verb": verb}}})
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		status, body, err := f.server.Call(ctx, f.server.Token(t, kubeapi.Admin), http.MethodPost,
			"/apis/authorization.k8s.io/v1/subjectaccessreviews", review, "application/json")
		cancel()
		var sar struct {
			Status struct {
				Allowed bool `json:"allowed"`
			} `json:"status"`
		}
		if err == nil && status == http.StatusCreated && json.Unmarshal(body, &sar) == nil && sar.Status.Allowed == allowed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("RBAC did not take the Role change within 30 s: %d %s %v", status, body, err)
		}
		time.Sleep(100 * time.Millisecond) // polling the authorizer: it announces nothing
	}
}

// storedContent is the manifest the generator stored for kind/name of experiment id.
func storedContent(t *testing.T, f *fixture, id uuid.UUID, kind, name string) string {
	t.Helper()
	for _, m := range f.manifests(t, id) {
		if m.Kind == kind && m.Name == name {
			return m.Content
		}
	}
	t.Fatalf("no stored %s %s", kind, name)
	return ""
}

// yamlToJSON converts a stored manifest (YAML) to JSON.
func yamlToJSON(t *testing.T, content string) []byte {
	t.Helper()
	raw, err := yaml.YAMLToJSON([]byte(content))
	if err != nil {
		t.Fatalf("stored manifest: %v", err)
	}
	return raw
}

// tamper rewrites the baseline's stored DaemonSet of experiment id with change, as a generator
// bug or a hand-edited row would leave it.
func (f *fixture) tamper(t *testing.T, id uuid.UUID, change func(object)) {
	t.Helper()
	ctx := context.Background()
	err := f.st.WithTenant(ctx, f.tenant, func(tx *store.Tx) error {
		ms, err := tx.Manifests(ctx, id)
		if err != nil {
			return err
		}
		var recs []store.ManifestRecord
		var sums [][]byte
		for _, m := range ms {
			if m.Variant != experiment.Baseline {
				continue
			}
			if m.Kind == "DaemonSet" {
				var o object
				if err := json.Unmarshal(yamlToJSON(t, m.Content), &o); err != nil {
					return err
				}
				change(o)
				raw, err := yaml.Marshal(o)
				if err != nil {
					return err
				}
				m.Content = string(raw)
			}
			sum := sha256.Sum256([]byte(m.Content))
			recs, sums = append(recs, m), append(sums, sum[:])
		}
		return tx.SaveManifests(ctx, id, experiment.Baseline, recs, sums)
	})
	if err != nil {
		t.Fatalf("tamper with the stored DaemonSet: %v", err)
	}
}

// manifests are the manifests the generator stored for experiment id.
func (f *fixture) manifests(t *testing.T, id uuid.UUID) []store.ManifestRecord {
	t.Helper()
	var ms []store.ManifestRecord
	err := f.st.WithTenant(context.Background(), f.tenant, func(tx *store.Tx) (err error) {
		ms, err = tx.Manifests(context.Background(), id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}
