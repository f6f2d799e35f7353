package pipeline

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// representative gives each template parameters that exercise every part of it.
func representative(name string) map[string]string {
	switch name {
	case "process-minimal":
		return map[string]string{"critical_processes": "postgres,nginx.*"}
	case "process-topk":
		return map[string]string{"critical_processes": "postgres", "k": "5", "by": "memory"}
	case "process-aggregated":
		return map[string]string{"critical_processes": "postgres"}
	case "process-priority-filter":
		return map[string]string{"critical_processes": "postgres", "high_processes": "nginx.*,envoy", "medium_processes": "sshd", "collection_interval": "15s"}
	}
	return map[string]string{}
}

func request(name string, target Target) Request {
	return Request{Template: name, Params: representative(name), ExperimentID: uuid.MustParse("0b5e0d4e-6c3a-4b8e-9f61-2d7a9c1e5f00"),
		Variant: "candidate", Target: target,
		Output: Output{Endpoint: "https://ingest.phoenix.example", Headers: IngestHeaders()}}
}

func TestRender_MatchesGoldenFiles(t *testing.T) {
	for _, tmpl := range Templates() {
		for _, target := range []Target{Kubernetes, Local} {
			name := tmpl.Name + "." + string(target) + ".yaml"
			t.Run(name, func(t *testing.T) {
				got, err := Render(request(tmpl.Name, target))
				if err != nil {
					t.Fatal(err)
				}
				again, _ := Render(request(tmpl.Name, target))
				if !bytes.Equal(got, again) {
					t.Fatal("rendering twice gave different bytes")
				}
				path := filepath.Join("testdata", name)
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./shared/pipeline -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("rendered config differs from %s; review and run with -update:\n%s", path, got)
				}
			})
		}
	}
}

func TestRender_TargetDecidesRootPath(t *testing.T) {
	k, _ := Render(request("process-baseline", Kubernetes))
	l, _ := Render(request("process-baseline", Local))
	if !strings.Contains(string(k), "root_path: /hostfs") || strings.Contains(string(l), "root_path") {
		t.Fatal("kubernetes must read /hostfs; local must leave root_path out (the receiver refuses a missing path)")
	}
	for _, want := range []string{`value: "0b5e0d4e-6c3a-4b8e-9f61-2d7a9c1e5f00"`, `value: "candidate"`, "memory_limiter:", "batch:",
		`endpoint: "https://ingest.phoenix.example"`, `endpoint: "https://ingest.phoenix.example/v1/metrics"`, `"Authorization": "Bearer ${env:PHOENIX_INGEST_TOKEN}"`,
		`- name: "Authorization"` + "\n" + `                    value: "Bearer ${env:PHOENIX_INGEST_TOKEN}"`,
		"- name: phoenix.stream\n          value: \"self-telemetry\"", "interval: 5000"} {
		if !strings.Contains(string(k), want) {
			t.Errorf("rendered config lacks %s", want)
		}
	}
}

func TestRender_RefusesBadParameters(t *testing.T) {
	tests := []struct {
		name     string
		template string
		params   map[string]string
		mention  []string
	}{
		{"unknown parameter", "process-baseline", map[string]string{"top_k": "5"}, []string{"unknown parameter top_k"}},
		{"interval too short", "process-baseline", map[string]string{"collection_interval": "10ms"}, []string{"collection_interval"}},
		{"interval not a duration", "process-baseline", map[string]string{"collection_interval": "often"}, []string{"collection_interval"}},
		{"critical missing", "process-minimal", map[string]string{}, []string{"critical_processes is required"}},
		{"quote in a pattern", "process-minimal", map[string]string{"critical_processes": `x")or true`}, []string{"critical_processes"}},
		{"invalid regex", "process-priority-filter", map[string]string{"critical_processes": "(unclosed"}, []string{"not a valid RE2"}},
		{"k out of range", "process-topk", map[string]string{"k": "0"}, []string{"k=\"0\""}},
		{"unknown ranking", "process-topk", map[string]string{"by": "disk"}, []string{"by=\"disk\": want one of cpu, memory"}},
		{"several at once", "process-priority-filter", map[string]string{"critical_processes": "", "color": "red"}, []string{"critical_processes is required", "unknown parameter color"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request(tt.template, Local)
			r.Params = tt.params
			_, err := Render(r)
			var pe *ParamError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a ParamError", err)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("%q does not mention %q", err, m)
				}
			}
		})
	}
	if _, err := Render(Request{Template: "process-everything"}); err == nil || !strings.Contains(err.Error(), "process-baseline") {
		t.Fatalf("unknown template: %v, want the list of templates", err)
	}
	r := request("process-baseline", "laptop")
	r.Variant, r.Output.Endpoint = "control", "ftp://x"
	_, err := Render(r)
	for _, m := range []string{"target", "variant", "endpoint"} {
		if err == nil || !strings.Contains(err.Error(), m) {
			t.Errorf("%v does not mention %s", err, m)
		}
	}
}

