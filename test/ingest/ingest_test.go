// Package ingest proves Phoenix's measurement end to end: real Phoenix collectors of every
// pipeline template, authenticated with real ingest tokens, send their output and their own
// telemetry to the real ingest function (PostgreSQL, Redis, the function runtime), and the KPI
// windows it stores match what an independent count of the very same requests gives. The
// analyzer then reads those windows.
package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/phoenixotel/phoenix/functions/analyzer"
	"github.com/phoenixotel/phoenix/functions/ingest"
	"github.com/phoenixotel/phoenix/shared/analysis"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/ingesttoken"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/realtime"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/collector"
	"github.com/phoenixotel/phoenix/test/pgtest"
	"github.com/phoenixotel/phoenix/test/redistest"
)

// window is the KPI window length of these tests (PHOENIX_KPI_WINDOW's lower bound).
const window = 5 * time.Second

// phoenix is a running ingest function over a fresh database and its own Redis keys.
type phoenix struct {
	st  *store.Store
	rdb *redis.Client
	in  *ingest.Ingest
	url string // where the function listens
	// prefix is the function's Redis key prefix; its pending windows are <prefix>:pending.
	prefix string
}

func startPhoenix(t *testing.T) *phoenix {
	t.Helper()
	st := pgtest.Migrated(t).AppStore(t, store.Options{})
	rdb := redistest.Client(t)
	prefix := redistest.Prefix(t, rdb)
	in := ingest.New(st, rdb, realtime.NewPublisher(rdb, prefix), ingest.Options{Window: window, Prefix: prefix})
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- function.Serve(ctx, function.Service{Name: "ingest", HTTP: in.Routes(), Events: in},
			function.Options{Addr: "127.0.0.1:0", Listening: func(a net.Addr) { addrs <- a }})
	}()
	go in.Run(ctx) // the replica's own closing loop, as in production
	t.Cleanup(func() { cancel(); <-done })
	select {
	case a := <-addrs:
		return &phoenix{st: st, rdb: rdb, in: in, url: "http://" + a.String(), prefix: prefix}
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	return nil
}

// pair is one experiment: a template per variant (empty: the variant does not run).
type pair struct {
	name      string
	critical  []string                      // spec.critical_processes
	templates map[experiment.Variant]string // template per variant
	params    map[experiment.Variant]map[string]string
}

