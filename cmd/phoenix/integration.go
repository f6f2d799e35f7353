package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenixotel/phoenix/cmd/phoenix/smoke"
	"github.com/phoenixotel/phoenix/shared/password"
)

// integrationOptions are the flags of `phoenix test integration`.
type integrationOptions struct {
	focus          []string      // scenarios to run; empty: all
	api            string        // the API's base URL
	gateway        string        // the gateway's base or WebSocket URL
	tenant         string        // the primary account's tenant
	email          string        // the primary account's email
	otherTenant    string        // the second tenant's account (tenancy)
	otherEmail     string        // its email
	passwordStdin  bool          // read the passwords from stdin (primary, then other) instead of the environment
	timeout        time.Duration // longest wait for one expected change
	expectComplete bool          // lifecycle waits for completed and a verdict
	experiment     string        // analysis: the completed experiment to check
	baseline       string        // lifecycle: baseline template
	candidate      string        // lifecycle: candidate template
	duration       time.Duration // lifecycle: run duration
	params         []string      // template parameters of both variants, NAME=VALUE
	critical       []string      // critical process patterns for the spec
	spec           string        // the whole spec as JSON (instead of --critical)
	format         string        // text or json
}

// The environment the credentials may come from: passwords never go on the command line, where
// the process list would show them.
const (
	envSmokeTenant        = "PHOENIX_SMOKE_TENANT"
	envSmokeEmail         = "PHOENIX_SMOKE_EMAIL"
	envSmokePassword      = "PHOENIX_SMOKE_PASSWORD"
	envSmokeOtherTenant   = "PHOENIX_SMOKE_OTHER_TENANT"
	envSmokeOtherEmail    = "PHOENIX_SMOKE_OTHER_EMAIL"
	envSmokeOtherPassword = "PHOENIX_SMOKE_OTHER_PASSWORD"
)

