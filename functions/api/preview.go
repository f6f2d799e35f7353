package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenixotel/phoenix/shared/apiclient"
	"github.com/phoenixotel/phoenix/shared/distribution"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/preview"
	"github.com/phoenixotel/phoenix/shared/problem"
	"github.com/phoenixotel/phoenix/shared/store"
)

// previewResponse is what POST /v1/captures/{id}/preview answers.
type previewResponse struct {
	Capture  uuid.UUID       `json:"capture"`
	Pipeline preview.Result  `json:"pipeline"`          // the pipeline against the capture as it was sent
	Against  *preview.Result `json:"against,omitempty"` // the other pipeline against the capture
	// Versus compares the two outputs: what the pipeline drops or adds against the other's.
	Versus *preview.Result `json:"versus,omitempty"`
}

// previewCapture replays a capture through a pipeline (and optionally another) with the real
// collector and answers what each would keep, drop and cost.
func (a *API) previewCapture(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var req apiclient.Preview
	if !problem.DecodeJSON(w, r, &req) {
		return
	}
	var (
		c        store.Capture
		exp      store.Experiment
		bodies   [][]byte
		errs     []problem.FieldError
		captured int64
	)
	err := a.o.Store.WithTenant(r.Context(), principalFrom(r.Context()).Tenant, func(tx *store.Tx) (err error) {
		if c, err = tx.Capture(r.Context(), id); err != nil {
			return err
		}
		if exp, err = tx.Experiment(r.Context(), c.ExperimentID); err != nil {
			return err
		}
		_, errs = resolveChoice(r.Context(), tx, "pipeline", &req.Pipeline)
		if req.Against != nil {
			_, more := resolveChoice(r.Context(), tx, "against", req.Against)
			errs = append(errs, more...)
		}
		return tx.CaptureChunks(r.Context(), id, func(body []byte) error {
			bodies = append(bodies, body)
			captured += int64(len(body))
			return nil
		})
	})
	if err != nil {
		storeError(w, r, err, "capture")
		return
	}
	if len(errs) > 0 {
		problem.Write(w, http.StatusBadRequest, "the preview is invalid; see errors", errs...)
		return
	}
	if len(bodies) == 0 {
		problem.Write(w, http.StatusConflict, "the capture holds no data yet: is the experiment's baseline delivering? (GET /v1/captures/{id})")
		return
	}
	input, err := decodeAll(bodies)
	if err != nil {
		logFrom(r).Error("a stored capture does not decode", "capture", id, "err", err)
		problem.Write(w, http.StatusInternalServerError, "the capture's data cannot be read")
		return
	}
	in := preview.Summarize(input)
	seconds := in.Span(pipeline.ScrapeInterval(exp.Baseline.Template, exp.Baseline.Parameters)).Seconds()
	critical := exp.Spec.CriticalProcesses
	run := func(field string, choice store.PipelineChoice) (preview.Summary, bool) {
		cfg, err := pipeline.Render(pipeline.Request{Template: choice.Template, Params: pipeline.ParamsFor(choice.Template, choice.Parameters, critical),
			Custom: choice.Custom, ExperimentID: exp.ID, Variant: "candidate", Target: pipeline.Local,
			Output: pipeline.Output{Endpoint: "http://127.0.0.1", Headers: pipeline.IngestHeaders()}})
		var pe *pipeline.ParamError
		if errors.As(err, &pe) {
			fes := make([]problem.FieldError, 0, len(pe.Problems))
			for _, m := range pe.Problems {
				fes = append(fes, problem.FieldError{Field: field, Message: m})
			}
			problem.Write(w, http.StatusBadRequest, "the pipeline is invalid; see errors", fes...)
			return preview.Summary{}, false
		}
		var out []pmetric.Metrics
		if err == nil {
			out, err = preview.Run(r.Context(), a.o.Collector, cfg, bodies)
		}
		var refused *distribution.Refusal
		switch {
		case errors.As(err, &refused):
			problem.Write(w, http.StatusBadRequest, "the collector refused the pipeline: "+refused.Message)
			return preview.Summary{}, false
		case err != nil:
			checkUnavailable(w, r, err)
			return preview.Summary{}, false
		}
		return preview.Summarize(out), true
	}
	start := time.Now()
	out, ok := run("pipeline", req.Pipeline)
	if !ok {
		return
	}
	resp := previewResponse{Capture: id, Pipeline: preview.Compare(in, out, seconds, critical, a.o.Prices)}
	if req.Against != nil {
		other, ok := run("against", *req.Against)
		if !ok {
			return
		}
		against := preview.Compare(in, other, seconds, critical, a.o.Prices)
		versus := preview.Compare(other, out, seconds, critical, a.o.Prices)
		resp.Against, resp.Versus = &against, &versus
	}
	logFrom(r).Info("preview", "capture", id, "bytes", captured, "datapoints", in.Datapoints, "took_ms", time.Since(start).Milliseconds())
	writeJSON(w, http.StatusOK, resp)
}

// decodeAll reads stored capture chunks back into metrics.
func decodeAll(bodies [][]byte) ([]pmetric.Metrics, error) {
	out := make([]pmetric.Metrics, 0, len(bodies))
	var u pmetric.ProtoUnmarshaler
	for _, b := range bodies {
		md, err := u.UnmarshalMetrics(b)
		if err != nil {
			return nil, err
		}
		out = append(out, md)
	}
	return out, nil
}
