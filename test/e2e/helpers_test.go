package e2e

import (
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
