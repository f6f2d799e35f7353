// Package kubeapi starts a real Kubernetes API server for a test (cmd/phoenix/kubeapi:
// kube-apiserver and its etcd, built from deploy/apiserver) on free loopback ports under the
// test's temporary directory, and stops it when the test ends. It only runs the servers; what to
// apply is the tests'.
package kubeapi

import (
	"context"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/cmd/phoenix/kubeapi"
)

// Admin is the user in system:masters whose token Start always writes: it may do anything.
const Admin = kubeapi.Admin

// User is an identity the token file authenticates.
type User = kubeapi.User

// ServiceAccount is the identity a ServiceAccount's token carries.
func ServiceAccount(namespace, name string) User { return kubeapi.ServiceAccount(namespace, name) }

// Server is one running kube-apiserver with its etcd, with helpers that fail the test.
type Server struct {
	*kubeapi.Server
}

// Start runs etcd and kube-apiserver with Admin and users in the token file, returns once
// /readyz answers ok, and stops both when the test ends (with the end of their logs in a failed
// test's output).
func Start(t testing.TB, users ...User) *Server {
	t.Helper()
	apiserver, etcd := Binaries(t)
	began := time.Now()
	s, err := kubeapi.Start(context.Background(), kubeapi.Options{APIServer: apiserver, Etcd: etcd, Dir: t.TempDir(), Users: users})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kubeapi: %s", s.LogTails())
		}
		s.Stop()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kubeapi: kube-apiserver %s ready in %s", s.URL, time.Since(began).Round(10*time.Millisecond))
	return &Server{s}
}

// Token returns user's static bearer token; a user not given to Start fails the test.
func (s *Server) Token(t testing.TB, user string) string {
	t.Helper()
	tok, ok := s.Server.Token(user)
	if !ok {
		t.Fatalf("kubeapi: no token for %q: name it in Start", user)
	}
	return tok
}
