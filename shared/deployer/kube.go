package deployer

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"sigs.k8s.io/yaml"

	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/store"
)

// FieldManager owns the fields Phoenix applies (server-side apply).
const FieldManager = "phoenix-deployer"

// Cluster is how the Kubernetes deployer reaches the API server.
type Cluster struct {
	// Server is the API server's base URL, e.g. https://10.0.0.1:443.
	Server string
	// TokenFile holds the bearer token; it is re-read for every request because projected
	// service-account tokens are rotated while the pod runs.
	TokenFile string
	// Client carries the cluster's CA and a timeout.
	Client *http.Client
}

// serviceAccountDir is where Kubernetes mounts a pod's service-account credentials.
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// InCluster is the Cluster of the pod this runs in.
func InCluster() (Cluster, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return Cluster{}, errors.New("not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST is unset)")
	}
	ca, err := os.ReadFile(filepath.Join(serviceAccountDir, "ca.crt"))
	if err != nil {
		return Cluster{}, fmt.Errorf("service-account CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return Cluster{}, errors.New("service-account CA holds no certificate")
	}
	return Cluster{Server: "https://" + net.JoinHostPort(host, port), TokenFile: filepath.Join(serviceAccountDir, "token"),
		Client: &http.Client{Timeout: 30 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}}, nil
}

// The client below is hand-written rather than client-go: it makes four kinds of request (apply,
// get, delete, each by path) and test/cluster holds it to a real kube-apiserver's answers. Linking
// client-go's typed and dynamic clients (v0.29.2, already in the module graph) measured here:
// exec-to-main 5.1 → 11.3 ms (median of 41 runs), package init 2.5 → 7.4 ms (GODEBUG=inittrace=1),
// binary 15.9 → 33.4 MB — paid on every scale from zero, for nothing these requests need
// (docs/cluster.md).

// Kubernetes applies an experiment's stored manifests to the cluster, with a Secret holding each
// variant's ingest token, and deletes them on teardown. The cluster's ApiServerSource reports
// the DaemonSets' status to the controller; this deployer only answers failures it can see
// (the API server refusing an object).
type Kubernetes struct {
	store   *store.Store // manifests and experiment state, read in the tenant's transaction
	cluster Cluster      // the API server
	// Issue returns a fresh ingest token for a variant; Live says whether a token a variant's
	// Secret already holds is still good for it (nil: never); Revoke revokes an experiment's
	// tokens.
	Issue  func(ctx context.Context, tenant, id uuid.UUID, v experiment.Variant) (string, error)
	Live   func(ctx context.Context, tenant, id uuid.UUID, v experiment.Variant, token string) (bool, error)
	Revoke func(ctx context.Context, tenant, id uuid.UUID) error
}

// NewKubernetes returns a deployer for cluster.
func NewKubernetes(st *store.Store, cluster Cluster) *Kubernetes {
	return &Kubernetes{store: st, cluster: cluster}
}

// object is one manifest to apply.
type object struct {
	apiVersion, kind, namespace, name string
	body                              []byte
}

