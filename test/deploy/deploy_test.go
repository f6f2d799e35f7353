// Package deploy renders every kustomization under deploy/ with `kubectl kustomize` and checks
// what a release must hold: every container hardened (non-root, no privilege escalation, all
// capabilities dropped, RuntimeDefault seccomp, read-only root filesystem), probes and resources
// on every long-running container, no secret values anywhere, the Knative runtime contract
// (PORT left to Knative, containerPort 8080, concurrency and timeouts), scale-to-zero for event
// functions and warm minimums for the API and ingest, a gateway that drains within its grace
// period, least-privilege RBAC, and the migration Job kept apart from the rollout it precedes.
//
// The checks are plain functions over decoded objects, so TestChecks_CatchViolations proves each
// one fails on the violation it names.
package deploy

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/phoenixotel/phoenix/cmd/phoenix/validate"
)

// object is one decoded Kubernetes object.
type object map[string]any

func (o object) kind() string { return str(o, "kind") }
func (o object) name() string { return str(o, "metadata", "name") }
func (o object) id() string   { return o.kind() + "/" + o.name() }

// get walks a path of map keys and list indexes through decoded YAML.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				if o, isObj := v.(object); isObj {
					m = o
				} else {
					return nil
				}
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string { s, _ := get(v, path...).(string); return s }
func list(v any, path ...any) []any { l, _ := get(v, path...).([]any); return l }

// root is the repository root, found from this file so the test runs from any directory.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// kustomizations lists every directory under deploy/ holding a kustomization.yaml, relative to
// deploy/, as phoenix validate finds them, so a new one is checked without a change here.
func kustomizations(t *testing.T) []string {
	t.Helper()
	dirs, err := validate.Kustomizations(filepath.Join(root(), "deploy"))
	if err != nil {
		t.Fatalf("find kustomizations: %v", err)
	}
	return dirs
}

// render runs `kubectl kustomize` on deploy/<dir> and decodes every document.
func render(t *testing.T, dir string) []object {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed: the deploy checks need `kubectl kustomize` (apt-get install kubectl, or https://kubernetes.io/docs/tasks/tools/)")
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(kubectl, "kustomize", filepath.Join(root(), "deploy", dir))
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl kustomize deploy/%s: %v\n%s", dir, err, errb.String())
	}
	return decode(t, out.Bytes())
}

func decode(t *testing.T, b []byte) []object {
	t.Helper()
	var objs []object
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var o object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("decode: %v\n%s", err, doc)
		}
		objs = append(objs, o)
	}
	return objs
}

// podSpec returns the pod template's spec of a workload, or nil for other kinds.
func podSpec(o object) map[string]any {
	var spec any
	switch o.kind() {
	case "Deployment", "DaemonSet", "StatefulSet", "Job", "ReplicaSet":
		spec = get(o, "spec", "template", "spec")
	case "Service":
		if strings.HasPrefix(str(o, "apiVersion"), "serving.knative.dev/") {
			spec = get(o, "spec", "template", "spec")
		}
	case "CronJob":
		spec = get(o, "spec", "jobTemplate", "spec", "template", "spec")
	case "Pod":
		spec = get(o, "spec")
	}
	m, _ := spec.(map[string]any)
	return m
}

func isKnative(o object) bool {
	return o.kind() == "Service" && strings.HasPrefix(str(o, "apiVersion"), "serving.knative.dev/")
}

// longRunning workloads serve until replaced, so they need probes; Jobs run to completion.
func longRunning(o object) bool {
	return isKnative(o) || o.kind() == "Deployment" || o.kind() == "DaemonSet" || o.kind() == "StatefulSet"
}

