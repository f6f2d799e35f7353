package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/phoenixotel/phoenix/shared/apiclient"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
)

// captureRun is what `phoenix capture` on its own runs.
type captureRun struct {
	baseline store.PipelineChoice // the pipeline whose output to capture
	critical []string             // critical process patterns: previews report their coverage
	duration time.Duration        // how long to capture
	name     string
}

// run captures a pipeline's output with no experiment of the tenant's running: it runs the
// pipeline as a short A/A experiment (both variants the same pipeline, so its report is a
// calibration too), captures the baseline once its collectors run, and stops the experiment when
// the capture is complete — or when anything fails or the user interrupts, so that no collector
// is left running. The capture outlives the run.
func (o captureRun) run(ctx context.Context, c *client, progress io.Writer) (captureView, error) {
	var v captureView
	pipeline := firstNonEmpty(o.baseline.Pipeline, o.baseline.Template)
	req := apiclient.NewExperiment{
		Name:        "capture run: " + pipeline,
		Description: "phoenix capture: a short run of the pipeline whose output is captured",
		Baseline:    o.baseline, AA: true,
		// The capture starts once the collectors run; a minute's margin covers the deployment.
		DurationSeconds: int((o.duration + time.Minute) / time.Second),
	}
	if len(o.critical) > 0 {
		req.Spec = specJSON(experiment.Spec{CriticalProcesses: o.critical})
	}
	var e store.Experiment
	if err := c.call(ctx, http.MethodPost, "/v1/experiments", req, &e); err != nil {
		return v, fmt.Errorf("create the capture run: %w", err)
	}
	id := e.ID.String()
	if _, err := c.api.Act(ctx, id, "start", "phoenix capture"); err != nil {
		return v, fmt.Errorf("start the capture run %s: %w", id, err)
	}
	defer func() {
		// Stopped whatever happened, even when ctx is over (an interrupt).
		stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, err := c.api.Act(stop, id, "stop", "phoenix capture: complete"); err != nil {
			fmt.Fprintf(progress, "stopping the capture run %s failed: %v (phoenix experiment stop %s)\n", id, err, id)
		}
	}()
	fmt.Fprintf(progress, "capture run %s: deploying %s\n", id, pipeline)
	if err := awaitRunning(ctx, c, id, 3*time.Minute); err != nil {
		return v, err
	}
	if err := c.call(ctx, http.MethodPost, "/v1/experiments/"+id+"/captures",
		apiclient.NewCapture{Name: o.name, DurationSeconds: int(o.duration / time.Second)}, &v); err != nil {
		return v, fmt.Errorf("capture the run's baseline: %w", err)
	}
	fmt.Fprintf(progress, "capturing %s until %s\n", v.ID, v.EndsAt.Local().Format("15:04:05"))
	tick := time.NewTicker(2 * time.Second) // polling the capture's state: it completes by the clock
	defer tick.Stop()
	for v.State != "complete" {
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-tick.C:
		}
		if err := c.call(ctx, http.MethodGet, "/v1/captures/"+v.ID, nil, &v); err != nil {
			return v, err
		}
		fmt.Fprintf(progress, "  %d requests, %d datapoints\n", v.Requests, v.Datapoints)
	}
	if v.Requests == 0 {
		return v, fmt.Errorf("the capture %s holds nothing: the run's collectors delivered no output (phoenix experiment get %s)", v.ID, id)
	}
	return v, nil
}

// awaitRunning waits until experiment id runs; a failed or ended one is an error.
func awaitRunning(ctx context.Context, c *client, id string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	tick := time.NewTicker(time.Second) // polling the experiment's state while it deploys
	defer tick.Stop()
	for {
		var e store.Experiment
		if err := c.call(ctx, http.MethodGet, "/v1/experiments/"+id, nil, &e); err != nil {
			return err
		}
		switch {
		case e.State == experiment.Running:
			return nil
		case e.State.Terminal() || e.State == experiment.Analyzing:
			return fmt.Errorf("the capture run %s ended %s before running: %s", id, e.State, deref(e.FailureReason))
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("the capture run %s was not running within %s (phoenix experiment get %s)", id, within, id)
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}
