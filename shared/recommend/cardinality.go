package recommend

import (
	"cmp"
	"slices"
	"strings"

	"github.com/phoenixotel/phoenix/shared/preview"
)

// Count is a name and how many of something it has: series of a metric or a process, distinct
// values of an attribute.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// Cardinality is what costs the most in a capture: the metrics and processes with the most
// series, and the attributes with the most distinct values.
type Cardinality struct {
	Series     int     `json:"series"`     // over the whole capture
	Metrics    []Count `json:"metrics"`    // series per metric, most first
	Processes  []Count `json:"processes"`  // series per process, most first
	Attributes []Count `json:"attributes"` // distinct values per attribute key, most first
}

// Costliest is in's cardinality, the n largest of each.
func Costliest(in preview.Summary, n int) Cardinality {
	return Cardinality{Series: in.Series, Metrics: top(in.Metrics, n), Processes: top(in.ProcessSeries, n), Attributes: top(in.AttributeValues, n)}
}

// top is the n largest counts, ties by name.
func top(counts map[string]int, n int) []Count {
	out := make([]Count, 0, len(counts))
	for k, v := range counts {
		out = append(out, Count{Name: k, Count: v})
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Name, b.Name)) })
	return out[:min(n, len(out))]
}