// checkContainers holds every container of every workload to the hardened profile.
func checkContainers(objs []object) []string {
	var problems []string
	for _, o := range objs {
		spec := podSpec(o)
		if spec == nil {
			continue
		}
		containers := append(list(spec, "containers"), list(spec, "initContainers")...)
		if len(containers) == 0 {
			problems = append(problems, o.id()+": no containers")
		}
		for _, c := range containers {
			where := fmt.Sprintf("%s container %s", o.id(), str(c, "name"))
			sc := get(c, "securityContext")
			podSC := get(spec, "securityContext")
			if get(sc, "runAsNonRoot") != true && get(podSC, "runAsNonRoot") != true {
				problems = append(problems, where+": runAsNonRoot is not true")
			}
			if get(sc, "allowPrivilegeEscalation") != false {
				problems = append(problems, where+": allowPrivilegeEscalation is not false")
			}
			if get(sc, "privileged") == true {
				problems = append(problems, where+": privileged")
			}
			if drop := list(sc, "capabilities", "drop"); !slices.Contains(drop, any("ALL")) {
				problems = append(problems, where+": capabilities.drop lacks ALL")
			}
			if add := list(sc, "capabilities", "add"); len(add) > 0 {
				problems = append(problems, fmt.Sprintf("%s: adds capabilities %v", where, add))
			}
			if str(sc, "seccompProfile", "type") != "RuntimeDefault" && str(podSC, "seccompProfile", "type") != "RuntimeDefault" {
				problems = append(problems, where+": seccompProfile is not RuntimeDefault")
			}
			if get(sc, "readOnlyRootFilesystem") != true {
				problems = append(problems, where+": readOnlyRootFilesystem is not true")
			}
			if get(c, "resources", "requests", "cpu") == nil || get(c, "resources", "requests", "memory") == nil ||
				get(c, "resources", "limits", "memory") == nil {
				problems = append(problems, where+": needs cpu and memory requests and a memory limit")
			}
			if longRunning(o) {
				for _, probe := range []string{"readinessProbe", "livenessProbe"} {
					p := get(c, probe)
					if p == nil {
						problems = append(problems, where+": no "+probe)
						continue
					}
					if get(p, "httpGet") == nil && get(p, "tcpSocket") == nil && get(p, "grpc") == nil && get(p, "exec") == nil {
						problems = append(problems, where+": "+probe+" has no handler")
					}
				}
			}
			if get(spec, "hostPID") == true || get(spec, "hostNetwork") == true {
				problems = append(problems, o.id()+": shares the host's namespaces")
			}
		}
	}
	return problems
}

// secretish names environment variables that would hold a credential if given a literal value.
var secretish = regexp.MustCompile(`(?i)(PASSWORD|SECRET|TOKEN|CREDENTIAL|PRIVATE|_KEYS?$|DATABASE_URL|REDIS_URL)`)

// credentialInValue spots credentials written out: a URL with a password, a PEM block, a bearer token.
var credentialInValue = regexp.MustCompile(`://[^/\s:@]+:[^/\s@]+@|-----BEGIN [A-Z ]*KEY-----|(?i)bearer\s+[a-z0-9._-]{8,}`)

// checkNoSecretValues allows Secrets only as references: no Secret objects with data, no literal
// credentials in environment variables, ConfigMaps or annotations.
func checkNoSecretValues(objs []object) []string {
	var problems []string
	for _, o := range objs {
		if o.kind() == "Secret" && (get(o, "data") != nil || get(o, "stringData") != nil) {
			problems = append(problems, o.id()+": a Secret with values; create it out of band and reference it")
		}
		if o.kind() == "ConfigMap" {
			data, _ := get(o, "data").(map[string]any)
			for k, v := range data {
				s, _ := v.(string)
				if credentialInValue.MatchString(s) || (secretish.MatchString(k) && !strings.HasSuffix(k, "_FILE") && s != "") {
					problems = append(problems, fmt.Sprintf("%s: key %s holds a credential", o.id(), k))
				}
			}
		}
		if spec := podSpec(o); spec != nil {
			for _, c := range append(list(spec, "containers"), list(spec, "initContainers")...) {
				for _, e := range list(c, "env") {
					name, value := str(e, "name"), str(e, "value")
					if value == "" {
						continue
					}
					if credentialInValue.MatchString(value) || (secretish.MatchString(name) && !strings.HasSuffix(name, "_FILE")) {
						problems = append(problems, fmt.Sprintf("%s container %s: env %s has a literal value; use secretKeyRef", o.id(), str(c, "name"), name))
					}
				}
			}
		}
	}
	return problems
}

// eventFunctions scale to zero; warmFunctions keep a minimum.
var (
	eventFunctions = []string{"phoenix-controller", "phoenix-generator", "phoenix-analyzer", "phoenix-deployer"}
	warmFunctions  = []string{"phoenix-api", "phoenix-ingest"}
)

