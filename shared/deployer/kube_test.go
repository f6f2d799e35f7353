package deployer

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
)

// apiServer stands in for the Kubernetes API server (no cluster here): it records every request
// and answers with the status the test sets per path fragment.
type apiServer struct {
	mu       sync.Mutex
	requests []recorded
	status   map[string]int // path fragment → status; default 200
}

type recorded struct {
	method, path, query, contentType, auth, body string
}

func (a *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.requests = append(a.requests, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), string(body)})
	status := http.StatusOK
	for frag, s := range a.status {
		if strings.Contains(r.URL.Path, frag) {
			status = s
		}
	}
	a.mu.Unlock()
	w.WriteHeader(status)
	_, _ = io.WriteString(w, `{"kind":"Status","message":"answer for `+r.URL.Path+`"}`)
}

func kubeSetup(t *testing.T, state experiment.State, status map[string]int) (*Kubernetes, *apiServer, *fixture, *[]uuid.UUID) {
	t.Helper()
	f := setup(t, nil, state)
	api := &apiServer{status: status}
	srv := httptest.NewTLSServer(api)
	t.Cleanup(srv.Close)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("sa-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k := NewKubernetes(f.st, Cluster{Server: srv.URL, TokenFile: tokenFile, Client: srv.Client()})
	var revoked []uuid.UUID
	k.Issue = func(_ context.Context, tenant, id uuid.UUID, v experiment.Variant) (string, error) {
		return "pit_token-of-" + string(v), nil
	}
	k.Revoke = func(_ context.Context, tenant, id uuid.UUID) error { revoked = append(revoked, id); return nil }
	return k, api, f, &revoked
}

func (f *fixture) kubeRequest(t *testing.T, k *Kubernetes, typ string) (*events.WorkloadFailure, error) {
	t.Helper()
	e, _ := events.New(uuid.NewString(), typ, events.SourceController, f.tenant, f.exp, events.ExperimentRef{ExperimentID: f.exp})
	reply, err := k.Handle(context.Background(), e)
	if err != nil || reply == nil {
		return nil, err
	}
	var failure events.WorkloadFailure
	if reply.Type() != events.WorkloadFailed || reply.DataAs(&failure) != nil {
		t.Fatalf("reply %s %s", reply.Type(), reply.Data())
	}
	return &failure, nil
}

func TestKubernetes_AppliesSecretsThenManifestsAndTearsDown(t *testing.T) {
	t.Parallel()
	k, api, f, revoked := kubeSetup(t, experiment.Deploying, map[string]int{"/servicemonitors/": http.StatusNotFound})
	if failure, err := f.kubeRequest(t, k, events.DeployRequested); err != nil || failure != nil {
		t.Fatalf("deploy: %v %+v", err, failure)
	}
	perVariant := map[string][]string{}
	for _, r := range api.requests {
		if r.method == http.MethodGet && strings.Contains(r.path, "/secrets/") && r.auth == "Bearer sa-token" {
			continue // whether the Secret holds a live token already (test/cluster runs this against a real server)
		}
		if r.method != http.MethodPatch || r.contentType != "application/apply-patch+yaml" ||
			r.query != "fieldManager=phoenix-deployer" || r.auth != "Bearer sa-token" {
			t.Fatalf("request %+v", r)
		}
		v := "baseline"
		if strings.Contains(r.path, "-candidate") {
			v = "candidate"
		}
		segments := strings.Split(r.path, "/") // …/namespaces/NS/RESOURCE/NAME
		perVariant[v] = append(perVariant[v], segments[len(segments)-2])
		if strings.Contains(r.path, "/secrets/") && !strings.Contains(r.body, "token: pit_token-of-"+v) {
			t.Errorf("%s secret body:\n%s", v, r.body)
		}
		if !strings.Contains(r.path, "/secrets/") && strings.Contains(r.body, "pit_") {
			t.Errorf("a token leaked into %s", r.path)
		}
	}
	for _, v := range []string{"baseline", "candidate"} {
		got := strings.Join(perVariant[v], ",")
		// The Secret first: the DaemonSet's pods read it at start.
		if !strings.HasPrefix(got, "secrets,") || len(perVariant[v]) != 5 ||
			!strings.Contains(got, "configmaps") || !strings.Contains(got, "daemonsets") || !strings.Contains(got, "services") {
			t.Errorf("%s applied %s", v, got)
		}
	}

	api.requests = nil
	if _, err := f.kubeRequest(t, k, events.TeardownRequested); err != nil {
		t.Fatal(err)
	}
	deleted := 0
	for _, r := range api.requests {
		if r.method != http.MethodDelete {
			t.Fatalf("teardown sent %s %s", r.method, r.path)
		}
		deleted++
	}
	if deleted != 10 || len(*revoked) != 1 || (*revoked)[0] != f.exp {
		t.Fatalf("teardown deleted %d objects, revoked %v", deleted, *revoked)
	}
}

func TestKubernetes_RefusalFailsTheExperimentAndOutageRetries(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		status  int
		failure bool // answered with workload.failed (permanent), else an error (retried)
	}{
		{"invalid object", http.StatusUnprocessableEntity, true},
		{"forbidden", http.StatusForbidden, true},
		{"API server down", http.StatusServiceUnavailable, false},
		{"throttled", http.StatusTooManyRequests, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			k, _, f, _ := kubeSetup(t, experiment.Deploying, map[string]int{"/daemonsets/": c.status})
			failure, err := f.kubeRequest(t, k, events.DeployRequested)
			if c.failure {
				if err != nil || failure == nil || failure.Variant != "baseline" || !strings.Contains(failure.Reason, "daemonsets") {
					t.Fatalf("failure %+v, err %v", failure, err)
				}
				return
			}
			if err == nil || failure != nil {
				t.Fatalf("want an error to retry, got failure %+v", failure)
			}
		})
	}
}

func TestKubernetes_AppliesNothingForAnExperimentThatMovedOn(t *testing.T) {
	t.Parallel()
	k, api, f, _ := kubeSetup(t, experiment.Generating, nil)
	if failure, err := f.kubeRequest(t, k, events.DeployRequested); err != nil || failure != nil {
		t.Fatal(err, failure)
	}
	if len(api.requests) != 0 {
		t.Fatalf("applied %d objects", len(api.requests))
	}
}

func TestParse_RefusesKindsPhoenixDoesNotGenerate(t *testing.T) {
	cases := map[string]string{
		"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: x}\n": "not a kind",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n":                                    "without a namespace",
		"{": "stored manifest",
	}
	for in, want := range cases {
		if _, err := parse([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}
