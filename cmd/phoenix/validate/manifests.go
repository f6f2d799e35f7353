package validate

import (
	"context"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"knative.dev/pkg/apis"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/yaml"
)

// Manifests builds every kustomization under deploy/ (except the collector's Go module) with
// kubectl kustomize, then decodes each Knative Service strictly with Knative Serving's own types
// and runs Knative's defaulting and validation, as its admission webhook would: an error or a
// warning fails the check. No Secret in the output may carry a value.
func Manifests(ctx context.Context, o Options) Result {
	if o.Kubectl == "" {
		return Result{Status: Skip, Summary: "kubectl not installed (Debian: apt-get install kubectl)"}
	}
	dirs, err := Kustomizations(filepath.Join(o.Root, "deploy"))
	if err != nil || len(dirs) == 0 {
		return result("kustomize", []string{fmt.Sprintf("no kustomization under deploy/ (%v)", err)})
	}
	var problems []string
	services := map[string]bool{}
	for _, d := range dirs {
		rel, out, problem := kustomize(ctx, o, d)
		if problem != "" {
			problems = append(problems, problem)
			continue
		}
		for i, doc := range split(out) {
			name, ps := checkObject(ctx, doc)
			for _, p := range ps {
				problems = append(problems, fmt.Sprintf("%s: object %d %s: %s", rel, i+1, name, p))
			}
			if strings.HasPrefix(name, "Service/") && len(ps) == 0 {
				services[name] = true
			}
		}
	}
	return result(fmt.Sprintf("%d kustomizations built; %d Knative Services pass Knative's validation", len(dirs), len(services)), problems)
}

// checkObject validates one object of kustomize's output.
func checkObject(ctx context.Context, doc []byte) (string, []string) {
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Data       map[string]any `json:"data"`
		StringData map[string]any `json:"stringData"`
	}
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		return "?", []string{err.Error()}
	}
	name := meta.Kind + "/" + meta.Metadata.Name
	switch {
	case meta.Kind == "Secret" && (len(meta.Data) > 0 || len(meta.StringData) > 0):
		return name, []string{"a Secret with values in the repository; reference Secrets created out of band instead"}
	case meta.APIVersion == "serving.knative.dev/v1" && meta.Kind == "Service":
		return name, knativeService(ctx, doc)
	}
	return name, nil
}

// knativeService decodes a Knative Service strictly and runs Knative's defaulting and
// validation on it, as the serving webhook does on create.
func knativeService(ctx context.Context, doc []byte) []string {
	var svc servingv1.Service
	if err := yaml.UnmarshalStrict(doc, &svc); err != nil {
		return []string{fmt.Sprintf("not a valid Knative Service: %v", err)}
	}
	ctx = apis.WithinCreate(ctx)
	svc.SetDefaults(ctx)
	fe := svc.Validate(ctx)
	if fe == nil {
		return nil
	}
	var out []string
	if errs := fe.Filter(apis.ErrorLevel); errs != nil {
		out = append(out, "Knative validation: "+errs.Error())
	}
	if warns := fe.Filter(apis.WarningLevel); warns != nil {
		out = append(out, "Knative warning: "+warns.Error())
	}
	return out
}

// kustomize renders deploy/d with kubectl kustomize: its path for messages ("deploy/base"), its
// documents, or a problem saying why it does not build.
func kustomize(ctx context.Context, o Options, d string) (rel string, out []byte, problem string) {
	rel = filepath.Join("deploy", d)
	out, err := exec.CommandContext(ctx, o.Kubectl, "kustomize", filepath.Join(o.Root, "deploy", d)).CombinedOutput() // #nosec G204 -- the operator's kubectl on the repository's directories
	if err != nil {
		return rel, nil, fmt.Sprintf("%s: kubectl kustomize fails: %s", rel, lastLines(string(out), 5))
	}
	return rel, out, ""
}

// Kustomizations lists the directories under deploy (the repository's deploy/) that hold a
// kustomization, relative to it ("base", "overlays/dev"), sorted; the collector distribution's Go
// module holds none. The manifest and cluster checks and the deployment suites (test/deploy,
// test/cluster) all find them here.
func Kustomizations(deploy string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(deploy, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "collector" && filepath.Dir(path) == deploy {
			return filepath.SkipDir // the collector distribution's Go module
		}
		if !d.IsDir() && d.Name() == "kustomization.yaml" {
			rel, err := filepath.Rel(deploy, filepath.Dir(path))
			dirs = append(dirs, rel)
			return err
		}
		return nil
	})
	sort.Strings(dirs)
	return dirs, err
}