// checkKnative holds Knative Services to the runtime contract and their scaling roles. minWarm is
// the least min-scale the API and ingest must keep in this render.
func checkKnative(objs []object, minWarm int) []string {
	var problems []string
	seen := map[string]bool{}
	for _, o := range objs {
		if !isKnative(o) {
			continue
		}
		seen[o.name()] = true
		ann, _ := get(o, "spec", "template", "metadata", "annotations").(map[string]any)
		for _, a := range []string{"min-scale", "max-scale", "target"} {
			if _, ok := ann["autoscaling.knative.dev/"+a]; !ok {
				problems = append(problems, o.id()+": no autoscaling.knative.dev/"+a)
			}
		}
		minScale, _ := strconv.Atoi(fmt.Sprint(ann["autoscaling.knative.dev/min-scale"]))
		if slices.Contains(eventFunctions, o.name()) && minScale != 0 {
			problems = append(problems, fmt.Sprintf("%s: an event function must scale to zero (min-scale %d)", o.id(), minScale))
		}
		if slices.Contains(warmFunctions, o.name()) && minScale < minWarm {
			problems = append(problems, fmt.Sprintf("%s: min-scale %d, want at least %d", o.id(), minScale, minWarm))
		}
		spec := podSpec(o)
		if n, ok := get(spec, "containerConcurrency").(float64); !ok || n <= 0 {
			problems = append(problems, o.id()+": containerConcurrency must be a positive hard limit")
		}
		if n, ok := get(spec, "timeoutSeconds").(float64); !ok || n <= 0 || n > 600 {
			problems = append(problems, o.id()+": timeoutSeconds must be set, at most 600")
		}
		if str(spec, "serviceAccountName") == "" {
			problems = append(problems, o.id()+": no serviceAccountName (the namespace's default would be used)")
		}
		for _, c := range list(spec, "containers") {
			for _, e := range list(c, "env") {
				if n := str(e, "name"); n == "PORT" || n == "K_SERVICE" || n == "K_REVISION" || n == "K_CONFIGURATION" {
					problems = append(problems, fmt.Sprintf("%s: env %s is reserved; Knative sets it", o.id(), n))
				}
			}
			ports := list(c, "ports")
			if len(ports) != 1 || get(ports[0], "containerPort") != float64(8080) {
				problems = append(problems, o.id()+": want exactly one containerPort, 8080 (Knative passes it as $PORT)")
			}
			for _, probe := range []string{"readinessProbe", "livenessProbe"} {
				if port := get(c, probe, "httpGet", "port"); port != nil {
					problems = append(problems, fmt.Sprintf("%s: %s names port %v; Knative probes the serving port itself", o.id(), probe, port))
				}
			}
			for _, m := range list(c, "volumeMounts") {
				if get(m, "readOnly") != true {
					problems = append(problems, o.id()+": volume mount "+str(m, "name")+" must be read-only")
				}
			}
		}
	}
	return problems
}

// checkGateway: long-lived, at least two replicas, and a grace period that covers the preStop
// pause and the drain timeout.
func checkGateway(objs []object, minReplicas int) []string {
	for _, o := range objs {
		if o.kind() != "Deployment" || o.name() != "phoenix-gateway" {
			continue
		}
		var problems []string
		if r, _ := get(o, "spec", "replicas").(float64); int(r) < minReplicas {
			problems = append(problems, fmt.Sprintf("%s: %v replicas, want at least %d", o.id(), r, minReplicas))
		}
		spec := podSpec(o)
		grace, _ := get(spec, "terminationGracePeriodSeconds").(float64)
		c := get(spec, "containers", 0)
		drain := 20 * time.Second // the runtime's default
		for _, e := range list(c, "env") {
			if str(e, "name") == "PHOENIX_DRAIN_TIMEOUT" {
				d, err := time.ParseDuration(str(e, "value"))
				if err != nil {
					problems = append(problems, o.id()+": PHOENIX_DRAIN_TIMEOUT: "+err.Error())
				}
				drain = d
			}
		}
		preStop, _ := get(c, "lifecycle", "preStop", "sleep", "seconds").(float64)
		if need := preStop + drain.Seconds(); grace <= need {
			problems = append(problems, fmt.Sprintf("%s: terminationGracePeriodSeconds %v does not cover preStop %vs + drain %v", o.id(), grace, preStop, drain))
		}
		if get(spec, "automountServiceAccountToken") != false {
			problems = append(problems, o.id()+": mounts a service account token it does not use")
		}
		return problems
	}
	return []string{"no phoenix-gateway Deployment"}
}

