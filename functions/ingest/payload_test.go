package ingest

import (
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenixotel/phoenix/shared/pipeline"
)

// proc is one process in a crafted payload.
type proc struct {
	exe string // process.executable.name
	pid int64  // process.pid
}

// processMetrics builds what a collector's process scraper would send for procs at ts: per process
// a resource (identity, pid, executable, host) with process.cpu.time (user and system) and
// process.memory.usage — three datapoints and three series per process.
func processMetrics(exp uuid.UUID, variant string, ts time.Time, procs ...proc) pmetric.Metrics {
	md := pmetric.NewMetrics()
	appendProcesses(md, exp, variant, ts, procs...)
	return md
}

func appendProcesses(md pmetric.Metrics, exp uuid.UUID, variant string, ts time.Time, procs ...proc) {
	for _, p := range procs {
		rm := md.ResourceMetrics().AppendEmpty()
		a := rm.Resource().Attributes()
		a.PutStr("phoenix.experiment.id", exp.String())
		a.PutStr("phoenix.variant", variant)
		a.PutInt("process.pid", p.pid)
		a.PutStr("process.executable.name", p.exe)
		a.PutStr("host.name", "node-1")
		ms := rm.ScopeMetrics().AppendEmpty().Metrics()
		cpu := ms.AppendEmpty()
		cpu.SetName("process.cpu.time")
		sum := cpu.SetEmptySum()
		for _, state := range []string{"user", "system"} {
			dp := sum.DataPoints().AppendEmpty()
			dp.SetTimestamp(pcommon.NewTimestampFromTime(ts))
			dp.SetDoubleValue(1.5)
			dp.Attributes().PutStr("state", state)
		}
		mem := ms.AppendEmpty()
		mem.SetName("process.memory.usage")
		dp := mem.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetTimestamp(pcommon.NewTimestampFromTime(ts))
		dp.SetIntValue(1 << 20)
	}
}

// selfTelemetry builds a collector's own telemetry: cumulative CPU seconds and resident memory.
func selfTelemetry(exp uuid.UUID, variant, instance string, ts time.Time, cpuSeconds float64, rss int64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	a := rm.Resource().Attributes()
	a.PutStr("phoenix.experiment.id", exp.String())
	a.PutStr("phoenix.variant", variant)
	a.PutStr(pipeline.StreamAttribute, pipeline.SelfTelemetry)
	a.PutStr("service.name", "phoenix-collector")
	a.PutStr("service.instance.id", instance)
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	cpu := ms.AppendEmpty()
	cpu.SetName(metricCPU)
	s := cpu.SetEmptySum()
	s.SetIsMonotonic(true)
	s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	dp := s.DataPoints().AppendEmpty()
	dp.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	dp.SetDoubleValue(cpuSeconds)
	mem := ms.AppendEmpty()
	mem.SetName(metricMemory)
	g := mem.SetEmptyGauge().DataPoints().AppendEmpty()
	g.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	g.SetIntValue(rss)
	other := ms.AppendEmpty()
	other.SetName("otelcol_exporter_sent_metric_points")
	other.SetEmptySum().DataPoints().AppendEmpty().SetIntValue(7)
	return md
}

// counters is what a collector's self-telemetry says at one moment.
type counters struct {
	name     string    // phoenix.collector, "" as a collector run without PHOENIX_COLLECTOR_NAME sends it
	instance string    // service.instance.id
	at       time.Time // when it was read
	started  time.Time // when the process started
	cpu      float64   // CPU seconds
	uptime   float64   // seconds since started
	accepted []int64   // per receiver: points accepted
	refused  []int64   // per receiver: points refused
	rss      int64     // resident bytes
}

// collectorTelemetry builds one export of a collector's self-telemetry in the shape the real
// collector (v0.160.0, level normal) sends it: double sums for CPU and uptime, int sums per
// receiver and transport for the receiver counters, an int gauge for memory, and metrics Phoenix
// does not read (an int sum and a histogram).
func collectorTelemetry(exp uuid.UUID, variant string, c counters) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	a := rm.Resource().Attributes()
	a.PutStr("phoenix.experiment.id", exp.String())
	a.PutStr("phoenix.variant", variant)
	a.PutStr(pipeline.StreamAttribute, pipeline.SelfTelemetry)
	a.PutStr(pipeline.CollectorAttribute, c.name)
	a.PutStr("service.name", "phoenix-collector")
	a.PutStr("service.instance.id", c.instance)
	a.PutStr("service.version", "0.160.0-phoenix")
	at, start := pcommon.NewTimestampFromTime(c.at), pcommon.NewTimestampFromTime(c.started)
	sum := func(ms pmetric.MetricSlice, name string) pmetric.NumberDataPointSlice {
		m := ms.AppendEmpty()
		m.SetName(name)
		s := m.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		return s.DataPoints()
	}
	point := func(dps pmetric.NumberDataPointSlice) pmetric.NumberDataPoint {
		dp := dps.AppendEmpty()
		dp.SetStartTimestamp(start)
		dp.SetTimestamp(at)
		return dp
	}
	service := rm.ScopeMetrics().AppendEmpty()
	service.Scope().SetName("go.opentelemetry.io/collector/service")
	ms := service.Metrics()
	point(sum(ms, metricCPU)).SetDoubleValue(c.cpu)
	point(sum(ms, metricUptime)).SetDoubleValue(c.uptime)
	mem := ms.AppendEmpty()
	mem.SetName(metricMemory)
	point(mem.SetEmptyGauge().DataPoints()).SetIntValue(c.rss)
	receivers := rm.ScopeMetrics().AppendEmpty()
	receivers.Scope().SetName("go.opentelemetry.io/collector/receiver/receiverhelper")
	ms = receivers.Metrics()
	for _, m := range []struct {
		name   string
		values []int64
	}{{metricAccepted, c.accepted}, {metricRefused, c.refused}, {"otelcol_receiver_failed_metric_points", c.refused}} {
		if m.values == nil {
			continue
		}
		dps := sum(ms, m.name)
		for i, v := range m.values {
			dp := point(dps)
			dp.SetIntValue(v)
			dp.Attributes().PutStr("receiver", []string{"host_metrics", "otlp", "prometheus"}[i%3])
			dp.Attributes().PutStr("transport", []string{"", "http", ""}[i%3])
		}
	}
	point(sum(ms, "otelcol_exporter_sent_metric_points")).SetIntValue(99)
	h := ms.AppendEmpty()
	h.SetName("otelcol_processor_batch_batch_send_size")
	h.SetEmptyHistogram().DataPoints().AppendEmpty().SetCount(3)
	return md
}
