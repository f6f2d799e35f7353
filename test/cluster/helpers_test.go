package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/phoenixotel/phoenix/cmd/phoenix/validate"
	"github.com/phoenixotel/phoenix/test/kubeapi"
)

// object is one decoded Kubernetes object.
type object map[string]any

func (o object) apiVersion() string { s, _ := o["apiVersion"].(string); return s }
func (o object) kind() string       { s, _ := o["kind"].(string); return s }
func (o object) meta(key string) string {
	m, _ := o["metadata"].(map[string]any)
	s, _ := m[key].(string)
	return s
}
func (o object) name() string      { return o.meta("name") }
func (o object) namespace() string { return o.meta("namespace") }

// group is the API group of the object's apiVersion ("" for the core group).
func (o object) group() string {
	if g, _, ok := strings.Cut(o.apiVersion(), "/"); ok {
		return g
	}
	return ""
}

// id names the object as kubectl does in messages: kind, namespace and name.
func (o object) id() string {
	if ns := o.namespace(); ns != "" {
		return o.kind() + " " + ns + "/" + o.name()
	}
	return o.kind() + " " + o.name()
}

// clone deep-copies o, for tests that break a copy of a rendered object.
func (o object) clone(t *testing.T) object {
	t.Helper()
	raw, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var c object
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// set replaces the value at path (map keys and list indexes), which must exist up to its parent.
func (o object) set(t *testing.T, value any, path ...any) {
	t.Helper()
	var cur any = map[string]any(o)
	for i, p := range path {
		last := i == len(path)-1
		switch k := p.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				t.Fatalf("set %v: %v is not a map", path, path[:i])
			}
			if last {
				m[k] = value
				return
			}
			cur = m[k]
		case int:
			l, ok := cur.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("set %v: %v has no item %d", path, path[:i], k)
			}
			if last {
				l[k] = value
				return
			}
			cur = l[k]
		}
	}
}

// root is the repository root, found from this file so the tests run from any directory.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// kubectlPath is kubectl, or the test is skipped as test/deploy does without it.
func kubectlPath(t *testing.T) string {
	t.Helper()
	k, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed: these tests render with `kubectl kustomize` and apply with kubectl (apt-get install kubectl; .ci/run installs it)")
	}
	return k
}

// kubectl runs kubectl against the server with kubeconfig (none for `kustomize`), stdin on its
// input, and returns its standard output and error apart.
func kubectl(t *testing.T, kubeconfig string, stdin []byte, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	if kubeconfig != "" {
		args = append([]string{"--kubeconfig", kubeconfig}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, kubectlPath(t), args...) // #nosec G204 -- kubectl with this test's arguments
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(stdin), &out, &errb
	err = cmd.Run()
	if err != nil {
		err = fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), err
}

// render runs `kubectl kustomize` on deploy/<dir> and decodes every document.
func render(t *testing.T, dir string) []object {
	t.Helper()
	out, stderr, err := kubectl(t, "", nil, "kustomize", filepath.Join(root(), "deploy", dir))
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var objs []object
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(out, -1) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var o object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("decode deploy/%s: %v\n%s", dir, err, doc)
		}
		objs = append(objs, o)
	}
	return objs
}

// kustomizations lists every directory under deploy/ holding a kustomization.yaml, relative to
// deploy/, as phoenix validate finds them, so a new one is checked without a change here.
func kustomizations(t *testing.T) []string {
	t.Helper()
	dirs, err := validate.Kustomizations(filepath.Join(root(), "deploy"))
	if err != nil {
		t.Fatalf("find kustomizations: %v", err)
	}
	return dirs
}