// checkRBAC: namespaced roles only, no wildcards, and a deployer confined to collector objects.
func checkRBAC(objs []object) []string {
	var problems []string
	for _, o := range objs {
		switch o.kind() {
		case "ClusterRole", "ClusterRoleBinding":
			problems = append(problems, o.id()+": cluster-wide RBAC; Phoenix needs namespaced Roles only")
		case "Role":
			for _, r := range list(o, "rules") {
				for _, field := range []string{"apiGroups", "resources", "verbs"} {
					if slices.Contains(list(r, field), any("*")) {
						problems = append(problems, fmt.Sprintf("%s: wildcard in %s", o.id(), field))
					}
				}
				if o.name() == "phoenix-deployer" {
					allowed := []any{"daemonsets", "configmaps", "services", "secrets", "servicemonitors"}
					for _, res := range list(r, "resources") {
						if !slices.Contains(allowed, res) {
							problems = append(problems, fmt.Sprintf("%s: may touch %v, beyond the collector objects", o.id(), res))
						}
					}
				}
			}
		}
	}
	return problems
}

func report(t *testing.T, dir string, problems []string) {
	t.Helper()
	for _, p := range problems {
		t.Errorf("deploy/%s: %s", dir, p)
	}
}

func TestRendered_EveryKustomizationBuildsAndIsHardened(t *testing.T) {
	for _, dir := range kustomizations(t) {
		t.Run(dir, func(t *testing.T) {
			objs := render(t, dir)
			if len(objs) == 0 {
				t.Fatal("renders nothing")
			}
			report(t, dir, checkContainers(objs))
			report(t, dir, checkNoSecretValues(objs))
			report(t, dir, checkRBAC(objs))
		})
	}
}

func TestRendered_FunctionsGatewayAndRollout(t *testing.T) {
	tests := []struct {
		dir          string
		minWarm      int  // least min-scale of the API and ingest
		gateway      int  // least gateway replicas
		wantMonitors bool // ServiceMonitors and the PrometheusRule are part of it
	}{
		{"base", 1, 2, false},
		{"overlays/dev", 0, 2, false},
		{"overlays/production", 2, 3, true},
		{"overlays/canary", 2, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			objs := render(t, tt.dir)
			report(t, tt.dir, checkKnative(objs, tt.minWarm))
			report(t, tt.dir, checkGateway(objs, tt.gateway))
			names := map[string]bool{}
			configMaps := map[string]bool{}
			serviceAccounts := map[string]bool{}
			var hasRule, hasJob bool
			for _, o := range objs {
				names[o.id()] = true
				switch o.kind() {
				case "ConfigMap":
					configMaps[o.name()] = true
				case "ServiceAccount":
					serviceAccounts[o.name()] = true
				case "PrometheusRule":
					hasRule = true
				case "Job":
					hasJob = true
				}
			}
			for _, fn := range append(slices.Clone(eventFunctions), warmFunctions...) {
				if !names["Service/"+fn] {
					t.Errorf("deploy/%s: no Knative Service %s", tt.dir, fn)
				}
			}
			if hasJob {
				t.Errorf("deploy/%s: the migration Job belongs to deploy/migrate, applied and awaited before the rollout", tt.dir)
			}
			if hasRule != tt.wantMonitors {
				t.Errorf("deploy/%s: PrometheusRule present = %v, want %v", tt.dir, hasRule, tt.wantMonitors)
			}
			for _, o := range objs {
				spec := podSpec(o)
				if spec == nil {
					continue
				}
				if sa := str(spec, "serviceAccountName"); sa != "" && !serviceAccounts[sa] {
					t.Errorf("deploy/%s: %s runs as ServiceAccount %s, which is not deployed", tt.dir, o.id(), sa)
				}
				for _, c := range list(spec, "containers") {
					for _, ef := range list(c, "envFrom") {
						if cm := str(ef, "configMapRef", "name"); cm != "" && !configMaps[cm] {
							t.Errorf("deploy/%s: %s reads ConfigMap %s, which is not deployed (a generated name not rewritten?)", tt.dir, o.id(), cm)
						}
					}
				}
			}
			for _, o := range objs {
				if o.kind() != "ServiceAccount" || o.name() == "phoenix-collectors-watcher" {
					continue // the watcher is Knative's ApiServerSource adapter, which needs its token
				}
				if wantToken := o.name() == "phoenix-deployer"; (get(o, "automountServiceAccountToken") != false) != wantToken {
					t.Errorf("deploy/%s: %s automountServiceAccountToken = %v; only the deployer talks to the Kubernetes API", tt.dir, o.id(), get(o, "automountServiceAccountToken"))
				}
			}
		})
	}
}

