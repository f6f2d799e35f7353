package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/phoenixotel/phoenix/shared/pipeline"
)

func pipelineCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "pipeline", Short: "Your own pipelines (create, list, get, validate) and the built-in templates (templates, render, check)"}
	cmd.AddCommand(tenantPipelineCmds()...)
	cmd.AddCommand(previewCmd())
	cmd.AddCommand(&cobra.Command{
		Use:   "templates",
		Short: "List the built-in templates with their parameters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			for _, t := range pipeline.Templates() {
				fmt.Fprintf(tw, "%s\t%s\n", t.Name, t.Description)
				for _, p := range t.Params {
					bounds := ""
					if p.Min != "" {
						bounds = fmt.Sprintf(" [%s, %s]", p.Min, p.Max)
					}
					req := ""
					if p.Required {
						req = " (required)"
					}
					fmt.Fprintf(tw, "  --set %s=\t%s%s, default %q%s: %s\n", p.Name, p.Type, bounds, p.Default, req, p.Description)
				}
			}
			return tw.Flush()
		},
	})
	var r struct {
		template, variant, experiment, target, ingest string
		set                                           []string
	}
	render := &cobra.Command{
		Use:   "render --template NAME --variant baseline|candidate --experiment ID [--set key=value ...]",
		Short: "Print the collector configuration a template renders to",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, err := uuid.Parse(r.experiment)
			if err != nil {
				return fmt.Errorf("--experiment %q is not an experiment id (a UUID)", r.experiment)
			}
			params := map[string]string{}
			for _, kv := range r.set {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return fmt.Errorf("--set %q: want key=value", kv)
				}
				params[k] = v
			}
			cfg, err := pipeline.Render(pipeline.Request{Template: r.template, Params: params, ExperimentID: id,
				Variant: r.variant, Target: pipeline.Target(r.target), Output: pipeline.Output{Endpoint: r.ingest, Headers: pipeline.IngestHeaders()}})
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(cfg)
			return err
		},
	}
	f := render.Flags()
	f.StringVar(&r.template, "template", "", "template name (phoenix pipeline templates)")
	f.StringVar(&r.variant, "variant", "candidate", "baseline or candidate")
	f.StringVar(&r.experiment, "experiment", "", "experiment id")
	f.StringVar(&r.target, "target", "local", "local (a process on this machine) or kubernetes (a DaemonSet with /hostfs)")
	f.StringVar(&r.ingest, "ingest", "http://127.0.0.1:8086", "where the collector sends its output (OTLP/HTTP)")
	f.StringArrayVar(&r.set, "set", nil, "a parameter, key=value (lists comma-separated); repeatable")
	_ = render.MarkFlagRequired("template")
	_ = render.MarkFlagRequired("experiment")
	cmd.AddCommand(render, &cobra.Command{
		Use:   "check FILE",
		Short: "Check a whole collector configuration as the generator does, then with the collector's own validation (locally)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			problems := pipeline.Check(cfg)
			sort.Strings(problems)
			for _, p := range problems {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", args[0], p)
			}
			bin := collector()
			if bin == "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "phoenix-collector not found (make collector, or set PHOENIX_COLLECTOR): the collector's own validation was skipped")
			} else if out, err := exec.Command(bin, "validate", "--config", args[0]).CombinedOutput(); err != nil { // #nosec G204 -- the operator's collector on the operator's file
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: the collector refuses it:\n%s", args[0], out)
				problems = append(problems, "collector validation")
			}
			if len(problems) > 0 {
				return errors.New("the configuration is not valid")
			}
			fmt.Fprintln(cmd.OutOrStdout(), "valid")
			return nil
		},
	})
	return cmd
}

// collector finds the Phoenix collector: $PHOENIX_COLLECTOR, next to this binary, or on PATH.
func collector() string { return sibling("", "PHOENIX_COLLECTOR", "phoenix-collector") }

// sibling finds a binary: path when set, else $env, else name next to this executable (make
// builds them all into bin/), else name on PATH; "" when there is none.
func sibling(path, env, name string) string {
	if path != "" {
		return path
	}
	if b := os.Getenv(env); b != "" {
		return b
	}
	if self, err := os.Executable(); err == nil {
		if b := filepath.Join(filepath.Dir(self), name); fileExists(b) {
			return b
		}
	}
	if b, err := exec.LookPath(name); err == nil {
		return b
	}
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