func integrationCmd() *cobra.Command {
	var o integrationOptions
	cmd := &cobra.Command{
		Use:   "integration --api URL --gateway URL [--focus auth|tenancy|websocket|lifecycle|analysis]",
		Short: "Black-box smoke checks against a running Phoenix: auth, tenant isolation, WebSocket delivery, lifecycle, analysis",
		Long: "Runs the scenarios of shared/smoke against a running Phoenix through its API and gateway only, as\n" +
			"after every rollout, prints each scenario's steps, and exits 1 when any step fails.\n\n" +
			"  auth       wrong password and missing tokens refused; login, /me; refresh rotates and a reused\n" +
			"             refresh token ends the session; logout revokes; client credentials (admins)\n" +
			"  tenancy    the other tenant gets 404 for every read and command on an experiment, cannot list or\n" +
			"             subscribe to it, and its live events never carry it (needs the second account)\n" +
			"  websocket  transitions stream in order with gap-free seq; a reconnect with since replays the rest\n" +
			"  lifecycle  create, start, manifests, collectors deployed (running), stop; with --expect-complete\n" +
			"             the run completes with a stored verdict (needs a platform where collectors run)\n" +
			"  analysis   no analysis before a run; a completed experiment's analysis is whole and consistent\n" +
			"             (--experiment, else lifecycle's, else the newest completed)\n\n" +
			"Both accounts need the operator or admin role. Passwords come from $" + envSmokePassword + " and\n" +
			"$" + envSmokeOtherPassword + ", or from stdin with --password-stdin (first line, then second).\n" +
			"Everything created is named smoke-<scenario>-<run id> and stopped (experiments) or disabled\n" +
			"(service accounts) afterwards.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runIntegration(cmd.Context(), o, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.focus, "focus", nil, "scenarios to run (repeatable or comma-separated): "+strings.Join(smoke.Names(), ", ")+" (default all)")
	f.StringVar(&o.api, "api", "", "base URL of the Phoenix API (required)")
	f.StringVar(&o.gateway, "gateway", "", "base URL of the WebSocket gateway, or its ws:// URL (required)")
	f.StringVar(&o.tenant, "tenant", os.Getenv(envSmokeTenant), "tenant of the primary account ($"+envSmokeTenant+")")
	f.StringVar(&o.email, "email", os.Getenv(envSmokeEmail), "email of the primary account ($"+envSmokeEmail+")")
	f.StringVar(&o.otherTenant, "other-tenant", os.Getenv(envSmokeOtherTenant), "another tenant, for tenancy ($"+envSmokeOtherTenant+")")
	f.StringVar(&o.otherEmail, "other-email", os.Getenv(envSmokeOtherEmail), "email of the other tenant's account ($"+envSmokeOtherEmail+")")
	f.BoolVar(&o.passwordStdin, "password-stdin", false, "read the passwords from stdin: the primary account's on the first line, the other's on the second")
	f.DurationVar(&o.timeout, "timeout", 2*time.Minute, "longest wait for one expected change (a transition, a state)")
	f.BoolVar(&o.expectComplete, "expect-complete", false, "lifecycle: let the experiment run its duration and require completed with a stored verdict")
	f.StringVar(&o.experiment, "experiment", "", "analysis: the id of a completed experiment to check")
	f.StringVar(&o.baseline, "baseline", "process-baseline", "lifecycle: baseline template")
	f.StringVar(&o.candidate, "candidate", "process-topk", "lifecycle: candidate template")
	f.DurationVar(&o.duration, "duration", time.Minute, "lifecycle: run duration (at least 1m)")
	f.StringArrayVar(&o.params, "param", nil, "template parameter of both variants NAME=VALUE (repeatable), e.g. collection_interval=5s")
	f.StringSliceVar(&o.critical, "critical", nil, "critical process names (RE2) for the experiment spec")
	f.StringVar(&o.spec, "spec", "", `the experiment spec as JSON, e.g. '{"analysis":{"alpha":0.01}}' (instead of --critical)`)
	f.StringVar(&o.format, "format", "text", "report format: text or json")
	return cmd
}

// plan turns the flags into what shared/smoke runs, or an inputError.
func (o integrationOptions) plan(stdin io.Reader) (smoke.Target, smoke.Credentials, smoke.Options, []smoke.Scenario, error) {
	var (
		t    = smoke.Target{API: o.api, Gateway: o.gateway}
		c    = smoke.Credentials{Primary: smoke.Account{Tenant: o.tenant, Email: o.email}, Other: smoke.Account{Tenant: o.otherTenant, Email: o.otherEmail}}
		opts = smoke.Options{Timeout: o.timeout, ExpectComplete: o.expectComplete, Experiment: o.experiment,
			Baseline: o.baseline, Candidate: o.candidate, Duration: o.duration}
	)
	bad := func(err error) (smoke.Target, smoke.Credentials, smoke.Options, []smoke.Scenario, error) {
		return t, c, opts, nil, inputError{err}
	}
	scenarios, err := smoke.Select(o.focus)
	if err != nil {
		return bad(fmt.Errorf("--focus: %w", err))
	}
	switch {
	case o.format != "text" && o.format != "json":
		return bad(fmt.Errorf("--format must be text or json, got %q", o.format))
	case o.timeout <= 0:
		return bad(fmt.Errorf("--timeout must be positive, got %s", o.timeout))
	case o.duration < time.Minute || o.duration%time.Second != 0:
		return bad(fmt.Errorf("--duration must be whole seconds, at least 1m (the API's minimum), got %s", o.duration))
	case o.spec != "" && len(o.critical) > 0:
		return bad(errors.New("give the spec either as --spec or with --critical, not both"))
	}
	if opts.Parameters, err = parseParams(o.params); err != nil {
		return bad(err)
	}
	switch {
	case o.spec != "":
		if !json.Valid([]byte(o.spec)) {
			return bad(fmt.Errorf("--spec is not valid JSON: %s", o.spec))
		}
		opts.Spec = json.RawMessage(o.spec)
	case len(o.critical) > 0:
		opts.Spec, _ = json.Marshal(map[string]any{"critical_processes": o.critical})
	}
	if o.passwordStdin {
		pws, err := readPasswords(stdin, 2)
		if err != nil {
			return bad(err)
		}
		c.Primary.Password = pws[0]
		if len(pws) > 1 {
			c.Other.Password = pws[1]
		}
	} else {
		c.Primary.Password, c.Other.Password = os.Getenv(envSmokePassword), os.Getenv(envSmokeOtherPassword)
	}
	if err := smoke.Check(t, c, scenarios); err != nil {
		return bad(fmt.Errorf("%w\n(flags --api, --gateway, --tenant, --email, --other-tenant, --other-email; passwords from $%s and $%s or --password-stdin; --focus to run fewer scenarios)",
			err, envSmokePassword, envSmokeOtherPassword))
	}
	return t, c, opts, scenarios, nil
}

// readPasswords takes up to n non-empty lines from r, one password each.
func readPasswords(r io.Reader, n int) ([]string, error) {
	sc := bufio.NewScanner(io.LimitReader(r, int64(n*(password.MaxLength+2))))
	var out []string
	for len(out) < n && sc.Scan() {
		if line := strings.TrimRight(sc.Text(), "\r"); line != "" {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read passwords from standard input: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("--password-stdin: no password on standard input")
	}
	return out, nil
}

// runIntegration runs the selected scenarios and reports; it fails when any step failed.
func runIntegration(ctx context.Context, o integrationOptions, stdin io.Reader, out io.Writer) error {
	t, c, opts, scenarios, err := o.plan(stdin)
	if err != nil {
		return err
	}
	opts.RunID = smoke.NewRunID()
	if o.format == "text" {
		fmt.Fprintf(out, "phoenix test integration: API %s, gateway %s, run %s\n", t.API, t.Gateway, opts.RunID)
	}
	results := smoke.Run(ctx, t, c, opts, scenarios)
	if o.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"run": opts.RunID, "api": t.API, "gateway": t.Gateway, "scenarios": results}); err != nil {
			return err
		}
	} else {
		writeSmokeReport(out, results)
	}
	return smokeVerdict(results)
}

