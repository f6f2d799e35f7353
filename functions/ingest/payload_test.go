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
