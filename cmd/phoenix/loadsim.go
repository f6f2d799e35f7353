package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenixotel/phoenix/cmd/phoenix/loadsim"
)

// loadsimOptions are the flags of `phoenix loadsim`.
type loadsimOptions struct {
	profile   string // realistic, high-cardinality or process-churn
	processes int    // how many simulated processes; 0 = the profile's default
	seed      uint64 // plan seed; 0 = from the clock
	quiet     bool   // print only the plan, not every start and churn
}

// defaultProcesses per profile: enough to matter to a pipeline, light enough for a laptop.
var defaultProcesses = map[string]int{loadsim.Realistic: 30, loadsim.HighCardinality: 300, loadsim.ProcessChurn: 40}

func loadsimCmd() *cobra.Command {
	var o loadsimOptions
	cmd := &cobra.Command{
		Use:   "loadsim",
		Short: "Run real processes with varied names and CPU/memory patterns, so this host looks like a real one",
		Long: "Starts simulated processes (web servers, databases, browser tabs, batch jobs …), each a real\n" +
			"process under its own executable name, with steady, spiky or growing CPU and memory, and\n" +
			"churn. The critical processes (" + strings.Join(loadsim.CriticalNames(), ", ") + ") never churn.\n" +
			"Runs until Ctrl-C; every child is stopped on exit, and dies with this process if it is killed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLoadsim(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.profile, "profile", loadsim.Realistic, "profile: "+strings.Join(loadsim.Profiles(), ", "))
	f.IntVar(&o.processes, "processes", 0, "number of simulated processes (default: 30 realistic, 300 high-cardinality, 40 process-churn)")
	f.Uint64Var(&o.seed, "seed", 0, "seed of the plan, for a reproducible host (default: from the clock)")
	f.BoolVar(&o.quiet, "quiet", false, "print the plan only, not every start and churn")
	cmd.AddCommand(loadsimWorkerCmd())
	return cmd
}

// loadsimWorkerCmd is what each simulated process runs (through a link carrying its name).
func loadsimWorkerCmd() *cobra.Command {
	var p loadsim.Process
	var pattern string
	cmd := &cobra.Command{
		Use:    "worker",
		Short:  "Behave as one simulated process (started by phoenix loadsim)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p.Pattern = loadsim.Pattern(pattern)
			return loadsim.Work(cmd.Context(), p)
		},
	}
	f := cmd.Flags()
	f.StringVar(&pattern, "pattern", string(loadsim.Steady), "steady, spiky or growing")
	f.Float64Var(&p.CPU, "cpu", 0.01, "average share of one core")
	f.IntVar(&p.MemMiB, "mem-mib", 8, "resident memory in MiB (growing: the ceiling)")
	f.Uint64Var(&p.Seed, "seed", 1, "seed of its randomness")
	return cmd
}

// runLoadsim runs the simulator until ctx ends.
func runLoadsim(ctx context.Context, o loadsimOptions, out io.Writer) error {
	n := o.processes
	if n == 0 {
		n = defaultProcesses[o.profile]
	}
	if n < 0 {
		return inputError{fmt.Errorf("--processes must be positive")}
	}
	seed := o.seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	plan, err := loadsim.Plan(o.profile, n, seed)
	if err != nil {
		return inputError{err}
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program: %w", err)
	}
	names := map[string]int{}
	for _, p := range plan {
		names[p.Name]++
	}
	fmt.Fprintf(out, "loadsim: profile %s, %d processes, %d distinct names, seed %d; critical: %s\n",
		o.profile, len(plan), len(names), seed, strings.Join(loadsim.CriticalNames(), ", "))
	var mu sync.Mutex // one line at a time
	s := &loadsim.Supervisor{Exe: exe, Args: []string{"loadsim", "worker"}, Report: func(c loadsim.Change) {
		if o.quiet && c.Kind != "exited" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		line := fmt.Sprintf("loadsim: %-8s %-15s pid %d", c.Kind, c.Name, c.PID)
		if c.Critical {
			line += " (critical)"
		}
		if c.Err != nil {
			line += ": " + c.Err.Error()
		}
		fmt.Fprintln(out, line)
	}}
	err = s.Run(ctx, plan)
	fmt.Fprintln(out, "loadsim: every simulated process stopped")
	return err
}
