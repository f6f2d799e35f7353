package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Manifest is one Kubernetes object of a variant, rendered.
type Manifest struct {
	Kind    string // ConfigMap, DaemonSet, Service, ServiceMonitor
	Name    string // metadata.name
	Content []byte // YAML
	SHA256  []byte // of Content
}

// Deployment says where and how a variant's collector runs on a cluster.
type Deployment struct {
	Namespace    string            // default DefaultNamespace
	NodeSelector map[string]string // the experiment's target nodes
	Image        string            // the Phoenix collector image
	Tenant       string            // the tenant id, a label the controller checks against its own records
}

// DefaultNamespace is where collectors run unless an experiment names another: the namespace
// deploy/experiments creates, privileged for hostPID and apart from Phoenix's own secrets.
const DefaultNamespace = "phoenix-experiments"

// Manifests renders a variant's objects around config: a ConfigMap holding it, a DaemonSet that
// runs the collector on the target nodes with the host's processes visible (hostPID, the host
// filesystem at /hostfs), a Service and a ServiceMonitor for its self-metrics. Output is
// deterministic; labels phoenix.dev/experiment, phoenix.dev/variant and phoenix.dev/tenant tie the
// workload to the experiment (the ApiServerSource selects on them).
func Manifests(r Request, d Deployment, config []byte) ([]Manifest, error) {
	if d.Namespace == "" {
		d.Namespace = DefaultNamespace
	}
	if d.Image == "" {
		d.Image = "ghcr.io/phoenixotel/phoenix-collector:0.160.0-phoenix"
	}
	name := workloadName(r)
	labels := workloadLabels(r, d, name)
	sum := sha256.Sum256(config)
	hash := hex.EncodeToString(sum[:])
	meta := func(n string) map[string]any {
		return map[string]any{"name": n, "namespace": d.Namespace, "labels": labels}
	}
	objects := []map[string]any{
		{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(name), "data": map[string]string{"config.yaml": string(config)}},
		{"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta(name), "spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]string{"app.kubernetes.io/instance": name}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels, "annotations": map[string]string{"phoenix.dev/config-sha256": hash}},
				"spec": map[string]any{
					"hostPID":      true,
					"nodeSelector": d.NodeSelector,
					"containers": []map[string]any{{
						"name": "collector", "image": d.Image, "args": []string{"--config=/conf/config.yaml"},
						// The ingest token comes from a Secret the deployer creates when it applies
						// these objects (IngestSecret); it is never part of what is stored.
						// The node names the collector across restarts (CollectorNameEnv), so the
						// ingest function sees a restarted pod's counters fall.
						"env": []map[string]any{{"name": IngestTokenEnv, "valueFrom": map[string]any{
							"secretKeyRef": map[string]any{"name": IngestSecretName(r), "key": IngestSecretKey}}},
							{"name": CollectorNameEnv, "valueFrom": map[string]any{"fieldRef": map[string]any{"fieldPath": "spec.nodeName"}}}},
						"ports":          []map[string]any{{"name": "metrics", "containerPort": 8888}},
						"resources":      map[string]any{"requests": map[string]string{"cpu": "100m", "memory": "128Mi"}, "limits": map[string]string{"memory": "512Mi"}},
						"livenessProbe":  map[string]any{"tcpSocket": map[string]any{"port": 8888}, "periodSeconds": 30},
						"readinessProbe": map[string]any{"tcpSocket": map[string]any{"port": 8888}, "periodSeconds": 10},
						"securityContext": map[string]any{"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false,
							"capabilities": map[string]any{"drop": []string{"ALL"}, "add": []string{"SYS_PTRACE", "DAC_READ_SEARCH"}}},
						"volumeMounts": []map[string]any{
							{"name": "config", "mountPath": "/conf", "readOnly": true},
							{"name": "hostfs", "mountPath": "/hostfs", "readOnly": true, "mountPropagation": "HostToContainer"},
						},
					}},
					"volumes": []map[string]any{
						{"name": "config", "configMap": map[string]any{"name": name}},
						{"name": "hostfs", "hostPath": map[string]any{"path": "/"}},
					},
				},
			},
		}},
		{"apiVersion": "v1", "kind": "Service", "metadata": meta(name), "spec": map[string]any{
			"selector": map[string]string{"app.kubernetes.io/instance": name},
			"ports":    []map[string]any{{"name": "metrics", "port": 8888, "targetPort": "metrics"}},
		}},
		{"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": meta(name), "spec": map[string]any{
			"selector":  map[string]any{"matchLabels": map[string]string{"app.kubernetes.io/instance": name}},
			"endpoints": []map[string]any{{"port": "metrics", "interval": "30s"}},
		}},
	}
	out := make([]Manifest, 0, len(objects))
	for _, o := range objects {
		// sigs.k8s.io/yaml sorts map keys, so the same input gives the same bytes.
		b, err := yaml.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", o["kind"], err)
		}
		s := sha256.Sum256(b)
		out = append(out, Manifest{Kind: o["kind"].(string), Name: name, Content: b, SHA256: s[:]})
	}
	return out, nil
}

