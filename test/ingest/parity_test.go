package ingest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/ingesttoken"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/collector"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

// TestCollectors_InputParityAndRestarts shows the windows' evidence of what each variant's
// collectors received, with the real collector: two collectors scraping the same host report
// about the same received points over a run, and a collector killed and started again (under the
// same name, as a DaemonSet pod on its node) is a restart in the window where it came back.
func TestCollectors_InputParityAndRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three collectors for about 45 seconds")
	}
	bin := collector.Binary(t)
	ph := startPhoenix(t)
	tenant := pgtest.Tenant(t, ph.st, "acme")

	t.Run("two collectors scraping the same host receive the same points", func(t *testing.T) {
		t.Parallel()
		exp := runningExperiment(t, ph.st, tenant, nil)
		// Different pipelines, one receiver configuration: what they take in must not differ.
		running := []*process{
			startCollector(t, bin, ph, tenant, exp, experiment.Baseline, "process-baseline", nil, ""),
			startCollector(t, bin, ph, tenant, exp, experiment.Candidate, "process-minimal", map[string]string{"critical_processes": "postgres"}, ""),
		}
		// Six windows of each variant with an interval of receiver counters: about 30 scrapes each.
		waitWindows(t, ph, tenant, exp, 90*time.Second, func(ws map[experiment.Variant][]store.KPIWindow) bool {
			return len(withInput(ws[experiment.Baseline])) >= 6 && len(withInput(ws[experiment.Candidate])) >= 6
		})
		for _, p := range running {
			p.stop()
		}
		ws := closeAllWindows(t, ph, tenant, exp)
		// Both variants' readings come every 5 s into 5 s windows: over the windows where both have
		// an interval, each sum spans the same number of readings, so they differ by the scrapes
		// falling either side of the edges (one or two of ~30) and by processes coming and going
		// between the two collectors' scrapes.
		byStart := map[int64]store.KPIWindow{}
		for _, w := range withInput(ws[experiment.Candidate]) {
			byStart[w.WindowStart.UnixMilli()] = w
		}
		var base, cand int64
		both := 0
		for _, b := range withInput(ws[experiment.Baseline]) {
			c, ok := byStart[b.WindowStart.UnixMilli()]
			if !ok || c.ReceivedPoints == nil {
				continue
			}
			both++
			base += *b.ReceivedPoints
			cand += *c.ReceivedPoints
			t.Logf("window %s: baseline received %d (refused %d), candidate %d (refused %d)", b.WindowStart.Format("15:04:05"),
				*b.ReceivedPoints, *b.RefusedPoints, *c.ReceivedPoints, *c.RefusedPoints)
			if *b.RefusedPoints != 0 || *c.RefusedPoints != 0 {
				t.Errorf("window %s: points refused to the receivers: baseline %d, candidate %d", b.WindowStart, *b.RefusedPoints, *c.RefusedPoints)
			}
		}
		t.Logf("over %d windows: baseline received %d points, candidate %d", both, base, cand)
		if both < 5 || base <= 0 || cand <= 0 {
			t.Fatalf("only %d windows where both variants received something (baseline %d, candidate %d points)", both, base, cand)
		}
		if diff := float64(base-cand) / float64(max(base, cand)); diff > 0.1 || diff < -0.1 {
			t.Errorf("baseline received %d points and candidate %d: %.1f%% apart, want within 10%%", base, cand, 100*diff)
		}
		for v, list := range ws {
			for _, w := range list {
				if w.Restarts != 0 || w.Collectors > 1 {
					t.Errorf("%s window %s: %d restarts and %d collectors, want none and one", v, w.WindowStart, w.Restarts, w.Collectors)
				}
			}
		}
	})

	t.Run("a killed and restarted collector is a restart in its window", func(t *testing.T) {
		t.Parallel()
		exp := runningExperiment(t, ph.st, tenant, nil)
		first := startCollector(t, bin, ph, tenant, exp, experiment.Baseline, "process-baseline", nil, "node-a")
		// Killed once Phoenix holds two of its readings: the next one, from the new process, has
		// counters to fall from.
		waitWindows(t, ph, tenant, exp, 60*time.Second, func(ws map[experiment.Variant][]store.KPIWindow) bool {
			return len(withInput(ws[experiment.Baseline])) >= 1
		})
		first.kill()
		second := startCollector(t, bin, ph, tenant, exp, experiment.Baseline, "process-baseline", nil, "node-a")
		var restartedIn time.Time
		waitWindows(t, ph, tenant, exp, 60*time.Second, func(ws map[experiment.Variant][]store.KPIWindow) bool {
			for _, w := range ws[experiment.Baseline] {
				if w.Restarts > 0 && restartedIn.IsZero() {
					restartedIn = w.WindowStart
				}
				// Counting goes on after the restart: the new process's readings give intervals.
				if !restartedIn.IsZero() && w.WindowStart.After(restartedIn) && w.ReceivedPoints != nil {
					return true
				}
			}
			return false
		})
		second.stop()
		restarts := 0
		for _, w := range closeAllWindows(t, ph, tenant, exp)[experiment.Baseline] {
			restarts += w.Restarts
			t.Logf("window %s: received %v, restarts %d, collectors %d", w.WindowStart.Format("15:04:05"), derefInt(w.ReceivedPoints), w.Restarts, w.Collectors)
			// One name across both processes: one collector, whose memory is not counted twice.
			if w.Collectors > 1 {
				t.Errorf("window %s: %d collectors, want the one named node-a", w.WindowStart, w.Collectors)
			}
		}
		if restarts != 1 {
			t.Errorf("%d restarts over the run, want 1; logs:\n%s\n%s", restarts, first.logs(), second.logs())
		}
	})
}

