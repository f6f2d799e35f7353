// Package e2e runs the real binaries: `phoenix dev` with every function and the gateway against a
// fresh database, driven over HTTP, CloudEvents and WebSockets as a user and Knative would.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/phoenixotel/phoenix/functions/gateway"
	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/config"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/realtime"
	"github.com/phoenixotel/phoenix/shared/wsproto"
	"github.com/phoenixotel/phoenix/test/bintest"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

// build compiles a package of this module into dir and returns the binary's path.
func build(t testing.TB, dir, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, strings.ReplaceAll(pkg, "/", "-"))
	if err := bintest.Build(out, pkg); err != nil {
		t.Fatal(err)
	}
	return out
}

// platform is a running `phoenix dev`.
type platform struct {
	cmd      *exec.Cmd
	bin      string            // the phoenix binary it runs
	out      *bytes.Buffer     // stdout after the address table
	addrs    map[string]string // function -> base URL
	keysFile string
	db       *pgtest.DB
	exited   chan error
}

var addrLine = regexp.MustCompile(`^(\w+)\s+(http://127\.0\.0\.1:\d+)/?\s`)

func startDev(t *testing.T) *platform { t.Helper(); return startDevWith(t, nil, nil) }

// startDevWith starts phoenix dev with extra flags and environment variables.
func startDevWith(t *testing.T, args, env []string) *platform {
	t.Helper()
	dir := t.TempDir()
	bin := build(t, dir, "cmd/phoenix")
	db := pgtest.New(t) // empty: `phoenix dev` applies the migrations itself
	p := &platform{db: db, addrs: map[string]string{}, keysFile: filepath.Join(dir, "keys.pem"), exited: make(chan error, 1), out: &bytes.Buffer{}}
	p.cmd = exec.Command(bin, "dev", "--api-addr", "127.0.0.1:0", "--gateway-addr", "127.0.0.1:0",
		"--controller-addr", "127.0.0.1:0", "--generator-addr", "127.0.0.1:0", "--analyzer-addr", "127.0.0.1:0",
		"--ingest-addr", "127.0.0.1:0", "--deployer-addr", "127.0.0.1:0", "--broker-addr", "127.0.0.1:0",
		"--dev-keys", p.keysFile)
	if !slices.Contains(args, "--collector") {
		// No collectors can run unless the test asks for them (make test sets PHOENIX_COLLECTOR,
		// which phoenix dev would otherwise find).
		args = append(args, "--collector", filepath.Join(dir, "no-collector-here"))
	}
	p.cmd.Args = append(p.cmd.Args, args...)
	p.bin = bin
	p.cmd.Dir = dir
	p.cmd.Env = append(bintest.Env(),
		"PHOENIX_DATABASE_URL="+db.AppURL, "PHOENIX_MIGRATE_DATABASE_URL="+db.OwnerURL, "PHOENIX_JWT_KEYS_FILE=",
		"PHOENIX_WS_RECHECK_INTERVAL=200ms")
	p.cmd.Env = append(p.cmd.Env, env...)
	var logs bytes.Buffer
	p.cmd.Stderr = &logs
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("phoenix dev logs:\n%s", logs.String())
		}
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if m := addrLine.FindStringSubmatch(line); m != nil {
			p.addrs[m[1]] = m[2]
		}
		if strings.HasPrefix(line, "Phoenix is running") {
			break
		}
	}
	go func() {
		_, _ = io.Copy(p.out, stdout)
		p.exited <- p.cmd.Wait()
	}()
	if len(p.addrs) != 8 { // seven functions and the broker
		t.Fatalf("phoenix dev printed %v; logs:\n%s", p.addrs, logs.String())
	}
	return p
}

