// Package console serves the Phoenix console: a single-page app (web/, built by `make console`
// into dist/ and embedded here) that uses only the public API and the WebSocket gateway. The API
// serves it under /console/ on its own origin, so the console needs no CORS; its session is the
// API's HttpOnly cookie session (docs/console.md).
//
// Every answer carries a strict Content-Security-Policy: scripts and styles only from the
// console's own files (no inline script, no eval), connections only to the API and the gateway,
// no framing.
package console

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// built holds the console's build (dist/app). Without one (Go code built before `make console`)
// it holds only dist/README.md, and the console answers 503 saying how to build it.
//
//go:embed all:dist
var built embed.FS

// Options configure the console.
type Options struct {
	// Gateway is the WebSocket gateway's URL the browser connects to, e.g. ws://127.0.0.1:8081/ws.
	Gateway string
}

// Handler serves the console under /console/.
func Handler(o Options) http.Handler {
	dist, _ := fs.Sub(built, "dist/app")
	csp := policy(o.Gateway)
	files := http.FileServerFS(dist)
	config, _ := json.Marshal(map[string]string{"gateway": o.Gateway})
	index, unbuilt := fs.ReadFile(dist, "index.html") // read once: the build is fixed at compile time
	return http.StripPrefix("/console", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		p := path.Clean("/" + r.URL.Path)
		switch {
		case p == "/config.json":
			h.Set("Content-Type", "application/json")
			h.Set("Cache-Control", "no-store")
			_, _ = w.Write(config)
			return
		case strings.HasPrefix(p, "/assets/"):
			// Named by their content's hash: they never change under one name.
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
			files.ServeHTTP(w, r)
			return
		}
		if unbuilt != nil {
			http.Error(w, "the console is not built: run `make console` (or `make build`) and start Phoenix again", http.StatusServiceUnavailable)
			return
		}
		// Every other path is a view of the single-page app.
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(index)
	}))
}

// policy is the Content-Security-Policy: nothing but the console's own files, and connections to
// its own origin (the API) and the gateway.
func policy(gateway string) string {
	connect := "'self'"
	if u, err := url.Parse(gateway); err == nil && u.Host != "" {
		connect += " " + u.Scheme + "://" + u.Host
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src " + connect +
		"; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}
