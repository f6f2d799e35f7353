package kubeapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
)

// HTTPClient trusts the server's CA; it sends no credentials of its own.
func (s *Server) HTTPClient() *http.Client { return s.client }

// Call sends one request as the holder of token ("" for anonymous) and returns the status and
// the body. A status the API server answered is not an error: callers judge it.
func (s *Server) Call(ctx context.Context, token, method, path string, body []byte, contentType string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	res, err := s.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	return res.StatusCode, raw, nil
}

// ServiceAccountToken mints a token for the ServiceAccount namespace/name through the
// TokenRequest API, as the kubelet does for a pod's projected token: signed by the server's key,
// for its default audience, valid for an hour and only while the ServiceAccount exists. The
// ServiceAccount must exist.
func (s *Server) ServiceAccountToken(ctx context.Context, namespace, name string) (string, error) {
	path := fmt.Sprintf("/api/v1/namespaces/%s/serviceaccounts/%s/token", url.PathEscape(namespace), url.PathEscape(name))
	req := []byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":3600}}`)
	status, body, err := s.Call(ctx, s.tokens[Admin], http.MethodPost, path, req, "application/json")
	if err != nil {
		return "", fmt.Errorf("kubeapi: token for %s/%s: %w", namespace, name, err)
	}
	var tr struct {
		Status struct {
			Token string `json:"token"`
		} `json:"status"`
	}
	if status != http.StatusCreated || json.Unmarshal(body, &tr) != nil || tr.Status.Token == "" {
		return "", fmt.Errorf("kubeapi: token for %s/%s: %d %s", namespace, name, status, body)
	}
	return tr.Status.Token, nil
}

// Kubeconfig writes a kubeconfig for kubectl that reaches the server as the holder of token
// into the servers' directory and returns its path.
func (s *Server) Kubeconfig(token string) (string, error) {
	cfg := map[string]any{
		"apiVersion": "v1", "kind": "Config", "current-context": "phoenix-test",
		"clusters": []any{map[string]any{"name": "phoenix-test", "cluster": map[string]any{
			"server": s.URL, "certificate-authority-data": base64.StdEncoding.EncodeToString(s.CA)}}},
		"users":    []any{map[string]any{"name": "phoenix-test", "user": map[string]any{"token": token}}},
		"contexts": []any{map[string]any{"name": "phoenix-test", "context": map[string]any{"cluster": "phoenix-test", "user": "phoenix-test"}}},
	}
	raw, err := json.Marshal(cfg) // JSON is YAML: kubectl reads either
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(s.Dir, "kubeconfig-*")
	if err != nil {
		return "", fmt.Errorf("kubeapi: kubeconfig: %w", err)
	}
	defer f.Close()
	if _, err := f.Write(raw); err != nil {
		return "", fmt.Errorf("kubeapi: kubeconfig: %w", err)
	}
	return filepath.Clean(f.Name()), nil
}
