package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/phoenixotel/phoenix/cmd/phoenix/kubeapi"
)

// Unchecked are the API groups of objects deploy/ renders that no API server here can check,
// with why: their kinds need CRDs that no Go module available to this project holds.
var Unchecked = map[string]string{
	"monitoring.coreos.com": "the Prometheus Operator's CRDs (ServiceMonitor, PodMonitor, PrometheusRule) are in no " +
		"Go module available here: its pkg/apis/monitoring module holds the Go types only",
}

// RolloutManager is the field manager a release applies with (deploy/rollout.sh).
const RolloutManager = "phoenix-rollout"

// Cluster applies the release to a real kube-apiserver with its etcd (make apiserver builds
// them): Knative Serving's and Eventing's CRDs first, from their Go modules, so Knative objects
// are held to Knative's own schemas, then every kustomization under deploy/, one after another
// with server-side apply as a rollout applies them — the overlays update what base created, which
// a server may refuse where a fresh one would not. Objects of Unchecked groups are left out, and
// the summary counts them.
func Cluster(ctx context.Context, o Options) Result {
	switch {
	case o.Kubectl == "":
		return Result{Status: Skip, Summary: "kubectl not installed (Debian: apt-get install kubectl)"}
	case o.APIServer == "" || o.Etcd == "":
		return Result{Status: Skip, Summary: "no kube-apiserver and etcd: make apiserver builds them into bin/"}
	}
	if _, err := exec.LookPath("go"); err != nil {
		return Result{Status: Skip, Summary: "no go command to fetch Knative's CRDs from their modules"}
	}
	dir, err := os.MkdirTemp("", "phoenix-validate-cluster-")
	if err != nil {
		return result("cluster", []string{err.Error()})
	}
	defer os.RemoveAll(dir)
	s, err := kubeapi.Start(ctx, kubeapi.Options{APIServer: o.APIServer, Etcd: o.Etcd, Dir: dir})
	defer s.Stop()
	if err != nil {
		return result("cluster", []string{fmt.Sprintf("start kube-apiserver: %v\n%s", err, s.LogTails())})
	}
	admin, _ := s.Token(kubeapi.Admin)
	kubeconfig, err := s.Kubeconfig(admin)
	if err != nil {
		return result("cluster", []string{err.Error()})
	}
	if err := KnativeCRDs(ctx, o.Kubectl, kubeconfig, o.Root, dir); err != nil {
		return result("cluster", []string{err.Error()})
	}
	dirs, err := Kustomizations(filepath.Join(o.Root, "deploy"))
	if err != nil || len(dirs) == 0 {
		return result("cluster", []string{fmt.Sprintf("no kustomization under deploy/ (%v)", err)})
	}
	var problems []string
	applied, left := 0, 0
	for _, d := range dirs {
		rel, out, problem := kustomize(ctx, o, d)
		if problem != "" {
			problems = append(problems, problem)
			continue
		}
		var keep [][]byte
		for _, doc := range split(out) {
			var m struct {
				APIVersion string `json:"apiVersion"`
			}
			if err := yaml.Unmarshal(doc, &m); err != nil {
				problems = append(problems, fmt.Sprintf("%s: a document does not decode: %v", rel, err))
				continue
			}
			if group, _, found := strings.Cut(m.APIVersion, "/"); found && Unchecked[group] != "" {
				left++
				continue
			}
			keep = append(keep, doc)
		}
		if len(keep) == 0 {
			continue
		}
		if msg, err := Kubectl(ctx, o.Kubectl, kubeconfig, bytes.Join(keep, []byte("\n---\n")),
			"apply", "--server-side", "--field-manager", RolloutManager, "-f", "-"); err != nil {
			problems = append(problems, fmt.Sprintf("%s: the API server refused it: %s", rel, lastLines(msg, 8)))
			continue
		}
		applied += len(keep)
	}
	return result(fmt.Sprintf("%d objects of %d kustomizations applied to a real kube-apiserver with Knative's CRDs; %d not checked (%s)",
		applied, len(dirs), left, strings.Join(slices.Sorted(maps.Keys(Unchecked)), ", ")), problems)
}

// Kubectl runs kubectl with kubeconfig and stdin, and returns its standard error (where it
// reports a refusal) with its error.
func Kubectl(ctx context.Context, kubectl, kubeconfig string, stdin []byte, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...) // #nosec G204 -- the operator's kubectl
	var errb bytes.Buffer
	cmd.Stdin, cmd.Stderr = bytes.NewReader(stdin), &errb
	if err := cmd.Run(); err != nil {
		return errb.String(), fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	return errb.String(), nil
}

// KnativeCRDs installs Knative Serving's and Eventing's CRDs from their Go modules — Serving at
// the version Phoenix's own code validates against (the main module's go.mod), Eventing at the
// same release, fetched by version from scratch (a directory outside the module, so go.mod stays
// untouched: Phoenix has no Go code against Eventing) — and waits until the server serves them.
func KnativeCRDs(ctx context.Context, kubectl, kubeconfig, root, scratch string) error {
	serving, version, err := moduleDir(ctx, root, "knative.dev/serving")
	if err != nil {
		return err
	}
	eventing, _, err := moduleDir(ctx, scratch, "knative.dev/eventing@"+version)
	if err != nil {
		return err
	}
	dirs := []string{filepath.Join(serving, "config", "core", "300-resources"), filepath.Join(eventing, "config", "core", "resources")}
	args := []string{"apply", "--server-side", "--field-manager", "knative-install"}
	for _, d := range dirs {
		args = append(args, "-f", d)
	}
	if msg, err := Kubectl(ctx, kubectl, kubeconfig, nil, args...); err != nil {
		return fmt.Errorf("install Knative's CRDs from %v: %w\n%s", dirs, err, msg)
	}
	if msg, err := Kubectl(ctx, kubectl, kubeconfig, nil, "wait", "--for", "condition=Established", "crd", "--all", "--timeout", "60s"); err != nil {
		return fmt.Errorf("knative's CRDs are not established: %w\n%s", err, msg)
	}
	return nil
}

// moduleDir downloads module (path, or path@version) into the module cache as go build would,
// from dir, and returns its directory and version.
func moduleDir(ctx context.Context, dir, module string) (string, string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", module) // #nosec G204 -- a fixed module
	cmd.Dir = dir
	out, err := cmd.Output()
	var m struct{ Dir, Version, Error string }
	_ = json.Unmarshal(out, &m)
	if err != nil || m.Dir == "" {
		return "", "", fmt.Errorf("go mod download %s: %v %s", module, err, m.Error)
	}
	return m.Dir, m.Version, nil
}
