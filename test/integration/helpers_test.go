// Package integration runs shared/smoke's black-box scenarios — the checks `phoenix test
// integration` runs after a rollout — against a real `phoenix dev` per suite (a fresh database,
// free ports, real Redis), asserting every step; and proves each scenario fails when the platform
// misbehaves, with proxies in front of the real API and gateway that tamper with their answers.
package integration

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/cmd/phoenix/smoke"
	"github.com/phoenixotel/phoenix/test/bintest"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

// phoenixBinary is the one build of cmd/phoenix per test process.
var phoenixBinary struct {
	once sync.Once // builds at most once
	path string    // the binary
	err  error     // why the build failed, with its output
}

// TestMain removes the one build of cmd/phoenix after every test has run.
func TestMain(m *testing.M) {
	code := m.Run()
	if phoenixBinary.path != "" {
		_ = os.RemoveAll(filepath.Dir(phoenixBinary.path))
	}
	os.Exit(code)
}

// binary builds cmd/phoenix once for every test of the package (with coverage when make test
// collects it).
func binary(t *testing.T) string {
	t.Helper()
	phoenixBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "phoenix-integration-")
		if err != nil {
			phoenixBinary.err = err
			return
		}
		phoenixBinary.path = filepath.Join(dir, "phoenix")
		phoenixBinary.err = bintest.Build(phoenixBinary.path, "cmd/phoenix")
	})
	if phoenixBinary.err != nil {
		t.Fatal(phoenixBinary.err)
	}
	return phoenixBinary.path
}

// platform is a running `phoenix dev`.
type platform struct {
	bin    string            // the phoenix binary
	db     *pgtest.DB        // its database
	addrs  map[string]string // function → base URL
	target smoke.Target      // its API and gateway
	opts   devOptions        // how it runs
	cmd    *exec.Cmd         // the running phoenix dev
	exited chan error        // receives its exit
	out    bintest.Output    // what it printed
	// console and login are what phoenix demo printed: the console's URL and the demo's login.
	console string
	login   smoke.Account
}

// devOptions choose how phoenix dev runs.
type devOptions struct {
	collector string     // the collector binary; empty: a path that does not exist (no collectors can run)
	env       []string   // extra environment, e.g. PHOENIX_KPI_WINDOW=6s
	db        *pgtest.DB // the database; nil: a fresh one on the machine's server
	// demo runs `phoenix demo` with these flags (make run) instead of phoenix dev.
	demo []string
}

var (
	addrLine = regexp.MustCompile(`^(\w+)\s+(http://127\.0\.0\.1:\d+)/?\s`)
	// demoUp, demoLogin and demoConsole are the lines phoenix demo prints as it starts.
	demoUp      = regexp.MustCompile(`^platform up: API (\S+), WebSocket (\S+)/ws `)
	demoLogin   = regexp.MustCompile(`^demo login: tenant "(.*)", email "(.*)", password "(.*)"$`)
	demoConsole = regexp.MustCompile(`^console: (\S+) `)
)

// startDev runs phoenix dev on free ports against a fresh database until the test ends.
func startDev(t *testing.T, o devOptions) *platform {
	t.Helper()
	start := time.Now()
	bin := binary(t)
	built := time.Since(start)
	if o.collector == "" {
		o.collector = filepath.Join(t.TempDir(), "no-collector-here")
	}
	if o.db == nil {
		o.db = pgtest.New(t)
	}
	p := &platform{bin: bin, db: o.db, opts: o}
	p.launch(t)
	t.Logf("phoenix dev ready after %.1f s (the build took %.1f s)", time.Since(start).Seconds(), built.Seconds())
	return p
}

// launch runs phoenix dev on p's database, on new free ports, until the test ends or kill.
func (p *platform) launch(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	p.addrs = map[string]string{}
	args := []string{"dev"}
	if p.opts.demo != nil {
		args = append([]string{"demo"}, p.opts.demo...)
	}
	args = append(args, "--collector", p.opts.collector, "--run-dir", filepath.Join(dir, "run"), "--dev-keys", filepath.Join(dir, "keys.pem"))
	for _, f := range []string{"api", "gateway", "controller", "generator", "analyzer", "ingest", "deployer", "broker"} {
		args = append(args, "--"+f+"-addr", "127.0.0.1:0")
	}
	cmd := exec.Command(p.bin, args...) // #nosec G204 -- the CLI built above
	cmd.Dir = dir
	// Every suite on this machine logs in from 127.0.0.1 through the same Redis: the per-IP login
	// limit would count all of them together. The per-account limit stays on (tenants are unique).
	cmd.Env = append(bintest.Env(), "XDG_CONFIG_HOME="+dir, "PHOENIX_DATABASE_URL="+p.db.AppURL, "PHOENIX_MIGRATE_DATABASE_URL="+p.db.OwnerURL,
		"PHOENIX_JWT_KEYS_FILE=", "PHOENIX_RATE_LOGIN_IP=off")
	cmd.Env = append(cmd.Env, p.opts.env...)
	var logs bintest.Output
	cmd.Stderr = &logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	p.cmd, p.exited = cmd, exited
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("phoenix dev (pid %d) logs (last 16 KiB):\n%s", cmd.Process.Pid, logs.Tail(16<<10))
		}
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		_, _ = p.out.Write([]byte(line + "\n"))
		if m := addrLine.FindStringSubmatch(line); m != nil {
			p.addrs[m[1]] = m[2]
		}
		if m := demoUp.FindStringSubmatch(line); m != nil {
			p.addrs["api"], p.addrs["gateway"] = m[1], m[2]
		}
		if m := demoLogin.FindStringSubmatch(line); m != nil {
			p.login = smoke.Account{Tenant: m[1], Email: m[2], Password: m[3]}
		}
		if m := demoConsole.FindStringSubmatch(line); m != nil {
			p.console = m[1]
			break
		}
		if strings.HasPrefix(line, "Phoenix is running") {
			break
		}
	}
	go func() {
		_, _ = io.Copy(&p.out, stdout)
		exited <- cmd.Wait()
	}()
	if p.addrs["api"] == "" || p.addrs["gateway"] == "" {
		t.Fatalf("phoenix dev printed %v; logs:\n%s", p.addrs, logs.Tail(16<<10))
	}
	p.target = smoke.Target{API: p.addrs["api"], Gateway: p.addrs["gateway"]}
}

