package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"
)

// loadReport is the outcome of a run.
type loadReport struct {
	Connections     int             // connections asked for
	Opened          int             // connections opened and subscribed
	Failed          []string        // why connections could not be opened (first few)
	FailedCount     int             // connections that could not be opened
	ConnectWall     time.Duration   // time to open all of them
	Connect         []time.Duration // per connection: handshake and subscription
	Tenants         int             // tenants the connections were spread over
	Users           int             // subjects per tenant
	Events          int             // events published to every tenant
	Interval        time.Duration   // time between events
	Expected        int             // deliveries expected: every event to every connection of its tenant
	Delivered       int             // deliveries received in order
	Duplicates      int             // deliveries of a number already received
	Gaps            int             // numbers skipped
	Ended           int             // connections that ended during the test
	ErrorFrames     int             // connections that received an error frame
	Latency         []time.Duration // every delivery's cause-to-receipt time
	LatencyFrom     string          // what the latency is measured from
	MemoryKnown     bool            // whether the gateway's metrics could be read
	MemoryCollected bool            // whether the gateway collected garbage after the connections opened
	RSSPerConn      float64         // gateway resident memory added per connection, bytes
	HeapPerConn     float64         // gateway live heap and stacks added per connection, bytes
	GatewayConns    float64         // the gateway's own connection count when measured
	Fanout          []bucket        // the gateway's fan-out histogram over the events
	GatewayCPU      float64         // the gateway's CPU seconds over the events
}

// percentile returns the p-quantile (0 < p ≤ 1) of sorted by the nearest-rank method.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// lost is the deliveries that never came.
func (r *loadReport) lost() int { return r.Expected - r.Delivered }

// write prints the report.
func (r *loadReport) write(out io.Writer) {
	slices.Sort(r.Connect)
	slices.Sort(r.Latency)
	ms := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "connections\t%d opened, %d failed, %d ended early (%d tenants × %d subjects)\n",
		r.Opened, r.FailedCount, r.Ended, r.Tenants, r.Users)
	rate := 0.0
	if r.ConnectWall > 0 {
		rate = float64(r.Opened) / r.ConnectWall.Seconds()
	}
	fmt.Fprintf(tw, "connect\tall in %.1f s (%.0f/s); each p50 %s, p99 %s, max %s\n", r.ConnectWall.Seconds(), rate,
		ms(percentile(r.Connect, .5)), ms(percentile(r.Connect, .99)), ms(percentile(r.Connect, 1)))
	fmt.Fprintf(tw, "events\t%d to each tenant, one every %s\n", r.Events, r.Interval)
	fmt.Fprintf(tw, "deliveries\t%d of %d; lost %d, duplicates %d, gaps %d, error frames %d\n",
		r.Delivered, r.Expected, r.lost(), r.Duplicates, r.Gaps, r.ErrorFrames)
	fmt.Fprintf(tw, "latency\tp50 %s, p95 %s, p99 %s, max %s (%s to receipt)\n", ms(percentile(r.Latency, .5)),
		ms(percentile(r.Latency, .95)), ms(percentile(r.Latency, .99)), ms(percentile(r.Latency, 1)), r.LatencyFrom)
	if p99 := histogramQuantile(.99, r.Fanout); !math.IsNaN(p99) {
		perDelivery := 0.0
		if r.Delivered > 0 {
			perDelivery = r.GatewayCPU / float64(r.Delivered) * 1e6
		}
		fmt.Fprintf(tw, "gateway fan-out	p50 %.1f ms, p99 %.1f ms (its histogram: from Redis to the frame written); %.1f s of CPU over the events, %.1f µs per delivery\n",
			histogramQuantile(.5, r.Fanout)*1000, p99*1000, r.GatewayCPU, perDelivery)
	}
	switch {
	case r.MemoryKnown && (r.HeapPerConn <= 0 || r.RSSPerConn <= 0):
		// The process also did other work (phoenix dev runs every function in one): what the
		// connections added is lost in what the rest freed.
		fmt.Fprintln(tw, "gateway memory\tnot measurable: the process's memory fell while the connections opened (it runs more than the gateway)")
	case r.MemoryKnown:
		when := "after a garbage collection"
		if !r.MemoryCollected {
			when = "no garbage collection yet, so an upper bound"
		}
		fmt.Fprintf(tw, "gateway memory\t%.1f KB live heap+stacks and %.1f KB resident per idle connection (%.0f connections; %s)\n",
			r.HeapPerConn/1024, r.RSSPerConn/1024, r.GatewayConns, when)
	default:
		fmt.Fprintln(tw, "gateway memory\tunknown (its /metrics could not be read)")
	}
	for _, f := range r.Failed {
		fmt.Fprintf(tw, "failure\t%s\n", f)
	}
	_ = tw.Flush()
}

// verdict is an error unless every connection opened, stayed and received every event.
func (r *loadReport) verdict() error {
	if r.FailedCount > 0 || r.Ended > 0 || r.lost() > 0 || r.Duplicates > 0 || r.Gaps > 0 || r.ErrorFrames > 0 {
		return fmt.Errorf("load test failed: %d connections failed, %d ended early, %d deliveries lost, %d duplicates, %d gaps",
			r.FailedCount, r.Ended, r.lost(), r.Duplicates, r.Gaps)
	}
	return nil
}
