package ingest

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenixotel/phoenix/shared/experiment"
)

var (
	expA = uuid.MustParse("0b5e0d4e-6c3a-4b8e-9f61-2d7a9c1e5f00")
	expB = uuid.MustParse("7a1c2e3f-0000-4000-8000-000000000001")
	t0   = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

func tgt(exp uuid.UUID, variant string, critical ...string) target {
	return target{experiment: exp.String(), variant: variant, critical: compileCritical(critical)}
}

func TestMeasure_CountsDatapointsAndDistinctSeries(t *testing.T) {
	twoScrapes := processMetrics(expA, "baseline", t0, proc{"postgres", 1}, proc{"nginx", 2})
	appendProcesses(twoScrapes, expA, "baseline", t0.Add(time.Second), proc{"postgres", 1}, proc{"nginx", 2})
	histogram := processMetrics(expA, "baseline", t0, proc{"redis", 3})
	h := histogram.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().AppendEmpty()
	h.SetName("process.latency")
	h.SetEmptyHistogram().DataPoints().AppendEmpty()
	h.Histogram().DataPoints().AppendEmpty().Attributes().PutStr("op", "read")
	sm := histogram.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().AppendEmpty()
	sm.SetName("process.summary")
	sm.SetEmptySummary().DataPoints().AppendEmpty()
	eh := histogram.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().AppendEmpty()
	eh.SetName("process.exp")
	eh.SetEmptyExponentialHistogram().DataPoints().AppendEmpty()

	tests := []struct {
		name       string
		md         pmetric.Metrics
		datapoints int64
		series     int
	}{
		{"one scrape of two processes", processMetrics(expA, "baseline", t0, proc{"postgres", 1}, proc{"nginx", 2}), 6, 6},
		{"the same series twice in one request count once", twoScrapes, 12, 6},
		{"same name, another pid: other series", processMetrics(expA, "baseline", t0, proc{"nginx", 1}, proc{"nginx", 2}), 6, 6},
		{"histograms, summaries and exponential histograms count", histogram, 3 + 2 + 1 + 1, 3 + 2 + 1 + 1},
		{"nothing", pmetric.NewMetrics(), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := measure(tt.md, tgt(expA, "baseline"), newScratch())
			if m.datapoints != tt.datapoints || len(seriesOf(m)) != tt.series || m.rejected != 0 {
				t.Fatalf("datapoints %d series %d rejected %d, want %d and %d and 0", m.datapoints, len(seriesOf(m)), m.rejected, tt.datapoints, tt.series)
			}
			if m.output != (tt.datapoints > 0) {
				t.Errorf("output %v", m.output)
			}
		})
	}
}

