package integration

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/cmd/phoenix/smoke"
	"github.com/phoenixotel/phoenix/shared/deployer"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/collector"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

// TestFault_PlatformKilledMidRunFailsTheRunWhenItComesBack kills phoenix dev with SIGKILL while
// an experiment runs — its collectors die with it — and starts it again on the same database.
// Before, the experiment stayed running with nothing measuring and at its end completed with a
// normal-looking verdict on a fraction of its windows. Now the new process reconciles at start:
// the run fails at once, saying its collectors were lost with the earlier process.
func TestFault_PlatformKilledMidRunFailsTheRunWhenItComesBack(t *testing.T) {
	t.Parallel()
	p := startDev(t, devOptions{collector: collector.Binary(t), env: []string{"PHOENIX_KPI_WINDOW=6s"}})
	acct, _, id := startRun(t, p, "killed")

	p.kill(t)
	p.launch(t)
	relaunched := time.Now()
	token := login(t, p.target, acct) // a new launch signs with new development keys
	exp := waitEnded(t, p, token, id)
	if exp.State != "failed" || exp.FailureReason == nil || !strings.Contains(*exp.FailureReason, deployer.LostOnRestart) {
		t.Fatalf("after the platform was killed: state %s, reason %v; want failed, saying the collectors were lost", exp.State, exp.FailureReason)
	}
	t.Logf("failed %.1f s after the relaunch: %s", time.Since(relaunched).Seconds(), *exp.FailureReason)
}

// TestFault_ACollectorThatStopsDeliveringFailsTheRun freezes the candidate's collector (SIGSTOP:
// the process lives, nothing arrives — as a hung collector, a lost node or a cut network would
// look) while the experiment runs. The clock fails the run once the variant has been silent for
// PHOENIX_TIMEOUT_SILENCE, naming the variant and since when.
func TestFault_ACollectorThatStopsDeliveringFailsTheRun(t *testing.T) {
	t.Parallel()
	p := startDev(t, devOptions{collector: collector.Binary(t), env: []string{"PHOENIX_KPI_WINDOW=6s", "PHOENIX_TIMEOUT_SILENCE=20s"}})
	_, token, id := startRun(t, p, "frozen")
	pid := collectorPID(t, id, "candidate")
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) }) // let teardown's SIGTERM reach it
	frozen := time.Now()
	exp := waitEnded(t, p, token, id)
	if exp.State != "failed" || exp.FailureReason == nil ||
		!strings.Contains(*exp.FailureReason, "candidate's collectors delivered nothing since") {
		t.Fatalf("after the candidate's collector froze: state %s, reason %v; want failed, naming the silent candidate", exp.State, exp.FailureReason)
	}
	if waited := time.Since(frozen); waited < 20*time.Second {
		t.Fatalf("failed %s after the freeze, before the 20 s of silence the rule allows", waited)
	}
	t.Logf("failed %.0f s after the freeze: %s", time.Since(frozen).Seconds(), *exp.FailureReason)
}

// TestFault_ACollectorKilledMidRunFailsTheRunAtOnce kills the candidate's collector process with
// SIGKILL while the experiment runs. phoenix dev does not restart collectors (on a cluster the
// DaemonSet would, and a node lost for good is the silence rule's): the experiment fails at once,
// naming the variant and with the collector's last log lines.
func TestFault_ACollectorKilledMidRunFailsTheRunAtOnce(t *testing.T) {
	t.Parallel()
	p := startDev(t, devOptions{collector: collector.Binary(t), env: []string{"PHOENIX_KPI_WINDOW=6s"}})
	_, token, id := startRun(t, p, "collector")
	pid := collectorPID(t, id, "candidate")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	exp := waitEnded(t, p, token, id)
	if exp.State != "failed" || exp.FailureReason == nil || !strings.Contains(*exp.FailureReason, "the candidate collector exited") {
		t.Fatalf("after the candidate's collector was killed: state %s, reason %v; want failed, naming it", exp.State, exp.FailureReason)
	}
	t.Logf("failed %.1f s after the kill: %.120s", time.Since(killed).Seconds(), *exp.FailureReason)
}

// startRun makes a user in a new tenant, who creates and starts a ten-minute experiment (process
// baseline against top-k, scraping every 2 s), and waits until it runs and both variants have
// delivered a window. It returns the user, its access token and the experiment's id.
func startRun(t *testing.T, p *platform, name string) (smoke.Account, string, string) {
	t.Helper()
	acct := p.user(t, p.tenant(t, name), "ops@"+name+".example", "operator")
	token := login(t, p.target, acct)
	var exp store.Experiment
	params := map[string]any{"collection_interval": "2s"}
	send(t, p, token, http.MethodPost, "/v1/experiments", map[string]any{"name": name, "duration_seconds": 600,
		"baseline":  map[string]any{"template": "process-baseline", "parameters": params},
		"candidate": map[string]any{"template": "process-topk", "parameters": params}}, http.StatusCreated, &exp)
	send(t, p, token, http.MethodPost, "/v1/experiments/"+exp.ID.String()+"/start", nil, http.StatusAccepted, nil)
	within(t, 2*time.Minute, "the run to start and both variants to deliver a window", func() bool {
		getJSON(t, p.target, token, "/v1/experiments/"+exp.ID.String(), &exp)
		if exp.State != "running" {
			return false
		}
		for _, v := range []string{"baseline", "candidate"} {
			var page struct {
				Items []json.RawMessage `json:"items"`
			}
			getJSON(t, p.target, token, "/v1/experiments/"+exp.ID.String()+"/kpis?variant="+v, &page)
			if len(page.Items) == 0 {
				return false
			}
		}
		return true
	})
	return acct, token, exp.ID.String()
}

