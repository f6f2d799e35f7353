// Package collector proves the pipeline templates right with the real Phoenix collector
// distribution (deploy/collector): every template's configuration passes the collector's own
// validation, and running it over processes started here keeps exactly what the template claims.
// Its helpers (Binary, StartProcesses) serve other suites that run the real collector.
package collector

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// build is the one build of the collector per test process.
var build struct {
	once   sync.Once // builds at most once
	binary string    // the built binary, or the build's output on failure
	err    error     // why the build failed
}

// Binary returns the collector to test with: $PHOENIX_COLLECTOR, or bin/phoenix-collector built
// from deploy/collector (incremental; the first build takes minutes).
func Binary(t testing.TB) string {
	t.Helper()
	if b := os.Getenv("PHOENIX_COLLECTOR"); b != "" {
		return b
	}
	build.once.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		build.binary = filepath.Join(root, "bin", "phoenix-collector")
		cmd := exec.Command("go", "build", "-o", build.binary, ".") // #nosec G204 -- builds this repository's collector
		cmd.Dir = filepath.Join(root, "deploy", "collector")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = err
			build.binary = string(out)
		}
	})
	if build.err != nil {
		t.Fatalf("build the collector: %v\n%s", build.err, build.binary)
	}
	return build.binary
}

// StartProcesses runs copies of sleep under distinctive executable names until the test ends.
func StartProcesses(t testing.TB, names ...string) {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	src, err := os.ReadFile(sleep) // #nosec G304 -- the system's sleep, copied under test names
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, src, 0o700); err != nil { // #nosec G703 G306 -- an executable copy under the test's own names
			t.Fatal(err)
		}
		cmd := exec.Command(p, "300") // #nosec G204 -- the copy made just above
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}
}
