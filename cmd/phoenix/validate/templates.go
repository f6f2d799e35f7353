package validate

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/pipeline"
)

// Templates renders every pipeline template for both targets with its defaults (and a critical
// process where it takes one), runs Phoenix's own checks, and has the collector validate each
// configuration when the collector is built.
func Templates(ctx context.Context, o Options) Result {
	dir, err := os.MkdirTemp("", "phoenix-validate-")
	if err != nil {
		return result("templates", []string{err.Error()})
	}
	defer os.RemoveAll(dir)
	var problems []string
	n := 0
	for _, t := range pipeline.Templates() {
		for _, target := range []pipeline.Target{pipeline.Kubernetes, pipeline.Local} {
			n++
			name := t.Name + "/" + string(target)
			cfg, err := pipeline.Render(pipeline.Request{Template: t.Name, Params: pipeline.ParamsFor(t.Name, nil, []string{"sshd"}),
				ExperimentID: uuid.New(), Variant: "candidate", Target: target, Output: pipeline.Output{Endpoint: "http://127.0.0.1:4318"}})
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s does not render: %v", name, err))
				continue
			}
			for _, p := range pipeline.Check(cfg) {
				problems = append(problems, fmt.Sprintf("%s: %s", name, p))
			}
			if o.Collector == "" {
				continue
			}
			if target == pipeline.Kubernetes {
				// The receiver checks that root_path exists; on a node it is the mounted host
				// filesystem, here any directory stands in for it.
				cfg = bytes.Replace(cfg, []byte("root_path: /hostfs"), []byte("root_path: "+dir), 1)
			}
			path := filepath.Join(dir, strings.ReplaceAll(name, "/", "-")+".yaml")
			if err := os.WriteFile(path, cfg, 0o600); err != nil {
				return result("templates", []string{err.Error()})
			}
			// The collector expands ${env:…} while validating; the token's value does not matter.
			cmd := exec.CommandContext(ctx, o.Collector, "validate", "--config", path) // #nosec G204 -- the operator's collector binary
			cmd.Env = append(os.Environ(), pipeline.IngestTokenEnv+"=validate")
			if out, err := cmd.CombinedOutput(); err != nil {
				problems = append(problems, fmt.Sprintf("%s: the collector refuses it (%v): %s", name, err, lastLines(string(out), 5)))
			}
		}
	}
	how := "rendered and checked"
	if o.Collector != "" {
		how += ", validated by " + o.Collector
	} else {
		how += " (collector not built: its own validation skipped; make collector)"
	}
	return result(fmt.Sprintf("%d template × target configurations %s", n, how), problems)
}

// lastLines keeps the end of a tool's output, where the reason is.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
