package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenixotel/phoenix/cmd/phoenix/loadsim"
	"github.com/phoenixotel/phoenix/shared/apiclient"
	"github.com/phoenixotel/phoenix/shared/config"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/password"
	"github.com/phoenixotel/phoenix/shared/store"
)

// demoOptions are the flags of `phoenix demo` (besides those it shares with phoenix dev).
type demoOptions struct {
	duration    time.Duration // how long both variants run
	baseline    string        // baseline template
	candidate   string        // candidate template
	keepRunning bool          // leave the platform running after the verdict
	processes   int           // simulated processes
	profile     string        // load simulator profile
	tenant      string        // demo tenant name
	email       string        // demo user
	interval    time.Duration // how often both collectors scrape
	aa          bool          // run the baseline against itself (A/A)
	maxDuration time.Duration // how long the run may be extended while the analysis needs more data
}

func demoCmd() *cobra.Command {
	var (
		o   demoOptions
		dev devOptions
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a complete experiment on this machine, live, from start to verdict",
		Long: "Starts the platform (as phoenix dev), creates a demo tenant and user, starts the load simulator,\n" +
			"then creates and starts an experiment — baseline vs candidate collectors, both really running\n" +
			"over this host's processes — and follows it live: state changes, KPI windows of both variants,\n" +
			"each metric's change with its interval narrowing window by window, progress, and the verdict\n" +
			"table at the end. A clear answer may end the run early; an unclear one extends it up to\n" +
			"--max-duration. --aa runs the baseline against itself: it must end without a promotion.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			return runDemo(cmd.Context(), cfg, dev, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.duration, "duration", 6*time.Minute, "how long both variants run side by side (at least 1m)")
	f.DurationVar(&o.maxDuration, "max-duration", 0, "how long the run may be extended while the analysis needs more data (default: twice --duration)")
	f.BoolVar(&o.aa, "aa", false, "an A/A run: the baseline's pipeline on both sides (it must not be promoted)")
	f.StringVar(&o.baseline, "baseline", "process-baseline", "baseline pipeline template")
	f.StringVar(&o.candidate, "candidate", "process-topk", "candidate pipeline template (process-priority-filter, process-topk, …)")
	f.BoolVar(&o.keepRunning, "keep-running", true, "leave the platform and the load simulator running after the verdict, until Ctrl-C")
	f.IntVar(&o.processes, "processes", 30, "simulated processes")
	f.StringVar(&o.profile, "profile", loadsim.Realistic, "load simulator profile")
	f.StringVar(&o.tenant, "tenant", "demo", "demo tenant name")
	f.StringVar(&o.email, "email", "demo@phoenix.local", "demo user")
	f.DurationVar(&o.interval, "interval", 5*time.Second,
		"how often both collectors scrape; keep PHOENIX_KPI_WINDOW (default 15s) a multiple of it, so every window holds the same number of scrapes")
	addDevFlags(cmd, &dev)
	return cmd
}

// runDemo runs the platform, the simulator and one experiment; see demoCmd.
func runDemo(ctx context.Context, cfg config.Config, dev devOptions, o demoOptions, out, logs io.Writer) error {
	if o.duration < time.Minute {
		return inputError{errors.New("--duration must be at least 1m")}
	}
	if _, err := os.Stat(dev.collector); err != nil {
		return fmt.Errorf("the collector binary %s is missing: build it with `make collector` (about 5 minutes the first time)", dev.collector)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The platform's own logs go to a file: the terminal is for the experiment.
	logPath := filepath.Join(".phoenix", "demo.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		return err
	}
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600) // #nosec G304 -- a fixed path under .phoenix
	if err != nil {
		return err
	}
	defer logFile.Close()
	urls := make(chan map[string]string, 1)
	dev.ready = func(u map[string]string) { urls <- u }
	platform := make(chan error, 1)
	go func() { platform <- runDev(ctx, cfg, dev, logFile, logFile) }()
	var u map[string]string
	select {
	case u = <-urls:
	case err := <-platform:
		return fmt.Errorf("the platform did not start (logs: %s): %w", logPath, err)
	}
	fmt.Fprintf(out, "platform up: API %s, WebSocket %s/ws (logs: %s)\n", u["api"], u["gateway"], logPath)

	pw, err := demoUser(ctx, cfg, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "demo login: tenant %q, email %q, password %q\n", o.tenant, o.email, pw)
	fmt.Fprintf(out, "console: %s/console/ (sign in with the demo login to watch the experiment live, to its verdict)\n", u["api"])

	sim := make(chan error, 1)
	simCtx, stopSim := context.WithCancel(ctx)
	defer func() { stopSim(); <-sim }()
	go func() {
		sim <- runLoadsim(simCtx, loadsimOptions{profile: o.profile, processes: o.processes, quiet: true}, out)
	}()

	creds, err := login(ctx, u["api"], o.tenant, o.email, pw)
	if err != nil {
		return err
	}
	creds.Gateway = u["gateway"]
	if err := creds.save(); err != nil {
		return err
	}
	c := newClient(creds, true)
	scrape := map[string]any{"collection_interval": o.interval.String()}
	maxDuration := o.maxDuration
	if maxDuration <= 0 {
		maxDuration = 2 * o.duration
	}
	req := apiclient.NewExperiment{
		Name:            fmt.Sprintf("demo %s vs %s", o.baseline, o.candidate),
		Description:     "phoenix demo: a real experiment over this host's processes",
		Baseline:        store.PipelineChoice{Template: o.baseline, Parameters: scrape},
		Candidate:       store.PipelineChoice{Template: o.candidate, Parameters: scrape},
		DurationSeconds: int(o.duration / time.Second),
		Spec: specJSON(experiment.Spec{CriticalProcesses: loadsim.CriticalNames(),
			Analysis: &experiment.AnalysisSettings{MaxDurationSeconds: int(max(maxDuration, o.duration) / time.Second)}}),
	}
	if o.aa {
		req.Name, req.Candidate, req.AA = fmt.Sprintf("demo A/A %s", o.baseline), store.PipelineChoice{}, true
	}
	var e store.Experiment
	err = c.call(ctx, http.MethodPost, "/v1/experiments", req, &e)
	if err != nil {
		return fmt.Errorf("create the experiment: %w", err)
	}
	if _, err := c.api.Act(ctx, e.ID.String(), "start", "phoenix demo"); err != nil {
		return fmt.Errorf("start the experiment: %w", err)
	}
	final, err := follow(ctx, c, e.ID.String(), out)
	if !o.keepRunning {
		stopSim()
	}
	if err != nil {
		return err
	}
	var result error
	if final.State != "completed" {
		result = fmt.Errorf("the experiment ended %s: %s", final.State, deref(final.FailureReason))
	}
	if !o.keepRunning {
		return result
	}
	fmt.Fprintf(out, "\nPhoenix keeps running for you to explore (you are logged in as %s; try `phoenix experiment list`):\n"+
		"  Console    %s/console/ (sign in as %s of tenant %s with the password above)\n"+
		"  API        %s (e.g. GET /v1/experiments/%s/analysis)\n  WebSocket  %s/ws\n"+
		"The load simulator keeps running, so this host stays the demo host: capture, recommend, preview and confirm\n"+
		"(README, \"Your own pipelines\"). Press Ctrl-C to stop.\n",
		o.email, u["api"], o.email, o.tenant, u["api"], e.ID, u["gateway"])
	select {
	case <-ctx.Done():
	case err := <-platform:
		return err
	}
	cancel()
	return <-platform
}

// demoUser makes sure the demo tenant and an admin user exist, with a fresh password each run.
func demoUser(ctx context.Context, cfg config.Config, o demoOptions) (string, error) {
	raw := make([]byte, 12)
	_, _ = rand.Read(raw)
	pw := base64.RawURLEncoding.EncodeToString(raw)
	hash, err := password.Hash(pw, password.Default())
	if err != nil {
		return "", err
	}
	st, err := store.Open(cfg.DatabaseURL, store.Options{MaxConns: 2})
	if err != nil {
		return "", err
	}
	defer st.Close()
	var t store.Tenant
	err = st.Platform(ctx, func(tx *store.PlatformTx) (err error) {
		t, err = tx.TenantByName(ctx, o.tenant)
		if errors.Is(err, store.ErrNotFound) {
			t, err = tx.CreateTenant(ctx, o.tenant)
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("demo tenant: %w", err)
	}
	err = st.WithTenant(ctx, t.ID, func(tx *store.Tx) error {
		u, err := tx.UserByEmail(ctx, o.email)
		if errors.Is(err, store.ErrNotFound) {
			_, err = tx.CreateUser(ctx, o.email, "admin", hash)
			return err
		}
		if err != nil {
			return err
		}
		_, err = tx.SetPassword(ctx, u.ID, hash)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("demo user: %w", err)
	}
	return pw, nil
}
