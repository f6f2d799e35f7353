package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenixotel/phoenix/shared/apiclient"
)

// captureView is a capture as the API answers it.
type captureView struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Experiment string    `json:"experiment_id"`
	State      string    `json:"state"`
	EndsAt     time.Time `json:"ends_at"`
	Requests   int       `json:"requests"`
	Datapoints int64     `json:"datapoints"`
	Bytes      int64     `json:"bytes"`
	Dropped    int       `json:"dropped"`
	ExpiresAt  time.Time `json:"expires_at"`
}

func captureCmd() *cobra.Command {
	var (
		run    captureRun
		params []string
		saved  string
	)
	cmd := &cobra.Command{
		Use:   "capture [--duration 2m] [--template T --param NAME=VALUE | --pipeline NAME] [--critical P]",
		Short: "Captures: samples of what a baseline really sends (docs/pipelines.md); on its own, a capture run",
		Long: "On its own, a capture run: the pipeline (--template with --param, or your own --pipeline) runs as a\n" +
			"short A/A experiment on this host's collectors, its output is captured for --duration, the run is\n" +
			"stopped once the capture is complete (or on any failure or Ctrl-C), and the capture's id printed.\n" +
			"`phoenix capture create --experiment ID` captures a running experiment's baseline instead.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := session()
			if err != nil {
				return err
			}
			if run.baseline.Parameters, err = parseParams(params); err != nil {
				return inputError{err}
			}
			if saved != "" {
				if run.baseline, err = savedChoice(saved, run.baseline.Parameters); err != nil {
					return err
				}
			}
			v, err := run.run(cmd.Context(), c, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), v.ID)
			return nil
		},
	}
	rf := cmd.Flags()
	rf.DurationVar(&run.duration, "duration", 2*time.Minute, "how long to capture (10s-10m)")
	rf.StringVar(&run.name, "name", "", "a name for the capture")
	rf.StringVar(&run.baseline.Template, "template", "process-baseline", "the pipeline template to run (phoenix pipeline templates)")
	rf.StringArrayVar(&params, "param", nil, "a template parameter NAME=VALUE (repeatable)")
	rf.StringVar(&saved, "pipeline", "", "your own pipeline, NAME or NAME@VERSION, instead of --template")
	rf.StringSliceVar(&run.critical, "critical", nil, "critical process names (RE2, matched whole), comma-separated")
	var (
		experimentID string
		req          apiclient.NewCapture
		duration     time.Duration
	)
	create := &cobra.Command{
		Use:   "create --experiment ID [--duration 2m] [--name NAME]",
		Short: "Keep a running experiment's baseline output for a while, and print the capture's id",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := session()
			if err != nil {
				return err
			}
			req.DurationSeconds = int(duration / time.Second)
			var v captureView
			if err := c.call(cmd.Context(), http.MethodPost, "/v1/experiments/"+experimentID+"/captures", req, &v); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), v.ID)
			fmt.Fprintf(cmd.ErrOrStderr(), "capturing the baseline of %s until %s\n", v.Experiment, v.EndsAt.Local().Format("15:04:05"))
			return nil
		},
	}
	f := create.Flags()
	f.StringVar(&experimentID, "experiment", "", "the running experiment whose baseline to capture")
	f.DurationVar(&duration, "duration", 2*time.Minute, "how long to capture (10s-10m)")
	f.StringVar(&req.Name, "name", "", "a name (default: baseline of <experiment>)")
	_ = create.MarkFlagRequired("experiment")

	list := &cobra.Command{
		Use:   "list",
		Short: "List your tenant's captures",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := session()
			if err != nil {
				return err
			}
			var page struct {
				Items []captureView `json:"items"`
			}
			if err := c.call(cmd.Context(), http.MethodGet, "/v1/captures", nil, &page); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSTATE\tREQUESTS\tDATAPOINTS\tBYTES\tDROPPED\tEXPIRES")
			for _, v := range page.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", v.ID, v.Name, v.State, v.Requests, v.Datapoints, v.Bytes, v.Dropped,
					v.ExpiresAt.Local().Format("2006-01-02 15:04"))
			}
			return tw.Flush()
		},
	}
	get := &cobra.Command{
		Use:   "get ID",
		Short: "Show one capture as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := session()
			if err != nil {
				return err
			}
			var v json.RawMessage
			if err := c.call(cmd.Context(), http.MethodGet, "/v1/captures/"+args[0], nil, &v); err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), v)
		},
	}
	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a capture and its data",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := session()
			if err != nil {
				return err
			}
			if err := c.call(cmd.Context(), http.MethodDelete, "/v1/captures/"+args[0], nil, nil); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "deleted", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, get, del)
	return cmd
}
