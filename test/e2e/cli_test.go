package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/phoenixotel/phoenix/migrations"
	"github.com/phoenixotel/phoenix/test/bintest"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

var uuidLine = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n$`)

// TestCLI_BootstrapsASchemaTenantAndUsers drives the phoenix binary as an operator would, against
// an empty database of its own.
func TestCLI_BootstrapsASchemaTenantAndUsers(t *testing.T) {
	bin := build(t, t.TempDir(), "cmd/phoenix")
	db := pgtest.New(t)
	run := func(stdin string, args ...string) (string, string, error) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(bintest.Env(), "PHOENIX_DATABASE_URL="+db.AppURL, "PHOENIX_MIGRATE_DATABASE_URL="+db.OwnerURL)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		return out.String(), errOut.String(), err
	}
	mustFail := func(wantMsg, stdin string, args ...string) {
		t.Helper()
		_, stderr, err := run(stdin, args...)
		if err == nil || !strings.Contains(stderr, wantMsg) {
			t.Errorf("phoenix %v: err %v, stderr %q; want failure saying %q", args, err, stderr, wantMsg)
		}
	}

	files, _ := fs.Glob(migrations.FS, "*.sql")
	n := len(files) // migrations are numbered 1…n
	out, _, err := run("", "migrate", "up")
	if err != nil || !strings.Contains(out, fmt.Sprintf("applied %05d", n)) || !strings.Contains(out, fmt.Sprintf("schema at version %d", n)) {
		t.Fatalf("migrate up: %v\n%s", err, out)
	}
	if out, _, _ := run("", "migrate", "status"); strings.Count(out, "applied") != n {
		t.Fatalf("status after up:\n%s", out)
	}

	out, _, err = run("", "tenant", "create", "acme")
	if err != nil || !uuidLine.MatchString(out) {
		t.Fatalf("tenant create printed %q (%v), want the tenant id alone", out, err)
	}
	mustFail(`a tenant named "acme" already exists`, "", "tenant", "create", "acme")
	mustFail("is invalid", "", "tenant", "create", "Not A Name")

	const pw = "correct horse battery staple\n"
	if out, _, err := run(pw, "user", "create", "--tenant", "acme", "--email", "ops@acme.example", "--role", "admin"); err != nil || !uuidLine.MatchString(out) {
		t.Fatalf("user create: %q %v", out, err)
	}
	mustFail(`already has a user "OPS@acme.example"`, pw, "user", "create", "--tenant", "acme", "--email", "OPS@acme.example")
	mustFail("no password on standard input", "", "user", "create", "--tenant", "acme", "--email", "x@acme.example")
	mustFail("at least 12 characters", "short\n", "user", "create", "--tenant", "acme", "--email", "x@acme.example")
	mustFail(`no tenant named "nope"`, pw, "user", "create", "--tenant", "nope", "--email", "x@acme.example")
	mustFail(`role "god" does not exist`, pw, "user", "create", "--tenant", "acme", "--email", "x@acme.example", "--role", "god")
	mustFail("required flag", pw, "user", "create", "--email", "x@acme.example")

	out, _, err = run("", "migrate", "down", "2")
	if err != nil || !strings.Contains(out, fmt.Sprintf("reverted %05d", n)) || !strings.Contains(out, fmt.Sprintf("reverted %05d", n-1)) {
		t.Fatalf("migrate down 2: %v\n%s", err, out)
	}
	if out, _, _ := run("", "migrate", "status"); strings.Count(out, "pending") != 2 {
		t.Fatalf("status after down 2:\n%s", out)
	}
	mustFail("must be a positive number", "", "migrate", "down", "0")
	if out, _, err := run("", "migrate", "up"); err != nil || !strings.Contains(out, fmt.Sprintf("applied %05d", n-1)) {
		t.Fatalf("migrate up again: %v\n%s", err, out)
	}
	// The tenant survived the partial round trip; the runtime commands work again.
	mustFail(`a tenant named "acme" already exists`, "", "tenant", "create", "acme")
}

func TestCLI_PipelineTemplatesRenderCheck(t *testing.T) {
	dir := t.TempDir()
	bin := build(t, dir, "cmd/phoenix")
	run := func(args ...string) (string, string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = bintest.Env()
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		return out.String(), errOut.String(), err
	}
	out, _, err := run("pipeline", "templates")
	if err != nil || !strings.Contains(out, "process-priority-filter") || !strings.Contains(out, "--set critical_processes=") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	cfg, errOut, err := run("pipeline", "render", "--template", "process-priority-filter", "--experiment", "0b5e0d4e-6c3a-4b8e-9f61-2d7a9c1e5f00",
		"--set", "critical_processes=postgres", "--set", "high_processes=nginx.*,envoy")
	if err != nil || !strings.Contains(cfg, `"^(?:nginx.*|envoy)$"`) {
		t.Fatalf("render: %v %s\n%s", err, errOut, cfg)
	}
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := run("pipeline", "check", path); err != nil || !strings.Contains(out, "valid") {
		t.Fatalf("validate a rendered config: %v\n%s%s", err, out, errOut)
	}
	broken := strings.Replace(cfg, "[memory_limiter, ", "[", 1)
	_ = os.WriteFile(path, []byte(broken), 0o600)
	if _, errOut, err := run("pipeline", "check", path); err == nil || !strings.Contains(errOut, "memory_limiter must come first") {
		t.Fatalf("validate a broken config: %v\n%s", err, errOut)
	}
	if _, errOut, err := run("pipeline", "render", "--template", "process-minimal", "--experiment", "0b5e0d4e-6c3a-4b8e-9f61-2d7a9c1e5f00", "--set", "top_k=5"); err == nil ||
		!strings.Contains(errOut, "unknown parameter top_k") || !strings.Contains(errOut, "critical_processes is required") {
		t.Fatalf("render with bad parameters: %v\n%s", err, errOut)
	}
}

// TestCLI_Analyze checks the contract users script against: JSON fields and values (reference:
// scipy 1.10 `ttest_ind(c, b, equal_var=False)` and the t quantile, computed when this test was
// written), exit status 2 with file and line for bad input.
func TestCLI_Analyze(t *testing.T) {
	dir := t.TempDir()
	bin := build(t, dir, "cmd/phoenix")
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	b := file("b.txt", "10\n12\n\n11\n13\n")
	c := file("c.txt", "8\n9\n7.5\n8.2\n")
	cmd := exec.Command(bin, "analyze", "--baseline", b, "--candidate", c, "--format", "json")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("analyze: %v", err)
	}
	var got struct {
		Baseline  struct{ N int } `json:"baseline"`
		Candidate struct{ N int } `json:"candidate"`
		Welch     struct {
			T, DF  float64
			PValue float64 `json:"p_value"`
		} `json:"welch"`
		Difference struct {
			Estimate   float64 `json:"estimate"`
			CILower    float64 `json:"ci_lower"`
			CIUpper    float64 `json:"ci_upper"`
			Confidence float64 `json:"confidence"`
		} `json:"difference"`
		RelativeChange float64 `json:"relative_change"`
		Significant    bool    `json:"significant"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	near := func(name string, got, want float64) {
		if math.Abs(got-want) > 1e-7*math.Abs(want) {
			t.Errorf("%s = %.17g, want %.17g (1e-7 relative)", name, got, want)
		}
	}
	near("t", got.Welch.T, -4.6379674202876595)
	near("df", got.Welch.DF, 4.328563716886959)
	near("p", got.Welch.PValue, 0.008058809286650242)
	near("ci_lower", got.Difference.CILower, -5.25726492820328)
	near("ci_upper", got.Difference.CIUpper, -1.3927350717967186)
	near("estimate", got.Difference.Estimate, -3.325)
	near("relative_change", got.RelativeChange, -3.325/11.5)
	if got.Baseline.N != 4 || got.Candidate.N != 4 || !got.Significant || got.Difference.Confidence != 0.95 {
		t.Errorf("result %+v", got)
	}
	if out, err := exec.Command(bin, "analyze", "--baseline", b, "--candidate", c).Output(); err != nil || !strings.Contains(string(out), "Welch t = -4.63797") {
		t.Errorf("text format: %v\n%s", err, out)
	}
	for name, tc := range map[string]struct{ content, msg string }{
		"text":     {"1\n2\nabc\n", ":3: \"abc\" is not a finite number"},
		"nan":      {"1\nNaN\n", ":2: \"NaN\" is not a finite number"},
		"inf":      {"+Inf\n1\n", ":1: \"+Inf\" is not a finite number"},
		"one":      {"\n5\n\n", "1 values; a sample needs at least 2"},
		"constant": {"3\n3\n3\n", "both samples are constant"},
	} {
		bad := file(name+".txt", tc.content)
		other := c
		if name == "constant" {
			other = file("const2.txt", "4\n4\n")
		}
		cmd := exec.Command(bin, "analyze", "--baseline", other, "--candidate", bad)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("%s: %v, stderr %q; want exit 2 saying %q", name, err, stderr.String(), tc.msg)
		}
		if name != "constant" && !strings.Contains(stderr.String(), bad) {
			t.Errorf("%s: the message does not name the file: %q", name, stderr.String())
		}
	}
}