func TestManifests_MatchGoldenFileAndAreDeterministic(t *testing.T) {
	r := request("process-topk", Kubernetes)
	cfg, err := Render(r)
	if err != nil {
		t.Fatal(err)
	}
	d := Deployment{Namespace: "observability", NodeSelector: map[string]string{"kubernetes.io/os": "linux"}, Image: "collector:1", Tenant: "tenant-1"}
	ms, err := Manifests(r, d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Manifests(r, d, cfg)
	var all bytes.Buffer
	for i, m := range ms {
		if !bytes.Equal(m.Content, again[i].Content) || !bytes.Equal(m.SHA256, again[i].SHA256) {
			t.Fatalf("%s is not deterministic", m.Kind)
		}
		all.WriteString("---\n")
		all.Write(m.Content)
	}
	for _, want := range []string{"kind: ConfigMap", "kind: DaemonSet", "kind: Service", "kind: ServiceMonitor", "hostPID: true",
		"mountPath: /hostfs", "phoenix.dev/experiment: 0b5e0d4e-6c3a-4b8e-9f61-2d7a9c1e5f00", "phoenix.dev/variant: candidate",
		"kubernetes.io/os: linux", "namespace: observability", "phoenix.dev/config-sha256:", "readinessProbe:", "limits:"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("manifests lack %q", want)
		}
	}
	path := filepath.Join("testdata", "manifests.process-topk.kubernetes.yaml")
	if *update {
		if err := os.WriteFile(path, all.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./shared/pipeline -update to create it)", err)
	}
	if !bytes.Equal(all.Bytes(), want) {
		t.Fatalf("manifests differ from %s; review and run with -update", path)
	}
}

func TestParamsFor_FillsCriticalOnlyWhereItApplies(t *testing.T) {
	crit := []string{"postgres", "nginx"}
	tests := []struct {
		template string
		raw      map[string]any
		want     string
	}{
		{"process-minimal", nil, "postgres,nginx"},
		{"process-minimal", map[string]any{"critical_processes": []any{"redis"}}, "redis"},
		{"process-baseline", nil, ""},
		{"process-unknown", nil, ""},
	}
	for _, tt := range tests {
		if got := ParamsFor(tt.template, tt.raw, crit)["critical_processes"]; got != tt.want {
			t.Errorf("%s %v: critical_processes %q, want %q", tt.template, tt.raw, got, tt.want)
		}
	}
	if _, set := ParamsFor("process-baseline", nil, crit)["critical_processes"]; set {
		t.Error("a template without critical_processes got one (Render would refuse it as unknown)")
	}
}

func TestIngestSecret_HoldsTheTokenTheDaemonSetReads(t *testing.T) {
	r := request("process-baseline", Kubernetes)
	d := Deployment{Namespace: "observability", Tenant: "tenant-1"}
	cfg, _ := Render(r)
	ms, err := Manifests(r, d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	const token = "pit_secret-value"
	secret, err := IngestSecret(r, d, token)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kind: Secret", "name: " + IngestSecretName(r), "namespace: observability", "token: " + token,
		"phoenix.dev/experiment: 0b5e0d4e-6c3a-4b8e-9f61-2d7a9c1e5f00"} {
		if !strings.Contains(string(secret.Content), want) {
			t.Errorf("secret lacks %q:\n%s", want, secret.Content)
		}
	}
	var ds string
	for _, m := range ms {
		if strings.Contains(string(m.Content), token) {
			t.Errorf("%s holds the token; stored manifests must only reference it", m.Kind)
		}
		if m.Kind == "DaemonSet" {
			ds = string(m.Content)
		}
	}
	want := "- name: " + IngestTokenEnv + "\n          valueFrom:\n            secretKeyRef:\n              key: token\n              name: " + IngestSecretName(r)
	if !strings.Contains(ds, want) {
		t.Errorf("the DaemonSet does not read the token from the Secret:\n%s", ds)
	}
}

// Without a namespace in the spec, collectors go where deploy/experiments lets the deployer put
// them (and where the ApiServerSource watches).
func TestManifests_DefaultToTheExperimentNamespace(t *testing.T) {
	r := Request{Template: "process-baseline", ExperimentID: uuid.New(), Variant: "baseline", Target: Kubernetes,
		Output: Output{Endpoint: "http://ingest"}}
	cfg, err := Render(r)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := Manifests(r, Deployment{Tenant: uuid.NewString()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := IngestSecret(r, Deployment{}, "pit_x")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range append(ms, secret) {
		if !strings.Contains(string(m.Content), "namespace: "+DefaultNamespace+"\n") {
			t.Errorf("%s %s is not in %s:\n%s", m.Kind, m.Name, DefaultNamespace, m.Content)
		}
	}
}