func TestCollectors_KPIWindowsMatchAnIndependentCountAndTheAnalyzerReadsThem(t *testing.T) {
	if testing.Short() {
		t.Skip("runs five collectors for about half a minute")
	}
	bin := collector.Binary(t)
	collector.StartProcesses(t, "phx-crit-db", "phx-high-web", "phx-low-batch")
	ph := startPhoenix(t)
	tenant := pgtest.Tenant(t, ph.st, "acme")
	pairs := []pair{
		{"baseline vs minimal", []string{"phx-crit-db", "phx-absent"},
			map[experiment.Variant]string{experiment.Baseline: "process-baseline", experiment.Candidate: "process-minimal"},
			map[experiment.Variant]map[string]string{experiment.Candidate: {"critical_processes": "phx-crit-db"}}},
		// The top 1 by memory is never a sleeping copy of sleep: the critical process is covered by
		// the baseline and missing from the candidate.
		{"priority filter vs top-k", []string{"phx-crit-db"},
			map[experiment.Variant]string{experiment.Baseline: "process-priority-filter", experiment.Candidate: "process-topk"},
			map[experiment.Variant]map[string]string{
				experiment.Baseline:  {"critical_processes": "phx-crit-db", "high_processes": "phx-high-web"},
				experiment.Candidate: {"critical_processes": "phx-high-web", "k": "1", "by": "memory"}}},
		{"aggregated", []string{"phx-crit-db"},
			map[experiment.Variant]string{experiment.Baseline: "process-aggregated"},
			map[experiment.Variant]map[string]string{experiment.Baseline: {"critical_processes": "phx-crit-db"}}},
	}
	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			exp := runningExperiment(t, ph.st, tenant, p.critical)
			counters := map[experiment.Variant]*counter{}
			var wg sync.WaitGroup
			for v, tmpl := range p.templates {
				c := newCounter(t, ph, p.critical)
				counters[v] = c
				token, err := ingesttoken.Issue(context.Background(), ph.st, tenant, exp, v, time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				params := map[string]string{"collection_interval": "1s"}
				for k, val := range p.params[v] {
					params[k] = val
				}
				cfg, err := pipeline.Render(pipeline.Request{Template: tmpl, Params: params, ExperimentID: exp, Variant: string(v),
					Target: pipeline.Local, Output: pipeline.Output{Endpoint: c.url, Headers: pipeline.IngestHeaders()}})
				if err != nil {
					t.Fatal(err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					runCollector(t, bin, cfg, token, c)
				}()
			}
			wg.Wait()
			last := time.Time{}
			for _, c := range counters {
				last = maxTime(last, c.lastWindow().Add(window))
			}
			waitRedis(t, ph.rdb, last)
			// Every window the counts saw must be stored. The ingest's own closing loop may hold
			// a window's lease while this CloseDue runs, so wait (bounded) for its commit too.
			deadline := time.Now().Add(10 * time.Second)
			for {
				if _, err := ph.in.CloseDue(context.Background()); err != nil {
					t.Fatal(err)
				}
				stored := true
				for v, c := range counters {
					c.mu.Lock()
					seen := len(c.windows)
					c.mu.Unlock()
					stored = stored && len(windowsOf(t, ph.st, tenant, exp, v)) >= seen
				}
				if stored || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond) // a closing transaction elsewhere, bounded by the deadline
			}
			complete := map[experiment.Variant]int{}
			for v, c := range counters {
				complete[v] = c.compare(t, windowsOf(t, ph.st, tenant, exp, v), string(v)+" ("+p.templates[v]+")")
			}
			// The analyzer reads the complete windows, per KPI and variant, paired by window.
			var series map[string]map[experiment.Variant][]float64
			var paired map[string]store.PairedSeries
			_ = ph.st.WithTenant(context.Background(), tenant, func(tx *store.Tx) (err error) {
				if series, err = tx.KPISeries(context.Background(), exp); err != nil {
					return err
				}
				paired, err = tx.PairedKPIs(context.Background(), exp)
				return err
			})
			run := analyzer.NewRun(experiment.Spec{CriticalProcesses: p.critical}, 10*time.Minute, 10*time.Minute, window)
			run.Series = paired
			rep, err := analyzer.Look(run, analysis.Planned, 1, nil)
			if err != nil {
				t.Fatalf("the analyzer refused the windows: %v", err)
			}
			pairs := -1
			for _, m := range rep.Metrics {
				if m.Metric == "series" {
					pairs = m.Pairs
				}
			}
			// A case that runs one variant alone pairs nothing.
			both := min(complete[experiment.Baseline], complete[experiment.Candidate])
			if len(p.templates) == 2 && (pairs < both-1 || pairs > both || pairs < 2) {
				t.Errorf("the analyzer compared %d windows of series, want the %d complete for both (or one fewer, at least 2)", pairs, both)
			}
			if len(p.templates) < 2 && pairs > 0 {
				t.Errorf("one variant alone: the analyzer compared %d windows", pairs)
			}
			for v, n := range complete {
				// Self-telemetry is exported every 5 s into 5 s windows: under load one export can
				// slip past a window's end, leaving that window without a reading (and without the
				// CPU and memory KPIs, rather than a wrong value). More than one such window is a bug.
				if got := len(series["collector_memory"][v]); got < n-1 || got < 1 {
					t.Errorf("%s: %d windows with collector memory, want %d (or one fewer)", v, got, n)
				}
			}
			if p.name == "priority filter vs top-k" {
				b, c := series["critical_process_coverage"][experiment.Baseline], series["critical_process_coverage"][experiment.Candidate]
				if slices.Min(b) != 1 || slices.Max(c) != 0 {
					t.Errorf("coverage: baseline %v (want all 1), candidate %v (want all 0)", b, c)
				}
			}
		})
	}
}

// runningExperiment creates an experiment of tenant and moves it to running.
func runningExperiment(t testing.TB, st *store.Store, tenant uuid.UUID, critical []string) uuid.UUID {
	t.Helper()
	spec := experiment.Spec{CriticalProcesses: critical}
	var id uuid.UUID
	err := st.WithTenant(context.Background(), tenant, func(tx *store.Tx) error {
		e, err := tx.CreateExperiment(context.Background(), store.NewExperiment{Name: "e2e", DurationSeconds: 600, CreatedBy: "test",
			Baseline: store.PipelineChoice{Template: "process-baseline"}, Candidate: store.PipelineChoice{Template: "process-minimal"}, Spec: spec})
		if err != nil {
			return err
		}
		id = e.ID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pgtest.Advance(t, st, tenant, id, experiment.Running)
	return id
}

// runCollector runs the real collector with cfg and the ingest token in its environment, as the
// local runner does, until the counter has seen output in three whole windows.
func runCollector(t *testing.T, bin string, cfg []byte, token string, c *counter) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		t.Error(err)
		return
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config", path)
	cmd.Env = append(os.Environ(), ingesttoken.Env(token)...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Error(err)
		return
	}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) && c.windowsWithOutput() < 3 {
		time.Sleep(250 * time.Millisecond) // polling the counter, bounded by the deadline
	}
	_ = cmd.Process.Signal(os.Interrupt) // a clean stop flushes what the collector still holds
	_ = cmd.Wait()
	if c.windowsWithOutput() < 3 {
		t.Errorf("the collector delivered output in %d whole windows within 90 s; logs:\n%s", c.windowsWithOutput(), logs.String())
	}
	if c.refused > 0 {
		t.Errorf("Phoenix refused %d requests; logs:\n%s", c.refused, logs.String())
	}
}

