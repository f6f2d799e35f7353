// Package wiring proves the Knative wiring of this repository is whole — every event type the
// code consumes has a Trigger to each consumer, every Trigger's subscriber is deployed, every
// emitted type is consumed or documented as terminal, docs/events.md describes every type, and
// every type constant is in the catalog — with the same check `phoenix validate triggers` runs
// (shared/validate, whose tests break each of these on purpose).
package wiring

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/phoenixotel/phoenix/cmd/phoenix/validate"
)

func TestWiring_IsWhole(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	r := validate.Triggers(validate.Options{Root: filepath.Join(filepath.Dir(file), "..", "..")})
	if r.Status != validate.OK {
		t.Fatalf("%s: %s\n%s", r.Status, r.Summary, strings.Join(r.Problems, "\n"))
	}
}
