package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// gatewayMetrics is what the load test reads from the gateway's /metrics.
type gatewayMetrics struct {
	values map[string]float64 // the memory, connection, GC and CPU gauges and counters, by name
	fanout []bucket           // phoenix_gateway_fanout_seconds, cumulative, by upper bound
}

// bucket is one cumulative histogram bucket.
type bucket struct {
	le    float64 // upper bound, seconds
	count float64 // observations at or below le
}

// scrapeGateway reads the gateway's memory and connection gauges, its CPU time and its fan-out
// histogram from its /metrics.
func scrapeGateway(metricsURL string) (*gatewayMetrics, error) {
	if metricsURL == "-" {
		return nil, errors.New("no metrics URL")
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(metricsURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", metricsURL, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", metricsURL, err)
	}
	m := &gatewayMetrics{values: map[string]float64{}}
	for _, name := range []string{"process_resident_memory_bytes", "go_memstats_heap_alloc_bytes",
		"go_memstats_stack_inuse_bytes", "phoenix_gateway_connections", "process_cpu_seconds_total"} {
		if f := families[name]; f != nil && len(f.GetMetric()) == 1 {
			x := f.GetMetric()[0]
			m.values[name] = x.GetGauge().GetValue() + x.GetCounter().GetValue()
		}
	}
	if f := families["go_gc_duration_seconds"]; f != nil && len(f.GetMetric()) == 1 {
		m.values["go_gc_duration_seconds_count"] = float64(f.GetMetric()[0].GetSummary().GetSampleCount())
	}
	if f := families["phoenix_gateway_fanout_seconds"]; f != nil && len(f.GetMetric()) == 1 {
		for _, b := range f.GetMetric()[0].GetHistogram().GetBucket() {
			m.fanout = append(m.fanout, bucket{le: b.GetUpperBound(), count: float64(b.GetCumulativeCount())})
		}
	}
	if len(m.values) < 4 {
		return nil, fmt.Errorf("%s has no process and Go memory metrics", metricsURL)
	}
	return m, nil
}

// fanoutSince is the fan-out histogram of the observations made between before and m.
func (m *gatewayMetrics) fanoutSince(before *gatewayMetrics) []bucket {
	if len(before.fanout) != len(m.fanout) {
		return nil
	}
	out := make([]bucket, len(m.fanout))
	for i, b := range m.fanout {
		out[i] = bucket{le: b.le, count: b.count - before.fanout[i].count}
	}
	return out
}

// histogramQuantile estimates the q-quantile of a cumulative histogram as Prometheus's
// histogram_quantile does: linear interpolation within the bucket that holds it (the lowest
// bucket from 0). It returns the bound as an upper limit when the quantile falls beyond the last
// finite bucket, and NaN without observations.
func histogramQuantile(q float64, buckets []bucket) float64 {
	if len(buckets) == 0 || buckets[len(buckets)-1].count == 0 {
		return math.NaN()
	}
	total := buckets[len(buckets)-1].count
	rank := q * total
	lower, below := 0.0, 0.0
	for _, b := range buckets {
		if b.count >= rank {
			if math.IsInf(b.le, 1) {
				return lower
			}
			if b.count == below {
				return b.le
			}
			return lower + (b.le-lower)*(rank-below)/(b.count-below)
		}
		lower, below = b.le, b.count
	}
	return lower
}

// settledMemory reads the gateway's memory once it has collected garbage since now (so the heap
// holds what the connections keep, not what their handshakes left), or after wait at most.
func settledMemory(ctx context.Context, metricsURL string, wait time.Duration) (*gatewayMetrics, bool, error) {
	first, err := scrapeGateway(metricsURL)
	if err != nil {
		return nil, false, err
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if !sleepCtx(ctx, time.Second) {
			return nil, false, ctx.Err()
		}
		m, err := scrapeGateway(metricsURL)
		if err != nil {
			return nil, false, err
		}
		if m.values["go_gc_duration_seconds_count"] > first.values["go_gc_duration_seconds_count"] {
			return m, true, nil
		}
	}
	m, err := scrapeGateway(metricsURL)
	return m, false, err
}
