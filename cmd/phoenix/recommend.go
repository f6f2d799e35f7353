package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/phoenixotel/phoenix/shared/apiclient"
	"github.com/phoenixotel/phoenix/shared/recommend"
	"github.com/phoenixotel/phoenix/shared/store"
)

func recommendCmd() *cobra.Command {
	var (
		capture           string
		rules, dashboards []string
	)
	cmd := &cobra.Command{
		Use:   "recommend --capture ID [--rules FILE ...] [--dashboard FILE ...]",
		Short: "Propose cheaper pipelines for what a baseline really sends, ranked by predicted saving, each previewed with the real collector",
		Long: "Candidates come from the capture's cardinality (which processes and metrics cost the most). Each is previewed on\n" +
			"the capture with the real collector; one that loses a critical process, or a series a Prometheus rule file or\n" +
			"Grafana dashboard given here queries, is left out with the reason. Start the experiment that confirms one with\n" +
			"phoenix experiment create --from-recommendation ID.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var req apiclient.Recommend
			for _, f := range rules {
				b, err := readSmallFile(f)
				if err != nil {
					return err
				}
				req.Rules = append(req.Rules, string(b))
			}
			for _, f := range dashboards {
				b, err := readSmallFile(f)
				if err != nil {
					return err
				}
				req.Dashboards = append(req.Dashboards, string(b))
			}
			c, err := session()
			if err != nil {
				return err
			}
			var res struct {
				Items       []store.Recommendation `json:"items"`
				Rejected    []recommend.Rejection  `json:"rejected"`
				Usage       recommend.Usage        `json:"usage"`
				Cardinality recommend.Cardinality  `json:"cardinality"`
			}
			if err := c.call(cmd.Context(), http.MethodPost, "/v1/captures/"+capture+"/recommendations", req, &res); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			printCardinality(w, res.Cardinality)
			if len(req.Rules)+len(req.Dashboards) > 0 {
				fmt.Fprintf(w, "your rules and dashboards query %d metrics: nothing recommended drops a series of them\n\n", len(res.Usage.Metrics))
			}
			if len(res.Items) == 0 {
				fmt.Fprintln(w, "nothing to recommend: every candidate loses something it must keep (below)")
			}
			for _, r := range res.Items {
				fmt.Fprintf(w, "%d. %s\n   %s\n   phoenix experiment create --from-recommendation %s\n\n", r.Rank, r.Name, r.Explanation, r.ID)
			}
			for _, r := range res.Rejected {
				fmt.Fprintf(w, "not recommended: %s — %s\n", r.Name, r.Reason)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&capture, "capture", "", "the capture to recommend for (phoenix capture list)")
	cmd.Flags().StringArrayVar(&rules, "rules", nil, "a Prometheus rule file whose queries must keep their series (repeatable)")
	cmd.Flags().StringArrayVar(&dashboards, "dashboard", nil, "a Grafana dashboard (JSON) whose queries must keep their series (repeatable)")
	_ = cmd.MarkFlagRequired("capture")
	return cmd
}

// readSmallFile reads an operator's file of at most maxDefinitionFile bytes.
func readSmallFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, inputError{err}
	}
	if st.Size() > maxDefinitionFile {
		return nil, inputError{fmt.Errorf("%s: larger than %d KiB", path, maxDefinitionFile>>10)}
	}
	b, err := os.ReadFile(path) // #nosec G304 -- the operator's own file
	if err != nil {
		return nil, inputError{err}
	}
	return b, nil
}

// printCardinality prints what costs the most in a capture, five of each.
func printCardinality(w io.Writer, c recommend.Cardinality) {
	line := func(what string, counts []recommend.Count, unit func(recommend.Count) string) {
		if len(counts) == 0 {
			return
		}
		var parts []string
		for _, n := range counts[:min(5, len(counts))] {
			parts = append(parts, n.Name+" "+unit(n))
		}
		fmt.Fprintf(w, "  %-11s %s\n", what+":", strings.Join(parts, ", "))
	}
	share := func(n recommend.Count) string {
		return fmt.Sprintf("%d (%.0f%%)", n.Count, 100*float64(n.Count)/float64(max(1, c.Series)))
	}
	fmt.Fprintf(w, "what costs the most in this capture (%d series):\n", c.Series)
	line("metrics", c.Metrics, share)
	line("processes", c.Processes, share)
	line("attributes", c.Attributes, func(n recommend.Count) string { return fmt.Sprintf("%d values", n.Count) })
	fmt.Fprintln(w)
}
