package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/phoenixotel/phoenix/cmd/phoenix/loadsim"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/test/bintest"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

// collector returns the Phoenix collector: $PHOENIX_COLLECTOR (make test builds it once for every
// suite), else a fresh build of deploy/collector (minutes the first time on a machine).
func collector(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("PHOENIX_COLLECTOR"); b != "" {
		return b
	}
	_, file, _, _ := runtime.Caller(0)
	out := filepath.Join(t.TempDir(), "phoenix-collector")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..", "deploy", "collector")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the collector: %v\n%s", err, b)
	}
	return out
}

// startLoadsim runs `phoenix loadsim` until the test ends.
func startLoadsim(t *testing.T, bin string, processes int) {
	t.Helper()
	cmd := exec.Command(bin, "loadsim", "--profile", loadsim.Realistic, "--processes", fmt.Sprint(processes), "--seed", "7", "--quiet")
	cmd.Env = bintest.Env()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
	})
	r := bufio.NewReader(out)
	first, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(first, "loadsim: profile realistic") {
		t.Fatalf("loadsim: %q %v", first, err)
	}
	go func() { _, _ = io.Copy(io.Discard, r) }()
}

// TestJourney_RealCollectorsOverRealProcessesReachAVerdict is the product end to end: phoenix
// dev with the local deployer running the real collector for both variants over the load
// simulator's processes, measured by the ingest function, analysed, streamed.
func TestJourney_RealCollectorsOverRealProcessesReachAVerdict(t *testing.T) {
	t.Parallel()
	p := startDevWith(t, []string{"--collector", collector(t)}, []string{"PHOENIX_KPI_WINDOW=6s"})
	startLoadsim(t, p.bin, 12)
	st := p.db.AppStore(t, storeOptions())
	acme := pgtest.Tenant(t, st, "acme")
	op := p.token(t, acme, "admin")
	api := p.addrs["api"]

	fast := map[string]any{"collection_interval": "2s"} // three scrapes per 6 s window
	code, created := call(t, "POST", api+"/v1/experiments", op, map[string]any{
		"name": "journey", "duration_seconds": 60,
		"baseline":  map[string]any{"template": "process-baseline", "parameters": fast},
		"candidate": map[string]any{"template": "process-priority-filter", "parameters": fast},
		"spec":      map[string]any{"critical_processes": loadsim.CriticalNames()},
	})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, created)
	}
	id := created["id"].(string)

	ws := strings.Replace(p.addrs["gateway"], "http://", "ws://", 1) + "/ws"
	conn, _, err := websocket.DefaultDialer.Dial(ws, http.Header{"Authorization": {"Bearer " + op}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.WriteJSON(map[string]string{"type": "subscribe", "channel": "experiment:" + id}); err != nil {
		t.Fatal(err)
	}
	if code, body := call(t, "POST", api+"/v1/experiments/"+id+"/start", op, map[string]string{"reason": "journey"}); code != http.StatusAccepted {
		t.Fatalf("start: %d %v", code, body)
	}

	// Every transition arrives over the WebSocket, in order, until the experiment ends.
	var path []string
	windows := map[string]int{}
	deadline := time.Now().Add(4 * time.Minute)
	for len(path) == 0 || !strings.HasSuffix(path[len(path)-1], "completed") && !strings.HasSuffix(path[len(path)-1], "failed") {
		_ = conn.SetReadDeadline(deadline)
		var f struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := conn.ReadJSON(&f); err != nil {
			t.Fatalf("after %v: %v", path, err)
		}
		if f.Type != "event" {
			continue
		}
		var e struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(f.Data, &e); err != nil {
			t.Fatal(err)
		}
		switch e.Type {
		case events.ExperimentMoved:
			var tr events.Transition
			if err := json.Unmarshal(e.Data, &tr); err != nil {
				t.Fatal(err)
			}
			if tr.Seq != int64(len(path)+1) {
				t.Fatalf("transition %d arrived after %v", tr.Seq, path)
			}
			path = append(path, tr.From+"→"+tr.To)
			if tr.To == "failed" {
				t.Fatalf("experiment failed: %s", tr.Reason)
			}
		case events.KPIWindowClosed:
			var w struct {
				Variant string `json:"variant"`
			}
			_ = json.Unmarshal(e.Data, &w)
			windows[w.Variant]++
		}
	}
	// A clear answer may end the run early, from running straight to completed.
	want := "pending→generating generating→deploying deploying→running running→analyzing analyzing→completed"
	early := "pending→generating generating→deploying deploying→running running→completed"
	if got := strings.Join(path, " "); got != want && got != early {
		t.Fatalf("transitions %s, want %s (or, early, %s)", got, want, early)
	}
	if windows["baseline"] < 5 || windows["candidate"] < 5 {
		t.Errorf("KPI windows streamed: %v, want at least 5 per variant", windows)
	}

	// The measurements: the candidate keeps far fewer series and every critical process.
	kpis := func(variant string) []map[string]any {
		code, body := call(t, "GET", api+"/v1/experiments/"+id+"/kpis?variant="+variant, op, nil)
		items, _ := body["items"].([]any)
		if code != http.StatusOK || len(items) < 5 {
			t.Fatalf("%s KPI windows: %d %v", variant, code, body)
		}
		out := make([]map[string]any, len(items))
		for i, it := range items {
			out[i] = it.(map[string]any)
		}
		return out
	}
	mean := func(ws []map[string]any) float64 {
		sum, n := 0.0, 0
		for _, w := range ws {
			if c, _ := w["complete"].(bool); c {
				sum += w["series"].(float64)
				n++
			}
		}
		if n == 0 {
			t.Fatal("no complete window")
		}
		return sum / float64(n)
	}
	base, cand := kpis("baseline"), kpis("candidate")
	if b, c := mean(base), mean(cand); !(c < b/2) || c == 0 {
		t.Errorf("series: baseline %.1f, candidate %.1f; want the candidate well below", b, c)
	}
	for _, w := range cand {
		if c, _ := w["complete"].(bool); c {
			if missing, _ := w["critical_missing"].([]any); len(missing) > 0 {
				t.Errorf("candidate window %v lacks critical processes %v", w["window_start"], missing)
			}
		}
	}

	// The verdict is stored, explained, and served.
	code, analysis := call(t, "GET", api+"/v1/experiments/"+id+"/analysis", op, nil)
	if code != http.StatusOK {
		t.Fatalf("analysis: %d %v", code, analysis)
	}
	verdict, _ := analysis["verdict"].(string)
	report, _ := analysis["report"].(map[string]any)
	metrics, _ := report["metrics"].([]any)
	outcomes := map[string]any{}
	for _, m := range metrics {
		m, _ := m.(map[string]any)
		outcomes[fmt.Sprint(m["metric"])] = m["outcome"]
		if trace, _ := m["trace"].([]any); len(trace) == 0 {
			t.Errorf("metric %v has no rule trace", m["metric"])
		}
	}
	// Ten windows of a candidate that keeps a tenth of the series: the engine must see it.
	if !regexp.MustCompile(`^(promote|reject|inconclusive)$`).MatchString(verdict) || outcomes["series"] != "improved" {
		t.Fatalf("verdict %q, outcomes %v, reason %v", verdict, outcomes, report["reason"])
	}
	code, exp := call(t, "GET", api+"/v1/experiments/"+id, op, nil)
	if code != http.StatusOK || exp["state"] != "completed" || exp["verdict"] != verdict {
		t.Fatalf("experiment %d %v", code, exp)
	}
}