// list wraps objects in a v1 List, the one document kubectl applies them from in order.
func list(t *testing.T, objs ...object) []byte {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": objs})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// rolloutManager is the field manager the tests apply deploy/ with, as one release tool would.
const rolloutManager = validate.RolloutManager

// apply server-side-applies objs as the holder of kubeconfig with kubectl's default strict field
// validation (a field the schema does not know is an error, not silently pruned), and returns
// kubectl's warnings.
func apply(t *testing.T, kubeconfig string, objs ...object) (warnings string, err error) {
	t.Helper()
	_, stderr, err := kubectl(t, kubeconfig, list(t, objs...), "apply", "--server-side", "--field-manager", rolloutManager, "-f", "-")
	if err != nil {
		return stderr, fmt.Errorf("%w\n%s", err, stderr)
	}
	return stderr, nil
}

// get reads objects back from the server, as kubectl get -f does; missing ones are left out.
func get(t *testing.T, kubeconfig string, objs ...object) []object {
	t.Helper()
	out, stderr, err := kubectl(t, kubeconfig, list(t, objs...), "get", "--ignore-not-found", "--show-managed-fields", "-o", "json", "-f", "-")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if strings.TrimSpace(out) == "" {
		return nil
	}
	var l struct {
		Kind  string   `json:"kind"`
		Items []object `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("decode kubectl get: %v\n%s", err, out)
	}
	if l.Kind != "List" { // one object comes back alone
		var o object
		_ = json.Unmarshal([]byte(out), &o)
		return []object{o}
	}
	return l.Items
}

// serverApply server-side-applies o straight to the API server as the holder of token, with
// strict field validation, and returns the server's status and message (its Status object's, or
// the whole body): for tests of what the server itself refuses, with kubectl's client-side
// validation out of the way.
func serverApply(t *testing.T, s *kubeapi.Server, token string, o object) (int, string) {
	t.Helper()
	body, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path := restPath(t, s, token, o) + "?" + url.Values{"fieldManager": {rolloutManager}, "fieldValidation": {"Strict"}}.Encode()
	status, raw, err := s.Call(ctx, token, http.MethodPatch, path, body, "application/apply-patch+yaml")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Kind    string `json:"kind"`
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &st) == nil && st.Kind == "Status" {
		return status, st.Message
	}
	return status, string(raw)
}

// restPath finds o's REST path through the server's discovery, as kubectl does: the resource
// name and whether it is namespaced come from the server, not from a table here.
func restPath(t *testing.T, s *kubeapi.Server, token string, o object) string {
	t.Helper()
	prefix := "/apis/" + o.apiVersion()
	if o.group() == "" {
		prefix = "/api/" + o.apiVersion()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	status, raw, err := s.Call(ctx, token, http.MethodGet, prefix, nil, "")
	if err != nil || status != http.StatusOK {
		t.Fatalf("discover %s: %d %s %v", prefix, status, raw, err)
	}
	var list struct {
		Resources []struct {
			Name       string `json:"name"`
			Kind       string `json:"kind"`
			Namespaced bool   `json:"namespaced"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatalf("discover %s: %v", prefix, err)
	}
	for _, r := range list.Resources {
		if r.Kind != o.kind() || strings.Contains(r.Name, "/") { // subresources share the kind
			continue
		}
		if r.Namespaced {
			return fmt.Sprintf("%s/namespaces/%s/%s/%s", prefix, url.PathEscape(o.namespace()), r.Name, url.PathEscape(o.name()))
		}
		return fmt.Sprintf("%s/%s/%s", prefix, r.Name, url.PathEscape(o.name()))
	}
	t.Fatalf("the server serves no %s in %s", o.kind(), prefix)
	return ""
}

// knativeCRDs installs Knative Serving's and Eventing's CRDs as phoenix validate's cluster check
// does, so every Knative object applied afterwards is checked against Knative's own schemas.
func knativeCRDs(t *testing.T, kubeconfig string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := validate.KnativeCRDs(ctx, kubectlPath(t), kubeconfig, root(), t.TempDir()); err != nil {
		t.Fatal(err)
	}
}

// adminKubeconfig starts a server and returns it with a kubeconfig as its admin.
func adminKubeconfig(t *testing.T, users ...kubeapi.User) (*kubeapi.Server, string) {
	t.Helper()
	kubectlPath(t)
	s := kubeapi.Start(t, users...)
	return s, s.Kubeconfig(t, s.Token(t, kubeapi.Admin))
}
