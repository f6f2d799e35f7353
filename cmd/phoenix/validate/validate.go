// Package validate checks what a Phoenix release needs before it ships: the deployment manifests
// (kustomize output and Knative's own validation of every Service), the event wiring (triggers
// against the event catalog), the pipeline templates (rendered, and validated by the collector
// when it is built), the monitoring rules (promtool), the migrations (applied and rolled back
// on a scratch database) and the cluster (the release applied to a real kube-apiserver). `phoenix validate` prints its results; `make test` runs it.
//
// Each check reads the repository at Options.Root and reports problems precisely enough to fix
// them; a check whose tool is absent is skipped, saying so, rather than passed.
//
// Only the CLI (phoenix validate) and test suites import it; no deployable may.
package validate

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// Status is a check's outcome.
type Status string

// Statuses of a check.
const (
	OK   Status = "ok"
	Fail Status = "FAIL"
	Skip Status = "skip" // the tool the check needs is absent; nothing was checked
)

// Result is one check's outcome.
type Result struct {
	Check    string   // manifests, triggers, templates, monitoring, migrations
	Status   Status   // ok, FAIL or skip
	Summary  string   // what was checked, or why it was skipped
	Problems []string // each a precise message; empty unless Status is Fail
}

// Options say where the artefacts and the tools are.
type Options struct {
	Root       string // repository root: deploy/, triggers/, docs/
	Kubectl    string // kubectl (with kustomize); "" skips the manifest check
	Promtool   string // promtool; "" skips the monitoring check
	Collector  string // phoenix-collector; "" renders templates without the collector's validation
	MigrateURL string // PostgreSQL URL of a role that may create databases; "" skips the migration check
	APIServer  string // kube-apiserver (make apiserver); "" skips the cluster check
	Etcd       string // etcd for it; "" skips the cluster check
}

// Checks are the checks by name, in the order All runs them.
func Checks() []string {
	return []string{"manifests", "triggers", "templates", "monitoring", "migrations", "cluster"}
}

// Run runs the named checks (all of them when names is empty).
func Run(ctx context.Context, o Options, names ...string) ([]Result, error) {
	if len(names) == 0 {
		names = Checks()
	}
	out := make([]Result, 0, len(names))
	for _, n := range names {
		var r Result
		switch n {
		case "manifests":
			r = Manifests(ctx, o)
		case "triggers":
			r = Triggers(o)
		case "templates":
			r = Templates(ctx, o)
		case "monitoring":
			r = Monitoring(ctx, o)
		case "migrations":
			r = Migrations(ctx, o)
		case "cluster":
			r = Cluster(ctx, o)
		default:
			return nil, fmt.Errorf("unknown check %q (one of %s)", n, strings.Join(Checks(), ", "))
		}
		r.Check = n
		out = append(out, r)
	}
	return out, nil
}

// Print writes results as a report and says whether every check passed or was skipped.
func Print(w io.Writer, results []Result) bool {
	passed := true
	for _, r := range results {
		fmt.Fprintf(w, "%-4s  %-10s  %s\n", r.Status, r.Check, r.Summary)
		for _, p := range r.Problems {
			fmt.Fprintf(w, "      - %s\n", strings.ReplaceAll(p, "\n", "\n        "))
		}
		passed = passed && r.Status != Fail
	}
	return passed
}

// result builds a Result from problems.
func result(summary string, problems []string) Result {
	if len(problems) > 0 {
		return Result{Status: Fail, Summary: summary, Problems: problems}
	}
	return Result{Status: OK, Summary: summary}
}