func (p *platform) token(t *testing.T, tenant uuid.UUID, roles ...string) string {
	t.Helper()
	keys, err := auth.LoadKeySetFile(p.keysFile)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := auth.NewIssuer(auth.IssuerConfig{Keys: keys, Issuer: config.DefaultJWTIssuer, Audience: config.DefaultJWTAudience})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := iss.Issue(auth.Grant{Subject: "user-" + tenant.String()[:8], Tenant: tenant, Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func call(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestDev_RunsThePlatformEndToEnd(t *testing.T) {
	p := startDev(t)
	ctx := context.Background()
	for name, base := range p.addrs {
		resp, err := http.Get(base + "/readyz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s not ready: %v %v", name, resp, err)
		}
		resp.Body.Close()
	}

	// Tenants are created through the store's platform path (the CLI's own is tested in cli_test.go).
	st := p.db.AppStore(t, storeOptions())
	acme, other := pgtest.Tenant(t, st, "acme"), pgtest.Tenant(t, st, "other")
	operator, viewer, intruder := p.token(t, acme, "operator"), p.token(t, acme, "viewer"), p.token(t, other, "admin")
	api := p.addrs["api"]

	code, created := call(t, "POST", api+"/v1/experiments", operator, map[string]any{
		"name": "topk vs baseline", "duration_seconds": 600,
		"baseline":  map[string]any{"template": "process-baseline"},
		"candidate": map[string]any{"template": "process-minimal", "parameters": map[string]any{"critical_processes": []string{"postgres"}}},
	})
	if code != http.StatusCreated || created["state"] != "pending" {
		t.Fatalf("create: %d %v", code, created)
	}
	id := created["id"].(string)
	if code, body := call(t, "POST", api+"/v1/experiments", viewer, map[string]any{"name": "x"}); code != http.StatusForbidden {
		t.Fatalf("viewer create: %d %v", code, body)
	}
	if code, body := call(t, "POST", api+"/v1/experiments", operator, map[string]any{"name": "", "duration_seconds": 5}); code != http.StatusBadRequest || body["errors"] == nil {
		t.Fatalf("invalid create: %d %v", code, body)
	}
	if code, _ := call(t, "GET", api+"/v1/experiments/"+id, viewer, nil); code != http.StatusOK {
		t.Fatalf("viewer get: %d", code)
	}
	if code, _ := call(t, "GET", api+"/v1/experiments/"+id, intruder, nil); code != http.StatusNotFound {
		t.Fatalf("another tenant's admin got %d, want 404", code)
	}
	if code, list := call(t, "GET", api+"/v1/experiments", intruder, nil); code != http.StatusOK || len(list["items"].([]any)) != 0 {
		t.Fatalf("another tenant lists %d %v", code, list)
	}
	if code, _ := call(t, "GET", api+"/v1/experiments/not-a-uuid", viewer, nil); code != http.StatusBadRequest {
		t.Fatalf("bad uuid: %d", code)
	}

	// The gateway streams the tenant's events to an authenticated WebSocket.
	wsURL := strings.Replace(p.addrs["gateway"], "http://", "ws://", 1) + "/ws"
	conn, resp, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Authorization": {"Bearer " + viewer}})
	if err != nil {
		t.Fatalf("ws dial: %v %v", err, resp)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := conn.WriteJSON(map[string]string{"type": "subscribe", "channel": "experiment:" + id}); err != nil {
		t.Fatal(err)
	}
	var frame map[string]any
	if err := conn.ReadJSON(&frame); err != nil || frame["type"] != "subscribed" {
		t.Fatalf("subscribe answer %v %v", frame, err)
	}
	if _, resp, err := websocket.DefaultDialer.Dial(wsURL, nil); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated ws: %v", err)
	}

	// A CloudEvent to the controller moves the experiment, exactly once however often delivered.
	expID := uuid.MustParse(id)
	started, _ := events.New("start-1", events.ExperimentStarted, events.SourceAPI, acme, expID, events.Command{ExperimentID: expID, RequestedBy: "e2e"})
	for range 2 {
		body, _ := json.Marshal(started)
		resp, err := http.Post(p.addrs["controller"]+"/", "application/cloudevents+json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// Accepted without a reply: the follow-up (the manifests request) leaves through the
		// controller's outbox, to the broker.
		if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Ce-Type") != "" {
			t.Fatalf("controller answered %d %v", resp.StatusCode, resp.Header)
		}
	}
	// One move however often delivered (the experiment may go on from generating meanwhile: the
	// manifests request reached the generator through the broker).
	code, trs := call(t, "GET", api+"/v1/experiments/"+id+"/transitions", viewer, nil)
	items, _ := trs["items"].([]any)
	generating := 0
	for _, it := range items {
		if it.(map[string]any)["to"] == "generating" {
			generating++
		}
	}
	if code != http.StatusOK || len(items) == 0 || items[0].(map[string]any)["to"] != "generating" || generating != 1 {
		t.Fatalf("transitions %d %v", code, trs)
	}

	// Publish on Redis as the controller will; the subscriber gets it, another tenant would not.
	opts, _ := redis.ParseURL(config.DefaultRedisURL)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	payload, _ := json.Marshal(started)
	if err := realtime.NewPublisher(rdb, gateway.ChannelPrefix).Publish(ctx, acme, expID, payload); err != nil {
		t.Fatal(err)
	}
	if err := conn.ReadJSON(&frame); err != nil || frame["type"] != "event" {
		t.Fatalf("event frame %v %v", frame, err)
	}

	// Logging out revokes the token, and the open WebSocket with it.
	if code, _ := call(t, "POST", api+"/v1/auth/logout", viewer, nil); code != http.StatusNoContent {
		t.Fatalf("logout: %d", code)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != wsproto.CloseTokenRevoked {
				t.Fatalf("after logout the socket ended with %v, want close %d", err, wsproto.CloseTokenRevoked)
			}
			break
		}
	}

	// Ctrl-C stops everything cleanly.
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		p.exited <- err
		if err != nil {
			t.Fatalf("phoenix dev exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("phoenix dev did not stop within 30 s of SIGINT")
	}
	if !strings.Contains(p.out.String(), "stopped") {
		t.Fatalf("no clean stop reported: %q", p.out.String())
	}
}

func TestFunction_RefusesARoleThatBypassesRLS(t *testing.T) {
	dir := t.TempDir()
	bin := build(t, dir, "functions/analyzer/cmd")
	db := pgtest.Migrated(t)
	cmd := exec.Command(bin)
	cmd.Env = append(bintest.Env(), "PORT=0", "PHOENIX_DATABASE_URL="+db.OwnerURL) // superuser owner
	out, err := runWithTimeout(cmd, 20*time.Second)
	if err == nil {
		t.Fatalf("analyzer started as a superuser:\n%s", out)
	}
	if !strings.Contains(out, "could bypass row-level security") || !strings.Contains(out, "phoenix_app") {
		t.Fatalf("refusal does not say what to fix:\n%s", out)
	}
}

func TestFunction_RejectsInvalidConfiguration(t *testing.T) {
	bin := build(t, t.TempDir(), "functions/api/cmd")
	cmd := exec.Command(bin)
	cmd.Env = append(bintest.Env(), "PORT=http", "PHOENIX_DATABASE_URL=mysql://x")
	out, err := runWithTimeout(cmd, 20*time.Second)
	if err == nil || !strings.Contains(out, "PORT=") || !strings.Contains(out, "PHOENIX_DATABASE_URL") {
		t.Fatalf("bad configuration: err %v, output:\n%s", err, out)
	}
}

func runWithTimeout(cmd *exec.Cmd, d time.Duration) (string, error) {
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return buf.String(), err
	case <-time.After(d):
		_ = cmd.Process.Kill()
		<-done
		return buf.String(), fmt.Errorf("still running after %s", d)
	}
}
