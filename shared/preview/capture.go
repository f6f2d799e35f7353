package preview

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenixotel/phoenix/shared/distribution"
	"github.com/phoenixotel/phoenix/shared/experiment"
)

// Capture is captured data ready to preview pipelines on: its requests, decoded and summarized
// once, and the time they span.
type Capture struct {
	bodies  [][]byte // OTLP requests, protobuf, in order
	In      Summary  // what they hold
	Seconds float64  // the time they span
	// sample is a part of the capture to screen many pipelines on (nil: the capture is small
	// enough to replay whole every time), and of is how many requests the whole capture has.
	sample *Capture
	of     int
}

// ScreenDatapoints bounds the part of a capture that screening replays. A replay of a million
// datapoints costs the collector about 2.2 s of CPU here; screening eight candidates on the whole
// of such a capture took 16.7 s on two cores (BenchmarkRecommend_1MDatapoints before sampling),
// on a part of 100k datapoints each candidate costs a tenth of that.
const ScreenDatapoints = 100_000

// screenBlocks is how many runs of consecutive requests a screening sample takes, spread evenly
// over the capture: runs keep what stateful processors (cumulativetodelta, interval) see from
// one scrape to the next, their spread covers the capture's processes over time.
const screenBlocks = 4

// NewCapture decodes bodies, scraped every interval, and summarizes them counting series per
// KPI window.
func NewCapture(bodies [][]byte, interval, window time.Duration) (*Capture, error) {
	input, err := decode(bodies)
	if err != nil {
		return nil, err
	}
	c := &Capture{bodies: bodies, In: Summarize(input, window), of: len(bodies)}
	c.Seconds = c.In.Span(interval).Seconds()
	if c.In.Datapoints > ScreenDatapoints && len(bodies) > screenBlocks {
		c.sample = c.part(input, window)
	}
	return c, nil
}

// part is an evenly spread sample of about ScreenDatapoints: screenBlocks runs of consecutive
// requests. Its span is the whole capture's in proportion to the datapoints it holds.
func (c *Capture) part(input []pmetric.Metrics, window time.Duration) *Capture {
	n := len(c.bodies)
	want := max(screenBlocks, int(int64(n)*ScreenDatapoints/c.In.Datapoints))
	size := max(1, want/screenBlocks)
	var bodies [][]byte
	var md []pmetric.Metrics
	for b := range screenBlocks {
		start := b * (n - size) / (screenBlocks - 1)
		bodies = append(bodies, c.bodies[start:start+size]...)
		md = append(md, input[start:start+size]...)
	}
	s := &Capture{bodies: bodies, In: Summarize(md, window), of: n}
	s.Seconds = c.Seconds * float64(s.In.Datapoints) / float64(c.In.Datapoints)
	return s
}

// Screen is the capture to screen pipelines on: a part of it when it is large, else itself.
func (c *Capture) Screen() *Capture {
	if c.sample != nil {
		return c.sample
	}
	return c
}

// Preview replays the capture through cfg (a configuration rendered for the pipeline under
// preview) with the real collector, compares the output with the input, and names examples of
// the series it drops; a screening sample says so in the result.
func (c *Capture) Preview(ctx context.Context, bin *distribution.Binary, cfg []byte, critical []string, prices experiment.Prices) (Result, error) {
	raw, err := Run(ctx, bin, cfg, c.bodies)
	if err != nil {
		return Result{}, err
	}
	out := Summarize(raw, c.In.Window)
	r := Compare(c.In, out, c.Seconds, critical, prices)
	if len(c.bodies) < c.of {
		r.Sample = &Sample{Requests: len(c.bodies), Of: c.of}
	}
	lost := append(slices.Clone(r.Dropped.Metrics), slices.Sorted(maps.Keys(r.Dropped.Reduced))...)
	if r.Dropped.Examples, err = droppedExamples(c.bodies, c.In.Attributes, raw, out.Attributes, lost); err != nil {
		return Result{}, err
	}
	return r, nil
}

// Sample says a preview replayed part of its capture.
type Sample struct {
	Requests int `json:"requests"` // replayed
	Of       int `json:"of"`       // in the capture
}

// decode unmarshals bodies, one goroutine per core: a million datapoints take 0.7 s of CPU.
func decode(bodies [][]byte) ([]pmetric.Metrics, error) {
	input := make([]pmetric.Metrics, len(bodies))
	var g errgroup.Group
	g.SetLimit(max(1, runtime.NumCPU()))
	for i, b := range bodies {
		g.Go(func() error {
			md, err := request(i, b)
			input[i] = md
			return err
		})
	}
	return input, g.Wait()
}

// request decodes the i-th request of a capture.
func request(i int, body []byte) (pmetric.Metrics, error) {
	md, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(body)
	if err != nil {
		return md, fmt.Errorf("preview: request %d of the capture does not decode: %w", i+1, err)
	}
	return md, nil
}
