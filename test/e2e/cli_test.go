package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

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
		cmd.Env = append(childEnv(), "PHOENIX_DATABASE_URL="+db.AppURL, "PHOENIX_MIGRATE_DATABASE_URL="+db.OwnerURL)
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

	out, _, err := run("", "migrate", "up")
	if err != nil || !strings.Contains(out, "applied 00007") || !strings.Contains(out, "schema at version 7") {
		t.Fatalf("migrate up: %v\n%s", err, out)
	}
	if out, _, _ := run("", "migrate", "status"); strings.Count(out, "applied") != 7 {
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
	if err != nil || !strings.Contains(out, "reverted 00007") || !strings.Contains(out, "reverted 00006") {
		t.Fatalf("migrate down 2: %v\n%s", err, out)
	}
	if out, _, _ := run("", "migrate", "status"); strings.Count(out, "pending") != 2 {
		t.Fatalf("status after down 2:\n%s", out)
	}
	mustFail("N must be a positive number", "", "migrate", "down", "0")
	if out, _, err := run("", "migrate", "up"); err != nil || !strings.Contains(out, "applied 00006") {
		t.Fatalf("migrate up again: %v\n%s", err, out)
	}
	// The tenant survived the partial round trip; the runtime commands work again.
	mustFail(`a tenant named "acme" already exists`, "", "tenant", "create", "acme")
}

func TestCLI_PipelineListRenderValidate(t *testing.T) {
	dir := t.TempDir()
	bin := build(t, dir, "cmd/phoenix")
	run := func(args ...string) (string, string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = childEnv()
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		return out.String(), errOut.String(), err
	}
	out, _, err := run("pipeline", "list")
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
	if out, errOut, err := run("pipeline", "validate", path); err != nil || !strings.Contains(out, "valid") {
		t.Fatalf("validate a rendered config: %v\n%s%s", err, out, errOut)
	}
	broken := strings.Replace(cfg, "[memory_limiter, ", "[", 1)
	_ = os.WriteFile(path, []byte(broken), 0o600)
	if _, errOut, err := run("pipeline", "validate", path); err == nil || !strings.Contains(errOut, "memory_limiter must come first") {
		t.Fatalf("validate a broken config: %v\n%s", err, errOut)
	}
	if _, errOut, err := run("pipeline", "render", "--template", "process-minimal", "--experiment", "0b5e0d4e-6c3a-4b8e-9f61-2d7a9c1e5f00", "--set", "top_k=5"); err == nil ||
		!strings.Contains(errOut, "unknown parameter top_k") || !strings.Contains(errOut, "critical_processes is required") {
		t.Fatalf("render with bad parameters: %v\n%s", err, errOut)
	}
}
