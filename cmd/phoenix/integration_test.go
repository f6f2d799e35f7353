package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/cmd/phoenix/smoke"
)

// integrationFlags returns valid options for a run against api, with the primary account only.
func integrationFlags(api string) integrationOptions {
	return integrationOptions{api: api, gateway: api, tenant: "acme", email: "ops@acme.example", focus: []string{"auth"},
		timeout: time.Minute, duration: time.Minute, format: "text"}
}

func TestIntegrationPlan_RefusesIncompleteInput(t *testing.T) {
	t.Setenv(envSmokePassword, "a long password")
	t.Setenv(envSmokeOtherPassword, "")
	for _, tc := range []struct {
		name string
		edit func(*integrationOptions)
		want string
	}{
		{"unknown scenario", func(o *integrationOptions) { o.focus = []string{"auth", "load"} }, `--focus: unknown scenario "load"`},
		{"tenancy without a second account", func(o *integrationOptions) { o.focus = nil }, "the tenancy scenario needs a second account"},
		{"no API", func(o *integrationOptions) { o.api = "" }, "the API's URL is required"},
		{"a gateway that is no URL", func(o *integrationOptions) { o.gateway = "gateway:8081" }, "is not an absolute URL"},
		{"a gateway of another scheme", func(o *integrationOptions) { o.gateway = "ftp://gateway" }, "must start with http://"},
		{"no email", func(o *integrationOptions) { o.email = "" }, "the primary account needs a tenant, an email and a password"},
		{"a format", func(o *integrationOptions) { o.format = "yaml" }, `--format must be text or json, got "yaml"`},
		{"a short run", func(o *integrationOptions) { o.duration = 30 * time.Second }, "--duration must be whole seconds, at least 1m"},
		{"no timeout", func(o *integrationOptions) { o.timeout = 0 }, "--timeout must be positive"},
		{"two specs", func(o *integrationOptions) { o.spec, o.critical = "{}", []string{"nginx"} }, "either as --spec or with --critical"},
		{"a spec that is no JSON", func(o *integrationOptions) { o.spec = "{critical" }, "--spec is not valid JSON"},
		{"a parameter without a value", func(o *integrationOptions) { o.params = []string{"collection_interval"} }, "want NAME=VALUE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := integrationFlags("http://127.0.0.1:1")
			tc.edit(&o)
			_, _, _, _, err := o.plan(strings.NewReader(""))
			var bad inputError
			if !errors.As(err, &bad) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want an input error saying %q", err, tc.want)
			}
		})
	}
}

func TestIntegrationPlan_TakesCredentialsFromStdinOrTheEnvironment(t *testing.T) {
	t.Setenv(envSmokePassword, "from the environment")
	t.Setenv(envSmokeOtherPassword, "other from the environment")
	o := integrationFlags("http://127.0.0.1:1")
	o.focus, o.otherTenant, o.otherEmail = []string{"tenancy", "lifecycle"}, "globex", "ops@globex.example"
	o.params, o.critical = []string{"collection_interval=2s", "k=10"}, []string{"nginx", "mysqld"}

	_, c, opts, scenarios, err := o.plan(strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	if c.Primary.Password != "from the environment" || c.Other.Password != "other from the environment" || c.Other.Tenant != "globex" {
		t.Fatalf("credentials %+v", c)
	}
	if len(scenarios) != 2 || scenarios[0].Name != "tenancy" || scenarios[1].Name != "lifecycle" {
		t.Fatalf("scenarios %v", scenarios)
	}
	if opts.Parameters["collection_interval"] != "2s" || opts.Parameters["k"] != json.Number("10") ||
		string(opts.Spec) != `{"critical_processes":["nginx","mysqld"]}` {
		t.Fatalf("options %+v spec %s", opts, opts.Spec)
	}

	o.passwordStdin = true
	_, c, _, _, err = o.plan(strings.NewReader("first password\r\n\nsecond password\n"))
	if err != nil || c.Primary.Password != "first password" || c.Other.Password != "second password" {
		t.Fatalf("from stdin: %+v %v", c, err)
	}
	if _, _, _, _, err := o.plan(strings.NewReader("")); err == nil || !strings.Contains(err.Error(), "no password on standard input") {
		t.Fatalf("empty stdin: %v", err)
	}
}

// wrongAPI answers every login with tokens, whatever the password: the smoke test must fail at
// its first step, and the command with it.
func wrongAPI(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"h.p.s","token_type":"Bearer","expires_in":600,"refresh_token":"prt_x"}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestIntegration_FailsWithAReportWhenThePlatformMisbehaves(t *testing.T) {
	t.Setenv(envSmokePassword, "a long password")
	srv := wrongAPI(t)
	var out bytes.Buffer
	err := runIntegration(context.Background(), integrationFlags(srv.URL), strings.NewReader(""), &out)
	if err == nil || err.Error() != "1 of 1 scenarios failed (auth: login with a wrong password is refused)" {
		t.Fatalf("error %v", err)
	}
	for _, want := range []string{"phoenix test integration: API " + srv.URL, "FAIL auth",
		"FAIL login with a wrong password is refused", "the API issued tokens for a wrong password", "0 of 1 scenarios passed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "a long password") {
		t.Fatal("the report shows the password")
	}

	o := integrationFlags(srv.URL)
	o.format = "json"
	out.Reset()
	if err := runIntegration(context.Background(), o, strings.NewReader(""), &out); err == nil {
		t.Fatal("json format: no failure")
	}
	var rep struct {
		Run       string         `json:"run"`       // the run id
		Scenarios []smoke.Result `json:"scenarios"` // each scenario
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Run == "" || len(rep.Scenarios) != 1 ||
		rep.Scenarios[0].Steps[0].Status != smoke.Fail {
		t.Fatalf("json report %v: %s", err, out.String())
	}
}

func TestSmokeReport_CountsPassesAndSkips(t *testing.T) {
	results := []smoke.Result{
		{Scenario: "auth", Seconds: 1.5, Steps: []smoke.Step{{Name: "login", Status: smoke.Pass, Detail: "ok"},
			{Name: "service account", Status: smoke.Skip, Detail: "lacks service-account:write"}}},
		{Scenario: "analysis", Steps: []smoke.Step{{Name: "whole", Status: smoke.Skip, Detail: "nothing completed"}}},
	}
	var out bytes.Buffer
	writeSmokeReport(&out, results)
	for _, want := range []string{"PASS auth (1.5 s)", "  SKIP service account (0.00 s)\n       lacks service-account:write", "2 of 2 scenarios passed (2 step(s) skipped)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if err := smokeVerdict(results); err != nil {
		t.Fatalf("skips are not failures: %v", err)
	}
	if err := smokeVerdict([]smoke.Result{{Scenario: "auth"}}); err == nil || !strings.Contains(err.Error(), "auth: no step ran") {
		t.Fatalf("a scenario without steps: %v", err)
	}
}

func TestTestCommand_HasIntegration(t *testing.T) {
	cmd := root()
	cmd.SetArgs([]string{"test", "integration", "--focus", "nonsense", "--api", "http://x", "--gateway", "http://x"})
	cmd.SetOut(&bytes.Buffer{})
	err := cmd.Execute()
	var bad inputError
	if !errors.As(err, &bad) || !strings.Contains(err.Error(), `unknown scenario "nonsense"`) {
		t.Fatalf("phoenix test integration --focus nonsense: %v", err)
	}
}
