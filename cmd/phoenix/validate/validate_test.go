package validate

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/phoenixotel/phoenix/test/kubeapi"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

// repo is the repository this test runs in.
func repo(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// scratch copies what the checks read into a temporary root the test may break.
func scratch(t *testing.T) string {
	t.Helper()
	src, dst := repo(t), t.TempDir()
	for _, part := range []string{"deploy", "triggers", "docs", filepath.Join("shared", "events", "events.go")} {
		err := filepath.WalkDir(filepath.Join(src, part), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, path)
			if d.IsDir() {
				if rel == filepath.Join("deploy", "collector") {
					return filepath.SkipDir
				}
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// edit replaces old by new in a file of root, failing when old is absent.
func edit(t *testing.T, root, file, old, new string) {
	t.Helper()
	path := filepath.Join(root, file)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func tool(t *testing.T, name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed", name)
	}
	return p
}

func TestChecks_PassOnThisRepository(t *testing.T) {
	o := Options{Root: repo(t), Kubectl: tool(t, "kubectl"), Promtool: tool(t, "promtool")}
	for _, r := range []Result{Manifests(context.Background(), o), Triggers(o), Monitoring(context.Background(), o), Templates(context.Background(), o)} {
		if r.Status != OK {
			t.Errorf("%s: %s %v", r.Summary, r.Status, r.Problems)
		}
	}
}

// Each broken artefact fails its check with a message that names what to fix.
func TestChecks_FailPreciselyOnABrokenArtefact(t *testing.T) {
	kubectl, promtool := tool(t, "kubectl"), tool(t, "promtool")
	cases := []struct {
		name  string
		check func(Options) Result
		file  string
		old   string
		new   string
		want  string
	}{
		{"Knative refuses a Service", func(o Options) Result { return Manifests(context.Background(), o) },
			"deploy/base/functions.yaml", "containerConcurrency: 100", "containerConcurrency: -5", "Service/phoenix-api: Knative validation"},
		{"a field Knative does not know", func(o Options) Result { return Manifests(context.Background(), o) },
			"deploy/base/functions.yaml", "containerConcurrency: 100", "containerConcurency: 100", `Service/phoenix-api: not a valid Knative Service: error unmarshaling JSON: while decoding JSON: json: unknown field "containerConcurency"`},
		{"kustomize cannot build", func(o Options) Result { return Manifests(context.Background(), o) },
			"deploy/base/kustomization.yaml", "functions.yaml", "missing.yaml", "kubectl kustomize fails"},
		{"a trigger is missing", func(o Options) Result { return Triggers(o) },
			"triggers/triggers.yaml", "type: io.phoenix.analysis.requested.v1", "type: io.phoenix.analysis.requested.v9",
			"io.phoenix.analysis.requested.v1: no trigger routes it to phoenix-analyzer"},
		{"an event type is undocumented", func(o Options) Result { return Triggers(o) },
			"docs/events.md", "`io.phoenix.manifests.failed.v1`", "manifests failed", "docs/events.md does not describe io.phoenix.manifests.failed.v1"},
		{"a rule does not parse", func(o Options) Result { return Monitoring(context.Background(), o) },
			"deploy/monitoring/prometheus/rules/phoenix.rules.yml", "sum by (function, kind) (rate(phoenix_function_requests_total[5m]))",
			"sum by (function, kind) (rate(phoenix_function_requests_total[5m])", "promtool check rules"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := scratch(t)
			edit(t, root, c.file, c.old, c.new)
			r := c.check(Options{Root: root, Kubectl: kubectl, Promtool: promtool})
			if r.Status != Fail || !strings.Contains(strings.Join(r.Problems, "\n"), c.want) {
				t.Fatalf("%s %s, problems:\n%s\nwant one saying %q", r.Status, r.Summary, strings.Join(r.Problems, "\n"), c.want)
			}
		})
	}
}

func TestTemplates_ReportTheCollectorsRefusal(t *testing.T) {
	refuse := filepath.Join(t.TempDir(), "collector")
	if err := os.WriteFile(refuse, []byte("#!/bin/sh\necho 'Error: invalid configuration' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := Templates(context.Background(), Options{Collector: refuse})
	if r.Status != Fail || len(r.Problems) != 10 || !strings.Contains(r.Problems[0], "the collector refuses it") ||
		!strings.Contains(r.Problems[0], "Error: invalid configuration") {
		t.Fatalf("%s %v", r.Status, r.Problems)
	}
}

func TestMigrations_RoundTripOnAScratchDatabase(t *testing.T) {
	db := pgtest.New(t)
	r := Migrations(context.Background(), Options{MigrateURL: db.OwnerURL})
	if r.Status != OK || !strings.Contains(r.Summary, "rolled back and applied again") {
		t.Fatalf("%s %s %v", r.Status, r.Summary, r.Problems)
	}
	// A role that may not create databases gets a precise refusal.
	r = Migrations(context.Background(), Options{MigrateURL: db.AppURL})
	if r.Status != Fail || !strings.Contains(r.Problems[0], "create a scratch database") {
		t.Fatalf("%s %v", r.Status, r.Problems)
	}
}

func TestRun_SkipsMissingToolsAndRefusesUnknownChecks(t *testing.T) {
	results, err := Run(context.Background(), Options{Root: repo(t)}, "manifests", "monitoring", "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Status != Skip {
			t.Errorf("%s: %s without its tool", r.Check, r.Status)
		}
	}
	var out strings.Builder
	if !Print(&out, results) || !strings.Contains(out.String(), "skip  manifests") {
		t.Errorf("skipped checks fail the run:\n%s", out.String())
	}
	if _, err := Run(context.Background(), Options{}, "everything"); err == nil {
		t.Error("an unknown check was accepted")
	}
	if Print(&out, []Result{{Check: "x", Status: Fail, Problems: []string{"broken"}}}) {
		t.Error("a failed check passed")
	}
}

// The cluster check sees what rendering and Knative's Go validation cannot: a PodDisruptionBudget
// setting both minAvailable and maxUnavailable renders, and a real API server refuses it.
func TestCluster_ARealAPIServerRefusesWhatRenderingAccepts(t *testing.T) {
	kubectl := tool(t, "kubectl")
	tool(t, "go")
	apiserver, etcd := kubeapi.Binaries(t)
	root := scratch(t)
	for _, f := range []string{"go.mod", "go.sum"} { // Knative Serving's CRDs come at the version go.mod requires
		b, err := os.ReadFile(filepath.Join(repo(t), f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o := Options{Root: root, Kubectl: kubectl, APIServer: apiserver, Etcd: etcd}
	edit(t, root, "deploy/base/gateway.yaml", "  minAvailable: 1\n", "  minAvailable: 1\n  maxUnavailable: 1\n")
	if m := Manifests(context.Background(), o); m.Status != OK {
		t.Fatalf("the manifest check already refuses it: %s %v", m.Status, m.Problems)
	}
	r := Cluster(context.Background(), o)
	want := "deploy/base: the API server refused it"
	if r.Status != Fail || !strings.Contains(strings.Join(r.Problems, "\n"), want) ||
		!strings.Contains(strings.Join(r.Problems, "\n"), "minAvailable and maxUnavailable cannot be both set") {
		t.Fatalf("%s %s, problems:\n%s\nwant one saying %q", r.Status, r.Summary, strings.Join(r.Problems, "\n"), want)
	}
	if !strings.Contains(r.Summary, "not checked (monitoring.coreos.com)") {
		t.Errorf("summary %q does not say what was left unchecked", r.Summary)
	}
}
