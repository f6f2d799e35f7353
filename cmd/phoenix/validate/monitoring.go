package validate

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
)

// Monitoring has promtool check the alerting and recording rules, run their unit tests, and
// check the Prometheus configuration (through deploy/monitoring/check-config.sh, which copes
// with builds of promtool that lack Kubernetes service discovery).
func Monitoring(ctx context.Context, o Options) Result {
	if o.Promtool == "" {
		return Result{Status: Skip, Summary: "promtool not installed (Debian: apt-get install prometheus)"}
	}
	dir := filepath.Join(o.Root, "deploy", "monitoring", "prometheus")
	rules, _ := filepath.Glob(filepath.Join(dir, "rules", "*.yml"))
	tests, _ := filepath.Glob(filepath.Join(dir, "tests", "*.yml"))
	if len(rules) == 0 || len(tests) == 0 {
		return result("promtool", []string{fmt.Sprintf("%s: want rules/*.yml and tests/*.yml", dir)})
	}
	steps := []struct {
		what string
		cmd  *exec.Cmd
	}{
		// #nosec G204 -- the operator's promtool on files of the repository being validated
		{"promtool check rules", exec.CommandContext(ctx, o.Promtool, append([]string{"check", "rules"}, rules...)...)},
		{"promtool test rules", exec.CommandContext(ctx, o.Promtool, append([]string{"test", "rules"}, tests...)...)},                             // #nosec G204 -- as above
		{"promtool check config", exec.CommandContext(ctx, "bash", filepath.Join(o.Root, "deploy", "monitoring", "check-config.sh"), o.Promtool)}, // #nosec G204 -- the repository's own script
	}
	var problems []string
	for _, s := range steps {
		if out, err := s.cmd.CombinedOutput(); err != nil {
			problems = append(problems, fmt.Sprintf("%s (%v):\n%s", s.what, err, lastLines(string(out), 12)))
		}
	}
	return result(fmt.Sprintf("%d rule files checked, %d rule test files passed, prometheus.yml checked", len(rules), len(tests)), problems)
}
