package ingest

import (
	"encoding/binary"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
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

// The collector's own telemetry Phoenix reads (service.telemetry at level normal, collector
// v0.160.0, as it exports them over OTLP; test/ingest runs the real collector against them).
const (
	metricCPU    = "otelcol_process_cpu_seconds" // cumulative CPU seconds (user + system), a double sum
	metricMemory = "otelcol_process_memory_rss"  // resident set size in bytes, an int gauge
	metricUptime = "otelcol_process_uptime"      // cumulative seconds since the process started, a double sum
	// Points the receivers pushed into the pipeline and the pipeline refused, before any processor:
	// cumulative int sums, one datapoint per receiver and transport (the host-metrics receiver
	// reports receiver=host_metrics, transport="").
	metricAccepted = "otelcol_receiver_accepted_metric_points"
	metricRefused  = "otelcol_receiver_refused_metric_points"
)

// maxInstanceID bounds a collector instance id, which becomes part of a Redis hash field.
const maxInstanceID = 64

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

// reading is a collector's cumulative counters at one moment: the latest its self-telemetry in
// one request gives. The window store takes differences between consecutive readings of the
// same collector, and a counter that fell (or a later process start) is a restart.
type reading struct {
	instance string  // the collector (see collectorKey)
	millis   int64   // when it was read (the CPU point's time, else the latest counter's), Unix ms
	has      uint8   // which counters the reading carries (hasCPU, …)
	cpu      float64 // cumulative CPU seconds
	uptime   float64 // seconds since the process started
	started  int64   // when the process started (the uptime counter's start time), Unix ms
	accepted float64 // points its receivers accepted, summed over receivers and transports
	refused  float64 // points refused to its receivers, likewise
}

// Which counters a reading carries.
const (
	hasCPU uint8 = 1 << iota
	hasUptime
	hasAccepted
	hasRefused
)

// memPoint is one reading of a collector's resident memory.
type memPoint struct {
	instance string  // the collector (see collectorKey)
	bytes    float64 // resident set size
}

// measurement is what one export request adds to its variant's windows.
type measurement struct {
	datapoints int64      // datapoints of the pipeline's output (self-telemetry excluded)
	series     []uint64   // distinct series of the output, per part, as 64-bit hashes
	covered    []string   // critical patterns some output resource's executable name matched
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

// part is the output of one request that belongs to one window.
type part struct {
	start      int64    // the window's start (ms); -1 for the part of points without a time of their own
	at         int64    // its newest datapoint's time (ms); 0 when none has one
	datapoints int64    // its datapoints
	series     []uint64 // its distinct series
	covered    []string // critical patterns its resources matched, sorted
	// scrapes are the scrapes its datapoints come from, each by the time of the first of its
	// points seen (ms). The host-metrics process scraper stamps each process as it reads it, so
	// one scrape's points spread over the milliseconds the scrape takes; points less than half
	// an interval apart are one scrape (see scrapeOf). Bounded by maxScrapes.
	scrapes []int64
	bytes   int64 // its share of the request's bytes, by datapoints (set by windows.record)
}

// A request's output splits into at most maxParts windows; points of further windows join the
// newest part (a collector sends seconds of data per request, so two parts are the most seen
// from a real one). A part keeps at most maxScrapes scrape times.
const (
	maxParts   = 8
	maxScrapes = 1024
)

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
	covered  map[string]struct{} // critical patterns matched
	hs       []uint64            // hashes of one attribute set's attributes, sorted
	buf      []byte              // what a series hash is computed over
	abuf     []byte              // what one attribute's hash is computed over
	series   []uint64            // backing array of measurement.series
	reads    []reading           // backing array of measurement.readings
	mem      []memPoint          // backing array of measurement.memory
	latest   map[string]int      // index in reads of each collector's latest reading in this request
}

func newScratch() *scratch {
	return &scratch{seen: make(map[uint64]struct{}, 4096), names: map[string][]string{}, covered: map[string]struct{}{},
		latest: map[string]int{}}
}

func (s *scratch) reset() {
	clear(s.seen)
	clear(s.names)
	clear(s.covered)
	clear(s.latest)
	s.series = s.series[:0]
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
	m.parts = s.finish(m.at)
	for _, p := range m.parts {
		s.series = append(s.series, p.series...)
	}
	m.series = s.series
	for p := range s.covered {
		m.covered = append(m.covered, p)
	}
	slices.Sort(m.covered)
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

// scrapeOf adds a point taken at ms to the scrapes (by their first point's time) when it is at
// least half an interval from all of them: a new scrape. Points of one scrape arrive together,
// so the last scrape is checked first.
func scrapeOf(scrapes []int64, ms, interval int64) []int64 {
	half := interval / 2
	near := func(at int64) bool { return ms > at-half && ms < at+half }
	if n := len(scrapes); n > 0 && near(scrapes[n-1]) {
		return scrapes
	}
	if len(scrapes) >= maxScrapes || slices.ContainsFunc(scrapes, near) {
		return scrapes
	}
	return append(scrapes, ms)
}

// partFor returns the index of the part a datapoint taken at ms (Unix ms, 0 when it has no time)
// belongs to, adding it when it is new: the part of its window, or the part of points without a
// time when requests are kept whole, the point has no time, or maxParts are taken.
func (s *scratch) partFor(ms int64) int {
	start := int64(-1)
	if s.window > 0 && ms > 0 {
		start = ms - ms%s.window
	}
	if s.cur >= 0 && s.parts[s.cur].start == start {
		return s.cur
	}
	for i := range s.parts {
		if s.parts[i].start == start {
			s.cur = i
			return i
		}
	}
	if start != -1 && len(s.parts) >= maxParts {
		return s.partFor(0)
	}
	if n := len(s.parts); n < cap(s.parts) { // reuse the slices an earlier request grew
		old := s.parts[:n+1][n]
		s.parts = append(s.parts, part{start: start, series: old.series[:0], covered: old.covered[:0], scrapes: old.scrapes[:0]})
	} else {
		s.parts = append(s.parts, part{start: start})
	}
	s.cur = len(s.parts) - 1
	if start == -1 {
		s.untimed = s.cur
	}
	return s.cur
}

// finish merges the part of points without a time into the newest timed part (its series may
// then repeat there: the window's set counts them once) and orders the parts oldest first. A
// request with telemetry but no output gets one empty part, at the telemetry's time.
func (s *scratch) finish(at int64) []part {
	if len(s.parts) == 0 {
		if len(s.reads) == 0 && len(s.mem) == 0 {
			return nil
		}
		s.parts = append(s.parts, part{start: -1})
	}
	newest := -1
	for i, p := range s.parts {
		if p.start != -1 && (newest < 0 || p.start > s.parts[newest].start) {
			newest = i
		}
	}
	if u := s.untimed; u >= 0 && newest >= 0 {
		n := &s.parts[newest]
		n.datapoints += s.parts[u].datapoints
		n.series = append(n.series, s.parts[u].series...)
		n.covered = union(n.covered, s.parts[u].covered)
		n.scrapes = append(n.scrapes, s.parts[u].scrapes...)
		s.parts = slices.Delete(s.parts, u, u+1)
	}
	if len(s.parts) == 1 && s.parts[0].start == -1 {
		s.parts[0].at = at // kept whole: the window of its newest time
	}
	slices.SortFunc(s.parts, func(a, b part) int { return cmpInt(a.start, b.start) })
	for i := range s.parts {
		slices.Sort(s.parts[i].covered)
	}
	return s.parts
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// union adds to a the members of b it lacks.
func union(a, b []string) []string {
	for _, x := range b {
		if !slices.Contains(a, x) {
			a = append(a, x)
		}
	}
	return a
}

// cover records which critical patterns an executable name matches (matched once per name per
// request), in the request and in the parts the resource's datapoints went to.
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
	for _, p := range matched {
		s.covered[p] = struct{}{}
	}
	for i := range s.parts {
		if len(matched) > 0 && s.touched&(1<<i) != 0 {
			s.parts[i].covered = union(s.parts[i].covered, matched)
		}
	}
}

// telemetry reads a collector's counters and memory from its own telemetry resource: one
// reading, kept if it is the collector's latest in the request.
func (s *scratch) telemetry(rm pmetric.ResourceMetrics, m *measurement) {
	r := reading{instance: collectorKey(rm.Resource().Attributes())}
	var latest int64                // the latest counter point's time, Unix ms
	var acceptedAt, refusedAt int64 // the time of the points summed into accepted and refused
	sms := rm.ScopeMetrics()
	for j := range sms.Len() {
		ms := sms.At(j).Metrics()
		for k := range ms.Len() {
			mt := ms.At(k)
			var dps pmetric.NumberDataPointSlice
			switch mt.Type() {
			case pmetric.MetricTypeGauge:
				dps = mt.Gauge().DataPoints()
			case pmetric.MetricTypeSum:
				dps = mt.Sum().DataPoints()
			default:
				continue
			}
			name := mt.Name()
			for i := range dps.Len() {
				dp := dps.At(i)
				v := dp.DoubleValue()
				if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
					v = float64(dp.IntValue())
				}
				if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
					continue
				}
				at := int64(dp.Timestamp()) / 1e6 // #nosec G115 -- Unix nanoseconds fit int64 until 2262
				switch name {
				case metricMemory:
					s.mem = append(s.mem, memPoint{instance: r.instance, bytes: v})
					continue
				case metricCPU:
					// The CPU point's own time: CPU seconds over the time between two readings is cores.
					if r.has&hasCPU == 0 || at > r.millis {
						r.cpu, r.millis = v, at
						r.has |= hasCPU
					}
				case metricUptime:
					r.uptime, r.started = v, int64(dp.StartTimestamp())/1e6 // #nosec G115 -- as above
					r.has |= hasUptime
				case metricAccepted:
					// One datapoint per receiver and transport, all read at the same moment: their
					// sum. A later point starts the sum over (two exports of one resource).
					r.accepted, acceptedAt = addLatest(r.accepted, acceptedAt, v, at, r.has&hasAccepted != 0)
					r.has |= hasAccepted
				case metricRefused:
					r.refused, refusedAt = addLatest(r.refused, refusedAt, v, at, r.has&hasRefused != 0)
					r.has |= hasRefused
				default:
					continue
				}
				latest = max(latest, at)
			}
		}
	}
	if r.has == 0 {
		return
	}
	if r.has&hasCPU == 0 {
		r.millis = latest
	}
	// Only the latest reading per collector: the window store takes differences between
	// consecutive readings, and an older one in the same request adds nothing to them.
	if i, ok := s.latest[r.instance]; ok {
		if r.millis > s.reads[i].millis {
			s.reads[i] = r
		}
		return
	}
	s.latest[r.instance] = len(s.reads)
	s.reads = append(s.reads, r)
}

