package kubeapi

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// build is the one `make apiserver` per test process.
var build struct {
	once sync.Once // builds at most once
	out  []byte    // the build's output, shown when it fails
	err  error     // why the build failed
}

// root is the repository root, found from this file so tests run from any directory.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Binaries returns the kube-apiserver and etcd to test with: $PHOENIX_KUBE_APISERVER and
// $PHOENIX_ETCD when both are set (make test sets them), else bin/kube-apiserver and bin/etcd
// built by `make apiserver`. The Makefile is the one place that knows how to build them (the
// version stamp in -ldflags); warm, the build relinks in seconds, but a cold one takes about
// 20 minutes on two cores, longer than go test's default timeout: run `make apiserver` first.
func Binaries(t testing.TB) (apiserver, etcd string) {
	t.Helper()
	apiserver, etcd = os.Getenv("PHOENIX_KUBE_APISERVER"), os.Getenv("PHOENIX_ETCD")
	if apiserver != "" && etcd != "" {
		return apiserver, etcd
	}
	build.once.Do(func() {
		make, err := exec.LookPath("make")
		if err != nil {
			build.err = err
			return
		}
		cmd := exec.Command(make, "--no-print-directory", "apiserver") // #nosec G204 -- this repository's own Makefile target
		cmd.Dir = root()
		build.out, build.err = cmd.CombinedOutput()
	})
	if build.err != nil {
		t.Fatalf("kubeapi: make apiserver (or set PHOENIX_KUBE_APISERVER and PHOENIX_ETCD): %v\n%s", build.err, build.out)
	}
	bin := filepath.Join(root(), "bin")
	return filepath.Join(bin, "kube-apiserver"), filepath.Join(bin, "etcd")
}
