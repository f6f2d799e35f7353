package broker

import (
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// filterEvent has every kind of attribute the filters read: required, optional and extensions.
func filterEvent() event.Event {
	e := event.New()
	e.SetID("ev-1")
	e.SetType("io.phoenix.experiment.started.v1")
	e.SetSource("/api")
	e.SetSubject("exp-42")
	e.SetTime(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	_ = e.SetData(event.ApplicationJSON, map[string]string{"k": "v"})
	e.SetExtension("tenant", "acme")
	e.SetExtension("knativebrokerttl", int32(7))
	return e
}

func TestTrigger_LegacyAttributes(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]string
		want  bool
	}{
		{"no filter matches everything", nil, true},
		{"exact type", map[string]string{"type": "io.phoenix.experiment.started.v1"}, true},
		{"other type", map[string]string{"type": "io.phoenix.experiment.stopped.v1"}, false},
		{"every attribute must match", map[string]string{"type": "io.phoenix.experiment.started.v1", "source": "/generator"}, false},
		{"extension", map[string]string{"tenant": "acme"}, true},
		{"integer extension in canonical form", map[string]string{"knativebrokerttl": "7"}, true},
		{"empty value: present extension", map[string]string{"tenant": ""}, true},
		{"empty value: absent extension", map[string]string{"region": ""}, false},
		{"empty value: present optional attribute", map[string]string{"subject": ""}, true},
		{"empty value: absent optional attribute", map[string]string{"dataschema": ""}, false},
		{"specversion", map[string]string{"specversion": "1.0"}, true},
		{"id", map[string]string{"id": "ev-1"}, true},
		{"subject", map[string]string{"subject": "exp-42"}, true},
		{"time", map[string]string{"time": "2025-01-02T03:04:05Z"}, true},
		{"datacontenttype", map[string]string{"datacontenttype": "application/json"}, true},
		{"absent extension", map[string]string{"region": "eu"}, false},
		{"matching is case sensitive", map[string]string{"tenant": "ACME"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Trigger{Attributes: tt.attrs}).matches(filterEvent()); got != tt.want {
				t.Errorf("matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFilter_SubscriptionsAPI(t *testing.T) {
	exact := func(k, v string) Filter { return Filter{Exact: map[string]string{k: v}} }
	tests := []struct {
		name   string
		filter Filter
		want   bool
	}{
		{"empty filter", Filter{}, true},
		{"exact", exact("type", "io.phoenix.experiment.started.v1"), true},
		{"exact mismatch", exact("type", "io.phoenix"), false},
		{"exact absent attribute", exact("region", "eu"), false},
		{"exact all pairs hold", Filter{Exact: map[string]string{"source": "/api", "tenant": "acme"}}, true},
		{"exact one pair fails", Filter{Exact: map[string]string{"source": "/api", "tenant": "globex"}}, false},
		{"prefix", Filter{Prefix: map[string]string{"type": "io.phoenix.experiment."}}, true},
		{"prefix mismatch", Filter{Prefix: map[string]string{"type": "io.other."}}, false},
		{"prefix absent attribute", Filter{Prefix: map[string]string{"dataschema": ""}}, false},
		{"suffix", Filter{Suffix: map[string]string{"type": ".v1"}}, true},
		{"suffix mismatch", Filter{Suffix: map[string]string{"type": ".v2"}}, false},
		{"all hold", Filter{All: []Filter{exact("source", "/api"), exact("tenant", "acme")}}, true},
		{"all, one fails", Filter{All: []Filter{exact("source", "/api"), exact("tenant", "globex")}}, false},
		{"any, one holds", Filter{Any: []Filter{exact("source", "/generator"), exact("tenant", "acme")}}, true},
		{"any, none holds", Filter{Any: []Filter{exact("source", "/generator"), exact("tenant", "globex")}}, false},
		{"not of a mismatch", Filter{Not: &Filter{Suffix: map[string]string{"type": ".v0"}}}, true},
		{"not of a match", Filter{Not: &Filter{Exact: map[string]string{"tenant": "acme"}}}, false},
		{"nested", Filter{All: []Filter{
			{Prefix: map[string]string{"type": "io.phoenix."}},
			{Any: []Filter{exact("subject", "exp-1"), {Not: &Filter{Exact: map[string]string{"source": "/generator"}}}}},
		}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.filter.matches(filterEvent()); got != tt.want {
				t.Errorf("matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTrigger_FiltersTakePrecedenceOverAttributes(t *testing.T) {
	tests := []struct {
		name    string
		trigger Trigger
		want    bool
	}{
		{"filters match, attributes do not", Trigger{
			Attributes: map[string]string{"type": "nope"},
			Filters:    []Filter{{Exact: map[string]string{"tenant": "acme"}}},
		}, true},
		{"attributes match, filters do not", Trigger{
			Attributes: map[string]string{"tenant": "acme"},
			Filters:    []Filter{{Exact: map[string]string{"type": "nope"}}},
		}, false},
		{"a top-level list means all", Trigger{
			Filters: []Filter{{Exact: map[string]string{"tenant": "acme"}}, {Exact: map[string]string{"type": "nope"}}},
		}, false},
		{"an empty list falls back to attributes", Trigger{
			Attributes: map[string]string{"type": "nope"},
			Filters:    []Filter{},
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.trigger.matches(filterEvent()); got != tt.want {
				t.Errorf("matches = %v, want %v", got, tt.want)
			}
		})
	}
}
