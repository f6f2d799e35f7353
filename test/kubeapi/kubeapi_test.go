package kubeapi

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// call is Call that fails the test on a transport error.
func call(t *testing.T, s *Server, token, method, path, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	status, raw, err := s.Call(ctx, token, method, path, []byte(body), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	return status, string(raw)
}

func TestStart_AuthenticatesTokensAndEnforcesRBAC(t *testing.T) {
	reader := ServiceAccount("team-a", "reader")
	s := Start(t, reader)
	admin, readerToken := s.Token(t, Admin), s.Token(t, reader.Name)

	for _, ns := range []string{"team-a", "team-b"} {
		if status, body := call(t, s, admin, http.MethodPost, "/api/v1/namespaces",
			`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"`+ns+`"}}`); status != http.StatusCreated {
			t.Fatalf("create namespace %s: %d %s", ns, status, body)
		}
	}
	// The reader may list ConfigMaps in team-a only: a Role and a RoleBinding, as deploy/ grants.
	for _, obj := range []struct{ path, body string }{
		{"/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/roles",
			`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"read"},
			  "rules":[{"apiGroups":[""],"resources":["configmaps"],"verbs":["list"]}]}`},
		{"/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings",
			`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"read"},
			  "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"read"},
			  "subjects":[{"kind":"ServiceAccount","namespace":"team-a","name":"reader"}]}`},
	} {
		if status, body := call(t, s, admin, http.MethodPost, obj.path, obj.body); status != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", obj.path, status, body)
		}
	}

	cases := []struct {
		name   string
		token  string
		method string
		path   string
		want   int
	}{
		{"the admin reads anything", admin, http.MethodGet, "/api/v1/namespaces/team-b/secrets", http.StatusOK},
		{"an unknown token is not authenticated", "not-a-token", http.MethodGet, "/api/v1/namespaces", http.StatusUnauthorized},
		{"anonymous may ask for readiness", "", http.MethodGet, "/readyz", http.StatusOK},
		{"anonymous may not list namespaces", "", http.MethodGet, "/api/v1/namespaces", http.StatusForbidden},
		{"the reader lists what its Role grants", readerToken, http.MethodGet, "/api/v1/namespaces/team-a/configmaps", http.StatusOK},
		{"the reader may not use a verb its Role lacks", readerToken, http.MethodGet, "/api/v1/namespaces/team-a/configmaps/x", http.StatusForbidden},
		{"the reader may not read another resource", readerToken, http.MethodGet, "/api/v1/namespaces/team-a/secrets", http.StatusForbidden},
		{"the reader may not list another namespace", readerToken, http.MethodGet, "/api/v1/namespaces/team-b/configmaps", http.StatusForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if status, body := call(t, s, c.token, c.method, c.path, ""); status != c.want {
				t.Fatalf("%s %s: %d, want %d: %s", c.method, c.path, status, c.want, body)
			}
		})
	}
}

func TestServiceAccountToken_IsTheServiceAccountWhileItExists(t *testing.T) {
	s := Start(t)
	admin := s.Token(t, Admin)
	for _, obj := range []struct{ path, body string }{
		{"/api/v1/namespaces", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"apps"}}`},
		{"/api/v1/namespaces/apps/serviceaccounts", `{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"worker"}}`},
	} {
		if status, body := call(t, s, admin, http.MethodPost, obj.path, obj.body); status != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", obj.path, status, body)
		}
	}
	token := s.ServiceAccountToken(t, "apps", "worker")

	review := `{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`
	status, body := call(t, s, token, http.MethodPost, "/apis/authentication.k8s.io/v1/selfsubjectreviews", review)
	var who struct {
		Status struct {
			UserInfo struct {
				Username string   `json:"username"`
				Groups   []string `json:"groups"`
			} `json:"userInfo"`
		} `json:"status"`
	}
	if status != http.StatusCreated || json.Unmarshal([]byte(body), &who) != nil {
		t.Fatalf("self-subject review: %d %s", status, body)
	}
	if u := who.Status.UserInfo; u.Username != "system:serviceaccount:apps:worker" || !strings.Contains(strings.Join(u.Groups, ","), "system:serviceaccounts:apps") {
		t.Fatalf("the token authenticates as %+v", u)
	}

	// A real ServiceAccount token, not a stand-in: it stops working with its ServiceAccount, once
	// the API server's cache of successful authentications (10 s by default) lets it go.
	if status, body := call(t, s, admin, http.MethodDelete, "/api/v1/namespaces/apps/serviceaccounts/worker", ""); status != http.StatusOK {
		t.Fatalf("delete the ServiceAccount: %d %s", status, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body := call(t, s, token, http.MethodPost, "/apis/authentication.k8s.io/v1/selfsubjectreviews", review)
		if status == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the token of a deleted ServiceAccount still answers %d after 30 s: %s", status, body)
		}
		time.Sleep(200 * time.Millisecond) // polling: the cache expiry is not observable otherwise
	}
}

func TestKubeconfig_DrivesKubectl(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed (apt-get install kubectl; .ci/run installs it)")
	}
	s := Start(t)
	out, err := exec.Command(kubectl, "--kubeconfig", s.Kubeconfig(t, s.Token(t, Admin)), // #nosec G204 -- kubectl with this test's kubeconfig
		"get", "namespaces", "-o", "name").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get namespaces: %v\n%s", err, out)
	}
	for _, ns := range []string{"namespace/default", "namespace/kube-system"} {
		if !strings.Contains(string(out), ns) {
			t.Errorf("kubectl listed %q, want %s", out, ns)
		}
	}
}

func TestStart_StopsBothServersWhenTheTestEnds(t *testing.T) {
	var s *Server
	t.Run("server", func(t *testing.T) { s = Start(t) })
	if !s.Stopped() {
		t.Fatal("a server still runs after its test ended")
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
		_ = c.Close()
		t.Fatalf("%s still accepts connections", u.Host)
	}
}