// writeSmokeReport prints every scenario with its steps, and a summary line.
func writeSmokeReport(w io.Writer, results []smoke.Result) {
	for _, r := range results {
		status := "PASS"
		if !r.Passed() {
			status = "FAIL"
		}
		fmt.Fprintf(w, "\n%s %s (%.1f s)\n", status, r.Scenario, r.Seconds)
		for _, s := range r.Steps {
			fmt.Fprintf(w, "  %-4s %s (%.2f s)\n", strings.ToUpper(string(s.Status)), s.Name, s.Seconds)
			if s.Detail != "" {
				fmt.Fprintf(w, "       %s\n", strings.ReplaceAll(s.Detail, "\n", "\n       "))
			}
		}
	}
	passed, skipped := 0, 0
	for _, r := range results {
		if r.Passed() {
			passed++
		}
		for _, s := range r.Steps {
			if s.Status == smoke.Skip {
				skipped++
			}
		}
	}
	fmt.Fprintf(w, "\n%d of %d scenarios passed", passed, len(results))
	if skipped > 0 {
		fmt.Fprintf(w, " (%d step(s) skipped)", skipped)
	}
	fmt.Fprintln(w)
}

// smokeVerdict is nil when every scenario passed, else an error naming the failed steps.
func smokeVerdict(results []smoke.Result) error {
	var failed []string
	for _, r := range results {
		if r.Passed() {
			continue
		}
		if f := r.Failure(); f != nil {
			failed = append(failed, r.Scenario+": "+f.Name)
		} else {
			failed = append(failed, r.Scenario+": no step ran")
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d scenarios failed (%s)", len(failed), len(results), strings.Join(failed, "; "))
	}
	return nil
}