// counter sits between a collector and Phoenix: it forwards every request and counts, on its
// own, what each accepted request carried, per KPI window. Phoenix chooses a request's window by
// Redis's clock while it applies it; the counter reads that clock before and after forwarding, and
// a request whose two readings fall in different windows makes both windows ambiguous (not
// compared).
type counter struct {
	srv       *httptest.Server   // where the collector sends
	url       string             // srv.URL
	target    string             // Phoenix's /v1/metrics
	rdb       *redis.Client      // Redis's clock
	critical  []*regexp.Regexp   // the experiment's critical patterns, matched whole
	patterns  []string           // the same, as written
	mu        sync.Mutex         // guards the fields below
	windows   map[int64]*count   // by window start (ms)
	ambiguous map[int64]bool     // windows a request may have landed in either side of
	lastCPU   map[string]reading // per collector instance, its latest reading
	refused   int                // requests Phoenix did not answer 200
	// unsupported names metric types the count does not read (it would then count wrong).
	unsupported []string
}

// reading is one collector's cumulative counters at one moment.
type reading struct {
	ms       int64   // when, Unix milliseconds
	v        float64 // CPU seconds
	accepted float64 // otelcol_receiver_accepted_metric_points, summed over its datapoints
	refused  float64 // otelcol_receiver_refused_metric_points, likewise
	input    bool    // the reading carried both receiver counters
}

// count is what the counter saw in one window.
type count struct {
	series     map[string]bool       // canonical JSON of [resource attributes, metric name, datapoint attributes]
	datapoints int64                 // output datapoints
	bytes      int64                 // bytes of requests carrying output, as sent
	requests   int64                 // accepted requests
	covered    map[string]bool       // critical patterns seen
	cpu        map[string][2]float64 // per instance: CPU seconds, over seconds
	mem        map[string][2]float64 // per instance: sum of RSS readings, readings
	input      bool                  // some collector's receiver counters rose from one reading to the next here
	received   int64                 // by how much the accepted points rose
	receivedT  float64               // over how many collector-seconds
	refused    int64                 // by how much the refused points rose
	restarts   int                   // a collector's CPU seconds or accepted points fell
}

func newCounter(t *testing.T, ph *phoenix, critical []string) *counter {
	c := &counter{target: ph.url + "/v1/metrics", rdb: ph.rdb, patterns: critical, windows: map[int64]*count{},
		ambiguous: map[int64]bool{}, lastCPU: map[string]reading{}}
	for _, p := range critical {
		c.critical = append(c.critical, regexp.MustCompile("^(?:"+p+")$"))
	}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	c.url = c.srv.URL
	return c
}

func (c *counter) redisMillis(ctx context.Context) int64 {
	now, err := c.rdb.Time(ctx).Result()
	if err != nil {
		return -1
	}
	return now.UnixMilli()
}

func (c *counter) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	// The forward outlives the collector's request: a collector stopping mid-flush drops its
	// connection, yet Phoenix may already have applied the request, so the count must see its
	// answer too (CI once counted 2 requests where Phoenix rightly stored 3).
	ctx := context.WithoutCancel(r.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.target, bytes.NewReader(raw))
	req.Header = r.Header.Clone()
	before := c.redisMillis(ctx)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	after := c.redisMillis(ctx)
	body, _ := io.ReadAll(resp.Body)
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	w1, w2 := before-before%window.Milliseconds(), after-after%window.Milliseconds()
	c.mu.Lock()
	defer c.mu.Unlock()
	if resp.StatusCode != http.StatusOK {
		c.refused++
		return
	}
	if before < 0 || after < 0 || w1 != w2 {
		c.ambiguous[w1], c.ambiguous[w2] = true, true
	}
	c.add(w1, r.Header.Get("Content-Encoding"), raw)
}

