package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/cmd/phoenix/smoke"
	"github.com/phoenixotel/phoenix/functions/analyzer"
	"github.com/phoenixotel/phoenix/shared/analysis"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/collector"
)

// TestStatisticalAnalysis_RoundTrip is the analysis round trip on phoenix dev with the real
// collector: the lifecycle scenario runs an experiment to completed with a stored verdict and
// the analysis scenario checks that analysis. Then the test recomputes it: the engine
// (functions/analyzer over shared/analysis), given the KPI windows the API serves and the
// experiment's spec, must reach the stored verdict, outcomes and intervals exactly; and
// `phoenix analyze --paired` on the same windows written to files must report the stored
// interval. Finally a proxy that rewrites the served verdict makes the analysis scenario fail.
func TestStatisticalAnalysis_RoundTrip(t *testing.T) {
	// No t.Parallel() yet: the experiment must run a full minute, so it starts in this test's
	// serial part and runs while the other suites hold go test's parallel slots (GOMAXPROCS of
	// them, two in CI); the test joins them once the run is under way.
	// 6 s windows of three 2 s scrapes: about nine complete windows per variant in the minute.
	p := startDev(t, devOptions{collector: collector.Binary(t), env: []string{"PHOENIX_KPI_WINDOW=6s"}})
	acct := p.user(t, p.tenant(t, "analysis"), "ops@analysis.example", "operator")
	creds := smoke.Credentials{Primary: acct}
	ctx := context.Background()

	opts := smoke.Options{ExpectComplete: true, Timeout: time.Minute, Parameters: map[string]any{"collection_interval": "2s"}}
	scenarios, err := smoke.Select([]string{"lifecycle", "analysis"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []smoke.Result, 1)
	go func() { done <- smoke.Run(ctx, p.target, creds, opts, scenarios) }()
	t.Parallel()
	results := <-done
	requirePassed(t, results[0], append(lifecycleSteps, "the run ends after its duration (analyzing), or early on a clear answer (completed)",
		"the analysis completes it with a stored verdict", "the streamed transitions equal the API's")...)
	id := results[0].Completed
	if id == "" {
		t.Fatal("the lifecycle reports no completed experiment")
	}
	requirePassed(t, results[1], "an experiment that has not run has no analysis", "the named experiment has completed",
		"a completed experiment's analysis is whole", "the experiment carries the analysis's verdict",
		"the analysis rests on the KPI windows the API serves")
	if s := results[1].Step("the named experiment has completed"); !strings.Contains(s.Detail, id) {
		t.Fatalf("analysis checked %q, want the lifecycle's experiment %s", s.Detail, id)
	}

	token := login(t, p.target, acct)
	var stored struct {
		Verdict   string          `json:"verdict"`    // promote, reject or inconclusive
		CreatedAt time.Time       `json:"created_at"` // when it was stored: windows closed after it were not read
		Report    analyzer.Report `json:"report"`     // the explained decision
	}
	getJSON(t, p.target, token, "/v1/experiments/"+id+"/analysis", &stored)
	var exp struct {
		Spec                   experiment.Spec `json:"spec"`                     // as stored
		DurationSeconds        int             `json:"duration_seconds"`         // the run's length, extensions included
		PlannedDurationSeconds int             `json:"planned_duration_seconds"` // the length it was created with
	}
	getJSON(t, p.target, token, "/v1/experiments/"+id, &exp)
	run, pairs := servedRun(t, p.target, token, id, exp.Spec, time.Duration(exp.PlannedDurationSeconds)*time.Second,
		time.Duration(exp.DurationSeconds)*time.Second, 6*time.Second, stored.CreatedAt, stored.Report)

	t.Run("the engine on the served windows reaches the stored decision", func(t *testing.T) {
		look := stored.Report.Look
		dues := look.Looks - max(0, min(look.Windows, look.Schedule.Max)-analysis.FirstLook+1)
		again, err := analyzer.Look(run, look.Kind, dues, nil)
		if err != nil {
			t.Fatal(err)
		}
		if again.Verdict != experiment.Verdict(stored.Verdict) || len(again.Metrics) != len(stored.Report.Metrics) || again.Look.Windows != look.Windows {
			t.Fatalf("recomputed %s over %d metrics at %d windows, stored %s over %d at %d (%s)", again.Verdict, len(again.Metrics), again.Look.Windows,
				stored.Verdict, len(stored.Report.Metrics), look.Windows, stored.Report.Reason)
		}
		for i, m := range stored.Report.Metrics {
			r := again.Metrics[i]
			if r.Metric != m.Metric || r.Outcome != m.Outcome || r.Pairs != m.Pairs || (r.Interval == nil) != (m.Interval == nil) {
				t.Errorf("%s: recomputed %s %s over %d pairs, stored %s %s over %d", m.Metric, r.Metric, r.Outcome, r.Pairs, m.Metric, m.Outcome, m.Pairs)
				continue
			}
			if m.Interval != nil {
				for _, v := range [][3]any{{"mean", r.Interval.Mean, m.Interval.Mean}, {"low", r.Interval.Low, m.Interval.Low}, {"high", r.Interval.High, m.Interval.High}} {
					if !same(v[1].(float64), v[2].(float64)) {
						t.Errorf("%s interval %s: recomputed %v, stored %v", m.Metric, v[0], v[1], v[2])
					}
				}
			}
		}
	})

	t.Run("phoenix analyze --paired on the served windows reports the stored interval", func(t *testing.T) {
		var m *analysis.MetricDecision
		for i, c := range stored.Report.Metrics {
			if c.Interval != nil && !c.Interval.Exact && !c.Interval.Drifting {
				m = &stored.Report.Metrics[i]
				break
			}
		}
		if m == nil {
			t.Fatalf("no metric has a finite interval: %s", stored.Report.Reason)
		}
		dir := t.TempDir()
		files := map[experiment.Variant]string{}
		for _, v := range []experiment.Variant{experiment.Baseline, experiment.Candidate} {
			var b strings.Builder
			for _, x := range pairs[m.Metric][v] {
				b.WriteString(strconv.FormatFloat(x, 'g', -1, 64) + "\n")
			}
			files[v] = filepath.Join(dir, string(v)+".txt")
			if err := os.WriteFile(files[v], []byte(b.String()), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		out, err := exec.Command(p.bin, "analyze", "--paired", "--baseline", files[experiment.Baseline], "--candidate", files[experiment.Candidate], // #nosec G204 -- the CLI built for the tests
			"--alpha", strconv.FormatFloat(m.Interval.Level, 'g', -1, 64), "--format", "json").Output()
		if err != nil {
			t.Fatalf("phoenix analyze: %v\n%s", err, out)
		}
		var cli struct {
			Pairs    int               `json:"pairs"`    // windows compared
			Interval analysis.Interval `json:"interval"` // on the metric's scale
		}
		if err := json.Unmarshal(out, &cli); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if cli.Pairs != m.Pairs || !same(cli.Interval.Mean, m.Interval.Mean) || !same(cli.Interval.Low, m.Interval.Low) || !same(cli.Interval.High, m.Interval.High) {
			t.Fatalf("%s: phoenix analyze --paired %d pairs %+v; stored %d pairs %+v", m.Metric, cli.Pairs, cli.Interval, m.Pairs, *m.Interval)
		}
		t.Logf("%s over %d paired windows: [%.6g, %.6g] at error level %.3g from the report and from phoenix analyze --paired",
			m.Metric, m.Pairs, m.Interval.Low, m.Interval.High, m.Interval.Level)
	})

	t.Run("a served verdict that differs from the report is caught", func(t *testing.T) {
		api := tamperAPI(t, p.target.API, func(r *http.Request, a answer) answer {
			if !strings.HasSuffix(r.URL.Path, id+"/analysis") || a.Status != http.StatusOK {
				return a
			}
			other := "reject"
			if stored.Verdict == "reject" {
				other = "promote"
			}
			return answer{Status: a.Status, Body: bytes.Replace(a.Body, []byte(`"verdict":"`+stored.Verdict+`"`), []byte(`"verdict":"`+other+`"`), 1)}
		})
		res := smoke.Analysis(ctx, smoke.Target{API: api, Gateway: p.target.Gateway}, creds, smoke.Options{Experiment: id})
		requireFailedAt(t, res, "a completed experiment's analysis is whole", "differs from the stored")
	})
}

// servedRun rebuilds what the analysis read from the KPI windows the API serves: of the windows
// stored before the analysis read them (a window open when the run ended closes after it), those
// complete for both variants, paired by start; the critical processes each variant covered in
// them; what the collectors received. Which windows were stored before the read: per variant, as
// many complete windows as the report's parity counted, in the order they were stored (phoenix
// dev's one ingest replica stores them one after another) — the report's time (analysed) is
// later than its read, so a window stored in between would pass for read. Without parity in the
// report, the windows stored before analysed. It also returns each metric's paired values per
// variant.
func servedRun(t *testing.T, target smoke.Target, token, id string, spec experiment.Spec, planned, duration, window time.Duration,
	analysed time.Time, rep analyzer.Report) (analyzer.Run, map[string]map[experiment.Variant][]float64) {
	t.Helper()
	type served struct {
		WindowStart     time.Time          `json:"window_start"`     // the pairing key
		Complete        bool               `json:"complete"`         // only complete windows are analysed
		KPIs            map[string]float64 `json:"kpis"`             // by name
		CriticalCovered []string           `json:"critical_covered"` // critical patterns in the output
		ReceivedPoints  *int64             `json:"received_points"`  // the collectors' receivers accepted
		ReceivedSeconds *float64           `json:"received_seconds"` // …over these collector-seconds
		RefusedPoints   *int64             `json:"refused_points"`   // …refused
		Restarts        int                `json:"restarts"`         // collector restarts seen
		ClosedAt        time.Time          `json:"closed_at"`        // when it was stored
	}
	windows := map[experiment.Variant]map[time.Time]served{}
	run := analyzer.NewRun(spec, planned, duration, window)
	var starts []time.Time
	for _, v := range []experiment.Variant{experiment.Baseline, experiment.Candidate} {
		var page struct {
			Items []served `json:"items"` // oldest first
		}
		getJSON(t, target, token, "/v1/experiments/"+id+"/kpis?limit=5000&variant="+string(v), &page)
		windows[v] = map[time.Time]served{}
		received := &run.Parity.Baseline
		if v == experiment.Candidate {
			received = &run.Parity.Candidate
		}
		read := func(w served) bool { return !w.ClosedAt.After(analysed) }
		if p := rep.Parity; p != nil {
			want := map[experiment.Variant]int{experiment.Baseline: p.Baseline.Windows, experiment.Candidate: p.Candidate.Windows}[v]
			slices.SortStableFunc(page.Items, func(a, b served) int { return a.ClosedAt.Compare(b.ClosedAt) })
			complete := 0
			read = func(w served) bool {
				if complete == want {
					return false
				}
				if w.Complete {
					complete++
				}
				return true
			}
		}
		for _, w := range page.Items {
			if !read(w) {
				continue
			}
			received.Restarts += w.Restarts
			if !w.Complete {
				continue
			}
			received.Windows++
			if w.ReceivedPoints != nil {
				received.Reported++
				received.Accepted += *w.ReceivedPoints
				if w.ReceivedSeconds != nil {
					received.Seconds += *w.ReceivedSeconds
				}
			}
			if w.RefusedPoints != nil {
				received.Refused += *w.RefusedPoints
			}
			windows[v][w.WindowStart.UTC()] = w
			if v == experiment.Baseline {
				starts = append(starts, w.WindowStart.UTC())
			}
		}
	}
	slices.SortFunc(starts, time.Time.Compare) // pairs in window order, as the analysis reads them
	pairs := map[string]map[experiment.Variant][]float64{}
	run.Series = map[string]store.PairedSeries{}
	paired := 0
	for _, start := range starts {
		b := windows[experiment.Baseline][start]
		c, ok := windows[experiment.Candidate][start]
		if !ok {
			continue
		}
		paired++
		if len(c.CriticalCovered) < len(spec.CriticalProcesses) { // the candidate lacked some: a window CoverageGaps reads
			run.Coverage = append(run.Coverage, analysis.CoverageWindow{Start: start, Baseline: b.CriticalCovered, Candidate: c.CriticalCovered})
		}
		for m, x := range b.KPIs {
			y, ok := c.KPIs[m]
			if !ok {
				continue
			}
			s := run.Series[m]
			s.Metric, s.Baseline, s.Candidate = m, append(s.Baseline, x), append(s.Candidate, y)
			run.Series[m] = s
			if pairs[m] == nil {
				pairs[m] = map[experiment.Variant][]float64{}
			}
			pairs[m][experiment.Baseline], pairs[m][experiment.Candidate] = append(pairs[m][experiment.Baseline], x), append(pairs[m][experiment.Candidate], y)
		}
	}
	if paired != rep.Look.Windows {
		t.Fatalf("the analysis compared %d paired windows, the API serves %d stored before it", rep.Look.Windows, paired)
	}
	if p := rep.Parity; p != nil && (p.Baseline.Windows != run.Parity.Baseline.Windows || p.Candidate.Windows != run.Parity.Candidate.Windows) {
		t.Fatalf("the analysis counted %d and %d complete windows, the API serves %d and %d stored before it",
			p.Baseline.Windows, p.Candidate.Windows, run.Parity.Baseline.Windows, run.Parity.Candidate.Windows)
	}
	run.AA = rep.Calibration != nil
	return run, pairs
}

// same compares two computations of one statistic from identical inputs: equal up to the last
// few bits (the CLI reads decimal text, the analyzer the stored doubles).
func same(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-12*math.Max(math.Abs(a), math.Abs(b))
}
