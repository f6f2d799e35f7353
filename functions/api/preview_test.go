package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenixotel/phoenix/shared/store"
)

// captureOf opens a capture of exp holding one request per scrape.
func (f *fixture) captureOf(t *testing.T, tenant, exp uuid.UUID, scrapes []pmetric.Metrics) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	err := f.st.WithTenant(context.Background(), tenant, func(tx *store.Tx) error {
		c, err := tx.CreateCapture(context.Background(), store.NewCapture{Name: "sample", ExperimentID: exp, Duration: time.Minute,
			MaxBytes: 1 << 20, Retention: time.Hour, CreatedBy: "test"})
		if err != nil {
			return err
		}
		id = c.ID
		for _, md := range scrapes {
			body, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
			if err != nil {
				return err
			}
			if _, err := tx.AppendCaptureChunk(context.Background(), id, body, md.DataPointCount()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// memoryScrapes are n scrapes 10 s apart of procs' memory usage alone.
func memoryScrapes(n int, procs ...string) []pmetric.Metrics {
	var out []pmetric.Metrics
	for s := range n {
		md := pmetric.NewMetrics()
		for _, p := range procs {
			rm := md.ResourceMetrics().AppendEmpty()
			rm.Resource().Attributes().PutStr("process.executable.name", p)
			g := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
			g.SetName("process.memory.usage")
			dp := g.SetEmptyGauge().DataPoints().AppendEmpty()
			dp.SetTimestamp(pcommon.NewTimestampFromTime(time.Unix(int64(1000+10*s), 0)))
			dp.SetIntValue(1 << 20)
		}
		out = append(out, md)
	}
	return out
}

func TestPreview_ACaptureThroughYourPipelineAndAnother(t *testing.T) {
	t.Parallel()
	f := setupAPI(t, false, withCollector(t))
	op, viewer := f.token(t, f.acme, "operator"), f.token(t, f.acme, "viewer")
	exp := f.runningExperiment(t, f.acme)
	capture := f.captureOf(t, f.acme, exp, memoryScrapes(6, "postgres", "nginx", "worker"))
	if r := f.do(t, "POST", "/v1/pipelines", op, jsonBody(map[string]any{"name": "no-workers", "definition": map[string]any{"processors": []any{
		map[string]any{"name": "filter/workers", "config": map[string]any{"error_mode": "ignore", "metrics": map[string]any{
			"resource": []any{`resource.attributes["process.executable.name"] == "worker"`}}}}}}})); r.code != http.StatusCreated {
		t.Fatalf("save: %d %v", r.code, r.body)
	}

	path := "/v1/captures/" + capture.String() + "/preview"
	r := f.do(t, "POST", path, viewer, jsonBody(map[string]any{"pipeline": map[string]any{"pipeline": "no-workers"},
		"against": map[string]any{"template": "process-baseline"}}))
	if r.code != http.StatusOK {
		t.Fatalf("preview: %d %v", r.code, r.body)
	}
	p := r.body["pipeline"].(map[string]any)
	dropped := p["dropped"].(map[string]any)
	measured, predicted := p["measured"].(map[string]any), p["predicted"].(map[string]any)
	// Six scrapes 10 s apart span a minute: three series, three datapoints every 10 s.
	if fmt.Sprint(dropped["processes"]) != "[worker]" || measured["series"] != 3.0 || predicted["series"] != 2.0 ||
		p["seconds"] != 60.0 || measured["datapoints_per_second"] != 0.3 || p["change"].(map[string]any)["series"] != -1.0/3 {
		t.Fatalf("the pipeline's preview: %v", p)
	}
	versus := r.body["versus"].(map[string]any)
	if fmt.Sprint(versus["dropped"].(map[string]any)["processes"]) != "[worker]" || r.body["against"] == nil {
		t.Fatalf("against the baseline template: %v", r.body)
	}

	for name, tt := range map[string]struct {
		token, path, body string
		code              int
	}{
		"another tenant's capture": {f.token(t, f.other, "admin"), path, `{"pipeline":{"template":"process-baseline"}}`, http.StatusNotFound},
		"an unknown pipeline":      {viewer, path, `{"pipeline":{"pipeline":"nope"}}`, http.StatusBadRequest},
		"a bad parameter":          {viewer, path, `{"pipeline":{"template":"process-topk","parameters":{"k":0}}}`, http.StatusBadRequest},
		"an empty capture":         {viewer, "/v1/captures/" + f.captureOf(t, f.acme, exp, nil).String() + "/preview", `{"pipeline":{"template":"process-baseline"}}`, http.StatusConflict},
	} {
		t.Run(name, func(t *testing.T) {
			if r := f.do(t, "POST", tt.path, tt.token, strings.NewReader(tt.body)); r.code != tt.code {
				t.Fatalf("%d %v, want %d", r.code, r.body, tt.code)
			}
		})
	}
}
