package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenixotel/phoenix/cmd/phoenix/simulation"
	"github.com/phoenixotel/phoenix/shared/analysis"
)

func simulateCmd() *cobra.Command {
	var (
		runs   int
		only   string
		format string
	)
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Measure the decision procedure's false-promotion rate and power by seeded simulation",
		Long: "Runs the simulation battery of cmd/phoenix/simulation: A/A runs over autocorrelated windows\n" +
			"(lag-1 0 to 0.9, 12 to 240 windows, fixed horizon, live looks with early stopping, the continue loop,\n" +
			"lost windows), the power to promote a real saving, and the safety rules (a lost critical process,\n" +
			"unequal inputs). Each scenario's seed is fixed, so the figures repeat. Prints one row per scenario\n" +
			"with every verdict's rate and its Monte Carlo standard error, and whether the scenario's claim holds;\n" +
			"exits with status 1 when one does not.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runs < 100 || runs > 1_000_000 {
				return inputError{fmt.Errorf("--runs must be between 100 and 1000000, got %d", runs)}
			}
			if format != "text" && format != "json" {
				return inputError{fmt.Errorf("--format must be text or json, got %q", format)}
			}
			var cases []simulation.Case
			for _, c := range simulation.Battery(runs) {
				if strings.Contains(c.Name, only) {
					cases = append(cases, c)
				}
			}
			if len(cases) == 0 {
				return inputError{fmt.Errorf("no scenario's name contains %q", only)}
			}
			results, err := simulateAll(cases, runtime.GOMAXPROCS(0))
			if err != nil {
				return err
			}
			return writeSimulation(cmd.OutOrStdout(), format, cases, results)
		},
	}
	f := cmd.Flags()
	f.IntVar(&runs, "runs", 2000, "runs per scenario")
	f.StringVar(&only, "only", "", "only the scenarios whose name contains this")
	f.StringVar(&format, "format", "text", "text or json")
	return cmd
}

// simulateAll runs the cases on workers goroutines, sharing one cache of critical values.
func simulateAll(cases []simulation.Case, workers int) ([]simulation.Result, error) {
	cache := analysis.NewCache()
	results := make([]simulation.Result, len(cases))
	errs := make([]error, len(cases))
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, workers) {
		wg.Go(func() {
			for i := range next {
				results[i], errs[i] = simulation.Run(cases[i].Scenario, cache)
			}
		})
	}
	for i := range cases {
		next <- i
	}
	close(next)
	wg.Wait()
	return results, errors.Join(errs...)
}

// simulationRow is one scenario's figures in --format json.
type simulationRow struct {
	Scenario     string  `json:"scenario"`
	Claim        string  `json:"claim"`
	Holds        bool    `json:"holds"`
	Problem      string  `json:"problem,omitempty"`
	Runs         int     `json:"runs"`
	Promoted     float64 `json:"promoted"`
	PromotedSE   float64 `json:"promoted_se"`
	Rejected     float64 `json:"rejected"`
	Futile       float64 `json:"rejected_better_nowhere"`
	Inconclusive float64 `json:"inconclusive"`
	Invalid      float64 `json:"invalid"`
	Early        float64 `json:"early"`
	Windows      float64 `json:"mean_windows"`
	Seconds      float64 `json:"seconds"`
}

// writeSimulation prints the results and fails when a claim does not hold.
func writeSimulation(w io.Writer, format string, cases []simulation.Case, results []simulation.Result) error {
	rows := make([]simulationRow, len(cases))
	failed := 0
	for i, c := range cases {
		r := results[i]
		p, se := r.Rate(r.Promoted)
		rej, _ := r.Rate(r.Rejected)
		futile, _ := r.Rate(r.Futile)
		inc, _ := r.Rate(r.Inconclusive)
		inv, _ := r.Rate(r.Invalid)
		early, _ := r.Rate(r.Early)
		problem := c.Check(r)
		if problem != "" {
			failed++
		}
		rows[i] = simulationRow{Scenario: c.Name, Claim: string(c.Claim), Holds: problem == "", Problem: problem, Runs: c.Runs,
			Promoted: p, PromotedSE: se, Rejected: rej, Futile: futile, Inconclusive: inc, Invalid: inv, Early: early, Windows: r.Windows,
			Seconds: r.Elapsed.Round(time.Millisecond).Seconds()}
	}
	if format == "json" {
		if err := json.NewEncoder(w).Encode(rows); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SCENARIO\tRUNS\tPROMOTED\tREJECTED (BETTER NOWHERE)\tINCONCLUSIVE\tINVALID\tEARLY\tWINDOWS\tCLAIM\t")
		for _, r := range rows {
			claim := r.Claim + ": holds"
			if !r.Holds {
				claim = r.Claim + ": FAILS — " + r.Problem
			}
			if r.Claim == string(simulation.Measured) {
				claim = "measured"
			}
			fmt.Fprintf(tw, "%s\t%d\t%.2f%% ± %.2f\t%.1f%% (%.1f%%)\t%.1f%%\t%.1f%%\t%.1f%%\t%.1f\t%s\t\n", r.Scenario, r.Runs, 100*r.Promoted, 100*r.PromotedSE,
				100*r.Rejected, 100*r.Futile, 100*r.Inconclusive, 100*r.Invalid, 100*r.Early, r.Windows, claim)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d scenarios break their claim", failed, len(cases))
	}
	return nil
}
