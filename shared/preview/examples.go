package preview

import (
	"fmt"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// ExamplesPerMetric bounds the series a preview names, for each metric that lost some, as
// dropped or merged: enough to see what goes, few enough to read.
const ExamplesPerMetric = 3

// droppedExamples names series of the capture (bodies, with attribute keys inAttrs) that the
// output (out, with keys outAttrs) lacks,
// up to ExamplesPerMetric for each metric in lost. Attribute keys the pipeline adds to every
// series (its identity, phoenix.*) are left out of the output's identities, so a series kept as
// it was is recognized. The capture is decoded again, request by request, until every lost
// metric has its examples.
func droppedExamples(bodies [][]byte, inAttrs []string, out []pmetric.Metrics, outAttrs []string, lost []string) ([]string, error) {
	if len(lost) == 0 {
		return nil, nil
	}
	added := map[string]bool{}
	for _, k := range outAttrs {
		if _, found := slices.BinarySearch(inAttrs, k); !found {
			added[k] = true
		}
	}
	kept := map[uint64]struct{}{}
	outID := identity{skip: added}
	noted := map[string]struct{}{}
	for _, md := range out {
		eachSeries(md, &outID, noted, func(h uint64, _ string, _, _ pcommon.Map) bool {
			kept[h] = struct{}{}
			return true
		})
	}
	want := map[string]int{}
	for _, m := range lost {
		want[m] = ExamplesPerMetric
	}
	var examples []string
	seen := map[uint64]bool{}
	var inID identity
	for i := 0; i < len(bodies) && len(want) > 0; i++ {
		md, err := request(i, bodies[i])
		if err != nil {
			return nil, err
		}
		eachSeries(md, &inID, noted, func(h uint64, metric string, res, pa pcommon.Map) bool {
			if _, ok := kept[h]; ok || seen[h] || want[metric] == 0 {
				return len(want) > 0
			}
			seen[h] = true
			examples = append(examples, readable(metric, res, pa))
			if want[metric]--; want[metric] == 0 {
				delete(want, metric)
			}
			return len(want) > 0
		})
	}
	slices.Sort(examples)
	return examples, nil
}

// eachSeries calls fn with the identity hash, metric, resource and datapoint attributes of each
// datapoint of md, until fn returns false.
func eachSeries(md pmetric.Metrics, id *identity, keys map[string]struct{}, fn func(h uint64, metric string, res, pa pcommon.Map) bool) {
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		res := rms.At(i).Resource().Attributes()
		resKey := id.resource(res, keys)
		sms := rms.At(i).ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				m := ms.At(k)
				more := true
				forEachPoint(m, func(pa pcommon.Map, _ pcommon.Timestamp) {
					if more {
						more = fn(id.series(resKey, m.Name(), pa, keys), m.Name(), res, pa)
					}
				})
				if !more {
					return
				}
			}
		}
	}
}

// readable is a series as a person reads it: metric{datapoint attributes} on resource attributes,
// each in key order.
func readable(metric string, res, pa pcommon.Map) string {
	list := func(m pcommon.Map) string {
		var kv []string
		m.Range(func(k string, v pcommon.Value) bool {
			kv = append(kv, fmt.Sprintf("%s=%q", k, v.AsString()))
			return true
		})
		slices.Sort(kv)
		return strings.Join(kv, ", ")
	}
	return metric + "{" + list(pa) + "} on " + list(res)
}