// IngestSecretKey is the key of the ingest token in its Secret.
const IngestSecretKey = "token"

// workloadName names a variant's objects: phoenix-<first 8 of the experiment id>-<variant>.
func workloadName(r Request) string {
	return "phoenix-" + r.ExperimentID.String()[:8] + "-" + r.Variant
}

// workloadLabels tie a variant's objects to their experiment, variant and tenant.
func workloadLabels(r Request, d Deployment, name string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name": "phoenix-collector", "app.kubernetes.io/instance": name,
		"phoenix.dev/experiment": r.ExperimentID.String(), "phoenix.dev/variant": r.Variant, "phoenix.dev/tenant": d.Tenant,
	}
}

// IngestSecretName is the Secret a variant's DaemonSet reads its ingest token from.
func IngestSecretName(r Request) string { return workloadName(r) + "-ingest" }

// IngestSecret renders the Secret holding a variant's ingest token, for the deployer to apply
// together with Manifests. It holds a credential: apply it, never store or log it.
func IngestSecret(r Request, d Deployment, token string) (Manifest, error) {
	if d.Namespace == "" {
		d.Namespace = DefaultNamespace
	}
	o := map[string]any{"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
		"metadata":   map[string]any{"name": IngestSecretName(r), "namespace": d.Namespace, "labels": workloadLabels(r, d, workloadName(r))},
		"stringData": map[string]string{IngestSecretKey: token}}
	b, err := yaml.Marshal(o)
	if err != nil {
		return Manifest{}, fmt.Errorf("encode Secret: %w", err)
	}
	s := sha256.Sum256(b)
	return Manifest{Kind: "Secret", Name: IngestSecretName(r), Content: b, SHA256: s[:]}, nil
}

// ParamsFor is Params for a template of an experiment: the experiment's critical processes fill
// critical_processes for a template that takes it, unless the choice sets its own. The generator
// renders with it and the API validates with it, so both see the same parameters.
func ParamsFor(template string, raw map[string]any, critical []string) map[string]string {
	params := Params(raw)
	if params["critical_processes"] != "" || len(critical) == 0 {
		return params
	}
	if t, ok := Lookup(template); ok {
		for _, p := range t.Params {
			if p.Name == "critical_processes" {
				params["critical_processes"] = strings.Join(critical, ",")
			}
		}
	}
	return params
}

// Params turns a stored pipeline choice's parameters (JSON values) into template parameters:
// strings as they are, numbers and booleans formatted, lists joined with commas.
func Params(raw map[string]any) map[string]string {
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		switch x := v.(type) {
		case string:
			out[k] = x
		case float64:
			out[k] = strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			out[k] = strconv.FormatBool(x)
		case []any:
			parts := make([]string, 0, len(x))
			for _, e := range x {
				parts = append(parts, fmt.Sprint(e))
			}
			out[k] = strings.Join(parts, ",")
		default:
			out[k] = fmt.Sprint(x)
		}
	}
	return out
}
