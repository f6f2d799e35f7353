package ingest

import (
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

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

// memPoint is one reading of a collector's resident memory.
type memPoint struct {
	instance string  // the collector (see collectorKey)
	bytes    float64 // resident set size
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

// Which counters a reading carries.
const (
	hasCPU uint8 = 1 << iota
	hasUptime
	hasAccepted
	hasRefused
)
