package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/functions/analyzer"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
)

// The verdict table reads the report the analyzer really stores: a change of its format that the
// CLI does not follow fails here.
func TestPrintVerdict_ShowsEachMetricWhyAndTheRecommendation(t *testing.T) {
	series := map[string]map[experiment.Variant][]float64{
		"series": {
			experiment.Baseline:  {1000, 1010, 990, 1005, 995, 1002, 998, 1001, 999, 1003, 997, 1000},
			experiment.Candidate: {100, 102, 98, 101, 99, 100, 103, 97, 100, 101, 99, 100},
		},
		"collector_cpu": {
			experiment.Baseline:  {0.010, 0.012, 0.011, 0.009, 0.010, 0.011, 0.012, 0.010, 0.009, 0.011, 0.010, 0.010},
			experiment.Candidate: {0.010, 0.011, 0.010, 0.009, 0.011, 0.010, 0.012, 0.010, 0.010, 0.011, 0.009, 0.010},
		},
	}
	rep, err := analyzer.Analyze(experiment.Spec{}, series)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(rep)
	stored, _ := json.Marshal(map[string]any{"verdict": rep.Verdict, "report": json.RawMessage(raw)})
	var out strings.Builder
	printVerdict(&out, stored)
	got := out.String()
	for _, want := range []string{"METRIC", "CHANGE (95% CI)", "series", "collector_cpu", "-90.0% [", "improved", "why:",
		"recommendation: " + strings.ToUpper(string(rep.Verdict))} {
		if !strings.Contains(got, want) {
			t.Errorf("verdict table lacks %q:\n%s", want, got)
		}
	}
}

func TestView_PrintsAWindowOnceBothVariantsReported(t *testing.T) {
	var out strings.Builder
	start := time.Date(2026, 11, 26, 4, 0, 0, 0, time.UTC)
	v := &view{out: &out, windows: map[time.Time]map[string]kpiFrame{}, printed: map[time.Time]bool{},
		exp: experimentView{DurationSeconds: 60}}
	v.transition(events.Transition{Seq: 1, From: "deploying", To: "running", At: start})
	v.transition(events.Transition{Seq: 1, From: "deploying", To: "running", At: start}) // a replay: printed once
	w := func(variant string, series float64, covered int) kpiFrame {
		return kpiFrame{Variant: variant, WindowStart: start, WindowEnd: start.Add(15 * time.Second),
			KPIs:            map[string]float64{"series": series, "datapoints_per_second": series / 5},
			CriticalCovered: make([]string, covered), CriticalMissing: make([]string, 3-covered)}
	}
	v.window(w("baseline", 1200, 3))
	if strings.Contains(out.String(), "1200") {
		t.Fatal("printed a window before the candidate's arrived")
	}
	v.window(w("candidate", 120, 2))
	v.window(w("candidate", 120, 2)) // redelivered
	got := out.String()
	if strings.Count(got, "deploying → running") != 1 || strings.Count(got, "1200 | 120 (-90%)") != 1 ||
		!strings.Contains(got, "3/3 | 2/3") || !strings.Contains(got, "[#######") || !strings.Contains(got, "25%") {
		t.Fatalf("view:\n%s", got)
	}
}

func TestProgress(t *testing.T) {
	cases := []struct {
		elapsed, total time.Duration
		want           string
	}{
		{0, time.Minute, "[..............................]   0%"},
		{30 * time.Second, time.Minute, "[###############...............]  50%"},
		{2 * time.Minute, time.Minute, "[##############################] 100%"},
		{-time.Second, time.Minute, "[..............................]   0%"},
	}
	for _, c := range cases {
		if got := progress(c.elapsed, c.total); !strings.HasPrefix(got, c.want) {
			t.Errorf("progress(%v, %v) = %q, want prefix %q", c.elapsed, c.total, got, c.want)
		}
	}
}

func TestParseParams(t *testing.T) {
	got, err := parseParams([]string{"k=5", "high_processes=envoy|java", "ratio=0.5"})
	if err != nil || got["k"] != json.Number("5") || got["high_processes"] != "envoy|java" || got["ratio"] != json.Number("0.5") {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"novalue", "=x"} {
		if _, err := parseParams([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
