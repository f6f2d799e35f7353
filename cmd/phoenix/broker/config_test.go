package broker

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func TestLoad_KeepsKnativeObjectsAndSkipsTheRest(t *testing.T) {
	cfg, err := Load(os.DirFS("testdata/config"))
	if err != nil {
		t.Fatal(err)
	}
	five, one := int32(5), int32(1)
	want := Config{
		Brokers: []BrokerSpec{
			{Name: "phoenix", Delivery: &DeliverySpec{
				Retry: &five, BackoffPolicy: "exponential", BackoffDelay: "PT0.5S",
				DeadLetterSink: &Destination{
					Ref: &Reference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "phoenix-api"},
					URI: "/internal/dead-letters",
				},
			}},
			{Name: "other"},
		},
		Triggers: []Trigger{
			{
				Name: "legacy", Broker: "phoenix",
				Attributes: map[string]string{"type": "io.phoenix.experiment.started.v1", "tenant": ""},
				Subscriber: Destination{Ref: &Reference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "phoenix-controller"}},
			},
			{
				Name: "dialect", Broker: "phoenix",
				Filters: []Filter{
					{Prefix: map[string]string{"type": "io.phoenix."}},
					{Any: []Filter{
						{Exact: map[string]string{"source": "/api"}},
						{Not: &Filter{Suffix: map[string]string{"type": ".v0"}}},
					}},
				},
				Subscriber: Destination{URI: "http://127.0.0.1:9999/events"},
				Delivery:   &DeliverySpec{Retry: &one, BackoffPolicy: "linear"},
			},
		},
		PingSources: []PingSource{
			{
				Name: "heartbeat", Schedule: "CRON_TZ=Europe/Paris */5 * * * *", Data: `{"beat": true}`,
				Sink: Destination{Ref: &Reference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Name: "phoenix"}},
			},
			{
				Name: "binary", Schedule: "@hourly", ContentType: "text/plain", Data: "hello",
				Sink: Destination{URI: "http://127.0.0.1:9999/ping"},
			},
		},
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}

func TestLoad_ErrorsNameFileAndObject(t *testing.T) {
	const header = "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata:\n  name: t1\nspec:\n  broker: phoenix\n"
	const subscriber = "  subscriber:\n    uri: http://127.0.0.1:1/\n"
	tests := []struct {
		name string
		file string
		want []string // substrings of the error
	}{
		{"no subscriber", header, []string{"t.yaml", "document 1", "Trigger t1", "spec.subscriber"}},
		{"relative uri without ref", header + "  subscriber:\n    uri: /events\n", []string{"Trigger t1", "spec.subscriber", "absolute"}},
		{"no broker", strings.Replace(header, "  broker: phoenix\n", "", 1) + subscriber, []string{"t.yaml", "Trigger t1", "spec.broker"}},
		{"no name", "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {}\n", []string{"t.yaml", "Broker", "metadata.name"}},
		{"cesql", header + subscriber + "  filters:\n    - cesql: \"type = 'x'\"\n", []string{"Trigger t1", "spec.filters[0]", "cesql"}},
		{"two dialects", header + subscriber + "  filters:\n    - exact: {type: a}\n      prefix: {type: b}\n", []string{"Trigger t1", "spec.filters[0]", "exactly one"}},
		{"empty nested", header + subscriber + "  filters:\n    - not: {}\n", []string{"spec.filters[0].not", "exactly one"}},
		{"duplicate", header + subscriber + "---\n" + header + subscriber, []string{"document 2", "Trigger t1", "already defined in t.yaml"}},
		{"wrong type", header + subscriber + "  delivery:\n    retry: many\n", []string{"Trigger t1"}},
		{"ping without schedule", "apiVersion: sources.knative.dev/v1\nkind: PingSource\nmetadata:\n  name: p\nspec:\n  sink:\n    uri: http://x/\n", []string{"PingSource p", "spec.schedule"}},
		{"ping bad base64", "apiVersion: sources.knative.dev/v1\nkind: PingSource\nmetadata:\n  name: p\nspec:\n  schedule: '@hourly'\n  dataBase64: '!!'\n  sink:\n    uri: http://x/\n", []string{"PingSource p", "dataBase64"}},
		{"not yaml", "kind: [unclosed\n", []string{"t.yaml", "document 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(fstest.MapFS{"t.yaml": {Data: []byte(tt.file)}})
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestLoad_MalformedFileFailsTheLoad(t *testing.T) {
	_, err := Load(os.DirFS("testdata/malformed"))
	if err == nil {
		t.Fatal("Load succeeded, want an error")
	}
	if msg := err.Error(); !strings.Contains(msg, "triggers.yaml: document 2 at line 10") {
		t.Errorf("error %q should name triggers.yaml and its document 2, at line 10", msg)
	}
}

// The repository's own wiring must stay loadable by the dev broker: this is what `phoenix dev` runs.
func TestLoad_RepositoryTriggers(t *testing.T) {
	cfg, err := Load(os.DirFS("../../../triggers"))
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(d Destination) (string, error) { return "http://127.0.0.1:1/" + d.Ref.Name, nil }
	if _, err := New(cfg, "phoenix", Options{Resolve: resolve}); err != nil {
		t.Fatal(err)
	}
}

func TestSplitDocuments(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"one", "a: 1\n", []string{"1:a: 1"}},
		{"leading separator and blank documents", "---\na: 1\n---\n\n---\nb: 2\n", []string{"2:a: 1", "6:b: 2"}},
		{"separator with comment, CRLF", "a: 1\r\n--- # next\r\nb: 2\r\n", []string{"1:a: 1", "3:b: 2"}},
		{"dashes followed by text are not a separator", "a: 1\n---x: 2\n", []string{"1:a: 1\n---x: 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, d := range splitDocuments([]byte(tt.in)) {
				got = append(got, fmt.Sprintf("%d:%s", d.line, d.body))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("splitDocuments (-want +got):\n%s", diff)
			}
		})
	}
}