func TestMeasure_SeriesIdentityIgnoresAttributeOrderOnly(t *testing.T) {
	hashOf := func(mutate func(pmetric.Metrics)) uint64 {
		md := processMetrics(expA, "baseline", t0, proc{"postgres", 1})
		mem := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(1)
		mem.Gauge().DataPoints().At(0).Attributes().PutStr("a", "1")
		mem.Gauge().DataPoints().At(0).Attributes().PutStr("b", "2")
		mutate(md)
		m := measure(md, tgt(expA, "baseline"), newScratch())
		// The memory series is the last one counted.
		all := seriesOf(m)
		return all[len(all)-1]
	}
	base := hashOf(func(pmetric.Metrics) {})
	tests := []struct {
		name   string
		mutate func(pmetric.Metrics)
		same   bool
	}{
		{"attributes in another order", func(md pmetric.Metrics) {
			a := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(1).Gauge().DataPoints().At(0).Attributes()
			a.Clear()
			a.PutStr("b", "2")
			a.PutStr("a", "1")
		}, true},
		{"resource attributes in another order", func(md pmetric.Metrics) {
			r := md.ResourceMetrics().At(0).Resource().Attributes()
			raw := r.AsRaw()
			r.Clear()
			for _, k := range []string{"host.name", "process.executable.name", "process.pid", "phoenix.variant", "phoenix.experiment.id"} {
				_ = r.PutEmpty(k).FromRaw(raw[k])
			}
		}, true},
		{"a new timestamp and value", func(md pmetric.Metrics) {
			dp := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(1).Gauge().DataPoints().At(0)
			dp.SetIntValue(5)
			dp.SetTimestamp(dp.Timestamp() + 1e9)
		}, true},
		{"another datapoint attribute value", func(md pmetric.Metrics) {
			md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(1).Gauge().DataPoints().At(0).Attributes().PutStr("b", "3")
		}, false},
		{"another resource attribute value", func(md pmetric.Metrics) {
			md.ResourceMetrics().At(0).Resource().Attributes().PutStr("host.name", "node-2")
		}, false},
		{"an extra resource attribute", func(md pmetric.Metrics) {
			md.ResourceMetrics().At(0).Resource().Attributes().PutStr("k8s.pod.name", "x")
		}, false},
		{"the same value as an int instead of a string", func(md pmetric.Metrics) {
			md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(1).Gauge().DataPoints().At(0).Attributes().PutInt("b", 2)
		}, false},
		{"a value moved between two keys", func(md pmetric.Metrics) {
			a := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(1).Gauge().DataPoints().At(0).Attributes()
			a.PutStr("a", "12")
			a.PutStr("b", "")
		}, false},
		{"another metric name", func(md pmetric.Metrics) {
			md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(1).SetName("process.memory.virtual")
		}, false},
	}
	for _, tt := range tests {
		if got := hashOf(tt.mutate) == base; got != tt.same {
			t.Errorf("%s: same series = %v, want %v", tt.name, got, tt.same)
		}
	}
}

func TestMeasure_RefusesResourcesOfAnotherExperimentOrVariant(t *testing.T) {
	mixed := processMetrics(expA, "baseline", t0, proc{"postgres", 1})
	appendProcesses(mixed, expA, "candidate", t0, proc{"nginx", 2}, proc{"redis", 3})
	appendProcesses(mixed, expB, "baseline", t0, proc{"envoy", 4})
	unlabelled := processMetrics(expA, "baseline", t0, proc{"postgres", 1})
	unlabelled.ResourceMetrics().At(0).Resource().Attributes().Remove("phoenix.variant")

	tests := []struct {
		name                 string
		md                   pmetric.Metrics
		target               target
		datapoints, rejected int64
		reason               string
	}{
		{"a baseline token cannot write candidate data", processMetrics(expA, "candidate", t0, proc{"nginx", 2}), tgt(expA, "baseline"), 0, 3,
			"some resources carry no phoenix.variant or another variant's than the ingest token's"},
		{"another experiment's data", processMetrics(expA, "baseline", t0, proc{"nginx", 2}), tgt(expB, "baseline"), 0, 3,
			"some resources carry no phoenix.experiment.id or another experiment's than the ingest token's"},
		{"mixed: only the token's own resources count", mixed, tgt(expA, "baseline"), 3, 9,
			"some resources belong to another experiment or variant than the ingest token's"},
		{"no variant attribute", unlabelled, tgt(expA, "baseline"), 0, 3,
			"some resources carry no phoenix.variant or another variant's than the ingest token's"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := measure(tt.md, tt.target, newScratch())
			if m.datapoints != tt.datapoints || m.rejected != tt.rejected || m.reason != tt.reason {
				t.Fatalf("datapoints %d rejected %d reason %q, want %d %d %q", m.datapoints, m.rejected, m.reason, tt.datapoints, tt.rejected, tt.reason)
			}
		})
	}
}

