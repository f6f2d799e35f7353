package recommend

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// Usage is what a team's dashboards and alerts query: the metric names their PromQL selects, as
// `mimirtool analyze` reads rule files and Grafana dashboards.
type Usage struct {
	Metrics []string `json:"metrics"` // Prometheus metric names, sorted, each once
}

// Uses reports whether the OpenTelemetry metric m is used: whether a used name is m as the
// Prometheus exporter names it — dots as underscores, then perhaps its unit and type suffixes
// (process.cpu.time is queried as process_cpu_time_seconds_total; process.cpu would not be).
func (u Usage) Uses(m string) bool {
	p := strings.ReplaceAll(m, ".", "_")
	for _, used := range u.Metrics {
		rest, ok := strings.CutPrefix(used, p)
		if ok && (rest == "" || rest[0] == '_' && onlySuffixes(rest[1:])) {
			return true
		}
	}
	return false
}

// suffixes are the words the Prometheus exporter appends to a metric's name: its unit, and the
// type suffixes of counters and histograms.
var suffixes = map[string]bool{"seconds": true, "milliseconds": true, "microseconds": true, "nanoseconds": true, "bytes": true,
	"kilobytes": true, "megabytes": true, "ratio": true, "percent": true, "total": true, "count": true, "sum": true, "bucket": true,
	"info": true, "created": true, "hertz": true, "celsius": true, "meters": true, "per": true, "second": true}

func onlySuffixes(rest string) bool {
	for w := range strings.SplitSeq(rest, "_") {
		if !suffixes[w] {
			return false
		}
	}
	return true
}

// Merge is every name used by any of us.
func Merge(us ...Usage) Usage {
	var all []string
	for _, u := range us {
		all = append(all, u.Metrics...)
	}
	slices.Sort(all)
	return Usage{Metrics: slices.Compact(all)}
}

// FromRules reads a Prometheus rule file (groups → rules → expr).
func FromRules(raw []byte) (Usage, error) {
	var f struct {
		Groups []struct {
			Rules []struct {
				Expr string `json:"expr"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		return Usage{}, fmt.Errorf("not a Prometheus rule file: %w", err)
	}
	var exprs []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	return fromExprs(exprs), nil
}

// FromDashboard reads a Grafana dashboard (JSON): every "expr" of its panels' targets, rows and
// library panels included, and the queries of its template variables.
func FromDashboard(raw []byte) (Usage, error) {
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return Usage{}, fmt.Errorf("not a Grafana dashboard (JSON): %w", err)
	}
	var exprs []string
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(e, k)
			}
		case []any:
			for _, e := range x {
				walk(e, key)
			}
		case string:
			if key == "expr" || key == "query" || key == "definition" {
				exprs = append(exprs, x)
			}
		}
	}
	walk(doc, "")
	return fromExprs(exprs), nil
}

func fromExprs(exprs []string) Usage {
	var names []string
	for _, e := range exprs {
		names = append(names, MetricNames(e)...)
	}
	return Merge(Usage{Metrics: names})
}

// keywords are PromQL words that are not metric names where an identifier may stand.
var keywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true,
	"without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true, "atan2": true,
	"label_values": true, "query_result": true, "metrics": true,
	// aggregations, which may be followed by a grouping before their parentheses
	"sum": true, "avg": true, "min": true, "max": true, "count": true, "stddev": true, "stdvar": true, "topk": true, "bottomk": true,
	"quantile": true, "count_values": true, "group": true, "limitk": true, "limit_ratio": true}

// groupings take a parenthesized list of label names.
var groupings = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

// MetricNames are the metric names a PromQL expression selects: identifiers that are not
// functions, keywords or label names, and __name__ matchers. Strings, ranges, label matchers,
// grouping lists and Grafana variables ($var, ${var}, [[var]]) are skipped. A lexer rather than
// Prometheus' parser: the parser would bring the whole Prometheus module into the build for the
// one thing mimirtool uses it for here, and Grafana's variables are not PromQL it could parse.
func MetricNames(expr string) []string {
	var out []string
	s := expr
	i := 0
	skipString := func() {
		q := s[i]
		i++
		for i < len(s) && s[i] != q {
			if s[i] == '\\' && q != '`' {
				i++
			}
			i++
		}
		i++
	}
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			skipString()
		case c == '$':
			i++
			if i < len(s) && s[i] == '{' {
				for i < len(s) && s[i] != '}' {
					i++
				}
				i++
			}
			for i < len(s) && isIdent(s[i]) {
				i++
			}
		case c == '[':
			for i < len(s) && s[i] != ']' {
				i++
			}
			i++
		case c == '{':
			i++
			for i < len(s) && s[i] != '}' {
				if s[i] == '"' || s[i] == '\'' || s[i] == '`' {
					skipString()
					continue
				}
				if strings.HasPrefix(s[i:], "__name__") {
					j := i + len("__name__")
					for j < len(s) && s[j] == ' ' {
						j++
					}
					if j+1 < len(s) && s[j] == '=' && s[j+1] != '~' {
						j++
						for j < len(s) && s[j] == ' ' {
							j++
						}
						if j < len(s) && (s[j] == '"' || s[j] == '\'') {
							end := strings.IndexByte(s[j+1:], s[j])
							if end >= 0 {
								out = append(out, s[j+1:j+1+end])
							}
						}
					}
				}
				i++
			}
			i++
		case c >= '0' && c <= '9':
			// a number or a duration: 1e3, 0x1f, 5m, 1.5
			for i < len(s) && (isIdent(s[i]) || s[i] == '.') {
				i++
			}
		case isIdentStart(c):
			start := i
			for i < len(s) && isIdent(s[i]) {
				i++
			}
			word := s[start:i]
			j := i
			for j < len(s) && (s[j] == ' ' || s[j] == '\n' || s[j] == '\t') {
				j++
			}
			switch {
			case groupings[strings.ToLower(word)] && j < len(s) && s[j] == '(':
				for i < len(s) && s[i] != ')' {
					i++
				}
			case j < len(s) && s[j] == '(':
				// a function or an aggregation
			case keywords[strings.ToLower(word)]:
			default:
				out = append(out, word)
			}
		default:
			i++
		}
	}
	return out
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
func isIdent(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
