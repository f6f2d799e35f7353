// Package bintest builds this module's commands for tests that run them as processes: with
// coverage when make test collects it (PHOENIX_COVERDIR), and with the environment that sends
// the binaries' coverage there, beside the tests' own.
package bintest

import (
	"fmt"
	"os"
	"os/exec"
)

// module is this module's path; packages are named relative to it.
const module = "github.com/phoenixotel/phoenix"

// coverDir is where built binaries write coverage data, empty when nobody collects it.
func coverDir() string { return os.Getenv("PHOENIX_COVERDIR") }

// Build compiles pkg, a package of this module such as "cmd/phoenix", to the file out.
func Build(out, pkg string) error {
	args := []string{"build", "-o", out}
	if coverDir() != "" {
		args = append(args, "-cover", "-coverpkg="+module+"/...")
	}
	cmd := exec.Command("go", append(args, module+"/"+pkg)...) // #nosec G204 -- builds this repository's own packages
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// Env is the environment for a binary a test starts: this process's, and GOCOVERDIR when make
// test collects coverage.
func Env() []string {
	env := os.Environ()
	if d := coverDir(); d != "" {
		env = append(env, "GOCOVERDIR="+d)
	}
	return env
}