func TestMeasure_CriticalCoverageMatchesWholeExecutableNames(t *testing.T) {
	tests := []struct {
		name     string
		procs    []proc
		critical []string
		covered  []string
	}{
		{"exact name", []proc{{"postgres", 1}}, []string{"postgres"}, []string{"postgres"}},
		{"a longer name does not match", []proc{{"postgres-exporter", 1}, {"my-postgres", 2}}, []string{"postgres"}, nil},
		{"a pattern", []proc{{"nginx-worker", 1}}, []string{"nginx.*", "envoy"}, []string{"nginx.*"}},
		{"alternatives", []proc{{"envoy", 1}, {"redis", 2}}, []string{"envoy|haproxy", "redis", "kafka"}, []string{"envoy|haproxy", "redis"}},
		{"no critical processes", []proc{{"postgres", 1}}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := measure(processMetrics(expA, "candidate", t0, tt.procs...), tgt(expA, "candidate", tt.critical...), newScratch())
			if !slices.Equal(coveredOf(m), tt.covered) {
				t.Fatalf("covered %q, want %q", coveredOf(m), tt.covered)
			}
		})
	}
}

func TestMeasure_SelfTelemetryGivesCPUAndMemoryOnly(t *testing.T) {
	md := selfTelemetry(expA, "baseline", "c-1", t0, 12.5, 64<<20)
	// An older reading of the same instance in the same request: only the latest counts.
	older := selfTelemetry(expA, "baseline", "c-1", t0.Add(-time.Second), 11, 60<<20)
	older.ResourceMetrics().MoveAndAppendTo(md.ResourceMetrics())
	m := measure(md, tgt(expA, "baseline", "postgres"), newScratch())
	if m.output || m.datapoints != 0 || len(seriesOf(m)) != 0 || len(coveredOf(m)) != 0 {
		t.Fatalf("self-telemetry counted as output: %+v", m)
	}
	if len(m.readings) != 1 || m.readings[0] != (reading{instance: "c-1", millis: t0.UnixMilli(), has: hasCPU, cpu: 12.5}) {
		t.Errorf("readings %+v, want the latest", m.readings)
	}
	if len(m.memory) != 2 || m.memory[0].bytes != 64<<20 || m.memory[1].bytes != 60<<20 {
		t.Errorf("memory %+v", m.memory)
	}
	// Another variant's telemetry is refused like any other resource.
	if m := measure(selfTelemetry(expA, "candidate", "c-1", t0, 1, 1), tgt(expA, "baseline"), newScratch()); m.rejected != 3 || len(m.readings) != 0 {
		t.Errorf("a candidate collector's telemetry under a baseline token: %+v", m)
	}
}

func TestMeasure_SelfTelemetryReadsEachCollectorsCounters(t *testing.T) {
	started := t0.Add(-time.Minute)
	full := counters{name: "node-1", instance: "u-1", at: t0, started: started, cpu: 3.5, uptime: 60,
		accepted: []int64{1000, 20, 3}, refused: []int64{7, 0, 1}, rss: 64 << 20}
	want := reading{instance: "node-1", millis: t0.UnixMilli(), has: hasCPU | hasUptime | hasAccepted | hasRefused,
		cpu: 3.5, uptime: 60, started: started.UnixMilli(), accepted: 1023, refused: 8}
	tests := []struct {
		name   string
		sends  []counters // one resource each, in this order, in one request
		want   []reading  // by collector
		memory int        // memory readings
	}{
		{"receiver counters are summed over receivers and transports", []counters{full}, []reading{want}, 1},
		{"without a name, service.instance.id names the collector",
			[]counters{changed(full, func(c *counters) { c.name = "" })},
			[]reading{changed(want, func(r *reading) { r.instance = "u-1" })}, 1},
		{"the latest reading per collector, whatever the order",
			[]counters{full, changed(full, func(c *counters) { c.at, c.accepted = t0.Add(-5*time.Second), []int64{900} })},
			[]reading{want}, 2},
		{"two collectors, by name",
			[]counters{changed(full, func(c *counters) { c.name = "node-2" }), full},
			[]reading{want, changed(want, func(r *reading) { r.instance = "node-2" })}, 2},
		{"no receiver counters: CPU and uptime only",
			[]counters{changed(full, func(c *counters) { c.accepted, c.refused = nil, nil })},
			[]reading{changed(want, func(r *reading) { r.has, r.accepted, r.refused = hasCPU|hasUptime, 0, 0 })}, 1},
		{"a long name is cut to the bound of a Redis field",
			[]counters{changed(full, func(c *counters) { c.name = strings.Repeat("n", 100) })},
			[]reading{changed(want, func(r *reading) { r.instance = strings.Repeat("n", maxInstanceID) })}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := pmetric.NewMetrics()
			for _, c := range tt.sends {
				collectorTelemetry(expA, "baseline", c).ResourceMetrics().MoveAndAppendTo(md.ResourceMetrics())
			}
			m := measure(md, tgt(expA, "baseline"), newScratch())
			if !slices.Equal(m.readings, tt.want) {
				t.Errorf("readings\n%+v, want\n%+v", m.readings, tt.want)
			}
			if len(m.memory) != tt.memory || m.output || m.datapoints != 0 {
				t.Errorf("memory %d output %v datapoints %d, want %d memory readings and nothing else", len(m.memory), m.output, m.datapoints, tt.memory)
			}
		})
	}
}

