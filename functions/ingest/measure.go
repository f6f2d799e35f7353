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
)

// The collector's own telemetry Phoenix reads (service.telemetry, collector v0.160.0).
const (
	metricCPU    = "otelcol_process_cpu_seconds" // cumulative CPU seconds (user + system)
	metricMemory = "otelcol_process_memory_rss"  // resident set size in bytes
)

// maxInstanceID bounds a collector instance id, which becomes part of a Redis hash field.
const maxInstanceID = 64

// target is what a request may write to: the experiment and variant its token names, and the
// experiment's critical processes.
type target struct {
	experiment string     // canonical experiment id, compared with phoenix.experiment.id
	variant    string     // baseline or candidate, compared with phoenix.variant
	critical   []critical // the experiment's critical processes
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

// cpuPoint is one reading of a collector's cumulative CPU seconds.
type cpuPoint struct {
	instance string  // service.instance.id of the collector
	millis   int64   // when it was read, Unix milliseconds
	seconds  float64 // cumulative CPU seconds
}

// memPoint is one reading of a collector's resident memory.
type memPoint struct {
	instance string  // service.instance.id of the collector
	bytes    float64 // resident set size
}

// measurement is what one export request adds to its variant's current window.
type measurement struct {
	datapoints int64      // datapoints of the pipeline's output (self-telemetry excluded)
	series     []uint64   // distinct series of the output in this request, as 64-bit hashes
	covered    []string   // critical patterns some output resource's executable name matched
	rejected   int64      // datapoints refused: their resource does not carry the token's identity
	reason     string     // why they were refused, for the partial-success message
	output     bool       // the request carried pipeline output (its bytes count toward payload bytes)
	cpu        []cpuPoint // self-telemetry CPU readings
	memory     []memPoint // self-telemetry memory readings
}

// scratch is reusable working memory for measure, so a request allocates little.
type scratch struct {
	seen    map[uint64]struct{}  // series hashes already counted in this request
	names   map[string]struct{}  // executable names already matched against the critical patterns
	covered map[string]struct{}  // critical patterns matched
	hs      []uint64             // hashes of one attribute set's attributes, sorted
	buf     []byte               // what a series hash is computed over
	abuf    []byte               // what one attribute's hash is computed over
	series  []uint64             // backing array of measurement.series
	points  map[string]*cpuPoint // latest CPU reading per instance in this request
}

func newScratch() *scratch {
	return &scratch{seen: make(map[uint64]struct{}, 4096), names: map[string]struct{}{}, covered: map[string]struct{}{},
		points: map[string]*cpuPoint{}}
}

func (s *scratch) reset() {
	clear(s.seen)
	clear(s.names)
	clear(s.covered)
	clear(s.points)
	s.series = s.series[:0]
}

// measure counts one export request for t. A series is the metric name with every attribute of
// its datapoint and of its resource (order does not matter); it is counted once per request here
// and once per window by the window store. Resources whose phoenix.experiment.id or
// phoenix.variant differ from the token's are refused (partial success). Resources marked as the
// collector's self-telemetry give CPU and memory readings and count as nothing else.
//
// The series hash is 64-bit xxHash (over the hashes of the resource, the name and each attribute):
// among n distinct series, the chance that any two collide (and
// are counted as one) is about n²/2⁶⁵ — 3·10⁻⁸ for a million series in one window.
func measure(md pmetric.Metrics, t target, s *scratch) measurement {
	s.reset()
	var m measurement
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
		if exe, ok := res.Get(attrExecutable); ok && len(t.critical) > 0 {
			s.cover(exe.Str(), t.critical)
		}
		rh := s.hashAttrs(0, res)
		sms := rm.ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				s.metric(ms.At(k), rh, &m)
			}
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
	m.series = s.series
	for p := range s.covered {
		m.covered = append(m.covered, p)
	}
	slices.Sort(m.covered)
	for _, p := range s.points {
		m.cpu = append(m.cpu, *p)
	}
	slices.SortFunc(m.cpu, func(a, b cpuPoint) int { return strings.Compare(a.instance, b.instance) })
	return m
}

// metric counts one metric's datapoints and series.
func (s *scratch) metric(mt pmetric.Metric, rh uint64, m *measurement) {
	seed := s.hashName(rh, mt.Name())
	switch mt.Type() {
	case pmetric.MetricTypeGauge:
		dps := mt.Gauge().DataPoints()
		for i := range dps.Len() {
			s.add(s.hashAttrs(seed, dps.At(i).Attributes()), m)
		}
	case pmetric.MetricTypeSum:
		dps := mt.Sum().DataPoints()
		for i := range dps.Len() {
			s.add(s.hashAttrs(seed, dps.At(i).Attributes()), m)
		}
	case pmetric.MetricTypeHistogram:
		dps := mt.Histogram().DataPoints()
		for i := range dps.Len() {
			s.add(s.hashAttrs(seed, dps.At(i).Attributes()), m)
		}
	case pmetric.MetricTypeExponentialHistogram:
		dps := mt.ExponentialHistogram().DataPoints()
		for i := range dps.Len() {
			s.add(s.hashAttrs(seed, dps.At(i).Attributes()), m)
		}
	case pmetric.MetricTypeSummary:
		dps := mt.Summary().DataPoints()
		for i := range dps.Len() {
			s.add(s.hashAttrs(seed, dps.At(i).Attributes()), m)
		}
	}
}

func (s *scratch) add(h uint64, m *measurement) {
	m.datapoints++
	if _, dup := s.seen[h]; !dup {
		s.seen[h] = struct{}{}
		s.series = append(s.series, h)
	}
}

// cover records which critical patterns an executable name matches, once per name per request.
func (s *scratch) cover(name string, patterns []critical) {
	if _, done := s.names[name]; done {
		return
	}
	s.names[name] = struct{}{}
	for _, c := range patterns {
		if _, ok := s.covered[c.pattern]; !ok && c.re.MatchString(name) {
			s.covered[c.pattern] = struct{}{}
		}
	}
}

// telemetry reads a collector's CPU and memory from its own telemetry resource.
func (s *scratch) telemetry(rm pmetric.ResourceMetrics, m *measurement) {
	id, _ := rm.Resource().Attributes().Get(attrInstance)
	instance := id.AsString()
	if len(instance) > maxInstanceID {
		instance = instance[:maxInstanceID]
	}
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
			for i := range dps.Len() {
				dp := dps.At(i)
				v := dp.DoubleValue()
				if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
					v = float64(dp.IntValue())
				}
				if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
					continue
				}
				switch mt.Name() {
				case metricCPU:
					// Only the latest reading per instance: the window store takes differences
					// between consecutive readings.
					ms := int64(dp.Timestamp()) / 1e6 // #nosec G115 -- Unix nanoseconds fit int64 until 2262
					if p := s.points[instance]; p == nil || ms > p.millis {
						s.points[instance] = &cpuPoint{instance: instance, millis: ms, seconds: v}
					}
				case metricMemory:
					m.memory = append(m.memory, memPoint{instance: instance, bytes: v})
				}
			}
		}
	}
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