// kill ends phoenix dev with SIGKILL, as a crash or an OOM kill would: nothing of it shuts
// down in order. It returns when the process is gone.
func (p *platform) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := <-p.exited
	p.exited <- err // for the launch's cleanup
}

// unique returns prefix with a random suffix: tenant names are global to the Redis all suites
// share (the per-account login limit is keyed by them).
func unique(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// cli runs the phoenix binary against the platform's database, as an operator bootstraps it.
func (p *platform) cli(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(p.bin, args...) // #nosec G204 -- the CLI built above
	cmd.Env = append(bintest.Env(), "PHOENIX_DATABASE_URL="+p.db.AppURL)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("phoenix %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// tenant creates a tenant with a unique name and returns the name.
func (p *platform) tenant(t *testing.T, prefix string) string {
	t.Helper()
	name := unique(prefix)
	p.cli(t, "", "tenant", "create", name)
	return name
}

// user creates a user of tenant with role and returns the account to log in with.
func (p *platform) user(t *testing.T, tenant, email, role string) smoke.Account {
	t.Helper()
	defer func(start time.Time) { t.Logf("user %s created in %.1f s", email, time.Since(start).Seconds()) }(time.Now())
	pw := unique("a long password")
	p.cli(t, pw+"\n", "user", "create", "--tenant", tenant, "--email", email, "--role", role)
	return smoke.Account{Tenant: tenant, Email: email, Password: pw}
}

// requireSteps fails unless the result ran exactly the named steps, each with its status.
func requireSteps(t *testing.T, res smoke.Result, want map[string]smoke.Status) {
	t.Helper()
	for name, status := range want {
		s := res.Step(name)
		if s == nil {
			t.Errorf("%s: no step %q", res.Scenario, name)
			continue
		}
		if s.Status != status {
			t.Errorf("%s: step %q is %s, want %s: %s", res.Scenario, name, s.Status, status, s.Detail)
		}
	}
	if t.Failed() {
		t.Fatalf("%s steps:\n%s", res.Scenario, describe(res))
	}
}

// requirePassed fails unless every listed step passed and no step failed.
func requirePassed(t *testing.T, res smoke.Result, steps ...string) {
	t.Helper()
	want := map[string]smoke.Status{}
	for _, s := range steps {
		want[s] = smoke.Pass
	}
	requireSteps(t, res, want)
	if !res.Passed() {
		t.Fatalf("%s failed:\n%s", res.Scenario, describe(res))
	}
}

// requireFailedAt fails unless the first failed step is step and its detail says want.
func requireFailedAt(t *testing.T, res smoke.Result, step, want string) {
	t.Helper()
	f := res.Failure()
	if f == nil || f.Name != step || !strings.Contains(f.Detail, want) {
		t.Fatalf("%s: first failure %+v, want step %q saying %q; steps:\n%s", res.Scenario, f, step, want, describe(res))
	}
}

// describe lists a result's steps for a failure message.
func describe(res smoke.Result) string {
	var b strings.Builder
	for _, s := range res.Steps {
		fmt.Fprintf(&b, "  %s %s: %s\n", s.Status, s.Name, s.Detail)
	}
	return b.String()
}

// login returns an access token for acct, read directly from the API (for checks the scenarios
// do not make).
func login(t *testing.T, target smoke.Target, acct smoke.Account) string {
	t.Helper()
	var tok struct {
		Access string `json:"access_token"` // bearer token
	}
	b, _ := json.Marshal(map[string]string{"tenant": acct.Tenant, "email": acct.Email, "password": acct.Password})
	res, err := http.Post(target.API+"/v1/auth/login", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("login as %s: %d %v", acct.Email, res.StatusCode, err)
	}
	return tok.Access
}

// getJSON reads GET path from the API as token into out, requiring 200.
func getJSON(t *testing.T, target smoke.Target, token, path string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, target.API+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, raw)
	}
}
