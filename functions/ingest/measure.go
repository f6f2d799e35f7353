package ingest

import (
	"regexp"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenixotel/phoenix/shared/pipeline"
)

// Resource attributes a collector's data is identified by (set by every rendered pipeline).
const (
	attrExperiment = "phoenix.experiment.id"
	attrVariant    = "phoenix.variant"
	attrExecutable = "process.executable.name"
	attrInstance   = "service.instance.id"
	attrCollector  = pipeline.CollectorAttribute // the collector's name across restarts, when it has one
)

// target is what a request may write to: the experiment and variant its token names, and the
// experiment's critical processes.
type target struct {
	experiment string     // canonical experiment id, compared with phoenix.experiment.id
	variant    string     // baseline or candidate, compared with phoenix.variant
	critical   []critical // the experiment's critical processes
	// window is the KPI window length in ms by which a request's output is split into parts, each
	// counted in the window of its own time; 0 keeps a request whole (windows by arrival).
	window int64
	// interval is how often the variant's collectors scrape (ms); 0 when unknown (no scrapes are
	// told apart).
	interval int64
}

// critical is one critical-process pattern, compiled to match whole executable names.
type critical struct {
	pattern string         // as the spec gives it
	re      *regexp.Regexp // ^(?:pattern)$
}

// compileCritical compiles the spec's patterns; a pattern that does not compile (the API
// validates them, so only a hand-edited row) never matches.
func compileCritical(patterns []string) []critical {
	out := make([]critical, 0, len(patterns))
	for _, p := range patterns {
		re, err := regexp.Compile("^(?:" + p + ")$")
		if err != nil {
			re = regexp.MustCompile(`$.^`)
		}
		out = append(out, critical{pattern: p, re: re})
	}
	return out
}

// measurement is what one export request adds to its variant's windows.
type measurement struct {
	datapoints int64      // datapoints of the pipeline's output (self-telemetry excluded)
	rejected   int64      // datapoints refused: their resource does not carry the token's identity
	reason     string     // why they were refused, for the partial-success message
	output     bool       // the request carried pipeline output (its bytes count toward payload bytes)
	readings   []reading  // self-telemetry counters, the latest per collector, by collector
	memory     []memPoint // self-telemetry memory readings
	at         int64      // the newest datapoint's own time (ms since the epoch); 0 when none has one
	interval   int64      // target.interval: scrapes less than half of it apart are one
	// parts are the output by the window its own time falls in (target.window), oldest first;
	// one part when the request is kept whole. Telemetry goes with the newest part.
	parts []part
}

// scratch is reusable working memory for measure, so a request allocates little.
type scratch struct {
	window   int64               // target.window of the request being measured
	interval int64               // target.interval of the request being measured
	parts    []part              // the parts so far; backing array of measurement.parts
	cur      int                 // index in parts of the part the last datapoint went to
	untimed  int                 // index in parts of the points without a time, -1 when none
	touched  uint16              // the parts the current resource's datapoints went to (bit i: parts[i])
	seen     map[uint64]struct{} // series hashes (mixed with their part) already counted in this request
	names    map[string][]string // executable names already matched: the critical patterns they match
	hs       []uint64            // hashes of one attribute set's attributes, sorted
	buf      []byte              // what a series hash is computed over
	abuf     []byte              // what one attribute's hash is computed over
	reads    []reading           // backing array of measurement.readings
	mem      []memPoint          // backing array of measurement.memory
	latest   map[string]int      // index in reads of each collector's latest reading in this request
}

func newScratch() *scratch {
	return &scratch{seen: make(map[uint64]struct{}, 4096), names: map[string][]string{},
		latest: map[string]int{}}
}

func (s *scratch) reset() {
	clear(s.seen)
	clear(s.names)
	clear(s.latest)
	s.reads = s.reads[:0]
	s.mem = s.mem[:0]
	s.parts = s.parts[:0]
	s.cur, s.untimed = -1, -1
}

// measure counts one export request for t. A series is the metric name with every attribute of
// its datapoint and of its resource (order does not matter); it is counted once per request here
// and once per window by the window store. Resources whose phoenix.experiment.id or
// phoenix.variant differ from the token's are refused (partial success). Resources marked as the
// collector's self-telemetry give readings of its counters and memory and count as nothing else.
//
// The series hash is 64-bit xxHash (over the hashes of the resource, the name and each attribute):
// among n distinct series, the chance that any two collide (and
// are counted as one) is about n²/2⁶⁵ — 3·10⁻⁸ for a million series in one window.
func measure(md pmetric.Metrics, t target, s *scratch) measurement {
	s.reset()
	s.window, s.interval = t.window, t.interval
	m := measurement{interval: t.interval}
	var wrongExperiment, wrongVariant int64
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		rm := rms.At(i)
		res := rm.Resource().Attributes()
		exp, _ := res.Get(attrExperiment)
		variant, _ := res.Get(attrVariant)
		if exp.Str() != t.experiment {
			wrongExperiment += countDatapoints(rm)
			continue
		}
		if variant.Str() != t.variant {
			wrongVariant += countDatapoints(rm)
			continue
		}
		if stream, ok := res.Get(pipeline.StreamAttribute); ok && stream.Str() == pipeline.SelfTelemetry {
			s.telemetry(rm, &m)
			continue
		}
		m.output = true
		s.touched = 0
		rh := s.hashAttrs(0, res)
		sms := rm.ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				s.metric(ms.At(k), rh, &m)
			}
		}
		if exe, ok := res.Get(attrExecutable); ok && len(t.critical) > 0 {
			s.cover(exe.Str(), t.critical)
		}
	}
	m.rejected = wrongExperiment + wrongVariant
	switch {
	case wrongExperiment > 0 && wrongVariant > 0:
		m.reason = "some resources belong to another experiment or variant than the ingest token's"
	case wrongExperiment > 0:
		m.reason = "some resources carry no phoenix.experiment.id or another experiment's than the ingest token's"
	case wrongVariant > 0:
		m.reason = "some resources carry no phoenix.variant or another variant's than the ingest token's"
	}
	if len(s.reads) > 1 {
		slices.SortFunc(s.reads, func(a, b reading) int { return strings.Compare(a.instance, b.instance) })
	}
	m.readings, m.memory = s.reads, s.mem
	for _, r := range m.readings {
		m.at = max(m.at, r.millis)
	}
	m.parts = s.finish(m.at, m.rejected > 0 || len(m.readings) > 0 || len(m.memory) > 0)
	return m
}

