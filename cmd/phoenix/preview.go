package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/phoenixotel/phoenix/shared/apiclient"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/preview"
	"github.com/phoenixotel/phoenix/shared/store"
)

// savedChoice is a saved pipeline named NAME or NAME@VERSION, with params.
func savedChoice(ref string, params map[string]any) (store.PipelineChoice, error) {
	name, v, _ := strings.Cut(ref, "@")
	version, err := strconv.Atoi(cmp.Or(v, "0"))
	if name == "" || err != nil || version < 0 {
		return store.PipelineChoice{}, inputError{fmt.Errorf("%q: want NAME or NAME@VERSION", ref)}
	}
	return store.PipelineChoice{Pipeline: name, Version: version, Parameters: params}, nil
}

// anyChoice is a template by its name, else a saved pipeline (NAME or NAME@VERSION).
func anyChoice(ref string, params map[string]any) (store.PipelineChoice, error) {
	if _, ok := pipeline.Lookup(ref); ok && ref != pipeline.CustomTemplate {
		return store.PipelineChoice{Template: ref, Parameters: params}, nil
	}
	return savedChoice(ref, params)
}

func previewCmd() *cobra.Command {
	var (
		capture, ref, against string
		params                []string
	)
	cmd := &cobra.Command{
		Use:   "preview --capture ID --pipeline P [--against Q] [--param NAME=VALUE ...]",
		Short: "What a pipeline (a template, or one of yours: NAME[@VERSION]) would make of a capture: predicted series, rates, cost, and what it drops",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := parseParams(params)
			if err != nil {
				return inputError{err}
			}
			var req apiclient.Preview
			if req.Pipeline, err = anyChoice(ref, p); err != nil {
				return err
			}
			if against != "" {
				other, err := anyChoice(against, nil)
				if err != nil {
					return err
				}
				req.Against = &other
			}
			c, err := session()
			if err != nil {
				return err
			}
			var res struct {
				Pipeline preview.Result  `json:"pipeline"`
				Against  *preview.Result `json:"against"`
				Versus   *preview.Result `json:"versus"`
			}
			if err := c.call(cmd.Context(), http.MethodPost, "/v1/captures/"+capture+"/preview", req, &res); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s over %.0f s of the capture:\n", ref, res.Pipeline.Seconds)
			printPreview(w, res.Pipeline, "captured", "predicted")
			if res.Against != nil {
				fmt.Fprintf(w, "\n%s over the same capture:\n", against)
				printPreview(w, *res.Against, "captured", "predicted")
				fmt.Fprintf(w, "\n%s against %s:\n", ref, against)
				printPreview(w, *res.Versus, against, ref)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&capture, "capture", "", "the capture to replay (phoenix capture list)")
	cmd.Flags().StringVar(&ref, "pipeline", "", "the pipeline: a template (phoenix pipeline templates) or one of yours, NAME[@VERSION]")
	_ = cmd.MarkFlagRequired("pipeline")
	cmd.Flags().StringVar(&against, "against", "", "another pipeline to compare with: a template or NAME[@VERSION]")
	cmd.Flags().StringArrayVar(&params, "param", nil, "a parameter of the pipeline, NAME=VALUE (repeatable)")
	_ = cmd.MarkFlagRequired("capture")
	return cmd
}

// printPreview prints a preview's rates side by side and what it drops.
func printPreview(out io.Writer, r preview.Result, before, after string) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\t%s\t%s\tchange\t\n", before, after)
	row := func(name string, a, b float64, change string) {
		fmt.Fprintf(tw, "%s\t%.4g\t%.4g\t%s\t\n", name, a, b, change)
	}
	pct := func(k string) string {
		c, ok := r.Change[k]
		if !ok {
			return "—"
		}
		if e, ok := r.Error[k]; ok {
			return fmt.Sprintf("%+.1f%% ± %.1f pp", c*100, e*100)
		}
		return fmt.Sprintf("%+.1f%%", c*100)
	}
	if r.Measured.SeriesPerWindow > 0 {
		// As the experiment counts them, and as the change is computed.
		row("series per window", r.Measured.SeriesPerWindow, r.Predicted.SeriesPerWindow, pct("series"))
	} else {
		row("series", float64(r.Measured.Series), float64(r.Predicted.Series), pct("series"))
	}
	row("datapoints/s", r.Measured.DatapointsPerSecond, r.Predicted.DatapointsPerSecond, pct("datapoints_per_second"))
	row("bytes/s", r.Measured.BytesPerSecond, r.Predicted.BytesPerSecond, pct("bytes_per_second"))
	row("cost/hour ($)", r.Measured.CostPerHour, r.Predicted.CostPerHour, pct("cost_per_hour"))
	row("cost/month ($)", r.Measured.CostPerMonth, r.Predicted.CostPerMonth, pct("cost_per_hour"))
	if r.Measured.CriticalCoverage != nil && r.Predicted.CriticalCoverage != nil {
		row("critical coverage", *r.Measured.CriticalCoverage, *r.Predicted.CriticalCoverage, "")
	}
	_ = tw.Flush()
	list := func(what string, items []string) {
		if len(items) > 0 {
			fmt.Fprintf(out, "  drops %d %s: %s\n", len(items), what, strings.Join(items, ", "))
		}
	}
	list("critical processes (!)", r.Dropped.Critical)
	list("processes", r.Dropped.Processes)
	list("metrics", r.Dropped.Metrics)
	list("attribute keys", r.Dropped.Attributes)
	for _, m := range slices.Sorted(maps.Keys(r.Dropped.Reduced)) {
		fmt.Fprintf(out, "  merges or drops %d series of %s\n", r.Dropped.Reduced[m], m)
	}
	for _, e := range r.Dropped.Examples {
		fmt.Fprintf(out, "  e.g. %s\n", e)
	}
	if s := r.Sample; s != nil {
		fmt.Fprintf(out, "  (screened on %d of the capture's %d requests)\n", s.Requests, s.Of)
	}
}