// add counts one accepted request into the window starting at start (ms).
func (c *counter) add(start int64, encoding string, raw []byte) {
	payload := raw
	if encoding == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return
		}
		payload, _ = io.ReadAll(zr)
	}
	req := pmetricotlp.NewExportRequest()
	if err := req.UnmarshalProto(payload); err != nil {
		return
	}
	w := c.windows[start]
	if w == nil {
		w = &count{series: map[string]bool{}, covered: map[string]bool{}, cpu: map[string][2]float64{}, mem: map[string][2]float64{}}
		c.windows[start] = w
	}
	w.requests++
	output := false
	latest := map[string]reading{}
	rms := req.Metrics().ResourceMetrics()
	for i := range rms.Len() {
		res := rms.At(i).Resource().Attributes().AsRaw()
		if res["phoenix.stream"] == "self-telemetry" {
			instance, _ := res["service.instance.id"].(string)
			var r reading
			var accepted, refused bool
			eachPoint(rms.At(i), func(name string, attrs map[string]any, v float64, ms int64) {
				switch name {
				case "otelcol_process_cpu_seconds":
					r.ms, r.v = ms, v
				case "otelcol_receiver_accepted_metric_points":
					r.accepted += v
					accepted = true
				case "otelcol_receiver_refused_metric_points":
					r.refused += v
					refused = true
				case "otelcol_process_memory_rss":
					m := w.mem[instance]
					w.mem[instance] = [2]float64{m[0] + v, m[1] + 1}
				}
			})
			r.input = accepted && refused
			if prev, ok := latest[instance]; !ok || r.ms > prev.ms {
				latest[instance] = r
			}
			continue
		}
		output = true
		if exe, ok := res["process.executable.name"].(string); ok {
			for j, re := range c.critical {
				if re.MatchString(exe) {
					w.covered[c.patterns[j]] = true
				}
			}
		}
		eachPoint(rms.At(i), func(name string, attrs map[string]any, _ float64, _ int64) {
			if strings.HasPrefix(name, "unsupported ") {
				c.unsupported = append(c.unsupported, name)
			}
			key, _ := json.Marshal([]any{res, name, attrs}) // encoding/json sorts map keys
			w.series[string(key)] = true
			w.datapoints++
		})
	}
	for instance, r := range latest {
		prev, ok := c.lastCPU[instance]
		switch {
		case ok && r.ms <= prev.ms:
			continue
		case ok && (r.v < prev.v || r.input && prev.input && r.accepted < prev.accepted):
			w.restarts++
		case ok:
			x := w.cpu[instance]
			w.cpu[instance] = [2]float64{x[0] + r.v - prev.v, x[1] + float64(r.ms-prev.ms)/1000}
			if r.input && prev.input {
				w.input = true
				w.received += int64(r.accepted - prev.accepted)
				w.receivedT += float64(r.ms-prev.ms) / 1000
				w.refused += int64(r.refused - prev.refused)
			}
		}
		c.lastCPU[instance] = r
	}
	if output {
		w.bytes += int64(len(raw))
	}
}

// eachPoint calls fn for every number datapoint of a resource; other kinds fail the count.
func eachPoint(rm pmetric.ResourceMetrics, fn func(name string, attrs map[string]any, v float64, ms int64)) {
	sms := rm.ScopeMetrics()
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
			case pmetric.MetricTypeHistogram:
				for d := range m.Histogram().DataPoints().Len() {
					fn(m.Name(), m.Histogram().DataPoints().At(d).Attributes().AsRaw(), 0, 0)
				}
				continue
			default:
				fn("unsupported "+m.Type().String(), nil, 0, 0)
				continue
			}
			for d := range dps.Len() {
				dp := dps.At(d)
				v := dp.DoubleValue()
				if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
					v = float64(dp.IntValue())
				}
				fn(m.Name(), dp.Attributes().AsRaw(), v, int64(dp.Timestamp())/1e6)
			}
		}
	}
}

// windowsWithOutput counts unambiguous windows that are over and carried output.
func (c *counter) windowsWithOutput() int {
	now := c.redisMillis(context.Background())
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for start, w := range c.windows {
		if w.datapoints > 0 && !c.ambiguous[start] && start+window.Milliseconds() <= now {
			n++
		}
	}
	return n
}

func (c *counter) lastWindow() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var last int64
	for start := range c.windows {
		last = max(last, start)
	}
	for start := range c.ambiguous {
		last = max(last, start)
	}
	return time.UnixMilli(last)
}

