// Package hostmetrics builds OTLP metrics shaped as the host-metrics process scraper sends them,
// for tests of what reads them (previews, recommendations, captures).
package hostmetrics

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Scrape is one host-metrics scrape of procs as the process scraper shapes it: per process a
// resource, CPU time by state, memory usage and threads.
func Scrape(at time.Time, procs ...string) pmetric.Metrics {
	md := pmetric.NewMetrics()
	ts := pcommon.NewTimestampFromTime(at)
	for i, p := range procs {
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("process.executable.name", p)
		rm.Resource().Attributes().PutInt("process.pid", int64(1000+i))
		ms := rm.ScopeMetrics().AppendEmpty().Metrics()
		cpu := ms.AppendEmpty()
		cpu.SetName("process.cpu.time")
		sum := cpu.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for _, state := range []string{"user", "system"} {
			dp := sum.DataPoints().AppendEmpty()
			dp.SetTimestamp(ts)
			dp.SetDoubleValue(float64(i) + at.Sub(time.Unix(0, 0)).Seconds()/1e9)
			dp.Attributes().PutStr("state", state)
		}
		for _, name := range []string{"process.memory.usage", "process.threads"} {
			g := ms.AppendEmpty()
			g.SetName(name)
			dp := g.SetEmptyGauge().DataPoints().AppendEmpty()
			dp.SetTimestamp(ts)
			dp.SetIntValue(int64(1 << (10 + i%10)))
		}
	}
	return md
}
