package analyzer

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/jackc/pgx/v5"
	"math"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/shared/analysis"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

// kpi returns n deterministic values around mean with 1% jitter, so each sample has variance.
func kpi(n int, mean float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = mean + math.Sin(float64(i)*1.7)*mean*0.01
	}
	return out
}

type kpis = map[string]map[experiment.Variant][]float64

func pair(b, c []float64) map[experiment.Variant][]float64 {
	return map[experiment.Variant][]float64{experiment.Baseline: b, experiment.Candidate: c}
}

func TestAnalyze_VerdictFollowsTheCriteria(t *testing.T) {
	t.Parallel()
	const n = 12
	noisy := func(mean, sd float64, seed int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = mean + sd*math.Sin(float64(i*7+seed)*2.3)
		}
		return out
	}
	tests := []struct {
		name     string
		spec     experiment.Spec
		metrics  kpis
		want     analysis.Verdict
		criteria string
		outcomes map[string]analysis.Outcome
	}{
		{"cheaper candidate", experiment.Spec{}, kpis{"series": pair(kpi(n, 1000), kpi(n, 400))},
			analysis.Promote, "defaults", map[string]analysis.Outcome{"series": analysis.Improved}},
		{"cheaper but loses critical processes (a default guardrail)", experiment.Spec{}, kpis{
			"series":                    pair(kpi(n, 1000), kpi(n, 400)),
			"critical_process_coverage": pair(kpi(n, 1), kpi(n, 0.5)),
		}, analysis.Reject, "defaults", map[string]analysis.Outcome{"series": analysis.Improved, "critical_process_coverage": analysis.Regressed}},
		{"no difference, with the data to see one: nothing to gain", experiment.Spec{}, kpis{"series": pair(kpi(n, 1000), kpi(n, 1000))},
			analysis.Reject, "defaults", map[string]analysis.Outcome{"series": analysis.NoChange}},
		{"one sample each: not enough data", experiment.Spec{}, kpis{"series": pair([]float64{1}, []float64{2})},
			analysis.InsufficientData, "defaults", map[string]analysis.Outcome{"series": analysis.Inconclusive}},
		{"collector CPU too noisy to vouch for", experiment.Spec{}, kpis{
			"series":        pair(kpi(n, 1000), kpi(n, 400)),
			"collector_cpu": pair(noisy(0.5, 0.2, 1), noisy(0.5, 0.2, 2)),
		}, analysis.InsufficientData, "defaults", map[string]analysis.Outcome{"series": analysis.Improved, "collector_cpu": analysis.Inconclusive}},
		{"collector CPU steady: guardrail holds", experiment.Spec{}, kpis{
			"series":        pair(kpi(n, 1000), kpi(n, 400)),
			"collector_cpu": pair(kpi(n, 0.5), kpi(n, 0.501)),
		}, analysis.Promote, "defaults", map[string]analysis.Outcome{"series": analysis.Improved, "collector_cpu": analysis.NoChange}},
		{"spec threshold not met", experiment.Spec{SuccessCriteria: []experiment.Criterion{{Metric: "series", MinImprovement: 0.8}}},
			kpis{"series": pair(kpi(n, 1000), kpi(n, 400)), "bytes_per_second": pair(kpi(n, 10), kpi(n, 20))},
			analysis.Reject, "spec", map[string]analysis.Outcome{"series": analysis.NoChange}},
		{"spec criterion without data", experiment.Spec{SuccessCriteria: []experiment.Criterion{{Metric: "series"}, {Metric: "collector_memory", Critical: true}}},
			kpis{"series": pair(kpi(n, 1000), kpi(n, 400))},
			analysis.InsufficientData, "spec", map[string]analysis.Outcome{"series": analysis.Improved, "collector_memory": analysis.Inconclusive}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Analyze(tt.spec, tt.metrics)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Verdict != tt.want || rep.Criteria != tt.criteria {
				t.Fatalf("verdict %s from %s criteria, want %s from %s: %s", rep.Verdict, rep.Criteria, tt.want, tt.criteria, rep.Reason)
			}
			got := map[string]analysis.Outcome{}
			for _, m := range rep.Metrics {
				got[m.Metric] = m.Outcome
			}
			if len(got) != len(tt.outcomes) {
				t.Fatalf("metrics decided %v, want %v", got, tt.outcomes)
			}
			for m, o := range tt.outcomes {
				if got[m] != o {
					t.Errorf("%s: %s, want %s", m, got[m], o)
				}
			}
			if rep.Verdict == analysis.InsufficientData && rep.Needed == nil && tt.name != "spec criterion without data" {
				t.Errorf("inconclusive without the data needed: %s", rep.Reason)
			}
		})
	}
}

