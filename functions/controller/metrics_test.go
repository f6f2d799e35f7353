package controller

import (
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/test/monitoring/promtest"
)

// registry registers f's controller metrics on a registry of their own.
func (f *fixture) registry(t *testing.T) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := f.c.metrics.register(reg); err != nil {
		t.Fatal(err)
	}
	return reg
}

// moves reads every (from, to) counter that is not zero.
func moves(t *testing.T, reg *prometheus.Registry) map[[2]string]float64 {
	t.Helper()
	out := map[[2]string]float64{}
	for _, from := range experiment.States() {
		for _, tr := range experiment.Triggers() {
			to, err := experiment.Next(from, tr)
			if err != nil {
				continue
			}
			if v := promtest.Value(t, reg, MetricTransitions, promtest.Labels{"from": string(from), "to": string(to)}); v != 0 {
				out[[2]string{string(from), string(to)}] = v
			}
		}
	}
	return out
}

func TestMetrics_EveryAllowedMoveHasASeriesFromTheStart(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := newMetrics().register(reg); err != nil {
		t.Fatal(err)
	}
	series := promtest.Series(t, reg, MetricTransitions)
	// One series per move the transition table allows, counted from the table itself.
	want := 0
	for _, from := range experiment.States() {
		for _, tr := range experiment.Triggers() {
			if _, err := experiment.Next(from, tr); err == nil {
				want++
			}
		}
	}
	if want < 16 || len(series) != want {
		t.Fatalf("%d series, want the transition table's %d: %v", len(series), want, series)
	}
	if got := moves(t, reg); len(got) != 0 {
		t.Fatalf("moves before any event: %v", got)
	}
}

func TestTransitions_CountEachCommittedMoveOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// run delivers events; every event is delivered twice (Knative's at-least-once).
		run  func(t *testing.T, f *fixture, twice func(event.Event))
		want map[[2]string]float64
	}{
		{
			name: "a whole life to promotion, every event redelivered",
			run: func(t *testing.T, f *fixture, twice func(event.Event)) {
				twice(f.command(t, events.ExperimentStarted, "start"))
				twice(f.ref(t, events.ManifestsGenerated, events.SourceGenerator, "gen"))
				twice(f.workloadEvent(t, "w1", "baseline", true))
				twice(f.workloadEvent(t, "w2", "candidate", true))
				f.now = f.now.Add(11 * time.Minute)
				twice(f.tick(t, "tick-1"))
				done, _ := events.New("done", events.AnalysisCompleted, events.SourceAnalyzer, f.tenant, f.exp,
					events.AnalysisResult{ExperimentID: f.exp, ResultID: uuid.New(), Verdict: "promote"})
				twice(done)
				twice(f.command(t, events.ExperimentPromote, "promote"))
				// Late and out of order: acknowledged, no move.
				twice(f.command(t, events.ExperimentStarted, "start-again"))
				twice(f.command(t, events.ExperimentRollback, "rollback"))
			},
			want: map[[2]string]float64{
				{"pending", "generating"}: 1, {"generating", "deploying"}: 1, {"deploying", "running"}: 1,
				{"running", "analyzing"}: 1, {"analyzing", "completed"}: 1, {"completed", "promoted"}: 1,
			},
		},
		{
			name: "stopped while generating",
			run: func(t *testing.T, f *fixture, twice func(event.Event)) {
				twice(f.command(t, events.ExperimentStarted, "start"))
				twice(f.command(t, events.ExperimentStop, "stop"))
				twice(f.ref(t, events.ManifestsGenerated, events.SourceGenerator, "gen")) // too late
			},
			want: map[[2]string]float64{{"pending", "generating"}: 1, {"generating", "cancelled"}: 1},
		},
		{
			name: "a phase timed out on a tick",
			run: func(t *testing.T, f *fixture, twice func(event.Event)) {
				twice(f.command(t, events.ExperimentStarted, "start"))
				twice(f.ref(t, events.ManifestsGenerated, events.SourceGenerator, "gen"))
				f.now = f.now.Add(2 * time.Minute) // deploying may take one minute here
				twice(f.tick(t, "tick-1"))
				twice(f.tick(t, "tick-2")) // nothing left to move
			},
			want: map[[2]string]float64{{"pending", "generating"}: 1, {"generating", "deploying"}: 1, {"deploying", "failed"}: 1},
		},
		{
			name: "workload updates that move nothing",
			run: func(t *testing.T, f *fixture, twice func(event.Event)) {
				twice(f.workloadEvent(t, "w1", "baseline", true))
				twice(f.workloadEvent(t, "w2", "candidate", true))
			},
			want: map[[2]string]float64{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			reg := f.registry(t)
			tt.run(t, f, func(e event.Event) {
				f.handle(t, e)
				f.handle(t, e)
			})
			got := moves(t, reg)
			if len(got) != len(tt.want) {
				t.Fatalf("moves %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("moves %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestTransitions_ARejectedEventCountsNothing(t *testing.T) {
	t.Parallel()
	f := setup(t)
	reg := f.registry(t)
	other := uuid.New()
	e, err := events.New("foreign", events.ExperimentStarted, events.SourceAPI, other, f.exp,
		events.Command{ExperimentID: f.exp, RequestedBy: "user-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Handle(t.Context(), e); err == nil {
		t.Fatal("an event for an unknown tenant was accepted")
	}
	if got := moves(t, reg); len(got) != 0 {
		t.Fatalf("moves %v after a rejected event", got)
	}
}