// addLatest adds v, read at at, to sum, whose points were read at sumAt (started: it has some):
// a later point starts the sum over, an earlier one is left out. Points of one export share
// their time.
func addLatest(sum float64, sumAt int64, v float64, at int64, started bool) (float64, int64) {
	switch {
	case !started || at > sumAt:
		return v, at
	case at == sumAt:
		return sum + v, at
	}
	return sum, sumAt
}

// collectorKey names the collector a self-telemetry resource comes from: its stable name
// (phoenix.collector, the same across restarts) when it has one, else its service.instance.id,
// which the collector draws anew at every start. It becomes part of Redis keys and hash fields,
// so it is bounded.
func collectorKey(res pcommon.Map) string {
	var key string
	if name, ok := res.Get(attrCollector); ok {
		key = name.AsString()
	}
	if id, ok := res.Get(attrInstance); ok && key == "" {
		key = id.AsString()
	}
	if len(key) > maxInstanceID {
		key = key[:maxInstanceID]
	}
	return key
}

// hashAttrs hashes seed with a set of attributes, whatever their order: each attribute is hashed
// alone (key length-prefixed, value tagged with its type), and the sorted attribute hashes are
// hashed with seed. Sorting 64-bit numbers is what makes order irrelevant, and is cheaper than
// sorting by key.
func (s *scratch) hashAttrs(seed uint64, attrs pcommon.Map) uint64 {
	s.hs = s.hs[:0]
	attrs.Range(func(k string, v pcommon.Value) bool {
		s.hs = append(s.hs, s.hashAttr(k, v))
		return true
	})
	if len(s.hs) > 1 {
		slices.Sort(s.hs)
	}
	b := binary.LittleEndian.AppendUint64(s.buf[:0], seed)
	for _, h := range s.hs {
		b = binary.LittleEndian.AppendUint64(b, h)
	}
	s.buf = b
	return xxhash.Sum64(b)
}