func TestAnalyze_ReportIsExplainedJSON(t *testing.T) {
	t.Parallel()
	spec := experiment.Spec{
		SuccessCriteria: []experiment.Criterion{{Metric: "series", MinImprovement: 0.1}, {Metric: "collector_cpu", Critical: true, Tolerance: 0.1}},
		Analysis:        &experiment.AnalysisSettings{Alpha: 0.01, WindowSize: 2},
	}
	rep, err := Analyze(spec, kpis{
		"series":        pair(kpi(40, 1000), kpi(40, 600)),
		"collector_cpu": pair(kpi(40, 0.5), kpi(40, 0.5)),
		"extra":         pair(kpi(40, 1), kpi(40, 1)),
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Verdict  string   `json:"verdict"`
		Reason   string   `json:"reason"`
		Unused   []string `json:"unused_metrics"`
		Settings struct {
			Alpha    float64 `json:"alpha"`
			Batching struct {
				Size int `json:"size"`
			} `json:"batching"`
		} `json:"settings"`
		Metrics []struct {
			Metric    string  `json:"metric"`
			Direction string  `json:"direction"`
			Outcome   string  `json:"outcome"`
			Reason    string  `json:"reason"`
			Tolerance float64 `json:"tolerance"`
			Baseline  struct {
				Windows struct {
					Size, Count int
				} `json:"windows"`
			} `json:"baseline"`
			Welch       *struct{ T float64 }      `json:"welch"`
			MannWhitney *struct{ Shift float64 }  `json:"mann_whitney"`
			TOST        *struct{ PUpper float64 } `json:"tost"`
			Trace       []analysis.Step           `json:"trace"`
		} `json:"metrics"`
		Trace []analysis.Step `json:"trace"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Verdict != "promote" || doc.Reason == "" || len(doc.Trace) == 0 || doc.Settings.Alpha != 0.01 || doc.Settings.Batching.Size != 2 {
		t.Fatalf("report %s", raw)
	}
	if len(doc.Unused) != 1 || doc.Unused[0] != "extra" || len(doc.Metrics) != 2 {
		t.Fatalf("metrics %+v unused %v", doc.Metrics, doc.Unused)
	}
	series, cpu := doc.Metrics[0], doc.Metrics[1]
	if series.Metric != "series" || series.Outcome != "improved" || series.Direction != "lower_is_better" ||
		series.Welch == nil || series.MannWhitney == nil || series.TOST != nil || series.Baseline.Windows.Size != 2 || series.Baseline.Windows.Count != 20 {
		t.Errorf("series: %+v", series)
	}
	if cpu.Outcome != "no_change" || cpu.TOST == nil || cpu.Tolerance != 0.1 || len(cpu.Trace) == 0 {
		t.Errorf("collector_cpu: %+v", cpu)
	}
}

func TestHandle_StoresReportAndRepliesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := pgtest.Migrated(t).AppStore(t, store.Options{})
	tenant := pgtest.Tenant(t, st, "acme")
	exp := pgtest.Experiment(t, st, tenant)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var samples []store.KPISample
	for i := range 10 {
		w := start.Add(time.Duration(i) * 30 * time.Second)
		jitter := float64(i%3) * 5
		samples = append(samples,
			store.KPISample{Variant: experiment.Baseline, Metric: "series", WindowStart: w, WindowEnd: w.Add(30 * time.Second), Value: 1000 + jitter},
			store.KPISample{Variant: experiment.Candidate, Metric: "series", WindowStart: w, WindowEnd: w.Add(30 * time.Second), Value: 300 + jitter*2},
		)
	}
	if err := st.WithTenant(ctx, tenant, func(tx *store.Tx) error { return tx.AddKPISamples(ctx, exp, samples) }); err != nil {
		t.Fatal(err)
	}
	req, _ := events.New("req-1", events.AnalysisRequested, events.SourceController, tenant, exp, events.ExperimentRef{ExperimentID: exp})
	a := New(st)
	reply, err := a.Handle(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var res events.AnalysisResult
	if err := events.Decode(*reply, &res); err != nil {
		t.Fatal(err)
	}
	if res.Verdict != string(analysis.Promote) || res.ExperimentID != exp {
		t.Fatalf("result %+v", res)
	}
	again, err := a.Handle(ctx, req)
	if err != nil || again.ID() != reply.ID() {
		t.Fatalf("redelivery: %v %v", again, err)
	}
	err = st.WithTenant(ctx, tenant, func(tx *store.Tx) error {
		var n int
		var report json.RawMessage
		if err := tx.QueryRow(ctx, "SELECT count(*), max(report::text)::jsonb FROM analysis_results").Scan(&n, &report); err != nil {
			return err
		}
		var rep Report
		if err := json.Unmarshal(report, &rep); err != nil {
			return err
		}
		if n != 1 || len(rep.Metrics) != 1 || rep.Metrics[0].Welch == nil || rep.Metrics[0].Welch.Diff >= 0 || rep.Verdict != analysis.Promote {
			t.Errorf("%d results, report %+v", n, rep)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Another tenant cannot ask for this experiment's analysis.
	other := pgtest.Tenant(t, st, "other")
	bad, _ := events.New("req-2", events.AnalysisRequested, events.SourceController, other, exp, events.ExperimentRef{ExperimentID: exp})
	if _, err := a.Handle(ctx, bad); err == nil {
		t.Fatal("analysis for another tenant's experiment accepted")
	}
}

// BenchmarkAnalyzer1M reads 1M stored KPI samples (two metrics, two variants, 250,000 each) from
// PostgreSQL in the tenant transaction and decides on them, as Handle does:
//
//	go test -run '^$' -bench Analyzer1M ./functions/analyzer
func BenchmarkAnalyzer1M(b *testing.B) {
	ctx := context.Background()
	db := pgtest.Migrated(b)
	st := db.AppStore(b, store.Options{})
	tenant := pgtest.Tenant(b, st, "acme")
	exp := pgtest.Experiment(b, st, tenant)
	err := st.WithTenant(ctx, tenant, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO kpi_samples (tenant_id, experiment_id, variant, metric, window_start, window_end, value)
			SELECT $1, $2, v.variant, m.metric, t, t + interval '1 second',
				m.mean * (CASE WHEN v.variant = 'baseline' THEN 1 ELSE 0.7 END) * (1 + 0.05 * (random() - 0.5))
			FROM generate_series(0, 249999) g,
				LATERAL (SELECT timestamptz '2026-01-01 00:00:00Z' + g * interval '1 second' AS t) ts,
				(VALUES ('baseline'), ('candidate')) v(variant),
				(VALUES ('series', 20000.0), ('bytes_per_second', 3e6)) m(metric, mean)`, tenant, exp)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	// Samples arrive window by window over a run and autovacuum marks their pages all-visible
	// long before the analysis; one bulk insert must be vacuumed by hand to look the same, or
	// the index-only scan visits the heap for every sample.
	owner, err := pgx.Connect(ctx, db.OwnerURL)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := owner.Exec(ctx, "VACUUM (ANALYZE) kpi_samples"); err != nil {
		b.Fatal(err)
	}
	_ = owner.Close(ctx)
	b.ReportAllocs()
	var read, analyse time.Duration // the two halves, reported apart
	for b.Loop() {
		var rep Report
		err := st.WithTenant(ctx, tenant, func(tx *store.Tx) error {
			t0 := time.Now()
			series, err := tx.KPISeries(ctx, exp)
			if err != nil {
				return err
			}
			t1 := time.Now()
			rep, err = Analyze(experiment.Spec{}, series)
			read, analyse = read+t1.Sub(t0), analyse+time.Since(t1)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Verdict != analysis.Promote || rep.Metrics[0].Baseline.Observations != 250_000 {
			b.Fatalf("verdict %s: %s", rep.Verdict, rep.Reason)
		}
	}
	b.ReportMetric(float64(read.Milliseconds())/float64(b.N), "read-ms/op")
	b.ReportMetric(float64(analyse.Milliseconds())/float64(b.N), "analyse-ms/op")
}

// A run that may still be extended gets "continue" with how much longer to run instead of an
// inconclusive verdict; without room it ends inconclusive.
func TestHandle_AsksToContinueWhileTheRunMayBeExtended(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := pgtest.Migrated(t).AppStore(t, store.Options{})
	tenant := pgtest.Tenant(t, st, "acme")
	cases := []struct {
		name    string
		spec    string
		verdict string
		extend  int
	}{
		// Four noisy windows cannot decide; the extension is what the decision says it needs
		// (extend -1: check it against the stored report), within the 300 s of room.
		{"room to grow", `{"analysis":{"max_duration_seconds":900}}`, "continue", -1},
		{"no room", `{}`, "inconclusive", 0},
	}
	for i, c := range cases {
		var exp store.Experiment
		err := st.WithTenant(ctx, tenant, func(tx *store.Tx) (err error) {
			exp, err = tx.CreateExperiment(ctx, store.NewExperiment{Name: c.name, DurationSeconds: 600, CreatedBy: "t",
				Baseline: store.PipelineChoice{Template: "process-baseline"}, Candidate: store.PipelineChoice{Template: "process-baseline"},
				Spec: []byte(c.spec)})
			if err != nil {
				return err
			}
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			var samples []store.KPISample
			for w, noise := range []float64{-40, 35, -10, 20} {
				ws := start.Add(time.Duration(w) * 15 * time.Second)
				samples = append(samples,
					store.KPISample{Variant: experiment.Baseline, Metric: "series", WindowStart: ws, WindowEnd: ws.Add(15 * time.Second), Value: 1000 + noise},
					store.KPISample{Variant: experiment.Candidate, Metric: "series", WindowStart: ws, WindowEnd: ws.Add(15 * time.Second), Value: 980 - noise})
			}
			return tx.AddKPISamples(ctx, exp.ID, samples)
		})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := events.New(fmt.Sprint("req-", i), events.AnalysisRequested, events.SourceController, tenant, exp.ID, events.ExperimentRef{ExperimentID: exp.ID})
		reply, err := New(st).Handle(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var res events.AnalysisResult
		if err := events.Decode(*reply, &res); err != nil {
			t.Fatal(err)
		}
		want := c.extend
		if want < 0 {
			var rep Report
			err := st.WithTenant(ctx, tenant, func(tx *store.Tx) error {
				rec, err := tx.LatestAnalysis(ctx, exp.ID)
				if err != nil {
					return err
				}
				return json.Unmarshal(rec.Report, &rep)
			})
			if err != nil || rep.Needed == nil {
				t.Fatalf("%s: stored report %+v: %v", c.name, rep, err)
			}
			want = min(max(rep.Needed.Baseline, rep.Needed.Candidate)*15, 300)
		}
		if res.Verdict != c.verdict || res.ExtendSeconds != want {
			t.Errorf("%s: verdict %s, extend %d s; want %s, %d s", c.name, res.Verdict, res.ExtendSeconds, c.verdict, want)
		}
	}
}

func TestExtension(t *testing.T) {
	cases := []struct {
		needed *analysis.Needed
		window time.Duration
		room   time.Duration
		want   int
	}{
		{&analysis.Needed{Baseline: 4, Candidate: 6}, 15 * time.Second, time.Hour, 90}, // the larger need, one window each
		{&analysis.Needed{Baseline: 400, Candidate: 10}, 15 * time.Second, 5 * time.Minute, 300},
		{nil, 10 * time.Second, time.Hour, 10},                            // no estimate: one more window
		{&analysis.Needed{}, 10 * time.Second, 500 * time.Millisecond, 1}, // never zero
	}
	for _, c := range cases {
		if got := extension(c.needed, c.window, c.room); got != c.want {
			t.Errorf("extension(%+v, %v, %v) = %d, want %d", c.needed, c.window, c.room, got, c.want)
		}
	}
}
