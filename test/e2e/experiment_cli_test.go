package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/test/bintest"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

// cli runs the phoenix binary of a platform with its own config directory (the login session).
type cli struct {
	bin, configHome string
	env             []string
}

func (c cli) run(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(append(bintest.Env(), "XDG_CONFIG_HOME="+c.configHome), c.env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// adminPassword is the password of the users createAdmin makes, as read from stdin.
const adminPassword = "correct horse battery staple\n"

// createAdmin creates a tenant and an admin user of it (password adminPassword) with the CLI.
func (c cli) createAdmin(t *testing.T, tenant, email string) {
	t.Helper()
	if _, errOut, err := c.run(t, "", "tenant", "create", tenant); err != nil {
		t.Fatal(err, errOut)
	}
	if _, errOut, err := c.run(t, adminPassword, "user", "create", "--tenant", tenant, "--email", email, "--role", "admin"); err != nil {
		t.Fatal(err, errOut)
	}
}

// signedIn is the CLI of a new admin of tenant acme, logged in to p.
func signedIn(t *testing.T, p *platform) cli {
	t.Helper()
	c := cli{bin: p.bin, configHome: t.TempDir(), env: []string{"PHOENIX_DATABASE_URL=" + p.db.AppURL}}
	c.createAdmin(t, "acme", "ops@acme.example")
	if out, errOut, err := c.run(t, adminPassword, "login", "--api", p.addrs["api"], "--gateway", p.addrs["gateway"], "--tenant", "acme",
		"--email", "ops@acme.example", "--password-stdin"); err != nil {
		t.Fatalf("login: %v %s %s", err, out, errOut)
	}
	return c
}

// TestCLI_ExperimentCommandsDriveTheAPI logs in and drives experiments with the CLI only. The
// platform has no collector binary, so a started experiment fails at deploying — which `watch`
// shows live and reports with its exit status.
func TestCLI_ExperimentCommandsDriveTheAPI(t *testing.T) {
	t.Parallel()
	p := startDev(t)
	c := cli{bin: p.bin, configHome: t.TempDir(), env: []string{"PHOENIX_DATABASE_URL=" + p.db.AppURL}}
	const pw = adminPassword
	c.createAdmin(t, "acme", "ops@acme.example")

	if _, _, err := c.run(t, "", "experiment", "list"); err == nil {
		t.Fatal("experiment list worked before login")
	}
	if _, errOut, err := c.run(t, "wrong password here\n", "login", "--api", p.addrs["api"], "--tenant", "acme",
		"--email", "ops@acme.example", "--password-stdin"); err == nil || !strings.Contains(errOut, "401") {
		t.Fatalf("login with a wrong password: %v %s", err, errOut)
	}
	out, errOut, err := c.run(t, pw, "login", "--api", p.addrs["api"], "--gateway", p.addrs["gateway"], "--tenant", "acme",
		"--email", "ops@acme.example", "--password-stdin")
	if err != nil || !strings.Contains(out, "logged in") {
		t.Fatalf("login: %v %s %s", err, out, errOut)
	}
	creds := filepath.Join(c.configHome, "phoenix", "credentials.json")
	if fi, err := os.Stat(creds); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session file: %v %v", fi, err)
	}

	// Bad input is refused with what to fix.
	if _, errOut, err := c.run(t, "", "experiment", "create", "--name", "x", "--candidate", "no-such-template", "--duration", "1m"); err == nil ||
		!strings.Contains(errOut, "candidate.template") {
		t.Fatalf("bad template: %v %s", err, errOut)
	}
	create := func(name string) string {
		t.Helper()
		out, errOut, err := c.run(t, "", "experiment", "create", "--name", name, "--candidate", "process-priority-filter",
			"--critical", "nginx,mysqld", "--param", "high_processes=envoy", "--duration", "1m")
		if err != nil || !uuidLine.MatchString(out) {
			t.Fatalf("create: %q %v %s", out, err, errOut)
		}
		return strings.TrimSpace(out)
	}
	failing, cancelled := create("fails"), create("cancelled")
	out, _, err = c.run(t, "", "experiment", "list")
	if err != nil || !strings.Contains(out, failing) || !strings.Contains(out, cancelled) || !strings.Contains(out, "pending") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, _, err = c.run(t, "", "experiment", "get", failing)
	if err != nil || !strings.Contains(out, `"candidate"`) || !strings.Contains(out, `"process-priority-filter"`) {
		t.Fatalf("get: %v\n%s", err, out)
	}

	if out, errOut, err := c.run(t, "", "experiment", "start", failing); err != nil || !strings.Contains(out, "start requested") {
		t.Fatalf("start: %v %s %s", err, out, errOut)
	}
	out, errOut, err = c.run(t, "", "experiment", "watch", failing)
	if err == nil || !strings.Contains(out, "pending → generating") || !strings.Contains(out, "deploying → failed") ||
		!strings.Contains(out, "make collector") || !strings.Contains(errOut, "ended failed") {
		t.Fatalf("watch: %v\n%s\n%s", err, out, errOut)
	}

	if _, _, err := c.run(t, "", "experiment", "stop", cancelled); err != nil {
		t.Fatal(err)
	}
	out, _, err = c.run(t, "", "experiment", "list", "--state", "cancelled")
	if err != nil || !strings.Contains(out, cancelled) || strings.Contains(out, failing) {
		t.Fatalf("list --state cancelled: %v\n%s", err, out)
	}
	if _, errOut, err := c.run(t, "", "experiment", "promote", cancelled); err == nil || !strings.Contains(errOut, "409") {
		t.Fatalf("promote a cancelled experiment: %v %s", err, errOut)
	}
}

// TestLoadsim_ChildrenDieWithTheSimulator kills the simulator outright: no simulated process
// may outlive it.
func TestLoadsim_ChildrenDieWithTheSimulator(t *testing.T) {
	t.Parallel()
	bin := build(t, t.TempDir(), "cmd/phoenix")
	cmd := exec.Command(bin, "loadsim", "--profile", "process-churn", "--processes", "8", "--seed", "3")
	cmd.Env = bintest.Env()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pids []int
	names := map[string]bool{}
	sc := bufio.NewScanner(out)
	for len(pids) < 8 && sc.Scan() {
		var kind, name string
		var pid int
		if n, _ := fmt.Sscanf(sc.Text(), "loadsim: %s %s pid %d", &kind, &name, &pid); n == 3 && kind == "started" {
			pids = append(pids, pid)
			names[name] = true
			if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); err == nil && strings.TrimSpace(string(b)) != name {
				t.Errorf("pid %d runs as %q, want %q", pid, strings.TrimSpace(string(b)), name)
			}
		}
	}
	if len(pids) != 8 || len(names) < 4 {
		t.Fatalf("started %v named %v", pids, names)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("pid %d outlived the killed simulator", pid)
			}
			time.Sleep(50 * time.Millisecond) // the kernel delivers the parent-death signal asynchronously
		}
	}
}