func TestRendered_MigrationRunsAloneAsTheSchemaOwner(t *testing.T) {
	for _, dir := range []string{"migrate", "overlays/dev/migrate", "overlays/production/migrate"} {
		t.Run(dir, func(t *testing.T) {
			var jobs []object
			for _, o := range render(t, dir) {
				switch o.kind() {
				case "Job":
					jobs = append(jobs, o)
				case "Namespace", "ServiceAccount":
				default:
					t.Errorf("deploy/%s: %s does not belong with the migration", dir, o.id())
				}
			}
			if len(jobs) != 1 {
				t.Fatalf("want one Job, got %d", len(jobs))
			}
			c := get(podSpec(jobs[0]), "containers", 0)
			if args := fmt.Sprint(list(c, "args")); args != "[migrate up]" {
				t.Errorf("migration Job runs %s, want [migrate up]", args)
			}
			if str(c, "env", 0, "name") != "PHOENIX_MIGRATE_DATABASE_URL" || str(c, "env", 0, "valueFrom", "secretKeyRef", "key") != "owner-url" {
				t.Errorf("migration Job must connect as the schema owner from the phoenix-database Secret: %v", get(c, "env"))
			}
			if get(jobs[0], "spec", "activeDeadlineSeconds") == nil || get(jobs[0], "spec", "backoffLimit") == nil {
				t.Error("migration Job needs a deadline and a bounded number of retries")
			}
		})
	}
}

func TestRendered_CanarySplitsTrafficByRevisionTags(t *testing.T) {
	for _, o := range render(t, "overlays/canary") {
		if !isKnative(o) || o.name() != "phoenix-api" {
			continue
		}
		traffic := list(o, "spec", "traffic")
		total, tags := 0.0, map[string]bool{}
		for _, tr := range traffic {
			p, _ := get(tr, "percent").(float64)
			total += p
			tag := str(tr, "tag")
			if tag == "" || tags[tag] {
				t.Errorf("every traffic target needs a unique tag: %v", traffic)
			}
			tags[tag] = true
		}
		if total != 100 || !tags["stable"] || !tags["canary"] {
			t.Errorf("traffic %v: want stable and canary tags summing to 100%%", traffic)
		}
		if name := str(o, "spec", "template", "metadata", "name"); !strings.HasPrefix(name, "phoenix-api-") {
			t.Errorf("the canary revision %q must be named phoenix-api-<version> (Knative requires the Service's name as prefix)", name)
		}
		return
	}
	t.Fatal("overlays/canary has no phoenix-api")
}

