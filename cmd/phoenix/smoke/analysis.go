package smoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
)

// analysisView is GET /v1/experiments/{id}/analysis (the fields the checks read).
type analysisView struct {
	ID      string `json:"id"`      // the stored result's id
	Verdict string `json:"verdict"` // promote, reject, inconclusive or invalid
	Report  struct {
		Verdict string            `json:"verdict"` // the decision's verdict: must equal Verdict
		Reason  string            `json:"reason"`  // why, in a sentence
		Trace   []json.RawMessage `json:"trace"`   // the overall rules applied
		Metrics []metricView      `json:"metrics"` // per metric
	} `json:"report"` // the explained decision
}

// metricView is one metric of an analysis report.
type metricView struct {
	Metric  string            `json:"metric"`  // the KPI's name
	Outcome string            `json:"outcome"` // improved, regressed, no_change or undecided
	Reason  string            `json:"reason"`  // why
	Trace   []json.RawMessage `json:"trace"`   // the rules applied
	Pairs   int               `json:"pairs"`   // windows complete for both variants the analysis compared
}

// validVerdict reports whether v is a verdict that ends an experiment.
func validVerdict(v string) bool {
	return experiment.Verdict(v).Valid() && experiment.Verdict(v).Final()
}

// Analysis checks stored analyses as Credentials.Primary: an experiment that has not run has none
// (404); a completed experiment's analysis (see the package doc for which one) carries a valid
// verdict equal to the experiment's, a reason, and for every metric an outcome, a reason and the
// rule trace; and it rests on the KPI windows the API serves — no metric counts more samples
// than the complete windows hold.
func Analysis(ctx context.Context, t Target, c Credentials, o Options) Result {
	o = o.withDefaults()
	r := newRecorder(ctx, "analysis")
	analysisChecks(ctx, r, newAPI(t), c.Primary, o)
	return r.done()
}

func analysisChecks(ctx context.Context, r *recorder, a *api, acct Account, o Options) {
	var s *session
	if !r.step("an experiment that has not run has no analysis", func() (string, error) {
		var err error
		if s, err = open(ctx, a, acct); err != nil {
			return "", err
		}
		e, err := create(ctx, s, "smoke-analysis-"+o.RunID, o)
		if err != nil {
			return "", err
		}
		r.undo("cleanup: stop the unrun experiment", stopUnlessEnded(s, e.ID.String()))
		rep, err := s.do(ctx, http.MethodGet, "/v1/experiments/"+e.ID.String()+"/analysis", nil)
		if err != nil {
			return "", err
		}
		if err := rep.Want(http.StatusNotFound); err != nil {
			return "", fmt.Errorf("a pending experiment's analysis: %w", err)
		}
		return "404: " + rep.Detail(), nil
	}) {
		return
	}

	const name = "a completed experiment's analysis is whole"
	var e store.Experiment
	if o.Experiment != "" {
		if !r.step("the named experiment has completed", func() (string, error) {
			var err error
			if e, err = read(ctx, s, o.Experiment); err != nil {
				return "", err
			}
			switch e.State {
			case experiment.Completed, experiment.Promoted, experiment.RolledBack:
				return fmt.Sprintf("experiment %s is %s", e.ID, e.State), nil
			}
			return "", fmt.Errorf("experiment %s is %s (failure reason %s): only a completed experiment has an analysis", e.ID, e.State, deref(e.FailureReason))
		}) {
			return
		}
	} else {
		found, err := newestCompleted(ctx, s)
		if err != nil {
			r.step(name, func() (string, error) { return "", err })
			return
		}
		if found == nil {
			r.skip(name, fmt.Sprintf("tenant %s has no completed experiment: name one, or run lifecycle with --expect-complete where collectors run", acct.Tenant))
			return
		}
		e = *found
	}

	var an analysisView
	if !r.step(name, func() (string, error) {
		if err := s.get(ctx, "/v1/experiments/"+e.ID.String()+"/analysis", &an); err != nil {
			return "", err
		}
		if err := whole(an); err != nil {
			return "", fmt.Errorf("experiment %s: %w", e.ID, err)
		}
		return fmt.Sprintf("experiment %s: %s (%s), %d metrics each with an outcome and its rule trace", e.ID, an.Verdict, an.Report.Reason, len(an.Report.Metrics)), nil
	}) {
		return
	}

	r.step("the experiment carries the analysis's verdict", func() (string, error) {
		if e.Verdict == nil || *e.Verdict != an.Verdict {
			return "", fmt.Errorf("experiment %s has verdict %s, its analysis %q", e.ID, deref(e.Verdict), an.Verdict)
		}
		return an.Verdict, nil
	})

	r.step("the analysis rests on the KPI windows the API serves", func() (string, error) {
		counts := map[string]map[string]int{}
		for _, variant := range []string{"baseline", "candidate"} {
			ws, err := kpiWindows(ctx, s, e.ID.String(), variant)
			if err != nil {
				return "", err
			}
			counts[variant] = map[string]int{}
			for _, w := range ws {
				if !w.Complete {
					continue
				}
				for m := range w.KPIs {
					counts[variant][m]++
				}
			}
		}
		return samplesServed(an.Report.Metrics, counts)
	})
}

