// Package preview says what a pipeline would do to captured data, before any experiment: it
// replays a capture through the pipeline with the real collector (run.go) and compares what went
// in with what came out (this file) — series, datapoints and bytes, the cost they imply, critical
// coverage, and exactly which processes, metrics and attributes the pipeline drops.
package preview

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"maps"
	"regexp"
	"slices"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenixotel/phoenix/shared/experiment"
)

// Summary is what a set of OTLP requests holds.
type Summary struct {
	Series     int            `json:"series"`     // distinct (resource, metric, datapoint attributes)
	Datapoints int64          `json:"datapoints"` // every datapoint of every metric type
	Bytes      int64          `json:"bytes"`      // the requests' protobuf size
	Processes  []string       `json:"processes"`  // process.executable.name values, sorted
	Metrics    map[string]int `json:"metrics"`    // series per metric name
	// ProcessSeries are the series of each process (process.executable.name): what it costs.
	ProcessSeries map[string]int `json:"process_series"`
	Attributes    []string       `json:"attributes"` // resource and datapoint attribute keys, sorted
	// PointAttributes are the datapoint attribute keys of each metric that has any, sorted.
	PointAttributes map[string][]string `json:"point_attributes,omitempty"`
	// First and Last are the earliest and latest datapoint times (zero when there are none).
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// SeriesPerWindow is the mean of the distinct series in each KPI window the datapoints fall
	// in, by their time: what an experiment's series KPI counts (0 without a window length).
	SeriesPerWindow float64 `json:"series_per_window,omitempty"`
	// Windows are the counts of each KPI window, by its start (Unix nanoseconds): how much the
	// capture varies from window to window, which bounds a prediction's error (Compare).
	Windows map[int64]WindowCount `json:"-"`
	Window  time.Duration         `json:"-"` // their length (0: not counted)
	// AttributeValues is the number of distinct values of each attribute key, resource and
	// datapoint alike: which attributes make the cardinality.
	AttributeValues map[string]int `json:"attribute_values,omitempty"`
}

// WindowCount is what one KPI window of a summary holds.
type WindowCount struct {
	Series     int
	Datapoints int64
}

// processAttribute names a process on the host-metrics receiver's resources.
const processAttribute = "process.executable.name"

// Summarize counts what reqs hold. A series is a resource's attributes, a metric's name and a
// datapoint's attributes, in any order — how a metrics backend counts active series. Bytes are
// each request's protobuf as gzip compresses it (the OTLP/HTTP exporter's default), which is what
// the ingest function measures on the wire. With window > 0, SeriesPerWindow is counted too.
func Summarize(reqs []pmetric.Metrics, window time.Duration) Summary {
	t := newTally(window)
	wire := newWireSize(len(reqs))
	for _, md := range reqs {
		wire.add(md)
		rms := md.ResourceMetrics()
		for i := range rms.Len() {
			t.resource(rms.At(i))
		}
	}
	s := t.summary()
	s.Bytes = wire.total()
	return s
}

// forEachPoint calls fn with the attributes and time of each of m's datapoints, whatever its type.
func forEachPoint(m pmetric.Metric, fn func(pcommon.Map, pcommon.Timestamp)) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		for i := range m.Gauge().DataPoints().Len() {
			p := m.Gauge().DataPoints().At(i)
			fn(p.Attributes(), p.Timestamp())
		}
	case pmetric.MetricTypeSum:
		for i := range m.Sum().DataPoints().Len() {
			p := m.Sum().DataPoints().At(i)
			fn(p.Attributes(), p.Timestamp())
		}
	case pmetric.MetricTypeHistogram:
		for i := range m.Histogram().DataPoints().Len() {
			p := m.Histogram().DataPoints().At(i)
			fn(p.Attributes(), p.Timestamp())
		}
	case pmetric.MetricTypeExponentialHistogram:
		for i := range m.ExponentialHistogram().DataPoints().Len() {
			p := m.ExponentialHistogram().DataPoints().At(i)
			fn(p.Attributes(), p.Timestamp())
		}
	case pmetric.MetricTypeSummary:
		for i := range m.Summary().DataPoints().Len() {
			p := m.Summary().DataPoints().At(i)
			fn(p.Attributes(), p.Timestamp())
		}
	}
}

