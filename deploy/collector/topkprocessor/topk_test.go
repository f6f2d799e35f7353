package topkprocessor

import (
	"context"
	"regexp"
	"testing"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

func batch(procs map[string]float64, extra bool) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for name, mem := range procs {
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("process.executable.name", name)
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("process.memory.usage")
		m.SetEmptySum().DataPoints().AppendEmpty().SetIntValue(int64(mem))
	}
	if extra {
		md.ResourceMetrics().AppendEmpty().Resource().Attributes().PutStr("host.name", "h")
	}
	return md
}

func names(md pmetric.Metrics) map[string]bool {
	out := map[string]bool{}
	for i := range md.ResourceMetrics().Len() {
		if v, ok := md.ResourceMetrics().At(i).Resource().Attributes().Get("process.executable.name"); ok {
			out[v.Str()] = true
		} else {
			out["<non-process>"] = true
		}
	}
	return out
}

func TestTopK(t *testing.T) {
	procs := map[string]float64{"a": 10, "b": 50, "c": 30, "db": 1, "d": 40}
	p := &topk{k: 2, metric: "process.memory.usage"}
	out, _ := p.process(context.Background(), batch(procs, true))
	if got := names(out); len(got) != 3 || !got["b"] || !got["d"] || !got["<non-process>"] {
		t.Fatalf("k=2 kept %v, want b, d and the non-process resource", got)
	}
	p.keep = regexpMust("^(?:db)$")
	out, _ = p.process(context.Background(), batch(procs, false))
	if got := names(out); len(got) != 3 || !got["db"] || !got["b"] || !got["d"] {
		t.Fatalf("with db kept: %v", got)
	}
	p.k = 0
	out, _ = p.process(context.Background(), batch(procs, false))
	if got := names(out); len(got) != 1 || !got["db"] {
		t.Fatalf("k=0: %v", got)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{K: -1, Metric: "process.memory.usage"}, {K: 1, Metric: "bytes"}, {K: 1, Metric: "process.memory.usage", Keep: "("}} {
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if err := (&Config{K: 5, Metric: "process.cpu.utilization", Keep: "^x$"}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(s) }