// demo runs `phoenix demo` with the given flags on its own database and free ports, for a minute
// of 6 s windows over 12 simulated processes, and returns what it printed.
func demo(t *testing.T, flags ...string) string {
	t.Helper()
	dir := t.TempDir()
	bin := build(t, dir, "cmd/phoenix")
	db := pgtest.New(t)
	args := append([]string{"demo", "--keep-running=false", "--duration", "1m", "--interval", "2s", "--processes", "12",
		"--collector", collector(t), "--api-addr", "127.0.0.1:0", "--gateway-addr", "127.0.0.1:0",
		"--controller-addr", "127.0.0.1:0", "--generator-addr", "127.0.0.1:0", "--analyzer-addr", "127.0.0.1:0",
		"--ingest-addr", "127.0.0.1:0", "--deployer-addr", "127.0.0.1:0", "--broker-addr", "127.0.0.1:0",
		"--dev-keys", filepath.Join(dir, "keys.pem")}, flags...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(bintest.Env(), "XDG_CONFIG_HOME="+dir, "PHOENIX_DATABASE_URL="+db.AppURL,
		"PHOENIX_MIGRATE_DATABASE_URL="+db.OwnerURL, "PHOENIX_JWT_KEYS_FILE=", "PHOENIX_KPI_WINDOW=6s")
	out, err := runWithTimeout(cmd, 4*time.Minute)
	if err != nil {
		logs, _ := os.ReadFile(filepath.Join(dir, ".phoenix", "demo.log"))
		t.Fatalf("demo: %v\n%s\nplatform logs:\n%s", err, out, logs)
	}
	return out
}

// TestDemo_RunsAnExperimentToItsVerdictAndExits is `make run` as CI runs it.
func TestDemo_RunsAnExperimentToItsVerdictAndExits(t *testing.T) {
	t.Parallel()
	out := demo(t)
	order := []string{"demo login: tenant \"demo\"", "pending → generating", "generating → deploying", "deploying → running",
		"[##", "look, ", "→ completed", "METRIC", "series", "recommendation:"} // completed after analyzing, or early from running
	at := 0
	for _, want := range order {
		i := strings.Index(out[at:], want)
		if i < 0 {
			t.Fatalf("demo output lacks %q after position %d:\n%s", want, at, out)
		}
		at += i
	}
}

// An A/A run with the real collectors over real processes: both sides run the baseline's
// pipeline, so no critical process may go missing (both see the same windows of the same
// processes), the inputs are equal, and the candidate is not promoted.
func TestDemo_AARunLosesNothingAndPromotesNothing(t *testing.T) {
	t.Parallel()
	out := demo(t, "--aa")
	for _, want := range []string{"critical coverage          pass: the candidate kept every critical process", "input parity               pass",
		"A/A calibration: ", "recommendation: "} {
		if !strings.Contains(out, want) {
			t.Errorf("A/A demo output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "recommendation: PROMOTE") {
		t.Errorf("an A/A run was promoted:\n%s", out)
	}
}
