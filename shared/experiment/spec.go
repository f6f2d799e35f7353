package experiment

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Spec is what an experiment is about beyond its two pipelines: which processes must never be
// lost, where the collectors run, and what counts as success.
type Spec struct {
	// CriticalProcesses are process executable names (RE2 patterns, matched whole) that every
	// pipeline must keep.
	CriticalProcesses []string `json:"critical_processes,omitempty"`
	// Targets says where both variants' collectors run.
	Targets Targets `json:"targets"`
	// SuccessCriteria are the metrics the analysis decides on; empty means every measured KPI
	// with its default criterion (see DefaultCriterion).
	SuccessCriteria []Criterion `json:"success_criteria,omitempty"`
	// Analysis tunes the statistics; nil means the defaults.
	Analysis *AnalysisSettings `json:"analysis,omitempty"`
}

// AnalysisSettings tune the analysis of an experiment; zero values mean the defaults.
type AnalysisSettings struct {
	Alpha      float64 `json:"alpha,omitempty"`       // significance level, 0.001-0.2; default 0.05
	Power      float64 `json:"power,omitempty"`       // power the planning rules ask for, 0.5-0.99; default 0.8
	Correction string  `json:"correction,omitempty"`  // holm (default) or benjamini-hochberg, across metrics
	WindowSize int     `json:"window_size,omitempty"` // KPI samples averaged per independent window; 0 chooses from the autocorrelation
	// MaxDurationSeconds lets the run be extended up to this when the analysis cannot decide yet
	// but more data would (verdict "continue"); 0 means the run ends at its duration.
	MaxDurationSeconds int `json:"max_duration_seconds,omitempty"`
}

// MaxDuration is how long the run of an experiment lasting duration may become.
func (s Spec) MaxDuration(duration time.Duration) time.Duration {
	if s.Analysis == nil || time.Duration(s.Analysis.MaxDurationSeconds)*time.Second <= duration {
		return duration
	}
	return time.Duration(s.Analysis.MaxDurationSeconds) * time.Second
}

// Targets select the nodes (on a cluster) the collectors run on.
type Targets struct {
	Namespace    string            `json:"namespace,omitempty"`     // Kubernetes namespace; default "phoenix-experiments"
	NodeSelector map[string]string `json:"node_selector,omitempty"` // node labels; empty means every node
}

// Criterion is one metric's part in the decision.
type Criterion struct {
	Metric         string  `json:"metric"`                    // a KPI name, see Metrics
	Direction      string  `json:"direction,omitempty"`       // lower_is_better or higher_is_better; default per metric
	MinImprovement float64 `json:"min_improvement,omitempty"` // smallest relative improvement that matters, 0-1
	Critical       bool    `json:"critical,omitempty"`        // a guardrail: must be shown no worse; a regression rejects the candidate
	Tolerance      float64 `json:"tolerance,omitempty"`       // critical only: largest relative worsening still "no worse", 0-1; 0 means 5%
}

// DefaultCriterion is the criterion of a KPI the spec does not list criteria for: its direction
// from Metrics, no minimum improvement, and the collectors' own CPU and memory as guardrails
// (no worse than 5%), as is critical-process coverage (no worse than 1%): a cheaper pipeline must
// not buy its savings with a hungrier collector or lost processes.
func DefaultCriterion(metric string) Criterion {
	c := Criterion{Metric: metric, Direction: Metrics()[metric]}
	switch metric {
	case "collector_cpu", "collector_memory":
		c.Critical, c.Tolerance = true, 0.05
	case "critical_process_coverage":
		c.Critical, c.Tolerance = true, 0.01
	}
	return c
}

// Metrics are the KPIs Phoenix measures, with the direction that is better for each.
func Metrics() map[string]string {
	return map[string]string{
		"series":                    "lower_is_better",
		"datapoints_per_second":     "lower_is_better",
		"bytes_per_second":          "lower_is_better",
		"cost_per_hour":             "lower_is_better",
		"critical_process_coverage": "higher_is_better",
		"collector_cpu":             "lower_is_better",
		"collector_memory":          "lower_is_better",
	}
}

