package console

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHandler_ServesTheAppUnderAStrictPolicy: every answer carries the CSP (no inline script,
// connections to the API and the gateway only), config.json names the gateway, and any view's
// path answers the app — or, before `make console`, a 503 that says how to build it.
func TestHandler_ServesTheAppUnderAStrictPolicy(t *testing.T) {
	h := Handler(Options{Gateway: "wss://gw.example.com/ws"})
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w
	}
	w := get("/console/config.json")
	var cfg map[string]string
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &cfg) != nil || cfg["gateway"] != "wss://gw.example.com/ws" {
		t.Fatalf("config.json: %d %s", w.Code, w.Body)
	}
	csp := w.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self' wss://gw.example.com", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q allows something unsafe", csp)
	}
	_, built := fs.Stat(builtFS(t), "index.html")
	for _, view := range []string{"/console/", "/console/experiments/42"} {
		w := get(view)
		switch {
		case built == nil && (w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "<main id=\"app\"") || w.Header().Get("Cache-Control") != "no-cache"):
			t.Errorf("%s: %d %q, want the app, not cached", view, w.Code, w.Header().Get("Cache-Control"))
		case built != nil && (w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "make console")):
			t.Errorf("%s before a build: %d %s, want 503 saying to run make console", view, w.Code, w.Body)
		}
		if w.Header().Get("Content-Security-Policy") != csp {
			t.Errorf("%s: no CSP", view)
		}
	}
}

func builtFS(t *testing.T) fs.FS {
	t.Helper()
	sub, err := fs.Sub(built, "dist/app")
	if err != nil {
		t.Fatal(err)
	}
	return sub
}