// Rates are a summary as the KPIs an experiment measures (shared/experiment's Metrics).
type Rates struct {
	Series              int      `json:"series"`                      // distinct over the capture
	SeriesPerWindow     float64  `json:"series_per_window,omitempty"` // the series KPI: distinct per KPI window
	DatapointsPerSecond float64  `json:"datapoints_per_second"`
	BytesPerSecond      float64  `json:"bytes_per_second"`
	CostPerHour         float64  `json:"cost_per_hour"`
	CostPerMonth        float64  `json:"cost_per_month"`              // cost_per_hour × 730.5
	CriticalCoverage    *float64 `json:"critical_coverage,omitempty"` // critical patterns kept / those the input had
}

// SeriesKPI is the series as an experiment's series KPI counts them: per KPI window when the
// window is known, else over the whole capture.
func (r Rates) SeriesKPI() float64 { return cmp.Or(r.SeriesPerWindow, float64(r.Series)) }

// Dropped is what a pipeline removed: what the input had and the output has not.
type Dropped struct {
	Series     int            `json:"series"`
	Processes  []string       `json:"processes"`
	Metrics    []string       `json:"metrics"`    // metrics gone entirely
	Reduced    map[string]int `json:"reduced"`    // metrics kept with fewer series: how many fewer
	Attributes []string       `json:"attributes"` // attribute keys gone entirely
	Critical   []string       `json:"critical"`   // critical patterns the input had and the output lacks
	// Examples name series gone or merged: up to ExamplesPerMetric for each metric that lost
	// some, as metric{datapoint attributes} on resource attributes (previews of a capture).
	Examples []string `json:"examples,omitempty"`
}

// Result compares a pipeline's output with its input.
type Result struct {
	Seconds   float64 `json:"seconds"` // the span the rates are over: the capture's length
	Input     Summary `json:"input"`
	Output    Summary `json:"output"`
	Measured  Rates   `json:"measured"`  // the input as the KPIs
	Predicted Rates   `json:"predicted"` // the output as the KPIs
	Dropped   Dropped `json:"dropped"`
	// Change is the predicted relative change of each KPI ((output − input) / input); series are
	// counted per KPI window when the window is known, as the experiment counts them.
	Change map[string]float64 `json:"change"`
	// Error is the stated error of each predicted change (errors.go): the experiment that
	// confirms this preview measures a change within Change ± Error, in the same units.
	Error map[string]float64 `json:"error,omitempty"`
	// Sample, when set, says the preview replayed only part of the capture (a screening).
	Sample *Sample `json:"sample,omitempty"`
}

// Compare says what a pipeline made of a capture of seconds: the rates of input and output, the
// cost under prices, critical coverage for the critical patterns (RE2, matched whole), and what
// was dropped.
func Compare(in, out Summary, seconds float64, critical []string, prices experiment.Prices) Result {
	r := Result{Seconds: seconds, Input: in, Output: out, Change: map[string]float64{}}
	inCritical := matching(critical, in.Processes)
	r.Measured = rates(in, seconds, inCritical, inCritical, prices)
	outCritical := matching(critical, out.Processes)
	r.Predicted = rates(out, seconds, inCritical, outCritical, prices)
	r.Dropped = Dropped{Series: max(0, in.Series-out.Series), Processes: minus(in.Processes, out.Processes),
		Metrics: minus(slices.Sorted(maps.Keys(in.Metrics)), slices.Sorted(maps.Keys(out.Metrics))), Reduced: map[string]int{},
		Attributes: minus(in.Attributes, out.Attributes), Critical: minus(inCritical, outCritical)}
	for m, n := range in.Metrics {
		if k, ok := out.Metrics[m]; ok && k < n {
			r.Dropped.Reduced[m] = n - k
		}
	}
	for name, pair := range map[string][2]float64{
		"series":                {r.Measured.SeriesKPI(), r.Predicted.SeriesKPI()},
		"datapoints_per_second": {r.Measured.DatapointsPerSecond, r.Predicted.DatapointsPerSecond},
		"bytes_per_second":      {r.Measured.BytesPerSecond, r.Predicted.BytesPerSecond},
		"cost_per_hour":         {r.Measured.CostPerHour, r.Predicted.CostPerHour},
	} {
		if pair[0] > 0 {
			r.Change[name] = (pair[1] - pair[0]) / pair[0]
		}
	}
	r.Error = statedErrors(in, out, prices)
	return r
}

