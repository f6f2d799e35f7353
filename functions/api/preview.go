package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/apiclient"
	"github.com/phoenixotel/phoenix/shared/distribution"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/preview"
	"github.com/phoenixotel/phoenix/shared/problem"
	"github.com/phoenixotel/phoenix/shared/store"
)

// replayer previews pipelines on one capture of an experiment's baseline.
type replayer struct {
	bin      *distribution.Binary
	prices   experiment.Prices
	exp      store.Experiment // whose baseline was captured: its critical processes, its scrape interval
	capture  store.Capture
	data     *preview.Capture // the capture's requests, decoded and summarized (series per KPI window, as experiments count them)
	interval time.Duration    // how often the baseline scraped
}

// errEmptyCapture says a capture holds nothing to replay yet.
var errEmptyCapture = errors.New("empty capture")

// replayerFor reads capture id and its experiment in the caller's tenant; resolve may resolve
// saved pipelines in the same transaction.
func (a *API) replayerFor(r *http.Request, id uuid.UUID, resolve func(tx *store.Tx) error) (replayer, error) {
	rp := replayer{bin: a.o.Collector, prices: a.o.Prices}
	var bodies [][]byte
	err := a.o.Store.WithTenant(r.Context(), principalFrom(r.Context()).Tenant, func(tx *store.Tx) (err error) {
		if rp.capture, err = tx.Capture(r.Context(), id); err != nil {
			return err
		}
		if rp.exp, err = tx.Experiment(r.Context(), rp.capture.ExperimentID); err != nil {
			return err
		}
		if resolve != nil {
			if err := resolve(tx); err != nil {
				return err
			}
		}
		return tx.CaptureChunks(r.Context(), id, func(body []byte) error {
			bodies = append(bodies, body)
			return nil
		})
	})
	if err != nil {
		return rp, err
	}
	if len(bodies) == 0 {
		return rp, errEmptyCapture
	}
	rp.interval = pipeline.ScrapeInterval(rp.exp.Baseline.Template, rp.exp.Baseline.Parameters)
	if rp.data, err = preview.NewCapture(bodies, rp.interval, a.o.Window); err != nil {
		return rp, fmt.Errorf("capture %s: %w", id, err)
	}
	return rp, nil
}

// replayerError answers an error of replayerFor.
func replayerError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errEmptyCapture) {
		problem.Write(w, http.StatusConflict, "the capture holds no data yet: is the experiment's baseline delivering? (GET /v1/captures/{id})")
		return
	}
	storeError(w, r, err, "capture")
}

// render is choice's configuration as the generator would render it for the experiment.
func (rp replayer) render(choice store.PipelineChoice) ([]byte, error) {
	req := choice.Request(rp.exp.Spec.CriticalProcesses)
	req.ExperimentID, req.Variant, req.Target = rp.exp.ID, "candidate", pipeline.Local
	req.Output = pipeline.Output{Endpoint: "http://127.0.0.1", Headers: pipeline.IngestHeaders()}
	return pipeline.Render(req)
}

// result previews choice against the capture, or with screen against its screening part.
func (rp replayer) result(ctx context.Context, choice store.PipelineChoice, screen bool) (preview.Result, error) {
	cfg, err := rp.render(choice)
	if err != nil {
		return preview.Result{}, err
	}
	data := rp.data
	if screen {
		data = data.Screen()
	}
	return data.Preview(ctx, rp.bin, cfg, rp.exp.Spec.CriticalProcesses, rp.prices)
}

// previewError answers an error of a replay: the pipeline's fault (400) or the platform's (503).
func previewError(w http.ResponseWriter, r *http.Request, field string, err error) {
	var pe *pipeline.ParamError
	var refused *distribution.Refusal
	switch {
	case errors.As(err, &pe):
		fes := make([]problem.FieldError, 0, len(pe.Problems))
		for _, m := range pe.Problems {
			fes = append(fes, problem.FieldError{Field: field, Message: m})
		}
		problem.Write(w, http.StatusBadRequest, "the pipeline is invalid; see errors", fes...)
	case errors.As(err, &refused):
		problem.Write(w, http.StatusBadRequest, "the collector refused the pipeline: "+refused.Message)
	default:
		checkUnavailable(w, r, err)
	}
}

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
	var errs []problem.FieldError
	rp, err := a.replayerFor(r, id, func(tx *store.Tx) (err error) {
		if _, errs, err = resolveChoice(r.Context(), tx, "pipeline", &req.Pipeline); err != nil || req.Against == nil {
			return err
		}
		_, more, err := resolveChoice(r.Context(), tx, "against", req.Against)
		errs = append(errs, more...)
		return err
	})
	if len(errs) > 0 {
		problem.Write(w, http.StatusBadRequest, "the preview is invalid; see errors", errs...)
		return
	}
	if err != nil {
		replayerError(w, r, err)
		return
	}
	res, err := rp.result(r.Context(), req.Pipeline, false)
	if err != nil {
		previewError(w, r, "pipeline", err)
		return
	}
	resp := previewResponse{Capture: id, Pipeline: res}
	if req.Against != nil {
		against, err := rp.result(r.Context(), *req.Against, false)
		if err != nil {
			previewError(w, r, "against", err)
			return
		}
		versus := preview.Compare(against.Output, res.Output, rp.data.Seconds, rp.exp.Spec.CriticalProcesses, a.o.Prices)
		resp.Against, resp.Versus = &against, &versus
	}
	writeJSON(w, http.StatusOK, resp)
}
