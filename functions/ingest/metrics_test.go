package ingest

import (
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/monitoring/promtest"
)

func (e *env) registry() *prometheus.Registry {
	e.t.Helper()
	reg := prometheus.NewRegistry()
	if err := e.in.metrics.register(reg); err != nil {
		e.t.Fatal(err)
	}
	return reg
}

func TestMetrics_CountWhatTheWindowsCount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{Window: 2 * time.Second})
	reg := e.registry()
	tenant, exp := e.experiment("acme", `{"critical_processes":["postgres"]}`, experiment.Running)
	base, cand := e.token(tenant, exp, experiment.Baseline), e.token(tenant, exp, experiment.Candidate)
	start := e.nextWindow() // the run started before it: a complete window

	// The baseline sees postgres and nginx (6 datapoints); a retry of the same bytes counts nothing.
	md := processMetrics(exp, "baseline", t0, proc{"postgres", 1}, proc{"nginx", 2})
	body := encode(t, md, false, true)
	for range 2 {
		if status, _, st, _ := e.post(request{token: base, body: body}, md); status != http.StatusOK {
			t.Fatalf("status %d %v", status, st)
		}
	}
	// The candidate sees nginx only (3 datapoints), sends its own telemetry (no output, no bytes),
	// and a request whose resources claim the baseline (refused in part).
	_, _, _, candBytes := e.post(request{token: cand}, processMetrics(exp, "candidate", t0, proc{"nginx", 2}))
	e.post(request{token: cand}, selfTelemetry(exp, "candidate", "c-1", t0, 1.5, 1<<20))
	if _, resp, _, _ := e.post(request{token: cand}, processMetrics(exp, "baseline", t0, proc{"nginx", 2})); resp.PartialSuccess().RejectedDataPoints() != 3 {
		t.Fatalf("rejected %d, want 3", resp.PartialSuccess().RejectedDataPoints())
	}
	if now := e.redisNow(); !now.Before(start.Add(2 * time.Second)) {
		t.Skipf("the machine is too slow to post five requests within one 2 s window (now %s)", now.Sub(start))
	}
	if n := e.closeAll(start.Add(2 * time.Second)); n != 2 {
		t.Fatalf("closed %d windows, want one per variant", n)
	}
	e.closeAll(start.Add(2 * time.Second)) // closing again stores nothing and counts nothing

	tests := []struct {
		name   string
		metric string
		labels promtest.Labels
		want   float64
	}{
		{"baseline datapoints, the retry not counted", MetricDatapoints, promtest.Labels{"variant": "baseline"}, 6},
		{"candidate datapoints, its telemetry and the refused resources not counted", MetricDatapoints, promtest.Labels{"variant": "candidate"}, 3},
		{"baseline bytes, once", MetricPayloadBytes, promtest.Labels{"variant": "baseline"}, float64(len(body))},
		{"candidate bytes: only the request with output", MetricPayloadBytes, promtest.Labels{"variant": "candidate"}, float64(candBytes)},
		{"the partial refusal", MetricRejected, promtest.Labels{"reason": foreignResources}, 1},
		{"baseline complete windows", MetricWindowsClosed, promtest.Labels{"variant": "baseline", "complete": "true"}, 1},
		{"candidate complete windows", MetricWindowsClosed, promtest.Labels{"variant": "candidate", "complete": "true"}, 1},
		{"no partial windows", MetricWindowsClosed, promtest.Labels{"variant": "baseline", "complete": "false"}, 0},
		{"the baseline saw postgres", MetricWindowsMissingCritical, promtest.Labels{"variant": "baseline"}, 0},
		{"the candidate missed postgres", MetricWindowsMissingCritical, promtest.Labels{"variant": "candidate"}, 1},
	}
	for _, tt := range tests {
		if got := promtest.Value(t, reg, tt.metric, tt.labels); got != tt.want {
			t.Errorf("%s: %s%v = %g, want %g", tt.name, tt.metric, tt.labels, got, tt.want)
		}
	}
	// The same figures as the stored windows.
	if w := e.windows(tenant, exp, experiment.Baseline); len(w) != 1 || float64(w[0].Datapoints) != 6 || w[0].PayloadBytes != int64(len(body)) {
		t.Errorf("baseline windows %+v", w)
	}
}

