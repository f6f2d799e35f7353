package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/test/bintest"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

// TestDemo_TheHostsRecommendationIsPromotedWithinItsPrediction is the README's journey on the
// demo host, with the CLI the demo logged in: while `phoenix demo` runs its experiment, capture
// the baseline's real output; get ranked recommendations; preview one pipeline against another;
// once the demo's verdict is in (the platform and the simulated processes keep running), start the
// experiment for the best recommendation in one command and watch it to its verdict: promoted, and
// every predicted change measured within its stated error.
func TestDemo_TheHostsRecommendationIsPromotedWithinItsPrediction(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := build(t, dir, "cmd/phoenix")
	db := pgtest.New(t)
	// Up to three minutes of 6 s windows: the collectors' CPU guardrail needs 15 to 25 windows to
	// be shown within its tolerance on a busy machine; the confirmation inherits the same bound.
	cmd := exec.Command(bin, "demo", "--duration", "1m", "--max-duration", "3m", "--interval", "2s", "--processes", "12",
		"--collector", collector(t), "--api-addr", "127.0.0.1:0", "--gateway-addr", "127.0.0.1:0",
		"--controller-addr", "127.0.0.1:0", "--generator-addr", "127.0.0.1:0", "--analyzer-addr", "127.0.0.1:0",
		"--ingest-addr", "127.0.0.1:0", "--deployer-addr", "127.0.0.1:0", "--broker-addr", "127.0.0.1:0",
		"--dev-keys", filepath.Join(dir, "keys.pem")) // #nosec G204 -- the binary this test built
	cmd.Dir = dir
	cmd.Env = append(bintest.Env(), "XDG_CONFIG_HOME="+dir, "PHOENIX_DATABASE_URL="+db.AppURL,
		"PHOENIX_MIGRATE_DATABASE_URL="+db.OwnerURL, "PHOENIX_JWT_KEYS_FILE=", "PHOENIX_KPI_WINDOW=6s")
	var out bintest.Output
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	fail := func(format string, args ...any) {
		t.Helper()
		logs, _ := os.ReadFile(filepath.Join(dir, ".phoenix", "demo.log"))
		t.Fatalf(format+"\ndemo output:\n%s\nplatform logs (tail):\n%s", append(args, out.String(), string(logs[max(0, len(logs)-4000):]))...)
	}
	// awaitOutput waits for the demo to print want.
	awaitOutput := func(want string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !strings.Contains(out.String(), want) {
			select {
			case err := <-exited:
				fail("the demo exited (%v) before printing %q", err, want)
			case <-time.After(250 * time.Millisecond): // polling the output, bounded by the deadline
			}
			if time.Now().After(deadline) {
				fail("the demo did not print %q within %s", want, within)
			}
		}
	}
	// The demo saved its login where the CLI looks (XDG_CONFIG_HOME): the user's next terminal.
	c := cli{bin: bin, configHome: dir}
	awaitOutput("deploying → running", 90*time.Second)
	list, _, err := c.run(t, "", "experiment", "list")
	demoID := regexp.MustCompile(`[0-9a-f-]{36}`).FindString(list)
	if err != nil || demoID == "" {
		fail("experiment list: %v\n%s", err, list)
	}

	// 1. Capture what the demo's baseline really sends (the README takes two minutes; twenty
	// seconds hold ten scrapes of every process here).
	capOut, errOut, err := c.run(t, "", "capture", "create", "--experiment", demoID, "--duration", "20s")
	if err != nil || !uuidLine.MatchString(capOut) {
		fail("capture create: %v %s %s", err, capOut, errOut)
	}
	capture := strings.TrimSpace(capOut)
	var got struct {
		State      string `json:"state"`
		Datapoints int64  `json:"datapoints"`
	}
	for deadline := time.Now().Add(60 * time.Second); got.State != "complete"; {
		if time.Now().After(deadline) {
			fail("the capture never completed: %+v", got)
		}
		time.Sleep(time.Second) // polling the API, bounded by the deadline
		raw, _, err := c.run(t, "", "capture", "get", capture)
		if err != nil || json.Unmarshal([]byte(raw), &got) != nil {
			fail("capture get: %v\n%s", err, raw)
		}
	}
	if got.Datapoints < 500 {
		fail("twenty seconds of the demo's baseline captured %d datapoints", got.Datapoints)
	}

	// 2. Ranked recommendations, each with its predicted saving, its stated error and what it drops.
	recs, errOut, err := c.run(t, "", "recommend", "--capture", capture)
	best := regexp.MustCompile(`(?m)^1\. (.+)\n\s+(.+)\n\s+phoenix experiment create --from-recommendation ([0-9a-f-]{36})`).FindStringSubmatch(recs)
	if err != nil || best == nil || !strings.Contains(recs, "2. ") || !strings.Contains(best[2], " pp)") ||
		!strings.Contains(recs, "what costs the most in this capture") || !strings.Contains(recs, "process.pid ") {
		fail("recommend: %v\n%s%s", err, recs, errOut)
	}
	t.Logf("phoenix recommend:\n%s", recs)

	// 3. One pipeline previewed against another on the same capture.
	prev, errOut, err := c.run(t, "", "pipeline", "preview", "--capture", capture, "--pipeline", "process-minimal", "--against", "process-topk",
		"--param", "collection_interval=2s")
	if err != nil || !strings.Contains(prev, "process-minimal against process-topk") {
		fail("pipeline preview: %v\n%s%s", err, prev, errOut)
	}

	// 4. Once the demo has its verdict, the best recommendation's experiment in one command, to its verdict.
	awaitOutput("The load simulator keeps running", 6*time.Minute)
	created, errOut, err := c.run(t, "", "experiment", "create", "--from-recommendation", best[3])
	if err != nil || !uuidLine.MatchString(created) {
		fail("experiment create --from-recommendation: %v %s %s", err, created, errOut)
	}
	confirm := strings.TrimSpace(created)
	if _, errOut, err := c.run(t, "", "experiment", "start", confirm); err != nil {
		fail("start: %v %s", err, errOut)
	}
	verdict, errOut, err := c.run(t, "", "experiment", "watch", confirm)
	if err != nil {
		fail("watch the confirmation: %v\n%s%s", err, verdict, errOut)
	}
	at := strings.Index(verdict, "METRIC")
	if at < 0 || !strings.Contains(verdict, "recommendation: PROMOTE") || !strings.Contains(verdict, "The prediction holds") {
		fail("the recommendation %q was not promoted within its prediction:\n%s", best[1], verdict[max(0, at):])
	}
	t.Logf("recommended %q (%s); the confirmation's verdict:\n%s", best[1], best[2], verdict[at:])
}
