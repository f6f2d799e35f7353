package analyzer

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/phoenixotel/phoenix/shared/analysis"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

// published records what the analyzer streams to the gateway.
type published struct {
	mu     sync.Mutex
	frames [][]byte
}

func (p *published) Publish(_ context.Context, _, _ uuid.UUID, payload []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frames = append(p.frames, payload)
	return nil
}

func (p *published) looks(t *testing.T) []events.Look {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []events.Look
	for _, f := range p.frames {
		var e struct {
			Type string      `json:"type"`
			Data events.Look `json:"data"`
		}
		if err := json.Unmarshal(f, &e); err != nil || e.Type != events.AnalysisLook {
			t.Fatalf("frame %s: %v", f, err)
		}
		out = append(out, e.Data)
	}
	return out
}

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// seededWindow is the window length an analyzer is told when the test stores twelve windows for
// pgtest.Experiment's 600 s run: twelve windows are then the whole run, not a fifth of it, which
// a due look would refuse to promote on (analysis.CheckDelivery).
const seededWindow = 50 * time.Second

// storeWindows stores n closed windows of both variants as the ingest function does (a window and
// its KPI samples in one call), series at 1000 and ratio × 1000 with 1% jitter, from window from.
func storeWindows(t testing.TB, st *store.Store, tenant, exp uuid.UUID, from, n int, ratio float64) {
	t.Helper()
	err := st.WithTenant(context.Background(), tenant, func(tx *store.Tx) error {
		for i := from; i < from+n; i++ {
			ws := start.Add(time.Duration(i) * 15 * time.Second)
			for v, f := range map[experiment.Variant]float64{experiment.Baseline: 1, experiment.Candidate: ratio} {
				series := 1000 * f * (1 + 0.01*float64(i%3))
				w := store.KPIWindow{Variant: v, WindowStart: ws, WindowEnd: ws.Add(15 * time.Second), Complete: true,
					Series: int64(series), CriticalCovered: []string{}, CriticalMissing: []string{}, KPIs: map[string]float64{"series": series}}
				if _, err := tx.SaveKPIWindow(context.Background(), exp, w); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestHandle_DueLookStoresReportAndRepliesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := pgtest.Migrated(t).AppStore(t, store.Options{})
	tenant := pgtest.Tenant(t, st, "acme")
	exp := pgtest.Experiment(t, st, tenant)
	storeWindows(t, st, tenant, exp, 0, 12, 0.3)
	pub := &published{}
	a := New(st, pub, seededWindow)
	req, _ := events.New("req-1", events.AnalysisRequested, events.SourceController, tenant, exp, events.ExperimentRef{ExperimentID: exp})
	reply, err := a.Handle(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var res events.AnalysisResult
	if err := events.Decode(*reply, &res); err != nil {
		t.Fatal(err)
	}
	if res.Verdict != experiment.VerdictPromote || res.ExperimentID != exp || res.Early || res.Reason == "" {
		t.Fatalf("result %+v", res)
	}
	again, err := a.Handle(ctx, req)
	if err != nil || again.ID() != reply.ID() {
		t.Fatalf("redelivery: %v %v", again, err)
	}
	err = st.WithTenant(ctx, tenant, func(tx *store.Tx) error {
		rec, err := tx.LatestAnalysis(ctx, exp)
		if err != nil {
			return err
		}
		var rep Report
		if err := json.Unmarshal(rec.Report, &rep); err != nil {
			return err
		}
		looks, err := tx.Looks(ctx, exp)
		if err != nil {
			return err
		}
		if len(rep.Metrics) != 1 || rep.Metrics[0].Pairs != 12 || rep.Look.Kind != analysis.Planned || rep.Verdict != experiment.VerdictPromote {
			t.Errorf("report %+v", rep)
		}
		if len(looks) != 1 || looks[0].Kind != "planned" || looks[0].Windows != 12 || looks[0].Verdict != "promote" {
			t.Errorf("looks %+v", looks)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if l := pub.looks(t); len(l) != 1 || l[0].Verdict != experiment.VerdictPromote || l[0].Metrics[0].Estimate == nil || *l[0].Metrics[0].Estimate > -0.6 {
		t.Errorf("streamed %+v", l)
	}
	// Another tenant cannot ask for this experiment's analysis.
	other := pgtest.Tenant(t, st, "other")
	bad, _ := events.New("req-2", events.AnalysisRequested, events.SourceController, other, exp, events.ExperimentRef{ExperimentID: exp})
	if _, err := a.Handle(ctx, bad); err == nil {
		t.Fatal("analysis for another tenant's experiment accepted")
	}
}

// running moves a seeded experiment to running, as the controller does.
func running(t *testing.T, st *store.Store, tenant, exp uuid.UUID) {
	t.Helper()
	err := st.WithTenant(context.Background(), tenant, func(tx *store.Tx) error {
		_, err := tx.Move(context.Background(), exp, experiment.Pending, experiment.Running, "test", "test", "running for the test")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// windowClosed is the ingest's event for the window with index i of a variant.
func windowClosed(t *testing.T, tenant, exp uuid.UUID, i int, v experiment.Variant) event.Event {
	t.Helper()
	ws := start.Add(time.Duration(i) * 15 * time.Second)
	e, err := events.New(fmt.Sprintf("%s-w%d-%s", exp, i, v), events.KPIWindowClosed, events.SourceIngest, tenant, exp, events.KPIWindow{
		ExperimentID: exp, Variant: string(v), WindowStart: ws, WindowEnd: ws.Add(15 * time.Second), Complete: true, KPIs: map[string]float64{}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Each closed window is a live look: stored once per paired window and streamed, and a clear
// regression ends the run early with the verdict for the controller.
func TestHandle_LiveLooksStreamAndEndTheRunEarly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := pgtest.Migrated(t).AppStore(t, store.Options{})
	tenant := pgtest.Tenant(t, st, "acme")
	pub := &published{}
	a := New(st, pub, 15*time.Second)

	// Too few windows: no look. A cheaper candidate before the minimum run: looks, no end.
	exp := pgtest.Experiment(t, st, tenant)
	running(t, st, tenant, exp)
	storeWindows(t, st, tenant, exp, 0, 3, 0.3)
	if reply, err := a.Handle(ctx, windowClosed(t, tenant, exp, 2, experiment.Candidate)); err != nil || reply != nil {
		t.Fatalf("three windows: %v %v", reply, err)
	}
	storeWindows(t, st, tenant, exp, 3, 5, 0.3)
	for _, v := range []experiment.Variant{experiment.Baseline, experiment.Candidate} {
		if reply, err := a.Handle(ctx, windowClosed(t, tenant, exp, 7, v)); err != nil || reply != nil {
			t.Fatalf("eight windows of a 10-minute run: %v %v", reply, err)
		}
	}
	looks := pub.looks(t)
	if len(looks) != 1 || looks[0].Kind != "live" || looks[0].Windows != 8 || looks[0].Verdict != experiment.VerdictContinue || looks[0].Pending != experiment.VerdictPromote {
		t.Fatalf("looks %+v", looks)
	}

	// A dearer candidate: rejected at once.
	dear := pgtest.Experiment(t, st, tenant)
	running(t, st, tenant, dear)
	storeWindows(t, st, tenant, dear, 0, 8, 2)
	reply, err := a.Handle(ctx, windowClosed(t, tenant, dear, 7, experiment.Candidate))
	if err != nil || reply == nil {
		t.Fatalf("a regression: %v %v; streamed %+v", reply, err, pub.looks(t))
	}
	var res events.AnalysisResult
	if err := events.Decode(*reply, &res); err != nil {
		t.Fatal(err)
	}
	if res.Verdict != experiment.VerdictReject || !res.Early || res.ExperimentID != dear {
		t.Fatalf("result %+v", res)
	}

	// A window closing after the run: no look.
	done := pgtest.Experiment(t, st, tenant)
	storeWindows(t, st, tenant, done, 0, 8, 2)
	if reply, err := a.Handle(ctx, windowClosed(t, tenant, done, 7, experiment.Candidate)); err != nil || reply != nil {
		t.Fatalf("a pending experiment: %v %v", reply, err)
	}
}

// A run that may still be extended gets "continue" with how much longer to run instead of an
// inconclusive verdict; without room it ends inconclusive. A second due look is an extension
// look, with its own share of the budget.
func TestHandle_AsksToContinueWhileTheRunMayBeExtended(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := pgtest.Migrated(t).AppStore(t, store.Options{})
	tenant := pgtest.Tenant(t, st, "acme")
	for i, c := range []struct {
		name    string
		spec    string
		verdict experiment.Verdict
	}{{"room to grow", `{"analysis":{"max_duration_seconds":900}}`, experiment.VerdictContinue}, {"no room", `{}`, experiment.VerdictInconclusive}} {
		var exp store.Experiment
		err := st.WithTenant(ctx, tenant, func(tx *store.Tx) (err error) {
			// 75 s of 15 s windows: the four stored are what the run should deliver (five, less an edge).
			exp, err = tx.CreateExperiment(ctx, store.NewExperiment{Name: c.name, DurationSeconds: 75, CreatedBy: "t",
				Baseline: store.PipelineChoice{Template: "process-baseline"}, Candidate: store.PipelineChoice{Template: "process-topk"},
				Spec: pgtest.Spec(t, c.spec)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		// Four noisy windows cannot decide.
		err = st.WithTenant(ctx, tenant, func(tx *store.Tx) error {
			for w, noise := range []float64{-40, 35, -10, 20} {
				ws := start.Add(time.Duration(w) * 15 * time.Second)
				for v, x := range map[experiment.Variant]float64{experiment.Baseline: 1000 + noise, experiment.Candidate: 980 - noise} {
					if _, err := tx.SaveKPIWindow(ctx, exp.ID, store.KPIWindow{Variant: v, WindowStart: ws, WindowEnd: ws.Add(15 * time.Second),
						Complete: true, CriticalCovered: []string{}, CriticalMissing: []string{}, KPIs: map[string]float64{"series": x}}); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		a := New(st, nil, 15*time.Second)
		for k := range 2 {
			req, _ := events.New(fmt.Sprint("req-", i, k), events.AnalysisRequested, events.SourceController, tenant, exp.ID, events.ExperimentRef{ExperimentID: exp.ID})
			reply, err := a.Handle(ctx, req)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			var res events.AnalysisResult
			if err := events.Decode(*reply, &res); err != nil {
				t.Fatal(err)
			}
			var rep Report
			_ = st.WithTenant(ctx, tenant, func(tx *store.Tx) error {
				rec, err := tx.LatestAnalysis(ctx, exp.ID)
				if err == nil {
					err = json.Unmarshal(rec.Report, &rep)
				}
				return err
			})
			want := 0
			if c.verdict == experiment.VerdictContinue {
				want = extension(rep.WindowsNeeded-4, 15*time.Second, 825*time.Second)
			}
			kind := analysis.Planned
			if k == 1 {
				kind = analysis.Extension
			}
			if res.Verdict != c.verdict || res.ExtendSeconds != want || rep.Look.Kind != kind || (c.verdict == experiment.VerdictContinue && rep.WindowsNeeded <= 4) {
				t.Errorf("%s, look %d: verdict %s (%s look), extend %d s needing %d windows; want %s, %d s", c.name, k, res.Verdict,
					rep.Look.Kind, res.ExtendSeconds, rep.WindowsNeeded, c.verdict, want)
			}
		}
	}
}

func TestExtension(t *testing.T) {
	cases := []struct {
		more   int
		window time.Duration
		room   time.Duration
		want   int
	}{
		{6, 15 * time.Second, time.Hour, 90},
		{400, 15 * time.Second, 5 * time.Minute, 300},     // within the room
		{0, 10 * time.Second, time.Hour, 10},              // no estimate: one more window
		{-3, 10 * time.Second, 500 * time.Millisecond, 1}, // never zero
		{2, 15 * time.Second, 20 * time.Second, 20},       // the room left
	}
	for _, c := range cases {
		if got := extension(c.more, c.window, c.room); got != c.want {
			t.Errorf("extension(%d, %v, %v) = %d, want %d", c.more, c.window, c.room, got, c.want)
		}
	}
}

// BenchmarkAnalyzer1M reads 1M stored KPI samples — the seven KPIs Phoenix measures, of both
// variants, over 71,429 windows: a 12-day run of 15 s windows — from PostgreSQL, paired by window,
// with the coverage and parity reads, and decides on them, as a due look does (Analyzer.read,
// then Look):
//
//	go test -run '^$' -bench Analyzer1M ./functions/analyzer
func BenchmarkAnalyzer1M(b *testing.B) {
	ctx := context.Background()
	db := pgtest.Migrated(b)
	st := db.AppStore(b, store.Options{})
	tenant := pgtest.Tenant(b, st, "acme")
	exp := pgtest.Experiment(b, st, tenant)
	const windows = 71_429 // × 7 KPIs × 2 variants = 1,000,006 samples
	err := st.WithTenant(ctx, tenant, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO kpi_samples (tenant_id, experiment_id, variant, metric, window_start, window_end, value)
			SELECT $1, $2, v.variant, m.metric, t, t + interval '15 seconds',
				m.mean * (CASE WHEN v.variant = 'baseline' OR m.guard THEN 1 ELSE 0.7 END) * (1 + 0.05 * (random() - 0.5))
			FROM generate_series(0, $3 - 1) g,
				LATERAL (SELECT timestamptz '2026-01-01 00:00:00Z' + g * interval '15 seconds' AS t) ts,
				(VALUES ('baseline'), ('candidate')) v(variant),
				(VALUES ('series', 20000.0, false), ('bytes_per_second', 3e6, false), ('datapoints_per_second', 4000.0, false),
					('cost_per_hour', 0.2, false), ('critical_process_coverage', 1.0, true), ('collector_cpu', 0.5, true),
					('collector_memory', 2e8, true)) m(metric, mean, guard)`, tenant, exp, windows); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO kpi_windows (tenant_id, experiment_id, variant, window_start, window_end, complete,
				series, datapoints, payload_bytes, requests, rejected_datapoints, kpis)
			SELECT $1, $2, v.variant, t, t + interval '15 seconds', true, 0, 0, 0, 1, 0,
				'{"series":0,"bytes_per_second":0,"datapoints_per_second":0,"cost_per_hour":0,"critical_process_coverage":0,"collector_cpu":0,"collector_memory":0}'
			FROM generate_series(0, $3 - 1) g,
				LATERAL (SELECT timestamptz '2026-01-01 00:00:00Z' + g * interval '15 seconds' AS t) ts,
				(VALUES ('baseline'), ('candidate')) v(variant)`, tenant, exp, windows)
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
	if _, err := owner.Exec(ctx, "VACUUM (ANALYZE) kpi_samples, kpi_windows"); err != nil {
		b.Fatal(err)
	}
	_ = owner.Close(ctx)
	a := New(st, nil, 15*time.Second)
	b.ReportAllocs()
	var read, analyse time.Duration // the two halves, reported apart
	for b.Loop() {
		t0 := time.Now()
		_, run, dues, err := a.read(ctx, tenant, exp)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		// A look at a new number of windows finds no critical value cached: a fresh cache.
		rep, err := Look(run, analysis.Planned, dues+1, analysis.NewCache())
		read, analyse = read+t1.Sub(t0), analyse+time.Since(t1)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Verdict != experiment.VerdictPromote || len(rep.Metrics) != 6 || rep.Metrics[0].Pairs != windows {
			b.Fatalf("verdict %s over %d metrics: %s", rep.Verdict, len(rep.Metrics), rep.Reason)
		}
	}
	b.ReportMetric(float64(read.Milliseconds())/float64(b.N), "read-ms/op")
	b.ReportMetric(float64(analyse.Milliseconds())/float64(b.N), "analyse-ms/op")
}