// TestChecks_CatchViolations proves each check fails on the violation it names, starting from a
// hardened Knative Service and breaking one thing at a time.
func TestChecks_CatchViolations(t *testing.T) {
	good := `
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: phoenix-controller}
spec:
  template:
    metadata:
      annotations: {autoscaling.knative.dev/min-scale: "0", autoscaling.knative.dev/max-scale: "5", autoscaling.knative.dev/target: "5"}
    spec:
      serviceAccountName: phoenix-controller
      containerConcurrency: 10
      timeoutSeconds: 60
      containers:
      - name: controller
        image: example/controller
        ports: [{containerPort: 8080}]
        env: [{name: PHOENIX_DATABASE_URL, valueFrom: {secretKeyRef: {name: phoenix-database, key: runtime-url}}}]
        readinessProbe: {httpGet: {path: /readyz}}
        livenessProbe: {httpGet: {path: /healthz}}
        resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 256Mi}}
        securityContext:
          runAsNonRoot: true
          readOnlyRootFilesystem: true
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
          seccompProfile: {type: RuntimeDefault}
`
	all := func(objs []object) []string {
		return slices.Concat(checkContainers(objs), checkNoSecretValues(objs), checkKnative(objs, 1), checkRBAC(objs))
	}
	if p := all(decode(t, []byte(good))); len(p) != 0 {
		t.Fatalf("the hardened Service is refused: %v", p)
	}
	tests := []struct {
		name, from, to, want string
	}{
		{"root allowed", "runAsNonRoot: true", "runAsNonRoot: false", "runAsNonRoot"},
		{"privilege escalation", "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", "allowPrivilegeEscalation"},
		{"capabilities kept", "drop: [ALL]", "drop: [NET_RAW]", "capabilities.drop lacks ALL"},
		{"capability added", "drop: [ALL]", "drop: [ALL], add: [NET_ADMIN]", "adds capabilities"},
		{"seccomp unconfined", "type: RuntimeDefault", "type: Unconfined", "seccompProfile"},
		{"writable root", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "readOnlyRootFilesystem"},
		{"no readiness probe", "readinessProbe: {httpGet: {path: /readyz}}", "", "no readinessProbe"},
		{"no liveness probe", "livenessProbe: {httpGet: {path: /healthz}}", "", "no livenessProbe"},
		{"no memory limit", "limits: {memory: 256Mi}", "limits: {}", "memory limit"},
		{"secret value", "{name: PHOENIX_DATABASE_URL, valueFrom: {secretKeyRef: {name: phoenix-database, key: runtime-url}}}",
			"{name: PHOENIX_DATABASE_URL, value: 'postgres://phoenix_app:hunter2@db/phoenix'}", "literal value"},
		{"PORT set", "env: [", "env: [{name: PORT, value: '8080'}, ", "reserved"},
		{"event function kept warm", `min-scale: "0"`, `min-scale: "1"`, "scale to zero"},
		{"no concurrency limit", "containerConcurrency: 10", "containerConcurrency: 0", "containerConcurrency"},
		{"no timeout", "timeoutSeconds: 60", "timeoutSeconds: 0", "timeoutSeconds"},
		{"other port", "containerPort: 8080", "containerPort: 9000", "containerPort, 8080"},
		{"default service account", "serviceAccountName: phoenix-controller", "serviceAccountName: ''", "serviceAccountName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := strings.Replace(good, tt.from, tt.to, 1)
			if bad == good {
				t.Fatalf("the mutation %q did not apply", tt.from)
			}
			problems := all(decode(t, []byte(bad)))
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Fatalf("want a problem mentioning %q, got %v", tt.want, problems)
			}
		})
	}

	other := []struct {
		name, yaml, want string
		check            func([]object) []string
	}{
		{"a Secret with data", "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData: {url: redis://:pw@redis:6379}\n", "Secret with values", checkNoSecretValues},
		{"a credential in a ConfigMap", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {PHOENIX_REDIS_URL: 'redis://u:pw@redis:6379/0'}\n", "holds a credential", checkNoSecretValues},
		{"a wildcard Role", "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: x}\nrules: [{apiGroups: [''], resources: ['*'], verbs: [get]}]\n", "wildcard", checkRBAC},
		{"a ClusterRole", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: x}\nrules: []\n", "cluster-wide", checkRBAC},
		{"a deployer reaching pods", "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: phoenix-deployer}\nrules: [{apiGroups: [''], resources: [pods], verbs: [delete]}]\n", "beyond the collector objects", checkRBAC},
		{"a gateway without drain time", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: phoenix-gateway}
spec:
  replicas: 2
  template:
    spec:
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: 30
      containers:
      - name: gateway
        env: [{name: PHOENIX_DRAIN_TIMEOUT, value: 30s}]
        lifecycle: {preStop: {sleep: {seconds: 5}}}
`, "does not cover", func(o []object) []string { return checkGateway(o, 2) }},
		{"a single gateway", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: phoenix-gateway}
spec:
  replicas: 1
  template:
    spec:
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: 60
      containers: [{name: gateway}]
`, "replicas", func(o []object) []string { return checkGateway(o, 2) }},
	}
	for _, tt := range other {
		t.Run(tt.name, func(t *testing.T) {
			problems := tt.check(decode(t, []byte(tt.yaml)))
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Fatalf("want a problem mentioning %q, got %v", tt.want, problems)
			}
		})
	}
}