func TestMeasure_ReceiverCountersIgnoreWhatIsNoReading(t *testing.T) {
	point := func(dps pmetric.NumberDataPointSlice, at time.Time) pmetric.NumberDataPoint {
		dp := dps.AppendEmpty()
		dp.SetTimestamp(pcommon.NewTimestampFromTime(at))
		return dp
	}
	tests := []struct {
		name string
		add  func(accepted pmetric.NumberDataPointSlice) // more points of the accepted counter
		want float64
	}{
		{"as sent: 10 + 5", func(pmetric.NumberDataPointSlice) {}, 15},
		{"a negative or NaN point is no reading", func(dps pmetric.NumberDataPointSlice) {
			point(dps, t0).SetIntValue(-4)
			point(dps, t0).SetDoubleValue(math.NaN())
		}, 15},
		{"an earlier point of the counter is left out", func(dps pmetric.NumberDataPointSlice) {
			point(dps, t0.Add(-time.Second)).SetIntValue(100)
		}, 15},
		{"a later point of the counter starts the sum over", func(dps pmetric.NumberDataPointSlice) {
			point(dps, t0.Add(time.Second)).SetIntValue(40)
		}, 40},
	}
	for _, tt := range tests {
		md := collectorTelemetry(expA, "baseline", counters{name: "n", at: t0, cpu: 1, uptime: 2, accepted: []int64{10, 5}})
		tt.add(md.ResourceMetrics().At(0).ScopeMetrics().At(1).Metrics().At(0).Sum().DataPoints())
		m := measure(md, tgt(expA, "baseline"), newScratch())
		if len(m.readings) != 1 || m.readings[0].accepted != tt.want {
			t.Errorf("%s: readings %+v, want accepted %v", tt.name, m.readings, tt.want)
		}
	}
}

// changed returns v changed by edit.
func changed[T any](v T, edit func(*T)) T { edit(&v); return v }

