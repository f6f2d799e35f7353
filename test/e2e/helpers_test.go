package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/store"
)

func storeOptions() store.Options { return store.Options{MaxConns: 2} }

func writeDevKeys(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "keys.pem")
	if _, err := auth.EnsureDevKeyFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// coverDir is where built binaries write coverage data when make test asks for it.
func coverDir() string { return os.Getenv("PHOENIX_COVERDIR") }

// childEnv is the environment for binaries the tests start.
func childEnv() []string {
	env := os.Environ()
	if d := coverDir(); d != "" {
		env = append(env, "GOCOVERDIR="+d)
	}
	return env
}