// FieldError names one invalid field of a spec by its JSON path.
type FieldError struct {
	Field   string // e.g. success_criteria[1].metric
	Message string // what is wrong and what is accepted
}

var (
	labelKey   = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)
	labelValue = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$`)
	dnsLabel   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
)

// Validate returns one error per invalid field; nil when the spec is valid.
func (s Spec) Validate() []FieldError {
	var errs []FieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if len(s.CriticalProcesses) > 100 {
		add("critical_processes", "at most 100 entries")
	}
	for i, p := range s.CriticalProcesses {
		f := fmt.Sprintf("critical_processes[%d]", i)
		if strings.TrimSpace(p) == "" || len(p) > 200 {
			add(f, "a process name or pattern of 1-200 characters")
			continue
		}
		if _, err := regexp.Compile("^(?:" + p + ")$"); err != nil {
			add(f, "not a valid RE2 pattern: %v", err)
		}
	}
	if s.Targets.Namespace != "" && !dnsLabel.MatchString(s.Targets.Namespace) {
		add("targets.namespace", "a Kubernetes namespace name (lowercase letters, digits, '-')")
	}
	if len(s.Targets.NodeSelector) > 20 {
		add("targets.node_selector", "at most 20 labels")
	}
	for k, v := range s.Targets.NodeSelector {
		if len(k) > 253 || !labelKey.MatchString(k) || !labelValue.MatchString(v) {
			add("targets.node_selector", "%q=%q is not a valid Kubernetes label", k, v)
		}
	}
	metrics := Metrics()
	seen := map[string]bool{}
	for i, c := range s.SuccessCriteria {
		f := fmt.Sprintf("success_criteria[%d]", i)
		if _, ok := metrics[c.Metric]; !ok {
			add(f+".metric", "unknown metric %q (one of series, datapoints_per_second, bytes_per_second, cost_per_hour, critical_process_coverage, collector_cpu, collector_memory)", c.Metric)
		} else if seen[c.Metric] {
			add(f+".metric", "%s is listed twice", c.Metric)
		}
		seen[c.Metric] = true
		if c.Direction != "" && c.Direction != "lower_is_better" && c.Direction != "higher_is_better" {
			add(f+".direction", "lower_is_better or higher_is_better")
		}
		if !(c.MinImprovement >= 0 && c.MinImprovement <= 1) {
			add(f+".min_improvement", "a fraction between 0 and 1 (0.1 means 10%%)")
		}
		if !(c.Tolerance >= 0 && c.Tolerance <= 1) {
			add(f+".tolerance", "a fraction between 0 and 1 (0.05 means 5%%)")
		} else if c.Tolerance > 0 && !c.Critical {
			add(f+".tolerance", "applies to critical metrics only")
		}
	}
	if a := s.Analysis; a != nil {
		if a.Alpha != 0 && !(a.Alpha >= 0.001 && a.Alpha <= 0.2) {
			add("analysis.alpha", "a significance level between 0.001 and 0.2")
		}
		if a.Power != 0 && !(a.Power >= 0.5 && a.Power <= 0.99) {
			add("analysis.power", "a power between 0.5 and 0.99")
		}
		if a.Correction != "" && a.Correction != "holm" && a.Correction != "benjamini-hochberg" {
			add("analysis.correction", "holm or benjamini-hochberg")
		}
		if a.WindowSize < 0 || a.WindowSize > 10000 {
			add("analysis.window_size", "0 (automatic) or a number of samples up to 10000")
		}
		if a.MaxDurationSeconds != 0 && (a.MaxDurationSeconds < 60 || a.MaxDurationSeconds > 604800) {
			add("analysis.max_duration_seconds", "0 (no extension) or between 60 and 604800 seconds, at least the duration")
		}
	}
	return errs
}