// process is one running collector.
type process struct {
	cmd  *exec.Cmd     // the collector
	mu   sync.Mutex    // guards out
	out  bytes.Buffer  // its log
	done chan struct{} // closed once it has exited
}

// startCollector runs the real collector with template's configuration (params, scraping every
// second) for variant v of exp, sending to Phoenix with a new ingest token, as the local runner
// does; name, when not empty, is its PHOENIX_COLLECTOR_NAME (what a DaemonSet pod gets from its
// node). It is killed when the test ends, if it still runs.
func startCollector(t *testing.T, bin string, ph *phoenix, tenant, exp uuid.UUID, v experiment.Variant, template string,
	params map[string]string, name string) *process {
	t.Helper()
	all := map[string]string{"collection_interval": "1s"}
	for k, val := range params {
		all[k] = val
	}
	token, err := ingesttoken.Issue(context.Background(), ph.st, tenant, exp, v, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pipeline.Render(pipeline.Request{Template: template, Params: all,
		ExperimentID: exp, Variant: string(v), Target: pipeline.Local, Output: pipeline.Output{Endpoint: ph.url, Headers: pipeline.IngestHeaders()}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: exec.Command(bin, "--config", path), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), ingesttoken.Env(token)...)
	if name != "" {
		p.cmd.Env = append(p.cmd.Env, pipeline.CollectorNameEnv+"="+name)
	}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	return p
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *process) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// stop interrupts the collector, which flushes what it holds, and waits for it to exit.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	<-p.done
}

// kill ends the collector at once, as a crash or an OOM kill would: nothing is flushed.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// waitWindows polls exp's stored windows (the ingest function closes them every second) until
// done says so, failing the test after timeout.
func waitWindows(t *testing.T, ph *phoenix, tenant, exp uuid.UUID, timeout time.Duration, done func(map[experiment.Variant][]store.KPIWindow) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ws := map[experiment.Variant][]store.KPIWindow{}
		for _, w := range windowsOf(t, ph.st, tenant, exp, "") {
			ws[w.Variant] = append(ws[w.Variant], w)
		}
		if done(ws) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the windows did not show it within %s: %+v", timeout, ws)
		}
		time.Sleep(500 * time.Millisecond) // polling the store, bounded by the deadline
	}
}

// closeAllWindows waits until every window exp's collectors wrote to is over and stored, and
// returns them per variant.
func closeAllWindows(t *testing.T, ph *phoenix, tenant, exp uuid.UUID) map[experiment.Variant][]store.KPIWindow {
	t.Helper()
	now, err := ph.rdb.Time(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	// The collectors have stopped: the window Redis time is in now is the last one written to.
	waitRedis(t, ph.rdb, now.Truncate(window).Add(window))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := ph.in.CloseDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		// The ingest's own closing loop may hold a window's lease while it commits: wait until no
		// window of exp is pending any more.
		pending, err := ph.rdb.ZRange(context.Background(), ph.prefix+":pending", 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(pending, func(m string) bool { return strings.Contains(m, exp.String()) }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("windows of %s still pending after 10 s: %v", exp, pending)
		}
		time.Sleep(100 * time.Millisecond) // a closing transaction elsewhere, bounded by the deadline
	}
	ws := map[experiment.Variant][]store.KPIWindow{}
	for _, w := range windowsOf(t, ph.st, tenant, exp, "") {
		ws[w.Variant] = append(ws[w.Variant], w)
	}
	return ws
}

// withInput keeps the windows with received points.
func withInput(ws []store.KPIWindow) []store.KPIWindow {
	var out []store.KPIWindow
	for _, w := range ws {
		if w.ReceivedPoints != nil {
			out = append(out, w)
		}
	}
	return out
}
