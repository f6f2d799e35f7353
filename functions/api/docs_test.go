package api

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestDocs_NameEveryRoute keeps docs/api.md the contract of what the API serves: every route
// Routes registers (read from api.go, where they are listed once) appears there as
// `METHOD /path`.
func TestDocs_NameEveryRoute(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	src, err := os.ReadFile(filepath.Join(dir, "api.go"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(dir, "..", "..", "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	routes := regexp.MustCompile(`mux\.Handle(?:Func)?\("([A-Z]+ /[^"]*)"`).FindAllStringSubmatch(string(src), -1)
	if len(routes) < 30 {
		t.Fatalf("found %d routes in api.go: the pattern no longer matches how routes are registered", len(routes))
	}
	for _, r := range routes {
		if !strings.Contains(string(doc), "`"+r[1]) {
			t.Errorf("docs/api.md does not name %s", r[1])
		}
	}
}
