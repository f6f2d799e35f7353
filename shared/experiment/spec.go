package experiment

import (
	"fmt"
	"regexp"
	"slices"
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
	// Alpha is the chance, over the whole run and all its looks, that any interval misses its
	// metric's true change: 0.001-0.2; default 0.05.
	Alpha float64 `json:"alpha,omitempty"`
	// Power is the chance the windows-needed estimate plans for, 0.5-0.99; default 0.8.
	Power float64 `json:"power,omitempty"`
	// MaxDurationSeconds lets the run be extended up to this when the analysis cannot decide yet
	// but more data would (verdict "continue"); 0 means the run ends at its duration.
	MaxDurationSeconds int `json:"max_duration_seconds,omitempty"`
	// EarlyStop says when a clear answer may end the run before its duration; nil means the
	// defaults (see EarlyStop).
	EarlyStop *EarlyStop `json:"early_stop,omitempty"`
	// CriticalMissTolerance is the number of windows in which the candidate may lack a critical
	// process the baseline had before the candidate is rejected, 0-100; default 0.
	CriticalMissTolerance int `json:"critical_miss_tolerance,omitempty"`
	// ParityTolerance is the relative difference between what the two collectors received (input
	// points a window, the share refused) beyond which the comparison is invalid, 0.01-0.5;
	// default 0.1.
	ParityTolerance float64 `json:"parity_tolerance,omitempty"`
}

// EarlyStop says when a clear answer ends a run early. Every look at the data keeps the error
// rates (the analysis is anytime-valid), so stopping on a clear answer costs nothing in validity.
type EarlyStop struct {
	// Regressions: a rejection (a regression, a lost critical process) ends the run at once;
	// nil means true.
	Regressions *bool `json:"regressions,omitempty"`
	// Wins: a promotion, or "better nowhere", ends the run once MinRunSeconds have passed; nil
	// means true.
	Wins *bool `json:"wins,omitempty"`
	// MinRunSeconds is how long the run lasts at least before a win may end it, 0-604800;
	// 0 means the default, DefaultMinRun (or the whole duration when that is shorter).
	MinRunSeconds int `json:"min_run_seconds,omitempty"`
}

// DefaultMinRun is how long a run lasts at least before a win may end it: long enough for the
// collectors to warm up and for a periodic load to show, short enough that a 30-minute experiment
// with a clear answer ends in 5.
const DefaultMinRun = 5 * time.Minute

// MaxRunSeconds bounds a run's duration and its extensions: a week.
const MaxRunSeconds = 604800

// EarlyStopping resolves the early-stop settings of the spec for a run of the given duration:
// whether regressions and wins may end it early, and after how long a win may.
func (s Spec) EarlyStopping(duration time.Duration) (regressions, wins bool, minRun time.Duration) {
	regressions, wins, minRun = true, true, DefaultMinRun
	if s.Analysis != nil && s.Analysis.EarlyStop != nil {
		e := s.Analysis.EarlyStop
		if e.Regressions != nil {
			regressions = *e.Regressions
		}
		if e.Wins != nil {
			wins = *e.Wins
		}
		if e.MinRunSeconds > 0 {
			minRun = time.Duration(e.MinRunSeconds) * time.Second
		}
	}
	return regressions, wins, min(minRun, duration)
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
	// ToleranceFloor (critical only) is the largest absolute worsening, in the metric's own units
	// (cores, bytes), still "no worse" when the relative tolerance allows less: guardrails on
	// collectors that use a few millicores would otherwise demand hours of windows to rule out
	// a change nobody pays for.
	ToleranceFloor float64 `json:"tolerance_floor,omitempty"`
}

// DefaultCriterion is the criterion of a KPI the spec does not list criteria for: its direction
// from Metrics, no minimum improvement, and the collectors' own CPU and memory as guardrails
// (no worse than 5%, or than 0.01 cores and 16 MiB when those are more): a cheaper pipeline must
// not buy its savings with a hungrier collector. Critical-process coverage needs no criterion: a
// lost critical process is a rule of its own (spec.analysis.critical_miss_tolerance), not an
// average.
func DefaultCriterion(metric string) Criterion {
	c := Criterion{Metric: metric, Direction: Metrics()[metric]}
	switch metric {
	case "collector_cpu":
		c.Critical, c.Tolerance, c.ToleranceFloor = true, 0.05, 0.01
	case "collector_memory":
		c.Critical, c.Tolerance, c.ToleranceFloor = true, 0.05, 16<<20
	}
	return c
}

// DefaultMetrics are the KPIs decided on when the spec lists no criteria: every KPI but
// critical-process coverage, which the critical-coverage rule covers window by window.
func DefaultMetrics() []string {
	return []string{"bytes_per_second", "collector_cpu", "collector_memory", "cost_per_hour", "datapoints_per_second", "series"}
}

// MetricInfo describes one KPI to a client choosing success criteria (GET /v1/metrics).
type MetricInfo struct {
	Name      string `json:"name"`      // the KPI, as a criterion names it
	Direction string `json:"direction"` // lower_is_better or higher_is_better
	// DecidedByDefault says whether a spec without criteria decides on this metric.
	DecidedByDefault bool `json:"decided_by_default"`
	// Default is the criterion the analysis applies when the spec lists none.
	Default Criterion `json:"default"`
}

// Catalog describes every KPI, sorted by name: what a spec may name in its criteria and what
// the analysis does when it names none.
func Catalog() []MetricInfo {
	byDefault := map[string]bool{}
	for _, m := range DefaultMetrics() {
		byDefault[m] = true
	}
	out := make([]MetricInfo, 0, len(Metrics()))
	for name, dir := range Metrics() {
		out = append(out, MetricInfo{Name: name, Direction: dir, DecidedByDefault: byDefault[name], Default: DefaultCriterion(name)})
	}
	slices.SortFunc(out, func(a, b MetricInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
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
		if !(c.ToleranceFloor >= 0 && c.ToleranceFloor <= 1e15) {
			add(f+".tolerance_floor", "an amount in the metric's own units, at least 0")
		} else if c.ToleranceFloor > 0 && !c.Critical {
			add(f+".tolerance_floor", "applies to critical metrics only")
		}
	}
	if a := s.Analysis; a != nil {
		if a.Alpha != 0 && !(a.Alpha >= 0.001 && a.Alpha <= 0.2) {
			add("analysis.alpha", "a significance level between 0.001 and 0.2")
		}
		if a.Power != 0 && !(a.Power >= 0.5 && a.Power <= 0.99) {
			add("analysis.power", "a power between 0.5 and 0.99")
		}
		if a.MaxDurationSeconds != 0 && (a.MaxDurationSeconds < 60 || a.MaxDurationSeconds > MaxRunSeconds) {
			add("analysis.max_duration_seconds", "0 (no extension) or between 60 and %d seconds, at least the duration", MaxRunSeconds)
		}
		if e := a.EarlyStop; e != nil && (e.MinRunSeconds < 0 || e.MinRunSeconds > MaxRunSeconds) {
			add("analysis.early_stop.min_run_seconds", "0 (the default, 5 minutes) or up to %d seconds", MaxRunSeconds)
		}
		if a.CriticalMissTolerance < 0 || a.CriticalMissTolerance > 100 {
			add("analysis.critical_miss_tolerance", "a number of windows between 0 and 100")
		}
		if a.ParityTolerance != 0 && !(a.ParityTolerance >= 0.01 && a.ParityTolerance <= 0.5) {
			add("analysis.parity_tolerance", "a fraction between 0.01 and 0.5 (0.1 means 10%%)")
		}
	}
	return errs
}