// hashName hashes a resource's hash with a metric name: the seed of the metric's datapoints.
func (s *scratch) hashName(resource uint64, name string) uint64 {
	b := binary.LittleEndian.AppendUint64(s.buf[:0], resource)
	b = appendString(b, name)
	s.buf = b
	return xxhash.Sum64(b)
}

// hashAttr hashes one attribute. Every string is length-prefixed and every value tagged with
// its type, so no two different attributes encode alike.
func (s *scratch) hashAttr(k string, v pcommon.Value) uint64 {
	b := appendString(s.abuf[:0], k)
	b = append(b, byte(v.Type())) // #nosec G115 -- pcommon.ValueType is a small enum
	switch v.Type() {
	case pcommon.ValueTypeStr:
		b = appendString(b, v.Str())
	case pcommon.ValueTypeInt:
		b = binary.LittleEndian.AppendUint64(b, uint64(v.Int())) // #nosec G115 -- hashes the bit pattern
	case pcommon.ValueTypeDouble:
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Double()))
	case pcommon.ValueTypeBool:
		if v.Bool() {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	case pcommon.ValueTypeBytes:
		raw := v.Bytes().AsRaw()
		b = binary.LittleEndian.AppendUint64(b, uint64(len(raw)))
		b = append(b, raw...)
	default: // maps and slices: their JSON form, rare in metric attributes
		b = appendString(b, v.AsString())
	}
	s.abuf = b
	return xxhash.Sum64(b)
}

// appendString appends a length-prefixed string.
func appendString(b []byte, v string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(v)))
	return append(b, v...)
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