// compare checks Phoenix's windows against the count and returns how many complete windows
// Phoenix stored.
func (c *counter) compare(t *testing.T, stored []store.KPIWindow, who string) int {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	byStart := map[int64]store.KPIWindow{}
	complete := 0
	for _, w := range stored {
		byStart[w.WindowStart.UnixMilli()] = w
		if w.Complete {
			complete++
		}
	}
	compared := 0
	for start, want := range c.windows {
		if c.ambiguous[start] {
			continue
		}
		got, ok := byStart[start]
		if !ok {
			t.Errorf("%s: no stored window at %s; the count saw %d datapoints", who, time.UnixMilli(start).UTC(), want.datapoints)
			continue
		}
		compared++
		var covered []string
		for p := range want.covered {
			covered = append(covered, p)
		}
		slices.Sort(covered)
		if got.Series != int64(len(want.series)) || got.Datapoints != want.datapoints || got.PayloadBytes != want.bytes ||
			got.Requests != want.requests || got.Rejected != 0 || !slices.Equal(got.CriticalCovered, covered) {
			t.Errorf("%s, window %s: Phoenix series %d datapoints %d bytes %d requests %d covered %q; the count %d %d %d %d %q",
				who, got.WindowStart, got.Series, got.Datapoints, got.PayloadBytes, got.Requests, got.CriticalCovered,
				len(want.series), want.datapoints, want.bytes, want.requests, covered)
		}
		var cpu, mem float64
		for _, x := range want.cpu {
			if x[1] > 0 {
				cpu += x[0] / x[1]
			}
		}
		for _, x := range want.mem {
			mem += x[0] / x[1]
		}
		wantCPU := false
		for _, x := range want.cpu {
			wantCPU = wantCPU || x[1] > 0
		}
		if !near(got.CollectorCPU, cpu, wantCPU) || !near(got.CollectorMemory, mem, len(want.mem) > 0) {
			t.Errorf("%s, window %s: Phoenix CPU %v memory %v; the count %v %v", who, got.WindowStart, deref(got.CollectorCPU), deref(got.CollectorMemory), cpu, mem)
		}
		// What the collectors' receivers took in, as their own counters say.
		if (got.ReceivedPoints != nil) != want.input || (got.RefusedPoints != nil) != want.input || (got.ReceivedSeconds != nil) != want.input ||
			got.Restarts != want.restarts || want.input && (*got.ReceivedPoints != want.received || *got.RefusedPoints != want.refused ||
			math.Abs(*got.ReceivedSeconds-want.receivedT) > 1e-6) {
			t.Errorf("%s, window %s: Phoenix received %v over %v s, refused %v, restarts %d; the count %d over %v s, %d, %d (input seen: %v)", who, got.WindowStart,
				derefInt(got.ReceivedPoints), deref(got.ReceivedSeconds), derefInt(got.RefusedPoints), got.Restarts,
				want.received, want.receivedT, want.refused, want.restarts, want.input)
		}
		if got.CollectorMemory != nil && (*got.CollectorMemory < 10<<20 || *got.CollectorMemory > 4<<30) {
			t.Errorf("%s: collector memory %v bytes is not plausible", who, *got.CollectorMemory)
		}
	}
	t.Logf("%s: %d windows match the independent count exactly (%d stored, %d complete)", who, compared, len(stored), complete)
	if len(c.unsupported) > 0 {
		t.Errorf("%s: the count met metrics it cannot read: %v", who, c.unsupported[:1])
	}
	if compared < 2 {
		t.Errorf("%s: only %d windows could be compared", who, compared)
	}
	return complete
}

func near(got *float64, want float64, present bool) bool {
	if got == nil {
		return !present
	}
	return present && math.Abs(*got-want) <= 1e-9*math.Max(1, math.Abs(want))
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func derefInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// waitRedis waits until Redis's clock has passed t.
func waitRedis(t *testing.T, rdb *redis.Client, t0 time.Time) {
	t.Helper()
	for {
		now, err := rdb.Time(context.Background()).Result()
		if err != nil {
			t.Fatal(err)
		}
		if !now.Before(t0) {
			return
		}
		time.Sleep(now.Sub(t0)*-1 + 5*time.Millisecond) // waiting for Redis's clock, the one windows are cut by
	}
}

func windowsOf(t *testing.T, st *store.Store, tenant, exp uuid.UUID, v experiment.Variant) []store.KPIWindow {
	t.Helper()
	var ws []store.KPIWindow
	err := st.WithTenant(context.Background(), tenant, func(tx *store.Tx) (err error) {
		ws, err = tx.KPIWindows(context.Background(), exp, store.KPIFilter{Variant: v})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ws
}
