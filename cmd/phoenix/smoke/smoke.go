package smoke

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Target is the Phoenix under test.
type Target struct {
	API     string       // the API's base URL, e.g. https://phoenix-api.example.com
	Gateway string       // the gateway's base URL (http[s]://host) or WebSocket URL (ws[s]://host/ws)
	Client  *http.Client // HTTP client for the API; nil means one with a 30 s timeout per request
}

// Account is a user who logs in with a password.
type Account struct {
	Tenant   string // the tenant's name, as at login
	Email    string // the user's email
	Password string // the user's password; never reported
}

// set reports whether every field is filled in.
func (a Account) set() bool { return a.Tenant != "" && a.Email != "" && a.Password != "" }

// Credentials are the accounts the scenarios log in as (see the package doc).
type Credentials struct {
	Primary Account // an operator or admin of one tenant: every scenario
	Other   Account // an operator or admin of a second tenant: the tenancy scenario
}

// Options tune the scenarios; the zero value means the defaults.
type Options struct {
	Timeout        time.Duration   // longest wait for one expected change (a transition, a state); 0 means 2m
	ExpectComplete bool            // lifecycle: wait for completed and a stored verdict instead of stopping once running
	Experiment     string          // analysis: the completed experiment to check; empty: the lifecycle's, else the newest completed
	Baseline       string          // lifecycle: the baseline template; empty means process-baseline
	Candidate      string          // lifecycle: the candidate template; empty means process-topk
	Parameters     map[string]any  // lifecycle: template parameters of both variants
	Duration       time.Duration   // lifecycle: the run's duration; 0 means 1m, the API's minimum
	Spec           json.RawMessage // lifecycle: the experiment spec as the API takes it; empty for none
	RunID          string          // names what this run creates (smoke-<scenario>-<RunID>); empty: random
}

// withDefaults fills in the zero values.
func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Baseline == "" {
		o.Baseline = "process-baseline"
	}
	if o.Candidate == "" {
		o.Candidate = "process-topk"
	}
	if o.Duration <= 0 {
		o.Duration = time.Minute
	}
	if o.RunID == "" {
		o.RunID = NewRunID()
	}
	return o
}

// NewRunID returns a short random id for the names of one run's objects.
func NewRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Scenario is one named black-box check.
type Scenario struct {
	Name        string                                                     // auth, tenancy, websocket, lifecycle or analysis
	Description string                                                     // what it proves, in a line
	Run         func(context.Context, Target, Credentials, Options) Result // the check itself
}

// Scenarios lists every scenario in the order a full run takes them: lifecycle before analysis,
// so that analysis can check the experiment lifecycle completed.
func Scenarios() []Scenario {
	return []Scenario{
		{"auth", "login, /me, refresh rotation and reuse detection, logout revocation, client credentials", Auth},
		{"tenancy", "another tenant cannot see, list, command or subscribe to an experiment", Tenancy},
		{"websocket", "transitions stream in order with gap-free seq; a reconnect with since replays what was missed", WebSocket},
		{"lifecycle", "create, start, transitions to running (or to completed with a verdict), stop", Lifecycle},
		{"analysis", "a completed experiment's stored analysis is whole and consistent; none before a run", Analysis},
	}
}

// Select returns the scenarios named in focus (all of them when focus is empty), in run order,
// or an error naming an unknown one.
func Select(focus []string) ([]Scenario, error) {
	all := Scenarios()
	if len(focus) == 0 {
		return all, nil
	}
	want := map[string]bool{}
	for _, f := range focus {
		f = strings.TrimSpace(f)
		known := false
		for _, s := range all {
			known = known || s.Name == f
		}
		if !known {
			return nil, fmt.Errorf("unknown scenario %q: choose from %s", f, strings.Join(Names(), ", "))
		}
		want[f] = true
	}
	var out []Scenario
	for _, s := range all {
		if want[s.Name] {
			out = append(out, s)
		}
	}
	return out, nil
}

// Names lists the scenarios' names in run order.
func Names() []string {
	var out []string
	for _, s := range Scenarios() {
		out = append(out, s.Name)
	}
	return out
}

// Check reports what the selected scenarios need and the target or credentials lack.
func Check(t Target, c Credentials, scenarios []Scenario) error {
	var errs []error
	if t.API == "" {
		errs = append(errs, errors.New("the API's URL is required"))
	}
	if _, err := socketURL(t.Gateway); err != nil {
		errs = append(errs, err)
	}
	if !c.Primary.set() {
		errs = append(errs, errors.New("the primary account needs a tenant, an email and a password"))
	}
	for _, s := range scenarios {
		if s.Name == "tenancy" && !c.Other.set() {
			errs = append(errs, errors.New("the tenancy scenario needs a second account (tenant, email, password) in another tenant"))
		}
	}
	return errors.Join(errs...)
}

// Run runs the scenarios in order and returns their results. When lifecycle leaves a completed
// experiment and no experiment was named, analysis checks that one.
func Run(ctx context.Context, t Target, c Credentials, o Options, scenarios []Scenario) []Result {
	o = o.withDefaults()
	var out []Result
	for _, s := range scenarios {
		opt := o
		if s.Name == "analysis" && opt.Experiment == "" {
			for _, r := range out {
				if r.Completed != "" {
					opt.Experiment = r.Completed
				}
			}
		}
		out = append(out, s.Run(ctx, t, c, opt))
	}
	return out
}