// whole reports what a stored analysis lacks.
func whole(an analysisView) error {
	var errs []string
	if !validVerdict(an.Verdict) {
		errs = append(errs, fmt.Sprintf("verdict %q is not promote, reject, inconclusive or invalid", an.Verdict))
	}
	if an.Report.Verdict != an.Verdict {
		errs = append(errs, fmt.Sprintf("the report's verdict %q differs from the stored %q", an.Report.Verdict, an.Verdict))
	}
	if an.Report.Reason == "" || len(an.Report.Trace) == 0 {
		errs = append(errs, "the decision has no reason or no trace")
	}
	if len(an.Report.Metrics) == 0 {
		errs = append(errs, "the report has no metrics")
	}
	outcomes := map[string]bool{"improved": true, "regressed": true, "no_change": true, "undecided": true}
	for _, m := range an.Report.Metrics {
		if m.Metric == "" || !outcomes[m.Outcome] || m.Reason == "" || len(m.Trace) == 0 {
			errs = append(errs, fmt.Sprintf("metric %q: outcome %q, reason %q, %d trace steps; want a name, an outcome, a reason and a trace", m.Metric, m.Outcome, m.Reason, len(m.Trace)))
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// samplesServed checks every metric's paired windows against the complete windows served per
// variant and metric: a pair needs a complete window of each. Windows may close after the
// analysis read them, never fewer may exist.
func samplesServed(metrics []metricView, served map[string]map[string]int) (string, error) {
	var errs []string
	total := 0
	for _, m := range metrics {
		total += m.Pairs
		for _, variant := range []string{"baseline", "candidate"} {
			if have := served[variant][m.Metric]; m.Pairs > have {
				errs = append(errs, fmt.Sprintf("%s: the analysis compared %d paired windows, the API serves %d complete %s windows", m.Metric, m.Pairs, have, variant))
			}
		}
	}
	if len(errs) > 0 {
		return "", errors.New(strings.Join(errs, "; "))
	}
	if total == 0 {
		return "", errors.New("the analysis compared no windows at all")
	}
	return fmt.Sprintf("%d paired windows analysed over every metric, from at most %d baseline and %d candidate complete windows served",
		total, maxCount(served["baseline"]), maxCount(served["candidate"])), nil
}

func maxCount(m map[string]int) int {
	n := 0
	for _, v := range m {
		n = max(n, v)
	}
	return n
}

// newestCompleted finds the tenant's newest experiment that has an analysis, or nil.
func newestCompleted(ctx context.Context, s *session) (*store.Experiment, error) {
	for _, st := range []experiment.State{experiment.Completed, experiment.Promoted, experiment.RolledBack} {
		var page struct {
			Items []store.Experiment `json:"items"` // newest first
		}
		if err := s.get(ctx, "/v1/experiments?limit=1&state="+string(st), &page); err != nil {
			return nil, err
		}
		if len(page.Items) > 0 {
			return &page.Items[0], nil
		}
	}
	return nil, nil
}

// kpiPage is the most windows one KPI request asks for (the API's maximum).
const kpiPage = 5000

// kpiWindows reads every closed window of one variant, page by page.
func kpiWindows(ctx context.Context, s *session, id, variant string) ([]store.KPIWindow, error) {
	var out []store.KPIWindow
	from := ""
	for range 100 {
		q := url.Values{"variant": {variant}, "limit": {fmt.Sprint(kpiPage)}}
		if from != "" {
			q.Set("from", from)
		}
		var page struct {
			Items []store.KPIWindow `json:"items"` // oldest first
		}
		if err := s.get(ctx, "/v1/experiments/"+id+"/kpis?"+q.Encode(), &page); err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if len(page.Items) < kpiPage {
			return out, nil
		}
		from = page.Items[len(page.Items)-1].WindowStart.Add(time.Nanosecond).Format(time.RFC3339Nano)
	}
	return out, nil
}
