package ingest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/store"
)

// openCapture opens a capture of exp for a minute, bounded to maxBytes.
func (e *env) openCapture(tenant, exp uuid.UUID, maxBytes int64) uuid.UUID {
	e.t.Helper()
	var c store.Capture
	err := e.st.WithTenant(context.Background(), tenant, func(tx *store.Tx) (err error) {
		c, err = tx.CreateCapture(context.Background(), store.NewCapture{Name: "sample", ExperimentID: exp, Duration: time.Minute,
			MaxBytes: maxBytes, Retention: time.Hour, CreatedBy: "test"})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c.ID
}

// captured reads a capture and its chunks.
func (e *env) captured(tenant, id uuid.UUID) (store.Capture, []pmetricotlp.ExportRequest) {
	e.t.Helper()
	var c store.Capture
	var chunks []pmetricotlp.ExportRequest
	err := e.st.WithTenant(context.Background(), tenant, func(tx *store.Tx) (err error) {
		if c, err = tx.Capture(context.Background(), id); err != nil {
			return err
		}
		return tx.CaptureChunks(context.Background(), id, func(body []byte) error {
			req := pmetricotlp.NewExportRequest()
			chunks = append(chunks, req)
			return req.UnmarshalProto(body)
		})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c, chunks
}

func TestIngest_ACaptureKeepsTheBaselinesOutputOnceWithinItsBound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{Window: time.Minute})
	tenant, exp := e.experiment("acme", `{}`, experiment.Running)
	base, cand := e.token(tenant, exp, experiment.Baseline), e.token(tenant, exp, experiment.Candidate)

	// Nothing is kept before a capture opens.
	if status, _, _, _ := e.post(request{token: base}, processMetrics(exp, "baseline", t0, proc{"early", 1})); status != http.StatusOK {
		t.Fatal(status)
	}
	id := e.openCapture(tenant, exp, 1<<20)

	// A baseline request with the collector's own telemetry in it: only the output is kept.
	md := processMetrics(exp, "baseline", t0.Add(time.Second), proc{"postgres", 1}, proc{"nginx", 2})
	out := md.DataPointCount()
	selfTelemetry(exp, "baseline", "c1", t0.Add(time.Second), 1.5, 1<<20).ResourceMetrics().MoveAndAppendTo(md.ResourceMetrics())
	body := encode(t, md, false, true)
	for range 2 { // the second is a collector's retry of the first
		if status, _, _, _ := e.post(request{token: base, body: body}, md); status != http.StatusOK {
			t.Fatal(status)
		}
	}
	// The candidate's output is not the baseline's.
	if status, _, _, _ := e.post(request{token: cand}, processMetrics(exp, "candidate", t0.Add(time.Second), proc{"postgres", 1})); status != http.StatusOK {
		t.Fatal(status)
	}
	c, chunks := e.captured(tenant, id)
	if len(chunks) != 1 || c.Requests != 1 || c.Datapoints != int64(out) || c.Dropped != 0 {
		t.Fatalf("capture %+v with %d chunks; want the one baseline request, its %d output datapoints", c, len(chunks), out)
	}
	rms := chunks[0].Metrics().ResourceMetrics()
	for i := range rms.Len() {
		if v, ok := rms.At(i).Resource().Attributes().Get(pipeline.StreamAttribute); ok {
			t.Fatalf("the collector's own telemetry was captured: %s", v.Str())
		}
	}
	if chunks[0].Metrics().DataPointCount() != out || c.Bytes <= 0 {
		t.Fatalf("captured %d datapoints in %d bytes, want %d", chunks[0].Metrics().DataPointCount(), c.Bytes, out)
	}

	// A capture at its bound keeps nothing more, and counts what it left out.
	small := e.openCapture(tenant, exp, int64(c.Bytes)+10)
	for i := range 3 {
		if status, _, _, _ := e.post(request{token: base}, processMetrics(exp, "baseline", t0.Add(time.Duration(2+i)*time.Second), proc{"postgres", 1}, proc{"nginx", 2})); status != http.StatusOK {
			t.Fatal(status)
		}
	}
	c, chunks = e.captured(tenant, small)
	if len(chunks) != 1 || c.Dropped != 2 {
		t.Fatalf("a capture bounded to one request: %+v, %d chunks; want one kept and two dropped", c, len(chunks))
	}

	// Another tenant cannot read it.
	other, _ := e.experiment("other", `{}`, experiment.Running)
	err := e.st.WithTenant(context.Background(), other, func(tx *store.Tx) error {
		_, err := tx.Capture(context.Background(), id)
		return err
	})
	if err == nil {
		t.Fatal("another tenant read the capture")
	}
}
