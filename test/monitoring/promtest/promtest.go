// Package promtest reads samples out of a Prometheus registry in tests, as client_golang's
// prometheus/testutil would (testutil needs github.com/kylelemons/godebug, which go.mod does
// not require). It reads what the registry really exposes through Gather, the same path
// /metrics takes.
package promtest

import (
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Labels selects samples: every label named must have the value given; others may be anything.
type Labels map[string]string

// Value is the one sample of family name whose labels match: a counter's or gauge's value, or a
// histogram's sample count. The test fails if there is no such sample or more than one.
func Value(t testing.TB, g prometheus.Gatherer, name string, labels Labels) float64 {
	t.Helper()
	m := one(t, g, name, labels)
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetHistogram() != nil:
		return float64(m.GetHistogram().GetSampleCount())
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	t.Fatalf("%s%v: not a counter, gauge, histogram or untyped sample", name, labels)
	return 0
}

// Sum is the sum of the observations of the one histogram sample of family name whose labels
// match.
func Sum(t testing.TB, g prometheus.Gatherer, name string, labels Labels) float64 {
	t.Helper()
	h := one(t, g, name, labels).GetHistogram()
	if h == nil {
		t.Fatalf("%s%v is not a histogram", name, labels)
	}
	return h.GetSampleSum()
}

// Series lists the label sets of family name's samples, each as name="value" pairs sorted by
// name and joined by commas; none when the family does not exist.
func Series(t testing.TB, g prometheus.Gatherer, name string) []string {
	t.Helper()
	var out []string
	for _, m := range family(t, g, name) {
		var pairs []string
		for _, l := range m.GetLabel() {
			pairs = append(pairs, l.GetName()+"="+`"`+l.GetValue()+`"`)
		}
		sort.Strings(pairs)
		out = append(out, strings.Join(pairs, ","))
	}
	sort.Strings(out)
	return out
}

func one(t testing.TB, g prometheus.Gatherer, name string, labels Labels) *dto.Metric {
	t.Helper()
	var found []*dto.Metric
	for _, m := range family(t, g, name) {
		if matches(m, labels) {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d samples of %s match %v, want 1 (the family has %v)", len(found), name, labels, Series(t, g, name))
	}
	return found[0]
}

func family(t testing.TB, g prometheus.Gatherer, name string) []*dto.Metric {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f.GetMetric()
		}
	}
	return nil
}

func matches(m *dto.Metric, want Labels) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

// Snapshot gathers g once and returns a Gatherer that answers with those samples: a test that
// reads many values reads one scrape, and collectors that work at scrape time (dependency checks
// that wait on dial timeouts) run once instead of once per value.
func Snapshot(t testing.TB, g prometheus.Gatherer) prometheus.Gatherer {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return fams, nil })
}

// Registry returns a fresh registry with register's metrics on it, failing the test if they
// cannot be registered.
func Registry(t testing.TB, register func(prometheus.Registerer) error) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := register(reg); err != nil {
		t.Fatal(err)
	}
	return reg
}
