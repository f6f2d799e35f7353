package monitoring

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// selector is one metric a PromQL expression reads, with the label names its matchers use.
type selector struct {
	name   string   // the metric name
	labels []string // label names in its {…} matchers, __name__ excluded
}

// PromQL words that are never metric names. Aggregations may be followed by by/without before
// their parenthesis, so they are known by name; functions are known by the "(" that follows them.
var (
	aggregations = map[string]bool{"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true,
		"stdvar": true, "count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
		"limitk": true, "limit_ratio": true}
	// grouping keywords take a parenthesised list of label names, which are not metrics.
	grouping  = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}
	operators = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true}
)

// selectors extracts the metric names (and their matchers' label names) from a PromQL expression.
//
// The module does not depend on Prometheus's own parser, so this is a tokenizer that knows just
// enough PromQL to tell metric names from everything else:
//   - string literals ("…", '…', `…`), # comments, range and subquery brackets […] and numbers
//     or durations (5m, 0.99, 1e6) are skipped;
//   - Grafana variables ($var, ${var}, $__rate_interval) are skipped;
//   - an identifier followed by "(" is a function; aggregation operators (sum, topk, …) are
//     known by name because "sum by (x) (…)" puts the grouping first;
//   - by, without, on, ignoring, group_left and group_right skip the label list that follows;
//   - and, or, unless, bool, offset, atan2, Inf and NaN are operators or literals;
//   - every other identifier is a metric name, and a {…} right after it holds its matchers;
//   - a bare {…} selects the metric its __name__="…" matcher names.
//
// It does not validate syntax (promtool does that for the rules); it errs on the side of
// reporting an identifier as a metric, so a misread shows up as an unknown metric, never as a
// silently unchecked one.
func selectors(expr string) ([]selector, error) {
	var out []selector
	rs := []rune(expr)
	i := 0
	peek := func(j int) (rune, int) { // next non-space rune at or after j
		for j < len(rs) && unicode.IsSpace(rs[j]) {
			j++
		}
		if j >= len(rs) {
			return 0, j
		}
		return rs[j], j
	}
	skipString := func(j int) (int, error) { // j at the opening quote; returns the index after the closing one
		q := rs[j]
		for k := j + 1; k < len(rs); k++ {
			if rs[k] == '\\' && q != '`' {
				k++
				continue
			}
			if rs[k] == q {
				return k + 1, nil
			}
		}
		return 0, fmt.Errorf("unterminated string at %d in %q", j, expr)
	}
	skipGroup := func(j int, open, close rune) (int, error) { // j at open; returns the index after close
		depth := 0
		for k := j; k < len(rs); k++ {
			switch rs[k] {
			case '"', '\'', '`':
				end, err := skipString(k)
				if err != nil {
					return 0, err
				}
				k = end - 1
			case open:
				depth++
			case close:
				depth--
				if depth == 0 {
					return k + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("unbalanced %c at %d in %q", open, j, expr)
	}
	// matchers reads a {…} block at j: its label names and a __name__ value, if any.
	matchers := func(j int) (labels []string, name string, end int, err error) {
		end, err = skipGroup(j, '{', '}')
		if err != nil {
			return nil, "", 0, err
		}
		k := j + 1
		for k < end-1 {
			r := rs[k]
			switch {
			case r == '"' || r == '\'' || r == '`':
				e, err := skipString(k)
				if err != nil {
					return nil, "", 0, err
				}
				k = e
			case isIdentStart(r):
				s := k
				for k < end-1 && isIdentPart(rs[k]) {
					k++
				}
				label := string(rs[s:k])
				if label == "__name__" {
					if _, v := peek(k); v < end-1 {
						// __name__ = "value": find the string after the operator.
						q := v
						for q < end-1 && rs[q] != '"' && rs[q] != '\'' && rs[q] != '`' {
							q++
						}
						if q < end-1 {
							e, err := skipString(q)
							if err != nil {
								return nil, "", 0, err
							}
							name = string(rs[q+1 : e-1])
							k = e
						}
					}
					continue
				}
				labels = append(labels, label)
			default:
				k++
			}
		}
		return labels, name, end, nil
	}

	for i < len(rs) {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '#':
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
		case r == '"' || r == '\'' || r == '`':
			end, err := skipString(i)
			if err != nil {
				return nil, err
			}
			i = end
		case r == '[':
			end, err := skipGroup(i, '[', ']')
			if err != nil {
				return nil, err
			}
			i = end
		case r == '{':
			labels, name, end, err := matchers(i)
			if err != nil {
				return nil, err
			}
			if name == "" {
				return nil, fmt.Errorf("a selector without a metric name at %d in %q", i, expr)
			}
			out = append(out, selector{name: name, labels: labels})
			i = end
		case r == '$':
			i++
			if i < len(rs) && rs[i] == '{' {
				end, err := skipGroup(i, '{', '}')
				if err != nil {
					return nil, err
				}
				i = end
				continue
			}
			for i < len(rs) && isIdentPart(rs[i]) {
				i++
			}
		case unicode.IsDigit(r) || (r == '.' && i+1 < len(rs) && unicode.IsDigit(rs[i+1])):
			for i < len(rs) && (isIdentPart(rs[i]) || rs[i] == '.') {
				if (rs[i] == 'e' || rs[i] == 'E') && i+1 < len(rs) && (rs[i+1] == '+' || rs[i+1] == '-') {
					i++
				}
				i++
			}
		case isIdentStart(r):
			s := i
			for i < len(rs) && isIdentPart(rs[i]) {
				i++
			}
			word := string(rs[s:i])
			next, at := peek(i)
			switch {
			case grouping[word]:
				if next == '(' {
					end, err := skipGroup(at, '(', ')')
					if err != nil {
						return nil, err
					}
					i = end
				}
			case operators[word], aggregations[word], strings.EqualFold(word, "inf"), strings.EqualFold(word, "nan"):
			case next == '(':
				// a function call: its arguments are scanned as the loop goes on
			default:
				sel := selector{name: word}
				if next == '{' {
					labels, _, end, err := matchers(at)
					if err != nil {
						return nil, err
					}
					sel.labels = labels
					i = end
				}
				out = append(out, sel)
			}
		default:
			i++
		}
	}
	return out, nil
}

func isIdentStart(r rune) bool {
	return r == '_' || r == ':' || (r < unicode.MaxASCII && unicode.IsLetter(r))
}
func isIdentPart(r rune) bool { return isIdentStart(r) || unicode.IsDigit(r) }

func TestSelectors_FindsMetricNamesOnly(t *testing.T) {
	tests := []struct {
		expr string
		want []string // "name" or "name{label,label}"
	}{
		{`up`, []string{"up"}},
		{`sum by (function, kind) (rate(phoenix_function_requests_total{code=~"5.."}[5m]))`,
			[]string{"phoenix_function_requests_total{code}"}},
		{`histogram_quantile(0.99, sum by (le) (rate(x_bucket{function="api",route!~"POST /v1/auth/login|a{b}"}[5m])))`,
			[]string{"x_bucket{function,route}"}},
		{`a / ignoring(variant) b > bool 0.5 and on() c offset 5m`, []string{"a", "b", "c"}},
		{`sum(x) without (pod) * on (experiment) group_left (variant) y`, []string{"x", "y"}},
		{`count(ALERTS{alertstate="firing"}) or vector(0)`, []string{"ALERTS{alertstate}"}},
		{`{__name__="otelcol_process_memory_rss", job="c"}`, []string{"otelcol_process_memory_rss{job}"}},
		{`x * 3600 / 1e6 * $price_per_million + y[$__rate_interval] - ${z}`, []string{"x", "y"}},
		{`topk(10, rate(m[5m])) > Inf or NaN`, []string{"m"}},
		{`label_replace(m, "dst", "$1", "src", "(sum)") # sum and m in a comment`, []string{"m"}},
		{`rate(m[5m:30s] @ start())`, []string{"m"}},
		{`record:with:colons{a="1"} * 1.5e-3`, []string{"record:with:colons{a}"}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			sels, err := selectors(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range sels {
				if len(s.labels) > 0 {
					got = append(got, s.name+"{"+strings.Join(s.labels, ",")+"}")
				} else {
					got = append(got, s.name)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	for _, bad := range []string{`m{a="unterminated}`, `sum(rate(m[5m)`, `{job="no name"}`} {
		if _, err := selectors(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}