func TestMetrics_RefusedRequestsByReason(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{MaxBody: 4 << 10})
	reg := e.registry()
	tenant, exp := e.experiment("acme", `{}`, experiment.Running)
	pendingTenant, pending := e.experiment("initech", `{}`, experiment.Deploying)
	tok := e.token(tenant, exp, experiment.Baseline)
	notRunning := e.token(pendingTenant, pending, experiment.Baseline)
	md := processMetrics(exp, "baseline", t0, proc{"x", 1})
	tests := []struct {
		name   string
		r      request
		status int
		reason string
	}{
		{"no token", request{}, http.StatusUnauthorized, rejectedUnauthorized},
		{"a garbage token", request{token: "pit_AAAA"}, http.StatusUnauthorized, rejectedUnauthorized},
		{"not running", request{token: notRunning}, http.StatusConflict, rejectedNotRunning},
		{"not protobuf", request{token: tok, encoding: "none", body: []byte("\xff\xffnot a protobuf")}, http.StatusBadRequest, rejectedMalformed},
		{"too large", request{token: tok, encoding: "none", body: make([]byte, 8<<10)}, http.StatusRequestEntityTooLarge, rejectedTooLarge},
		{"an encoding OTLP does not use", request{token: tok, encoding: "br", body: []byte("x")}, http.StatusUnsupportedMediaType, rejectedUnsupported},
	}
	want := map[string]float64{}
	for _, tt := range tests {
		if status, _, _, _ := e.post(tt.r, md); status != tt.status {
			t.Fatalf("%s: status %d, want %d", tt.name, status, tt.status)
		}
		want[tt.reason]++
		for _, reason := range []string{rejectedMalformed, rejectedUnauthorized, rejectedTooSlow, rejectedNotRunning, rejectedTooLarge,
			rejectedUnsupported, rejectedInternal, rejectedUnavailable, rejectedOther, foreignResources} {
			if got := promtest.Value(t, reg, MetricRejected, promtest.Labels{"reason": reason}); got != want[reason] {
				t.Errorf("after %s: %s = %g, want %g", tt.name, reason, got, want[reason])
			}
		}
	}
	if got := promtest.Value(t, reg, MetricDatapoints, promtest.Labels{"variant": "baseline"}); got != 0 {
		t.Errorf("refused requests counted %g datapoints", got)
	}
}

func TestMetrics_LabelsStayBounded(t *testing.T) {
	for status, want := range map[int]string{400: rejectedMalformed, 401: rejectedUnauthorized, 408: rejectedTooSlow, 409: rejectedNotRunning,
		413: rejectedTooLarge, 415: rejectedUnsupported, 500: rejectedInternal, 503: rejectedUnavailable, 418: rejectedOther, 200: rejectedOther} {
		if got := rejectedReason(status); got != want {
			t.Errorf("status %d: reason %q, want %q", status, got, want)
		}
	}
	m := newMetrics()
	reg := prometheus.NewRegistry()
	if err := m.register(reg); err != nil {
		t.Fatal(err)
	}
	series := func() int {
		n := 0
		for _, name := range []string{MetricDatapoints, MetricPayloadBytes, MetricRejected, MetricWindowsClosed, MetricWindowsMissingCritical} {
			n += len(promtest.Series(t, reg, name))
		}
		return n
	}
	// 2 + 2 variants, 11 reasons, 2 × 2 closed, 2 missing: all there before anything happens.
	if n := series(); n != 21 {
		t.Fatalf("%d series at start, want 21", n)
	}
	m.recorded("canary", 5, 100, true)
	m.stored("", store.KPIWindow{Complete: true, CriticalMissing: []string{"x"}})
	m.refused(299)
	m.late("canary")
	if n := series(); n != 21 {
		t.Fatalf("%d series after odd input, want still 21", n)
	}
	if got := promtest.Value(t, reg, MetricRejected, promtest.Labels{"reason": rejectedOther}); got != 1 {
		t.Errorf("an unexpected status counted %g times as %s", got, rejectedOther)
	}
}
