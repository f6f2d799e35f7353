package broker

import (
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
)

// matches reports whether e passes the trigger's filter. The SubscriptionsAPI filters take
// precedence over the legacy attributes, as in Knative with the new-trigger-filters feature on;
// a trigger with neither receives every event of its broker.
func (t Trigger) matches(e event.Event) bool {
	if len(t.Filters) > 0 {
		return matchAll(t.Filters, e)
	}
	return matchAttributes(t.Attributes, e)
}

// matchAttributes is the legacy filter: every attribute must be present, and equal to its value
// unless that value is "" (Knative's TriggerAnyFilter).
func matchAttributes(attrs map[string]string, e event.Event) bool {
	for name, want := range attrs {
		got, ok := attribute(e, name)
		if !ok || (want != "" && got != want) {
			return false
		}
	}
	return true
}

// matches evaluates a SubscriptionsAPI expression. An attribute the event lacks fails exact,
// prefix and suffix; a Filter with nothing set matches.
func (f Filter) matches(e event.Event) bool {
	if !matchEach(f.Exact, e, func(got, want string) bool { return got == want }) ||
		!matchEach(f.Prefix, e, strings.HasPrefix) ||
		!matchEach(f.Suffix, e, strings.HasSuffix) {
		return false
	}
	if f.All != nil && !matchAll(f.All, e) {
		return false
	}
	if f.Any != nil && !matchAny(f.Any, e) {
		return false
	}
	if f.Not != nil && f.Not.matches(e) {
		return false
	}
	return true
}

func matchEach(attrs map[string]string, e event.Event, holds func(got, want string) bool) bool {
	for name, want := range attrs {
		got, ok := attribute(e, name)
		if !ok || !holds(got, want) {
			return false
		}
	}
	return true
}

func matchAll(filters []Filter, e event.Event) bool {
	for _, f := range filters {
		if !f.matches(e) {
			return false
		}
	}
	return true
}

func matchAny(filters []Filter, e event.Event) bool {
	for _, f := range filters {
		if f.matches(e) {
			return true
		}
	}
	return false
}

// attribute returns a context attribute or extension of e in its canonical string form (the form
// it has in a binary-mode header), and whether e has it at all.
func attribute(e event.Event, name string) (string, bool) {
	switch name {
	case "specversion":
		return e.SpecVersion(), true
	case "id":
		return e.ID(), true
	case "type":
		return e.Type(), true
	case "source":
		return e.Source(), true
	case "subject":
		return present(e.Subject())
	case "datacontenttype":
		return present(e.DataContentType())
	case "dataschema":
		return present(e.DataSchema())
	case "time":
		if e.Time().IsZero() {
			return "", false
		}
		return types.FormatTime(e.Time()), true
	}
	v, ok := e.Extensions()[name]
	if !ok {
		return "", false
	}
	s, err := types.Format(v)
	if err != nil {
		return "", false
	}
	return s, true
}

func present(s string) (string, bool) { return s, s != "" }
