package kubeapi

import (
	"context"
	"testing"
	"time"
)

// ServiceAccountToken mints a token for the ServiceAccount namespace/name through the
// TokenRequest API (kubeapi.Server.ServiceAccountToken); an error fails the test.
func (s *Server) ServiceAccountToken(t testing.TB, namespace, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := s.Server.ServiceAccountToken(ctx, namespace, name)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Kubeconfig writes a kubeconfig for kubectl that reaches the server as the holder of token
// and returns its path; an error fails the test.
func (s *Server) Kubeconfig(t testing.TB, token string) string {
	t.Helper()
	path, err := s.Server.Kubeconfig(token)
	if err != nil {
		t.Fatal(err)
	}
	return path
}