// metric counts one metric's datapoints and series.
func (s *scratch) metric(mt pmetric.Metric, rh uint64, m *measurement) {
	seed := s.hashName(rh, mt.Name())
	switch mt.Type() {
	case pmetric.MetricTypeGauge:
		dps := mt.Gauge().DataPoints()
		for i := range dps.Len() {
			s.add(s.hashAttrs(seed, dps.At(i).Attributes()), dps.At(i).Timestamp(), m)
		}
	case pmetric.MetricTypeSum:
		dps := mt.Sum().DataPoints()
		for i := range dps.Len() {
			s.add(s.hashAttrs(seed, dps.At(i).Attributes()), dps.At(i).Timestamp(), m)
		}
	case pmetric.MetricTypeHistogram:
		dps := mt.Histogram().DataPoints()
		for i := range dps.Len() {
			s.add(s.hashAttrs(seed, dps.At(i).Attributes()), dps.At(i).Timestamp(), m)
		}
	case pmetric.MetricTypeExponentialHistogram:
		dps := mt.ExponentialHistogram().DataPoints()
		for i := range dps.Len() {
			s.add(s.hashAttrs(seed, dps.At(i).Attributes()), dps.At(i).Timestamp(), m)
		}
	case pmetric.MetricTypeSummary:
		dps := mt.Summary().DataPoints()
		for i := range dps.Len() {
			s.add(s.hashAttrs(seed, dps.At(i).Attributes()), dps.At(i).Timestamp(), m)
		}
	}
}

// add counts one datapoint of series h, taken at ts, in the part of its window.
func (s *scratch) add(h uint64, ts pcommon.Timestamp, m *measurement) {
	ms := int64(ts / 1e6) // #nosec G115 -- Unix milliseconds fit int64
	m.datapoints++
	m.at = max(m.at, ms)
	i := s.partFor(ms)
	p := &s.parts[i]
	s.touched |= 1 << i
	p.datapoints++
	p.at = max(p.at, ms)
	if s.interval > 0 && ms > 0 {
		p.scrapes = scrapeOf(p.scrapes, ms, s.interval)
	}
	key := h
	if i > 0 { // a series counts once per part: mix the part into its key
		key ^= uint64(i) * 0x9e3779b97f4a7c15 // #nosec G115 -- i < maxParts+1
	}
	if _, dup := s.seen[key]; !dup {
		s.seen[key] = struct{}{}
		p.series = append(p.series, h)
	}
}

// cover records which critical patterns an executable name matches (matched once per name per
// request) in the parts the resource's datapoints went to.
func (s *scratch) cover(name string, patterns []critical) {
	matched, done := s.names[name]
	if !done {
		for _, c := range patterns {
			if c.re.MatchString(name) {
				matched = append(matched, c.pattern)
			}
		}
		s.names[name] = matched
	}
	for i := range s.parts {
		if len(matched) > 0 && s.touched&(1<<i) != 0 {
			s.parts[i].covered = union(s.parts[i].covered, matched)
		}
	}
}

// countDatapoints counts every datapoint of a resource.
func countDatapoints(rm pmetric.ResourceMetrics) int64 {
	var n int64
	sms := rm.ScopeMetrics()
	for j := range sms.Len() {
		ms := sms.At(j).Metrics()
		for k := range ms.Len() {
			mt := ms.At(k)
			switch mt.Type() {
			case pmetric.MetricTypeGauge:
				n += int64(mt.Gauge().DataPoints().Len())
			case pmetric.MetricTypeSum:
				n += int64(mt.Sum().DataPoints().Len())
			case pmetric.MetricTypeHistogram:
				n += int64(mt.Histogram().DataPoints().Len())
			case pmetric.MetricTypeExponentialHistogram:
				n += int64(mt.ExponentialHistogram().DataPoints().Len())
			case pmetric.MetricTypeSummary:
				n += int64(mt.Summary().DataPoints().Len())
			}
		}
	}
	return n
}
