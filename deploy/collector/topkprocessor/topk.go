// Package topkprocessor keeps, in each batch of host process metrics, the K processes that use
// the most of one resource (CPU utilization or memory usage) plus every process whose executable
// name matches the keep pattern (the critical ones), and drops the rest. Ranking spans resources,
// which the filter and transform processors cannot do: they judge each resource alone. Place it
// right after the host-metrics receiver (before batching), where one batch is one scrape.
package topkprocessor

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
)

// Config is the processor's configuration.
type Config struct {
	K      int    `mapstructure:"k"`      // how many processes to keep besides the kept ones
	Metric string `mapstructure:"metric"` // process.cpu.utilization or process.memory.usage
	Keep   string `mapstructure:"keep"`   // RE2 pattern on process.executable.name: always kept
}

// Validate reports what is wrong with the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.K < 0 || c.K > 100000 {
		errs = append(errs, fmt.Errorf("k must be between 0 and 100000, got %d", c.K))
	}
	if c.Metric != "process.cpu.utilization" && c.Metric != "process.memory.usage" {
		errs = append(errs, fmt.Errorf("metric must be process.cpu.utilization or process.memory.usage, got %q", c.Metric))
	}
	if c.Keep != "" {
		if _, err := regexp.Compile(c.Keep); err != nil {
			errs = append(errs, fmt.Errorf("keep: %w", err))
		}
	}
	return errors.Join(errs...)
}

// NewFactory returns the factory of the phoenix_topk processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(component.MustNewType("phoenix_topk"),
		func() component.Config { return &Config{K: 10, Metric: "process.memory.usage"} },
		processor.WithMetrics(create, component.StabilityLevelAlpha))
}

func create(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	c := cfg.(*Config)
	var keep *regexp.Regexp
	if c.Keep != "" {
		keep = regexp.MustCompile(c.Keep)
	}
	p := &topk{k: c.K, metric: c.Metric, keep: keep}
	return processorhelper.NewMetrics(ctx, set, cfg, next, p.process, processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}))
}

type topk struct {
	k      int            // processes kept by rank
	metric string         // the ranking metric
	keep   *regexp.Regexp // always kept; nil keeps none by name
}

func (t *topk) process(_ context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	type ranked struct {
		index int
		score float64
	}
	rms := md.ResourceMetrics()
	var candidates []ranked
	kept := map[int]bool{}
	for i := range rms.Len() {
		attrs := rms.At(i).Resource().Attributes()
		name, isProcess := attrs.Get("process.executable.name")
		if !isProcess {
			kept[i] = true // not a process: not ours to judge
			continue
		}
		if t.keep != nil && t.keep.MatchString(name.Str()) {
			kept[i] = true
			continue
		}
		candidates = append(candidates, ranked{index: i, score: score(rms.At(i), t.metric)})
	}
	// Highest first; ties broken by position so the result is deterministic.
	sort.SliceStable(candidates, func(a, b int) bool { return candidates[a].score > candidates[b].score })
	for i, c := range candidates {
		if i < t.k {
			kept[c.index] = true
		}
	}
	i := -1
	rms.RemoveIf(func(pmetric.ResourceMetrics) bool {
		i++
		return !kept[i]
	})
	return md, nil
}

// score sums the resource's datapoints of metric (CPU utilization comes per state).
func score(rm pmetric.ResourceMetrics, metric string) float64 {
	total := 0.0
	sms := rm.ScopeMetrics()
	for i := range sms.Len() {
		ms := sms.At(i).Metrics()
		for j := range ms.Len() {
			m := ms.At(j)
			if m.Name() != metric {
				continue
			}
			var dps pmetric.NumberDataPointSlice
			switch m.Type() {
			case pmetric.MetricTypeGauge:
				dps = m.Gauge().DataPoints()
			case pmetric.MetricTypeSum:
				dps = m.Sum().DataPoints()
			default:
				continue
			}
			for k := range dps.Len() {
				dp := dps.At(k)
				if dp.ValueType() == pmetric.NumberDataPointValueTypeDouble {
					total += dp.DoubleValue()
				} else {
					total += float64(dp.IntValue())
				}
			}
		}
	}
	return total
}