func TestWindowKPIs(t *testing.T) {
	p := experiment.Prices{SeriesMonth: 0.73, MillionDatapoints: 2}
	tests := []struct {
		name     string
		t        totals
		critical []string
		want     map[string]float64
		covered  []string
		missing  []string
		cpu, mem *float64
		n        int
		received *int64 // carried as they are
		refused  *int64
		restarts int
	}{
		{"output only", totals{series: 100, datapoints: 3000, bytes: 15000, requests: 2}, nil,
			map[string]float64{"series": 100, "datapoints_per_second": 200, "bytes_per_second": 1000,
				"cost_per_hour": 100*0.73/730.5 + 200*3600/1e6*2}, []string{}, []string{}, nil, nil, 0, nil, nil, 0},
		{"coverage: one of two critical processes", totals{series: 1, covered: []string{"postgres"}}, []string{"postgres", "redis"},
			map[string]float64{"series": 1, "datapoints_per_second": 0, "bytes_per_second": 0, "cost_per_hour": 0.73 / 730.5,
				"critical_process_coverage": 0.5}, []string{"postgres"}, []string{"redis"}, nil, nil, 0, nil, nil, 0},
		{"two collectors", totals{cpu: map[string][2]float64{"a": {1.5, 10}, "b": {0.5, 5}, "c": {0, 0}},
			memory: map[string][2]float64{"a": {300, 3}, "b": {50, 1}}}, nil,
			map[string]float64{"series": 0, "datapoints_per_second": 0, "bytes_per_second": 0, "cost_per_hour": 0,
				"collector_cpu": 0.25, "collector_memory": 150}, []string{}, []string{}, ptr(0.25), ptr(150.0), 3, nil, nil, 0},
		{"the collectors' input is carried, not a KPI", totals{received: ptrInt(9000), refused: ptrInt(0), restarts: 2}, nil,
			map[string]float64{"series": 0, "datapoints_per_second": 0, "bytes_per_second": 0, "cost_per_hour": 0},
			[]string{}, []string{}, nil, nil, 0, ptrInt(9000), ptrInt(0), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := windowKPIs(tt.t, 15*time.Second, tt.critical, p)
			if err != nil {
				t.Fatal(err)
			}
			if len(w.KPIs) != len(tt.want) {
				t.Errorf("KPIs %v, want %v", w.KPIs, tt.want)
			}
			for k, v := range tt.want {
				if got, ok := w.KPIs[k]; !ok || math.Abs(got-v) > 1e-12 {
					t.Errorf("%s = %v, want %v", k, got, v)
				}
			}
			if !slices.Equal(w.CriticalCovered, tt.covered) || !slices.Equal(w.CriticalMissing, tt.missing) {
				t.Errorf("covered %q missing %q", w.CriticalCovered, w.CriticalMissing)
			}
			if !eqPtr(w.CollectorCPU, tt.cpu) || !eqPtr(w.CollectorMemory, tt.mem) || w.Collectors != tt.n {
				t.Errorf("cpu %v mem %v collectors %d", w.CollectorCPU, w.CollectorMemory, w.Collectors)
			}
			if !eqInt(w.ReceivedPoints, tt.received) || !eqInt(w.RefusedPoints, tt.refused) || w.Restarts != tt.restarts {
				t.Errorf("received %v refused %v restarts %d, want %v %v %d", w.ReceivedPoints, w.RefusedPoints, w.Restarts, tt.received, tt.refused, tt.restarts)
			}
		})
	}
	if _, err := windowKPIs(totals{}, 0, nil, p); err == nil {
		t.Error("a zero-length window gave KPIs")
	}
}

func ptr(v float64) *float64 { return &v }

func ptrInt(v int64) *int64 { return &v }