func rates(s Summary, seconds float64, had, kept []string, prices experiment.Prices) Rates {
	r := Rates{Series: s.Series, SeriesPerWindow: s.SeriesPerWindow}
	if seconds > 0 {
		r.DatapointsPerSecond = float64(s.Datapoints) / seconds
		r.BytesPerSecond = float64(s.Bytes) / seconds
	}
	// Priced as the ingest function prices a window: its series, when the window length is known.
	r.CostPerHour = prices.CostPerHour(r.SeriesKPI(), r.DatapointsPerSecond)
	r.CostPerMonth = r.CostPerHour * experiment.HoursPerMonth
	if len(had) > 0 {
		c := float64(len(kept)) / float64(len(had))
		r.CriticalCoverage = &c
	}
	return r
}

// matching are the patterns (RE2, matched whole) that some process matches, sorted.
func matching(patterns, processes []string) []string {
	var out []string
	for _, p := range patterns {
		re, err := regexp.Compile("^(?:" + p + ")$")
		if err != nil {
			continue // the spec was validated when the experiment was created
		}
		if slices.ContainsFunc(processes, re.MatchString) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// minus is the sorted a without b's elements (both sorted).
func minus(a, b []string) []string {
	out := []string{}
	for _, x := range a {
		if _, found := slices.BinarySearch(b, x); !found {
			out = append(out, x)
		}
	}
	return out
}

// Span is the time s's datapoints cover when they were scraped every interval: from the first
// scrape to the last, plus the interval the last one stands for.
func (s Summary) Span(interval time.Duration) time.Duration {
	if s.First.IsZero() {
		return 0
	}
	return s.Last.Sub(s.First) + interval
}

// wireSize measures requests as the OTLP/HTTP exporter sends them: protobuf, gzip-compressed at
// the default level (confighttp's). Compressing everything costs more than the replay itself
// (about 1 s per 60 MB here), so up to wireSamples requests, spread evenly, are compressed and
// their ratio applied to the protobuf size of the rest; a capture of at most wireSamples
// requests is measured exactly.
type wireSize struct {
	step          int   // compress every step-th request
	n             int   // requests seen
	raw, rawShown int64 // protobuf bytes of all requests, and of those compressed
	gz            int64 // their compressed bytes
	buf           bytes.Buffer
	zw            *gzip.Writer
	pm            pmetric.ProtoMarshaler
}

const wireSamples = 32

func newWireSize(requests int) *wireSize {
	return &wireSize{step: max(1, requests/wireSamples)}
}

func (w *wireSize) add(md pmetric.Metrics) {
	size := int64(w.pm.MetricsSize(md))
	w.raw += size
	w.n++
	if (w.n-1)%w.step != 0 {
		return
	}
	raw, err := w.pm.MarshalMetrics(md)
	if err != nil {
		return
	}
	w.buf.Reset()
	if w.zw == nil {
		w.zw = gzip.NewWriter(&w.buf)
	} else {
		w.zw.Reset(&w.buf)
	}
	_, _ = w.zw.Write(raw)
	_ = w.zw.Close()
	w.rawShown += size
	w.gz += int64(w.buf.Len())
}

// total is the requests' compressed size: exact for the sampled ones, their ratio for the rest.
func (w *wireSize) total() int64 {
	if w.rawShown == 0 {
		return w.raw
	}
	return w.gz + int64(float64(w.raw-w.rawShown)*float64(w.gz)/float64(w.rawShown))
}