// Handle answers deploy and teardown requests.
func (k *Kubernetes) Handle(ctx context.Context, e event.Event) (*event.Event, error) {
	tenant, ref, err := request(e)
	if err != nil {
		return nil, err
	}
	var (
		state experiment.State
		ms    []store.ManifestRecord
	)
	err = k.store.WithTenant(ctx, tenant, func(tx *store.Tx) error {
		exp, err := tx.Experiment(ctx, ref.ExperimentID)
		if err != nil {
			return err
		}
		state = exp.State
		ms, err = tx.Manifests(ctx, ref.ExperimentID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, function.Invalid(fmt.Errorf("tenant has no experiment %s", ref.ExperimentID))
	}
	if err != nil {
		return nil, err
	}
	if e.Type() == events.TeardownRequested {
		return nil, k.teardown(ctx, tenant, ref.ExperimentID, ms)
	}
	if state != experiment.Deploying {
		return nil, nil // a late redelivery: the experiment moved on
	}
	failed, err := k.deploy(ctx, tenant, ref.ExperimentID, ms)
	if err != nil || failed == nil {
		return nil, err
	}
	// The cluster refused an object: no retry can fix that, so the experiment fails with why.
	reply, err := events.Reply(e, "deployer", events.WorkloadFailed, events.SourceDeployer, tenant, ref.ExperimentID, *failed)
	if err != nil {
		return nil, err
	}
	return &reply, nil
}

// deploy applies both variants: their Secrets first (the DaemonSets read them), then the stored
// objects in the order the generator stored them. A refusal by the API server comes back as a
// failure; a transport error or a 5xx as an error (the broker retries, and applying is
// idempotent).
func (k *Kubernetes) deploy(ctx context.Context, tenant, id uuid.UUID, ms []store.ManifestRecord) (*events.WorkloadFailure, error) {
	byVariant := map[experiment.Variant][]object{}
	for _, m := range ms {
		o, err := parse([]byte(m.Content))
		if err != nil {
			return &events.WorkloadFailure{ExperimentID: id, Variant: string(m.Variant), Reason: err.Error()}, nil
		}
		byVariant[m.Variant] = append(byVariant[m.Variant], o)
	}
	for _, v := range []experiment.Variant{experiment.Baseline, experiment.Candidate} {
		objs := byVariant[v]
		if len(objs) == 0 {
			return &events.WorkloadFailure{ExperimentID: id, Variant: string(v), Reason: "no stored manifests"}, nil
		}
		req := pipeline.Request{ExperimentID: id, Variant: string(v)}
		token, failure, err := k.token(ctx, tenant, id, v, object{apiVersion: "v1", kind: "Secret", namespace: objs[0].namespace,
			name: pipeline.IngestSecretName(req)})
		if err != nil || failure != nil {
			return failure, err
		}
		secret, err := pipeline.IngestSecret(req, pipeline.Deployment{Namespace: objs[0].namespace, Tenant: tenant.String()}, token)
		if err != nil {
			return nil, err
		}
		so, err := parse(secret.Content)
		if err != nil {
			return nil, err
		}
		for _, o := range append([]object{so}, objs...) {
			status, raw, err := k.apply(ctx, o)
			if err != nil {
				return nil, err
			}
			if status == http.StatusNotFound && o.kind == "ServiceMonitor" {
				continue // no Prometheus Operator in this cluster: the collectors run unmonitored
			}
			if failure, err := judge(id, v, "apply", o, status, message(raw)); err != nil || failure != nil {
				return failure, err
			}
		}
	}
	return nil, nil
}

// judge is what the deployer makes of the API server's answer when it tried to apply or read
// (verb) o for variant v: nothing for a 2xx; an error the broker retries for an outage (a 5xx
// other than server-side apply's typed-patch refusal, or 429); else the variant's failure in the
// server's words, a 409 with how to resolve the conflict.
func judge(id uuid.UUID, v experiment.Variant, verb string, o object, status int, msg string) (*events.WorkloadFailure, error) {
	what := fmt.Sprintf("%s %s/%s", o.kind, o.namespace, o.name)
	switch {
	case status < 300:
		return nil, nil
	case status >= 500 && !strings.HasPrefix(msg, typedPatchRefusal) || status == http.StatusTooManyRequests:
		return nil, fmt.Errorf("%s %s: the API server answered %d: %s", verb, what, status, msg)
	}
	if verb == "read" {
		what = "reading " + what
	}
	reason := fmt.Sprintf("the cluster refused %s (%d): %s", what, status, msg)
	if status == http.StatusConflict {
		reason += " — fields another manager set are not overwritten; remove that manager's change or the object, then start the experiment again"
	}
	return &events.WorkloadFailure{ExperimentID: id, Variant: string(v), Reason: reason}, nil
}

// token is the ingest token for variant v's Secret: the one the Secret already holds when it is
// still live for v (a redelivery: applying the same Secret again changes nothing, and the
// collectors keep the token they run with), else a fresh one.
func (k *Kubernetes) token(ctx context.Context, tenant, id uuid.UUID, v experiment.Variant, secret object) (string, *events.WorkloadFailure, error) {
	status, raw, err := k.call(ctx, http.MethodGet, secret, nil)
	if err != nil {
		return "", nil, err
	}
	if status != http.StatusNotFound {
		if failure, err := judge(id, v, "read", secret, status, message(raw)); err != nil || failure != nil {
			return "", failure, err
		}
		var s struct {
			Data map[string][]byte `json:"data"` // encoding/json decodes the base64
		}
		_ = json.Unmarshal(raw, &s) // an answer that does not decode holds no token to keep
		if token := string(s.Data[pipeline.IngestSecretKey]); k.Live != nil && token != "" {
			live, err := k.Live(ctx, tenant, id, v, token)
			if err != nil || live {
				return token, nil, err
			}
		}
	}
	token, err := k.Issue(ctx, tenant, id, v)
	return token, nil, err
}

// teardown deletes both variants' objects (absent ones are fine) and revokes their tokens.
func (k *Kubernetes) teardown(ctx context.Context, tenant, id uuid.UUID, ms []store.ManifestRecord) error {
	var errs []error
	namespaces := map[experiment.Variant]string{}
	for _, m := range ms {
		o, err := parse([]byte(m.Content))
		if err != nil {
			continue // never applied either
		}
		namespaces[m.Variant] = o.namespace
		errs = append(errs, k.remove(ctx, o))
	}
	for v, ns := range namespaces {
		errs = append(errs, k.remove(ctx, object{apiVersion: "v1", kind: "Secret", namespace: ns,
			name: pipeline.IngestSecretName(pipeline.Request{ExperimentID: id, Variant: string(v)})}))
	}
	if k.Revoke != nil {
		errs = append(errs, k.Revoke(ctx, tenant, id))
	}
	return errors.Join(errs...)
}

func (k *Kubernetes) remove(ctx context.Context, o object) error {
	status, raw, err := k.call(ctx, http.MethodDelete, o, nil)
	if err != nil {
		return err
	}
	if status >= 300 && status != http.StatusNotFound {
		return fmt.Errorf("delete %s %s/%s: the API server answered %d: %s", o.kind, o.namespace, o.name, status, message(raw))
	}
	return nil
}

// typedPatchRefusal begins the message of the 500 a real API server answers a server-side apply
// whose object does not fit the schema (a string where a boolean goes): a refusal, not an outage,
// so it fails the experiment instead of being redelivered until the phase times out
// (test/cluster TestDeployer_AnObjectTheServerRefusesFailsTheExperiment).
const typedPatchRefusal = "failed to create typed patch object"

// apply server-side-applies o without force: a field another manager set (a hand edit, another
// controller) is a 409 conflict the experiment reports, never silently taken back. A redelivery
// by Phoenix's own field manager conflicts with nothing.
func (k *Kubernetes) apply(ctx context.Context, o object) (int, []byte, error) {
	return k.call(ctx, http.MethodPatch, o, o.body)
}

// call sends one request about o and returns the status and the answer (at most 1 MiB: a Secret
// read back, never logged; else a Status whose message says why).
func (k *Kubernetes) call(ctx context.Context, method string, o object, body []byte) (int, []byte, error) {
	res, err := k.do(ctx, method, o, body)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, raw, err
}

// message is the message of a Status the API server answered with, or "".
func message(raw []byte) string {
	var st struct {
		Message string `json:"message"`
	}
	_ = yaml.Unmarshal(raw, &st)
	return st.Message
}

// do sends one request about o with the service account's token.
func (k *Kubernetes) do(ctx context.Context, method string, o object, body []byte) (*http.Response, error) {
	path, err := resourcePath(o)
	if err != nil {
		return nil, err
	}
	u := k.cluster.Server + path
	if method == http.MethodPatch {
		u += "?" + url.Values{"fieldManager": {FieldManager}}.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if method == http.MethodPatch {
		req.Header.Set("Content-Type", "application/apply-patch+yaml")
	}
	req.Header.Set("Accept", "application/json")
	if k.cluster.TokenFile != "" {
		tok, err := os.ReadFile(k.cluster.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("service-account token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	res, err := k.cluster.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s %s/%s: %w", method, o.kind, o.namespace, o.name, err)
	}
	return res, nil
}

// parse reads the identity of a manifest.
func parse(content []byte) (object, error) {
	var m struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(content, &m); err != nil {
		return object{}, fmt.Errorf("stored manifest: %w", err)
	}
	o := object{apiVersion: m.APIVersion, kind: m.Kind, namespace: m.Metadata.Namespace, name: m.Metadata.Name, body: content}
	if _, err := resourcePath(o); err != nil {
		return object{}, err
	}
	return o, nil
}

// resources maps the kinds Phoenix generates to their REST collection.
var resources = map[string]string{ // #nosec G101 -- REST paths ("secrets" is a resource name), no credentials
	"v1/ConfigMap":       "/api/v1/namespaces/%s/configmaps/%s",
	"v1/Secret":          "/api/v1/namespaces/%s/secrets/%s",
	"v1/Service":         "/api/v1/namespaces/%s/services/%s",
	"apps/v1/DaemonSet":  "/apis/apps/v1/namespaces/%s/daemonsets/%s",
	"apps/v1/Deployment": "/apis/apps/v1/namespaces/%s/deployments/%s",
	"monitoring.coreos.com/v1/ServiceMonitor": "/apis/monitoring.coreos.com/v1/namespaces/%s/servicemonitors/%s",
}

func resourcePath(o object) (string, error) {
	pattern, ok := resources[o.apiVersion+"/"+o.kind]
	if !ok {
		return "", fmt.Errorf("cannot apply %s %s: not a kind Phoenix generates", o.apiVersion, o.kind)
	}
	if o.namespace == "" || o.name == "" {
		return "", fmt.Errorf("%s without a namespace or name", o.kind)
	}
	return fmt.Sprintf(pattern, url.PathEscape(o.namespace), url.PathEscape(o.name)), nil
}
