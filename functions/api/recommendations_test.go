package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/test/hostmetrics"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

func TestRecommendations_RankedStoredAndOneCommandFromAnExperiment(t *testing.T) {
	t.Parallel()
	f := setupAPI(t, false, withCollector(t))
	op := f.token(t, f.acme, "operator")
	// The captured experiment, with a spec of its own for the confirmation to inherit.
	r := f.do(t, "POST", "/v1/experiments", op, jsonBody(map[string]any{"name": "captured", "duration_seconds": 600,
		"baseline": map[string]any{"template": "process-baseline"}, "candidate": map[string]any{"template": "process-topk"},
		"spec": map[string]any{"critical_processes": []string{"postgres"}, "analysis": map[string]any{"max_duration_seconds": 1200}}}))
	if r.code != http.StatusCreated {
		t.Fatalf("create the captured experiment: %d %v", r.code, r.body)
	}
	exp := uuid.MustParse(r.body["id"].(string))
	pgtest.Advance(t, f.st, f.acme, exp, experiment.Running)
	procs := []string{"postgres"}
	for i := range 15 {
		procs = append(procs, "job-"+strconv.Itoa(i))
	}
	var scrapes []pmetric.Metrics
	for s := range 6 {
		scrapes = append(scrapes, hostmetrics.Scrape(time.Unix(int64(1000+10*s), 0), procs...))
	}
	capture := f.captureOf(t, f.acme, exp, scrapes)
	path := "/v1/captures/" + capture.String() + "/recommendations"

	if r := f.do(t, "POST", path, op, jsonBody(map[string]any{"rules": []string{"groups: ["}})); r.code != http.StatusBadRequest ||
		!strings.Contains(fieldsOf(r), "rules[0]") {
		t.Fatalf("a broken rule file: %d %v", r.code, r.body)
	}
	dashboard := `{"panels": [{"targets": [{"expr": "sum(process_cpu_time_seconds_total)"}]}]}`
	r = f.do(t, "POST", path, op, jsonBody(map[string]any{"dashboards": []string{dashboard}}))
	items, _ := r.body["items"].([]any)
	rejected, _ := r.body["rejected"].([]any)
	if r.code != http.StatusOK || len(items) == 0 || len(rejected) == 0 {
		t.Fatalf("recommend: %d %v", r.code, r.body)
	}
	// What costs the most: CPU time has a series per state (two), the others one per process.
	card := r.body["cardinality"].(map[string]any)
	if m := card["metrics"].([]any)[0].(map[string]any); m["name"] != "process.cpu.time" || m["count"] != 32.0 || card["series"] != 64.0 {
		t.Fatalf("cardinality %v", card)
	}
	if a := card["attributes"].([]any)[0].(map[string]any); a["count"] != 16.0 {
		t.Fatalf("the attribute with the most values: %v", a)
	}
	first := items[0].(map[string]any)
	if first["rank"] != 1.0 || !strings.Contains(first["explanation"].(string), "a month") || first["id"] == nil {
		t.Fatalf("the first recommendation: %v", first)
	}
	// The dashboard sums process.cpu.time: nothing recommended drops or merges its series.
	for _, it := range items {
		rec := it.(map[string]any)
		dropped := rec["preview"].(map[string]any)["dropped"].(map[string]any)
		if reduced, _ := dropped["reduced"].(map[string]any); reduced["process.cpu.time"] != nil ||
			strings.Contains(strings.Join(toStrings(dropped["metrics"]), ","), "process.cpu.time") {
			t.Errorf("%s loses series of process.cpu.time, which the dashboard uses", rec["name"])
		}
	}
	if r := f.do(t, "GET", "/v1/recommendations/"+first["id"].(string), f.token(t, f.other, "admin"), nil); r.code != http.StatusNotFound {
		t.Fatalf("another tenant reads a recommendation: %d", r.code)
	}

	// One command: an experiment from the recommendation, its baseline and length from the one captured.
	r = f.do(t, "POST", "/v1/experiments", op, jsonBody(map[string]any{"from_recommendation": first["id"]}))
	if r.code != http.StatusCreated || r.body["recommendation_id"] != first["id"] || r.body["duration_seconds"] != 600.0 ||
		!strings.HasPrefix(r.body["name"].(string), "confirm: ") || r.body["baseline"].(map[string]any)["template"] != "process-baseline" {
		t.Fatalf("an experiment from the recommendation: %d %v", r.code, r.body)
	}
	// The spec it was judged by comes along whole: critical processes, criteria, analysis settings.
	if src := f.do(t, "GET", "/v1/experiments/"+exp.String(), op, nil); fmt.Sprint(src.body["spec"]) != fmt.Sprint(r.body["spec"]) ||
		!strings.Contains(fmt.Sprint(r.body["spec"]), "max_duration_seconds:1200") {
		t.Fatalf("the confirmation's spec %v, want the captured experiment's %v", r.body["spec"], src.body["spec"])
	}
	choice := first["choice"].(map[string]any)
	if cand := r.body["candidate"].(map[string]any); cand["template"] != choice["template"] {
		t.Fatalf("the candidate %v, want the recommendation's %v", cand, choice)
	}
	if r := f.do(t, "POST", "/v1/experiments", op, jsonBody(map[string]any{"from_recommendation": "nope"})); r.code != http.StatusBadRequest {
		t.Fatalf("an unknown recommendation: %d", r.code)
	}
}

func toStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, e := range list {
		out = append(out, e.(string))
	}
	return out
}
