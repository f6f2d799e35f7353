package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/functions/controller"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/realtime"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/kubeapi"
	"github.com/phoenixotel/phoenix/test/redistest"
)

// source is the part of Knative's ApiServerSource adapter (knative.dev/eventing
// pkg/adapter/apiserver) that Phoenix relies on, run against the real API server with the
// ApiServerSource's real ServiceAccount and Role: a watch of the selected resources, each change
// turned into the CloudEvent the adapter makes (events.makeEvent: type, subject, the kind,
// apiversion, name and namespace extensions, the whole object as data). The adapter itself needs
// client-go and knative.dev/pkg at versions the main module does not carry.
type source struct {
	spec   object           // the ApiServerSource as deploy/ renders it
	events chan event.Event // what the adapter would send to the Broker
}

// adapterTypes are the adapter's CloudEvent types in Resource mode, by watch event.
var adapterTypes = map[string]string{
	"ADDED":    "dev.knative.apiserver.resource.add",
	"MODIFIED": events.APIServerResourceEvent,
	"DELETED":  "dev.knative.apiserver.resource.delete",
}

// watch runs the adapter's watch of kind (one of the spec's resources) in namespace as the
// holder of token until the test ends.
func (src *source) watch(t *testing.T, s *kubeapi.Server, token, namespace, resource string) {
	t.Helper()
	var selector []string
	for _, r := range src.spec["spec"].(map[string]any)["resources"].([]any) {
		res := r.(map[string]any)
		if !strings.EqualFold(res["kind"].(string)+"s", resource) {
			continue
		}
		sel, _ := res["selector"].(map[string]any)
		for _, m := range asList(sel["matchExpressions"]) {
			e := m.(map[string]any)
			if e["operator"] != "Exists" {
				t.Fatalf("the ApiServerSource selects with %v: only Exists is translated here", e)
			}
			selector = append(selector, e["key"].(string))
		}
	}
	if len(selector) == 0 {
		t.Fatalf("the ApiServerSource does not watch %s", resource)
	}
	ctx, cancel := context.WithCancel(context.Background())
	path := fmt.Sprintf("/apis/apps/v1/namespaces/%s/%s?", namespace, resource) +
		url.Values{"watch": {"true"}, "labelSelector": {strings.Join(selector, ",")}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	// The watch lives as long as the test: a client of its own, without the default timeout.
	client := &http.Client{Transport: s.HTTPClient().Transport}
	res, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("watch %s: %v", path, err)
	}
	if res.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("watch %s as the ApiServerSource's ServiceAccount: %s", path, res.Status)
	}
	var done sync.WaitGroup
	t.Cleanup(func() { cancel(); _ = res.Body.Close(); done.Wait() })
	done.Add(1)
	go func() {
		defer done.Done()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		for sc.Scan() {
			var w struct {
				Type   string          `json:"type"`
				Object json.RawMessage `json:"object"`
			}
			if err := json.Unmarshal(sc.Bytes(), &w); err != nil || adapterTypes[w.Type] == "" {
				continue // BOOKMARK and ERROR carry no object change
			}
			var o object
			if err := json.Unmarshal(w.Object, &o); err != nil {
				continue
			}
			e := event.New()
			e.SetID(uuid.NewString())
			e.SetType(adapterTypes[w.Type])
			e.SetSource(s.URL)
			e.SetSubject(fmt.Sprintf("/apis/%s/namespaces/%s/%s/%s", o.apiVersion(), o.namespace(), resource, o.name()))
			e.SetExtension("kind", o.kind())
			e.SetExtension("apiversion", o.apiVersion())
			e.SetExtension("name", o.name())
			e.SetExtension("namespace", o.namespace())
			if err := e.SetData(event.ApplicationJSON, w.Object); err != nil {
				continue
			}
			select {
			case src.events <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
}

func asList(v any) []any { l, _ := v.([]any); return l }

// subscribed says whether a Trigger deploy/ renders delivers e to the Knative Service name: the
// Broker's exact attribute filter, as the wiring in triggers/ sets it.
func subscribed(triggers []object, name string, e event.Event) bool {
	for _, tr := range triggers {
		spec, _ := tr["spec"].(map[string]any)
		ref, _ := spec["subscriber"].(map[string]any)["ref"].(map[string]any)
		if ref["name"] != name {
			continue
		}
		attrs, _ := spec["filter"].(map[string]any)["attributes"].(map[string]any)
		match := true
		for k, v := range attrs {
			got := ""
			if k == "type" {
				got = e.Type()
			} else if x, ok := e.Extensions()[k]; ok {
				got = fmt.Sprint(x)
			}
			match = match && got == v
		}
		if match {
			return true
		}
	}
	return false
}

// sent keeps what the controller sends to the Broker.
type sent struct {
	mu     sync.Mutex
	events []event.Event
}

func (s *sent) Send(_ context.Context, e event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
	return nil
}

func TestCluster_ReadyDaemonSetsMoveTheExperimentToRunning(t *testing.T) {
	f := setup(t)
	base := render(t, "base")
	var spec object
	var triggers []object
	for _, o := range base {
		switch o.kind() {
		case "ApiServerSource":
			spec = o
		case "Trigger":
			triggers = append(triggers, o)
		}
	}
	if spec == nil {
		t.Fatal("deploy/base renders no ApiServerSource")
	}
	watcher, _ := spec["spec"].(map[string]any)["serviceAccountName"].(string)

	// What Knative's ApiServerSource reconciler checks before it starts the adapter: get, list
	// and watch on every resource in every selected namespace, by SubjectAccessReview.
	admin := f.server.Token(t, kubeapi.Admin)
	for _, resource := range []string{"daemonsets", "deployments"} {
		for _, verb := range []string{"get", "list", "watch"} {
			review, _ := json.Marshal(map[string]any{"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
				"spec": map[string]any{"user": "system:serviceaccount:" + phoenixNamespace + ":" + watcher,
					"resourceAttributes": map[string]any{"namespace": pipeline.DefaultNamespace, "group": "apps", "resource": resource, "verb": verb}}})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			status, body, err := f.server.Call(ctx, admin, http.MethodPost, "/apis/authorization.k8s.io/v1/subjectaccessreviews", review, "application/json")
			cancel()
			if err != nil || status != http.StatusCreated || !strings.Contains(string(body), `"allowed":true`) {
				t.Fatalf("the ApiServerSource's %s may not %s %s: %d %s %v", watcher, verb, resource, status, body, err)
			}
		}
	}

	id := f.experiment(t, "")
	if failure, err := f.send(t, events.DeployRequested, id); err != nil || failure != nil {
		t.Fatalf("deploy: %v %+v", err, failure)
	}
	src := &source{spec: spec, events: make(chan event.Event, 64)}
	src.watch(t, f.server, f.server.ServiceAccountToken(t, phoenixNamespace, watcher), pipeline.DefaultNamespace, "daemonsets")

	rdb := redistest.Client(t)
	out := &sent{}
	c := controller.New(controller.Options{Store: f.st, Publisher: realtime.NewPublisher(rdb, redistest.Prefix(t, rdb)), Sender: out})

	// In the DaemonSet controller's and the kubelets' place: one pod per DaemonSet scheduled,
	// updated and ready, as the status subresource records it.
	var daemonsets []object
	for _, o := range f.objects(t, id) {
		if o.kind() == "DaemonSet" {
			daemonsets = append(daemonsets, o)
		}
	}
	for i, ds := range daemonsets {
		f.readyDaemonSet(t, ds)
		deliverReady(t, src, triggers, c, ds)
		// One variant ready is not enough: the run starts when both collectors are.
		want := experiment.Deploying
		if i == len(daemonsets)-1 {
			want = experiment.Running
		}
		if got := f.state(t, id); got != want {
			t.Fatalf("after %s became ready the experiment is %s, want %s", ds.id(), got, want)
		}
	}
	if len(daemonsets) != 2 {
		t.Fatalf("the deployer applied %d DaemonSets, want one per variant", len(daemonsets))
	}
}

// readyDaemonSet writes ds's status as the DaemonSet controller would once its one pod is ready.
func (f *fixture) readyDaemonSet(t *testing.T, ds object) {
	t.Helper()
	stored := get(t, f.kubeconfig, ds)
	if len(stored) != 1 {
		t.Fatalf("%s is not stored", ds.id())
	}
	gen, _ := stored[0]["metadata"].(map[string]any)["generation"].(float64)
	patch, _ := json.Marshal(map[string]any{"status": map[string]any{"observedGeneration": int64(gen),
		"desiredNumberScheduled": 1, "currentNumberScheduled": 1, "updatedNumberScheduled": 1,
		"numberReady": 1, "numberAvailable": 1, "numberMisscheduled": 0}})
	path := fmt.Sprintf("/apis/apps/v1/namespaces/%s/daemonsets/%s/status", ds.namespace(), ds.name())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	status, body, err := f.server.Call(ctx, f.server.Token(t, kubeapi.Admin), http.MethodPatch, path, patch, "application/merge-patch+json")
	if err != nil || status != http.StatusOK {
		t.Fatalf("write %s's status: %d %s %v", ds.id(), status, body, err)
	}
}

// deliverReady hands the adapter's events that a Trigger routes to the controller to it, as the
// Broker would, until it has delivered the one that shows ds ready.
func deliverReady(t *testing.T, src *source, triggers []object, c *controller.Controller, ds object) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case e := <-src.events:
			if !subscribed(triggers, "phoenix-controller", e) {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, err := c.Handle(ctx, e)
			cancel()
			if err != nil {
				t.Fatalf("the controller refused %s for %s: %v", e.Type(), e.Subject(), err)
			}
			var o struct {
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
				Status struct {
					NumberReady int `json:"numberReady"`
				} `json:"status"`
			}
			if json.Unmarshal(e.Data(), &o) == nil && o.Metadata.Name == ds.name() && o.Status.NumberReady == 1 {
				return
			}
		case <-deadline:
			t.Fatalf("no update showing %s ready reached the controller within 30 s", ds.id())
		}
	}
}

// state reads experiment id's state.
func (f *fixture) state(t *testing.T, id uuid.UUID) experiment.State {
	t.Helper()
	var e store.Experiment
	err := f.st.WithTenant(context.Background(), f.tenant, func(tx *store.Tx) (err error) {
		e, err = tx.Experiment(context.Background(), id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return e.State
}
