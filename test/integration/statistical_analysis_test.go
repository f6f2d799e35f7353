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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/functions/analyzer"
	"github.com/phoenixotel/phoenix/shared/analysis"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/smoke"
	"github.com/phoenixotel/phoenix/test/collector"
)

// TestStatisticalAnalysis_RoundTrip is the analysis round trip on phoenix dev with the real
// collector: the lifecycle scenario runs an experiment to completed with a stored verdict and
// the analysis scenario checks that analysis. Then the test recomputes it: the engine
// (functions/analyzer over shared/analysis), given the KPI windows the API serves and the
// experiment's spec, must reach the stored verdict, outcomes and statistics exactly; and
// `phoenix analyze` on the same windows written to files must report the stored Welch test.
// Finally a proxy that rewrites the served verdict makes the analysis scenario fail.
func TestStatisticalAnalysis_RoundTrip(t *testing.T) {
	// No t.Parallel() yet: the experiment must run a full minute, so it starts in this test's
	// serial part and runs while the other suites hold go test's parallel slots (GOMAXPROCS of
	// them, two in CI); the test joins them once the run is under way.
	// 6 s windows of three 2 s scrapes: about nine complete windows per variant in the minute.
	p := startDev(t, devOptions{collector: collector.Binary(t), env: []string{"PHOENIX_KPI_WINDOW=6s"}})
	acct := p.user(t, p.tenant(t, "analysis"), "ops@analysis.example", "operator")
	creds := smoke.Credentials{Primary: acct}
	ctx := context.Background()

	// Windows of one sample: the stored Welch test is then the plain two-sample test that
	// phoenix analyze computes on the same values.
	opts := smoke.Options{ExpectComplete: true, Timeout: time.Minute, Parameters: map[string]any{"collection_interval": "2s"},
		Spec: json.RawMessage(`{"analysis":{"window_size":1}}`)}
	scenarios, err := smoke.Select([]string{"lifecycle", "analysis"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []smoke.Result, 1)
	go func() { done <- smoke.Run(ctx, p.target, creds, opts, scenarios) }()
	t.Parallel()
	results := <-done
	requirePassed(t, results[0], append(lifecycleSteps, "the run ends after its duration: analyzing",
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
		Verdict string          `json:"verdict"` // promote, reject or inconclusive
		Report  analyzer.Report `json:"report"`  // the explained decision
	}
	getJSON(t, p.target, token, "/v1/experiments/"+id+"/analysis", &stored)
	var exp struct {
		Spec experiment.Spec `json:"spec"` // as stored
	}
	getJSON(t, p.target, token, "/v1/experiments/"+id, &exp)
	series := servedSeries(t, p.target, token, id, stored.Report)

	t.Run("the engine on the served windows reaches the stored decision", func(t *testing.T) {
		again, err := analyzer.Analyze(exp.Spec, series)
		if err != nil {
			t.Fatal(err)
		}
		if again.Verdict != analysis.Verdict(stored.Verdict) || len(again.Metrics) != len(stored.Report.Metrics) {
			t.Fatalf("recomputed %s over %d metrics, stored %s over %d (%s)", again.Verdict, len(again.Metrics), stored.Verdict, len(stored.Report.Metrics), stored.Report.Reason)
		}
		for i, m := range stored.Report.Metrics {
			r := again.Metrics[i]
			if r.Metric != m.Metric || r.Outcome != m.Outcome || (r.Welch == nil) != (m.Welch == nil) {
				t.Errorf("%s: recomputed %s %s, stored %s %s", m.Metric, r.Metric, r.Outcome, m.Metric, m.Outcome)
				continue
			}
			if m.Welch != nil {
				for _, v := range [][3]any{{"t", r.Welch.T, m.Welch.T}, {"df", r.Welch.DF, m.Welch.DF}, {"p", r.Welch.P, m.Welch.P}} {
					if !same(v[1].(float64), v[2].(float64)) {
						t.Errorf("%s welch %s: recomputed %v, stored %v", m.Metric, v[0], v[1], v[2])
					}
				}
			}
		}
	})

	t.Run("phoenix analyze on the served windows reports the stored Welch test", func(t *testing.T) {
		var m *analysis.MetricDecision
		for i, c := range stored.Report.Metrics {
			if c.Welch != nil && c.Welch.Var1 > 0 && c.Welch.Var2 > 0 && c.Welch.N1 >= 2 && c.Welch.N2 >= 2 {
				m = &stored.Report.Metrics[i]
				break
			}
		}
		if m == nil {
			t.Fatalf("no metric varies in both variants: %s", stored.Report.Reason)
		}
		dir := t.TempDir()
		files := map[experiment.Variant]string{}
		for _, v := range []experiment.Variant{experiment.Baseline, experiment.Candidate} {
			var b strings.Builder
			for _, x := range series[m.Metric][v] {
				b.WriteString(strconv.FormatFloat(x, 'g', -1, 64) + "\n")
			}
			files[v] = filepath.Join(dir, string(v)+".txt")
			if err := os.WriteFile(files[v], []byte(b.String()), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		out, err := exec.Command(p.bin, "analyze", "--baseline", files[experiment.Baseline], "--candidate", files[experiment.Candidate], "--format", "json").Output() // #nosec G204 -- the CLI built for the tests
		if err != nil {
			t.Fatalf("phoenix analyze: %v\n%s", err, out)
		}
		var cli struct {
			Welch struct {
				T      float64 `json:"t"`       // statistic
				DF     float64 `json:"df"`      // degrees of freedom
				PValue float64 `json:"p_value"` // two-sided
			} `json:"welch"` // the test
		}
		if err := json.Unmarshal(out, &cli); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if !same(cli.Welch.T, m.Welch.T) || !same(cli.Welch.DF, m.Welch.DF) || !same(cli.Welch.PValue, m.Welch.P) {
			t.Fatalf("%s: phoenix analyze t %v df %v p %v; stored t %v df %v p %v", m.Metric,
				cli.Welch.T, cli.Welch.DF, cli.Welch.PValue, m.Welch.T, m.Welch.DF, m.Welch.P)
		}
		t.Logf("%s over %d baseline and %d candidate windows: t %.6g, df %.6g, p %.6g from the report and from phoenix analyze",
			m.Metric, m.Welch.N1, m.Welch.N2, m.Welch.T, m.Welch.DF, m.Welch.P)
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

// servedSeries reads the experiment's complete KPI windows through the API and returns each
// metric's values per variant, oldest first, as many as the analysis read (windows that closed
// after it are left out).
func servedSeries(t *testing.T, target smoke.Target, token, id string, rep analyzer.Report) map[string]map[experiment.Variant][]float64 {
	t.Helper()
	out := map[string]map[experiment.Variant][]float64{}
	for _, v := range []experiment.Variant{experiment.Baseline, experiment.Candidate} {
		var page struct {
			Items []struct {
				Complete bool               `json:"complete"` // only complete windows are analysed
				KPIs     map[string]float64 `json:"kpis"`     // by name
			} `json:"items"` // oldest first
		}
		getJSON(t, target, token, "/v1/experiments/"+id+"/kpis?limit=5000&variant="+string(v), &page)
		for _, w := range page.Items {
			if !w.Complete {
				continue
			}
			for m, x := range w.KPIs {
				if out[m] == nil {
					out[m] = map[experiment.Variant][]float64{}
				}
				out[m][v] = append(out[m][v], x)
			}
		}
	}
	for _, m := range rep.Metrics {
		for v, n := range map[experiment.Variant]int{experiment.Baseline: m.Baseline.Observations, experiment.Candidate: m.Candidate.Observations} {
			if len(out[m.Metric][v]) < n {
				t.Fatalf("%s %s: the analysis read %d samples, the API serves %d", m.Metric, v, n, len(out[m.Metric][v]))
			}
			out[m.Metric][v] = out[m.Metric][v][:n]
		}
	}
	return out
}

// same compares two computations of one statistic from identical inputs: equal up to the last
// few bits (the CLI reads decimal text, the analyzer the stored doubles).
func same(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-12*math.Max(math.Abs(a), math.Abs(b))
}