func eqInt(a, b *int64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func eqPtr(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return math.Abs(*a-*b) < 1e-12
}

func TestDeploymentID_NamesTheDatabaseNotTheCredentials(t *testing.T) {
	a := DeploymentID("postgres://phoenix_app:secret@db.example:5432/phoenix?sslmode=require")
	tests := []struct {
		url  string
		same bool
	}{
		{"postgres://phoenix_app:other@db.example:5432/phoenix?sslmode=disable", true},
		{"postgres://phoenix_app@db.example:5432/phoenix_test_1", false},
		{"postgres://phoenix_app@db2.example:5432/phoenix", false},
	}
	for _, tt := range tests {
		if got := DeploymentID(tt.url) == a; got != tt.same {
			t.Errorf("%s: same deployment = %v, want %v", tt.url, got, tt.same)
		}
	}
	if len(a) != 12 {
		t.Errorf("id %q", a)
	}
}

// TestMeasure_SplitsARequestByTheWindowOfEachPoint: with a window length, a request's output is
// cut into parts by the window each datapoint's own time falls in — datapoints, series, critical
// coverage and scrapes each in their part — and its points without a time join the newest part.
func TestMeasure_SplitsARequestByTheWindowOfEachPoint(t *testing.T) {
	start := t0.Truncate(10 * time.Second)
	type want struct {
		start      int64 // ms; -1 for a request kept whole
		datapoints int64
		series     int
		covered    []string
		scrapes    int
	}
	tests := []struct {
		name   string
		window int64 // ms
		build  func(md pmetric.Metrics)
		want   []want
	}{
		{"kept whole without a window", 0, func(md pmetric.Metrics) {
			appendProcesses(md, expA, "baseline", start.Add(9*time.Second), proc{"nginx", 1})
			appendProcesses(md, expA, "baseline", start.Add(11*time.Second), proc{"postgres", 2})
		}, []want{{-1, 6, 6, []string{"postgres"}, 2}}},
		{"two windows, oldest first, coverage where the process was seen", 10_000, func(md pmetric.Metrics) {
			appendProcesses(md, expA, "baseline", start.Add(11*time.Second), proc{"nginx", 1})
			appendProcesses(md, expA, "baseline", start.Add(9*time.Second), proc{"nginx", 1}, proc{"postgres", 2})
		}, []want{{start.UnixMilli(), 6, 6, []string{"postgres"}, 1}, {start.UnixMilli() + 10_000, 3, 3, []string{}, 1}}},
		{"scrapes: points less than half an interval apart are one", 10_000, func(md pmetric.Metrics) {
			for _, at := range []time.Duration{100, 140, 2100, 2300, 4100} { // ms, every 2 s
				appendProcesses(md, expA, "baseline", start.Add(at*time.Millisecond), proc{"nginx", 1})
			}
		}, []want{{start.UnixMilli(), 15, 3, []string{}, 3}}},
		{"points without a time join the newest part", 10_000, func(md pmetric.Metrics) {
			appendProcesses(md, expA, "baseline", start.Add(time.Second), proc{"nginx", 1})
			appendProcesses(md, expA, "baseline", start.Add(12*time.Second), proc{"nginx", 1})
			appendProcesses(md, expA, "baseline", time.Unix(0, 0), proc{"postgres", 2})
		}, []want{{start.UnixMilli(), 3, 3, []string{}, 1}, {start.UnixMilli() + 10_000, 6, 6, []string{"postgres"}, 1}}},
		{"at most maxParts windows: the rest join the newest", 1_000, func(md pmetric.Metrics) {
			for i := range maxParts + 3 {
				appendProcesses(md, expA, "baseline", start.Add(time.Duration(i)*time.Second), proc{"nginx", 1})
			}
		}, func() []want {
			var ws []want
			for i := range maxParts - 1 {
				ws = append(ws, want{start.UnixMilli() + int64(i)*1000, 3, 3, []string{}, 1})
			}
			// The joined points' series are listed again (the window's set counts them once).
			return append(ws, want{start.UnixMilli() + (maxParts-1)*1000, 12, 6, []string{}, 4})
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := pmetric.NewMetrics()
			tt.build(md)
			tg := tgt(expA, "baseline", "postgres")
			tg.window, tg.interval = tt.window, 2000
			m := measure(md, tg, newScratch())
			if len(m.parts) != len(tt.want) {
				t.Fatalf("%d parts, want %d: %+v", len(m.parts), len(tt.want), m.parts)
			}
			var total int64
			for i, w := range tt.want {
				p := m.parts[i]
				total += p.datapoints
				if p.start != w.start || p.datapoints != w.datapoints || len(p.series) != w.series ||
					!slices.Equal(append([]string{}, p.covered...), w.covered) || len(p.scrapes) != w.scrapes {
					t.Errorf("part %d: start %d, %d datapoints, %d series, covered %q, %d scrapes; want %+v",
						i, p.start, p.datapoints, len(p.series), p.covered, len(p.scrapes), w)
				}
			}
			if total != m.datapoints {
				t.Errorf("parts hold %d datapoints of %d", total, m.datapoints)
			}
		})
	}
}

// seriesOf lists the series of every part of m (a window's set counts a repeat once).
func seriesOf(m measurement) []uint64 {
	var out []uint64
	for _, p := range m.parts {
		out = append(out, p.series...)
	}
	return out
}

// coveredOf is the critical patterns any part of m covered, sorted.
func coveredOf(m measurement) []string {
	var out []string
	for _, p := range m.parts {
		out = union(out, p.covered)
	}
	slices.Sort(out)
	return out
}
