package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/phoenixotel/phoenix/shared/pipeline"
)

func render(t *testing.T, r pipeline.Request) string {
	t.Helper()
	cfg, err := pipeline.Render(r)
	if err != nil {
		t.Fatal(err)
	}
	if r.Target == pipeline.Kubernetes {
		// The receiver checks that root_path exists; on a node it is the mounted host filesystem.
		host := t.TempDir()
		cfg = bytes.Replace(cfg, []byte("root_path: /hostfs"), []byte("root_path: "+host), 1)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func params(name string) map[string]string {
	switch name {
	case "process-minimal":
		return map[string]string{"critical_processes": "postgres,nginx.*"}
	case "process-priority-filter":
		return map[string]string{"critical_processes": "postgres", "high_processes": "nginx.*", "medium_processes": "sshd"}
	case "process-topk":
		return map[string]string{"critical_processes": "postgres", "k": "3", "by": "cpu"}
	case "process-aggregated":
		return map[string]string{"critical_processes": "postgres"}
	}
	return nil
}

func TestEveryTemplate_PassesTheCollectorsValidation(t *testing.T) {
	bin := Binary(t)
	for _, tmpl := range pipeline.Templates() {
		for _, target := range []pipeline.Target{pipeline.Kubernetes, pipeline.Local} {
			t.Run(tmpl.Name+"/"+string(target), func(t *testing.T) {
				path := render(t, pipeline.Request{Template: tmpl.Name, Params: params(tmpl.Name), ExperimentID: uuid.New(),
					Variant: "baseline", Target: target, Output: pipeline.Output{Endpoint: "http://127.0.0.1:4318"}})
				out, err := exec.Command(bin, "validate", "--config", path).CombinedOutput()
				if err != nil {
					t.Fatalf("collector refused the config: %v\n%s", err, out)
				}
			})
		}
	}
	// And the validation really validates: a broken OTTL condition is refused.
	path := render(t, pipeline.Request{Template: "process-baseline", ExperimentID: uuid.New(), Variant: "baseline",
		Target: pipeline.Local, Output: pipeline.Output{Endpoint: "http://127.0.0.1:4318"}})
	b, _ := os.ReadFile(path)
	broken := strings.Replace(string(b), "processors:\n", "processors:\n  filter/broken:\n    metrics:\n      resource:\n        - 'resource.attributes[\"x\" == '\n", 1)
	broken = strings.Replace(broken, "processors: [memory_limiter,", "processors: [memory_limiter, filter/broken,", 1)
	_ = os.WriteFile(path, []byte(broken), 0o600)
	if out, err := exec.Command(bin, "validate", "--config", path).CombinedOutput(); err == nil {
		t.Fatalf("a broken OTTL condition passed validation:\n%s", out)
	}
}

// sink is an OTLP/HTTP metrics endpoint that remembers which processes it saw and with what.
type sink struct {
	mu        sync.Mutex
	processes map[string]map[string]bool // executable name -> metric names
	priority  map[string]string          // executable name -> phoenix.priority
	identity  map[string]string          // phoenix.* resource attributes seen
	selfSeen  bool                       // the collector's own telemetry arrived
	owners    map[string]map[string]int  // aggregated owner -> metric -> 1 + most unsummed datapoints seen in one message
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := io.Reader(r.Body)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, _ := io.ReadAll(body)
	req := pmetricotlp.NewExportRequest()
	if err := req.UnmarshalProto(raw); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rms := req.Metrics().ResourceMetrics()
	for i := range rms.Len() {
		attrs := rms.At(i).Resource().Attributes()
		if v, ok := attrs.Get("service.name"); ok && v.Str() == "phoenix-collector" {
			if _, isProcess := attrs.Get("process.pid"); !isProcess {
				s.selfSeen = true
				continue
			}
		}
		name, ok := attrs.Get("process.executable.name")
		if !ok {
			if agg, isAgg := attrs.Get("phoenix.aggregate"); isAgg && agg.Str() == "owner" {
				owner, _ := attrs.Get("process.owner")
				if s.owners[owner.Str()] == nil {
					s.owners[owner.Str()] = map[string]int{}
				}
				sms := rms.At(i).ScopeMetrics()
				for j := range sms.Len() {
					ms := sms.At(j).Metrics()
					for k := range ms.Len() {
						m := ms.At(k)
						var dps pmetric.NumberDataPointSlice
						switch m.Type() {
						case pmetric.MetricTypeGauge:
							dps = m.Gauge().DataPoints()
						case pmetric.MetricTypeSum:
							dps = m.Sum().DataPoints()
						default:
							continue
						}
						// Datapoints beyond one per (attributes, scrape) mean processes were not summed.
						groups := map[string]bool{}
						for d := range dps.Len() {
							// Per scrape: the collection interval is 1 s, and one scrape reads every
							// process within a fraction of it.
							scrape := dps.At(d).Timestamp().AsTime().Truncate(time.Second)
							groups[fmt.Sprint(scrape, dps.At(d).Attributes().AsRaw())] = true
						}
						extra := dps.Len() - len(groups)
						s.owners[owner.Str()][m.Name()] = max(s.owners[owner.Str()][m.Name()], extra+1)
					}
				}
			}
			continue
		}
		for _, k := range []string{"phoenix.experiment.id", "phoenix.variant", "phoenix.template"} {
			if v, ok := attrs.Get(k); ok {
				s.identity[k] = v.Str()
			}
		}
		if p, ok := attrs.Get("phoenix.priority"); ok {
			s.priority[name.Str()] = p.Str()
		}
		if s.processes[name.Str()] == nil {
			s.processes[name.Str()] = map[string]bool{}
		}
		sms := rms.At(i).ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				s.processes[name.Str()][ms.At(k).Name()] = true
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

// run runs the collector with the rendered config until the sink has seen the named processes'
// scrape (or the deadline), then returns what the sink saw.
func run(t *testing.T, template string, p map[string]string, want ...string) *sink {
	t.Helper()
	return runRequest(t, pipeline.Request{Template: template, Params: p}, want...)
}

// runRequest is run for a request's template, parameters and custom processors.
func runRequest(t *testing.T, r pipeline.Request, want ...string) *sink {
	t.Helper()
	s := &sink{processes: map[string]map[string]bool{}, priority: map[string]string{}, identity: map[string]string{}, owners: map[string]map[string]int{}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	if r.Params == nil {
		r.Params = map[string]string{}
	}
	r.Params["collection_interval"] = "1s"
	r.ExperimentID, r.Variant, r.Target = uuid.MustParse("0b5e0d4e-6c3a-4b8e-9f61-2d7a9c1e5f00"), "candidate", pipeline.Local
	r.Output = pipeline.Output{Endpoint: srv.URL}
	path := render(t, r)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs bytes.Buffer
	cmd := exec.CommandContext(ctx, Binary(t), "--config", path)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		seen := len(want) > 0 && s.selfSeen
		for _, w := range want {
			seen = seen && s.processes[w] != nil
		}
		s.mu.Unlock()
		if seen {
			// One more scrape interval and batch, so anything that should have been dropped had
			// every chance to arrive.
			time.Sleep(7 * time.Second) // waiting for the collector's own timers, not standing in for them
			s.mu.Lock()
			defer s.mu.Unlock()
			return s
		}
		time.Sleep(200 * time.Millisecond) // polling the sink, bounded by the deadline
	}
	t.Fatalf("the collector never delivered %v (and its own telemetry); logs:\n%s", want, logs.String())
	return nil
}

func TestSemantics_EachTemplateKeepsWhatItClaims(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the collector for several seconds per template")
	}
	Binary(t)
	StartProcesses(t, "phx-crit-db", "phx-high-web", "phx-med-cache", "phx-low-batch")
	startBig(t)

	t.Run("process-baseline keeps every process", func(t *testing.T) {
		t.Parallel()
		s := run(t, "process-baseline", nil, "phx-crit-db", "phx-high-web", "phx-med-cache", "phx-low-batch")
		if s.identity["phoenix.experiment.id"] != "0b5e0d4e-6c3a-4b8e-9f61-2d7a9c1e5f00" || s.identity["phoenix.variant"] != "candidate" {
			t.Fatalf("identity attributes %v", s.identity)
		}
	})
	t.Run("process-priority-filter keeps critical and high only", func(t *testing.T) {
		t.Parallel()
		s := run(t, "process-priority-filter", map[string]string{"critical_processes": "phx-crit-.*", "high_processes": "phx-high-web",
			"medium_processes": "phx-med-cache"}, "phx-crit-db", "phx-high-web")
		for _, dropped := range []string{"phx-med-cache", "phx-low-batch"} {
			if s.processes[dropped] != nil {
				t.Errorf("%s (medium/low) was exported", dropped)
			}
		}
		if s.priority["phx-crit-db"] != "critical" || s.priority["phx-high-web"] != "high" {
			t.Errorf("priorities %v", s.priority)
		}
		for name := range s.processes {
			if name != "phx-crit-db" && name != "phx-high-web" {
				t.Errorf("unclassified process %s was exported", name)
			}
		}
	})
	t.Run("process-topk keeps critical processes and the top K by memory", func(t *testing.T) {
		t.Parallel()
		// phx-big holds 2 GB: on this machine nothing else comes close, so with K=1 it is the one.
		s := run(t, "process-topk", map[string]string{"critical_processes": "phx-crit-db", "k": "1", "by": "memory"}, "phx-crit-db", "phx-big")
		for name := range s.processes {
			if name != "phx-crit-db" && name != "phx-big" {
				t.Errorf("process %s was exported; only the critical one and the top 1 by memory may be", name)
			}
		}
	})
	t.Run("process-aggregated keeps critical processes and merges the rest per owner", func(t *testing.T) {
		t.Parallel()
		s := run(t, "process-aggregated", map[string]string{"critical_processes": "phx-crit-db"}, "phx-crit-db")
		if len(s.processes) != 1 {
			t.Errorf("individual processes %v, want only phx-crit-db", s.processes)
		}
		me, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		mine := s.owners[me.Username]
		if mine == nil {
			t.Fatalf("no aggregate for owner %s: %v", me.Username, s.owners)
		}
		// Many processes of this owner became one datapoint per scrape and attribute set.
		if n := mine["process.memory.usage"]; n != 1 {
			t.Errorf("the owner's memory usage has %d datapoints for one scrape, want 1 (summed)", n)
		}
	})
	t.Run("process-minimal keeps critical processes and two metrics", func(t *testing.T) {
		t.Parallel()
		s := run(t, "process-minimal", map[string]string{"critical_processes": "phx-crit-db"}, "phx-crit-db")
		if len(s.processes) != 1 {
			t.Errorf("exported processes %v, want only phx-crit-db", s.processes)
		}
		for m := range s.processes["phx-crit-db"] {
			if m != "process.cpu.time" && m != "process.memory.usage" {
				t.Errorf("metric %s was exported", m)
			}
		}
		if len(s.processes["phx-crit-db"]) != 2 {
			t.Errorf("metrics %v, want cpu time and memory usage", s.processes["phx-crit-db"])
		}
	})
}

// startBig builds and runs a tiny program named phx-big that holds 2 GB of touched memory.
func startBig(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	src := "package main\n\nimport \"time\"\n\nvar keep []byte\n\nfunc main() {\n\tkeep = make([]byte, 2<<30)\n" +
		"\tfor i := range keep {\n\t\tkeep[i] = 1\n\t}\n\ttime.Sleep(300 * time.Second)\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module phxbig\n\ngo 1.26\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", "phx-big", ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build phx-big: %v\n%s", err, out)
	}
	cmd := exec.Command(filepath.Join(dir, "phx-big"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
}