// waitEnded waits (two minutes at most) until the experiment no longer runs and returns it.
func waitEnded(t *testing.T, p *platform, token, id string) store.Experiment {
	t.Helper()
	var exp store.Experiment
	within(t, 2*time.Minute, "the experiment to end", func() bool {
		getJSON(t, p.target, token, "/v1/experiments/"+id, &exp)
		return exp.State != "running"
	})
	return exp
}

// collectorPID finds the collector process phoenix dev runs for the experiment's variant: the
// one whose command line names the configuration it wrote for it (<run dir>/<id>/<variant>.yaml).
func collectorPID(t *testing.T, id, variant string) int {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	want := string(filepath.Separator) + id + string(filepath.Separator) + variant + ".yaml"
	for _, f := range procs {
		raw, err := os.ReadFile(f) // #nosec G304 -- /proc entries, read to find a test's own child
		if err != nil || !strings.Contains(string(raw), want) {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if err == nil {
			return pid
		}
	}
	t.Fatalf("no process runs the %s collector of %s", variant, id)
	return 0
}

// send makes an API request as token with body as JSON, requires status, and decodes the answer
// into out when out is not nil.
func send(t *testing.T, p *platform, token, method, path string, body any, status int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.target.API+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != status {
		t.Fatalf("%s %s: %d %s; want %d", method, path, res.StatusCode, raw, status)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

// within polls cond once a second until it holds, failing the test after limit: the platform
// moves by its own clock ticks, which the test waits on.
func within(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(time.Second) // polling the API, bounded by the deadline
	}
}

// TestFault_PostgresRestartedMidRunKeepsEveryWindowHonest runs phoenix dev on a PostgreSQL
// cluster of the test's own and stops it for two windows while an experiment runs. Before,
// windows were by arrival: a collector's retried batch landed in the next window (−34% and +34%
// in two adjacent windows, both complete). Now each datapoint counts in the window it was
// scraped in: every window of the run is stored, the ones inside the outage complete and as
// full as those before it, and the run goes on.
func TestFault_PostgresRestartedMidRunKeepsEveryWindowHonest(t *testing.T) {
	t.Parallel()
	const window = 6 * time.Second
	pg := pgtest.StartCluster(t)
	p := startDev(t, devOptions{collector: collector.Binary(t), db: pgtest.NewOn(t, pg.AdminURL),
		// Retries after the outage come up to ~30 s after their scrape (the exporter backs off).
		env: []string{"PHOENIX_KPI_WINDOW=" + window.String(), "PHOENIX_KPI_LATENESS=60s"}})
	_, token, id := startRun(t, p, "pgrestart")

	pg.Stop(t)
	down := time.Now()
	time.Sleep(2 * window) // the outage itself: what the platform and collectors do meanwhile is under test
	pg.Start(t)
	up := time.Now()
	t.Logf("PostgreSQL was down for %.1f s", up.Sub(down).Seconds())

	// Every window up to one after the outage, once stored (the lateness bound after its end).
	var byVariant map[string][]store.KPIWindow
	within(t, 3*time.Minute, "the windows across the outage to be stored", func() bool {
		byVariant = map[string][]store.KPIWindow{}
		for _, v := range []string{"baseline", "candidate"} {
			var page struct {
				Items []store.KPIWindow `json:"items"`
			}
			getJSON(t, p.target, token, "/v1/experiments/"+id+"/kpis?variant="+v+"&limit=500", &page)
			byVariant[v] = page.Items
			if n := len(page.Items); n == 0 || page.Items[n-1].WindowStart.Before(up.Add(window)) {
				return false
			}
		}
		return true
	})
	var exp store.Experiment
	getJSON(t, p.target, token, "/v1/experiments/"+id, &exp)
	if exp.State != "running" {
		t.Fatalf("after the outage the experiment is %s (%v), want still running", exp.State, exp.FailureReason)
	}
	for v, ws := range byVariant {
		var before []float64 // datapoints of the complete windows before the outage
		inside := 0
		for i, w := range ws {
			if i > 0 && !w.WindowStart.Equal(ws[i-1].WindowStart.Add(window)) {
				t.Errorf("%s: no window between %s and %s", v, ws[i-1].WindowStart, w.WindowStart)
			}
			if !w.Complete && w.IncompleteReason == "" && i > 0 {
				t.Errorf("%s: window %s is incomplete without a reason", v, w.WindowStart)
			}
			switch {
			case w.Complete && w.WindowEnd.Before(down):
				before = append(before, float64(w.Datapoints))
			case !w.WindowStart.Before(down) && !w.WindowEnd.After(up):
				inside++
				if !w.Complete {
					t.Errorf("%s: window %s inside the outage is incomplete: %s", v, w.WindowStart, w.IncompleteReason)
				}
			}
		}
		if inside == 0 || len(before) == 0 {
			t.Fatalf("%s: %d windows inside the outage, %d complete before it; want some of each: %+v", v, inside, len(before), ws)
		}
		slices.Sort(before)
		typical := before[len(before)/2]
		for _, w := range ws {
			if w.Complete && w.WindowStart.After(down.Add(-window)) && (float64(w.Datapoints) < typical/2 || float64(w.Datapoints) > typical*3/2) {
				t.Errorf("%s: window %s holds %d datapoints, against %.0f in a window before the outage: data in the wrong window", v,
					w.WindowStart, w.Datapoints, typical)
			}
		}
		t.Logf("%s: %d windows, %d inside the outage, %.0f datapoints in a typical window before it", v, len(ws), inside, typical)
	}
}
