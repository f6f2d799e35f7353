package preview

import (
	"maps"
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// tally is what Summarize counts as it reads, resource by resource.
type tally struct {
	s         Summary // Window is the KPI window (0: series are not counted per window)
	id        identity
	series    map[uint64]struct{}            // every series, by the hash of its identity
	perWindow map[int64]map[uint64]struct{}  // window start (ns) → its series
	points    map[int64]int64                // window start (ns) → its datapoints
	procs     map[string]struct{}            // process.executable.name values
	keys      map[string]struct{}            // attribute keys (identity notes them)
	values    map[string]map[uint64]struct{} // attribute key → the hashes of its distinct values
	pointKeys map[string]map[string]struct{} // metric → its datapoint attribute keys
}

func newTally(window time.Duration) *tally {
	return &tally{s: Summary{Metrics: map[string]int{}, ProcessSeries: map[string]int{}, Window: max(0, window)},
		series: map[uint64]struct{}{}, perWindow: map[int64]map[uint64]struct{}{},
		points: map[int64]int64{}, procs: map[string]struct{}{}, keys: map[string]struct{}{},
		values: map[string]map[uint64]struct{}{}, pointKeys: map[string]map[string]struct{}{}}
}

// resource counts one resource's datapoints.
func (t *tally) resource(rm pmetric.ResourceMetrics) {
	res := rm.Resource().Attributes()
	proc := ""
	if v, ok := res.Get(processAttribute); ok {
		proc = v.AsString()
		t.procs[proc] = struct{}{}
	}
	t.distinct(res)
	resKey := t.id.resource(res, t.keys)
	sms := rm.ScopeMetrics()
	for j := range sms.Len() {
		ms := sms.At(j).Metrics()
		for k := range ms.Len() {
			m := ms.At(k)
			keys := t.pointKeys[m.Name()]
			forEachPoint(m, func(pa pcommon.Map, ts pcommon.Timestamp) {
				if pa.Len() > 0 {
					if keys == nil {
						keys = map[string]struct{}{}
						t.pointKeys[m.Name()] = keys
					}
					pa.Range(func(k string, _ pcommon.Value) bool { keys[k] = struct{}{}; return true })
					t.distinct(pa)
				}
				t.point(resKey, m.Name(), proc, pa, ts)
			})
		}
	}
}

// point counts one datapoint of metric on the resource resKey (identity.resource) of process proc.
func (t *tally) point(resKey, metric, proc string, pa pcommon.Map, ts pcommon.Timestamp) {
	s := &t.s
	s.Datapoints++
	if at := ts.AsTime(); ts != 0 && (s.First.IsZero() || at.Before(s.First)) {
		s.First = at
	}
	if at := ts.AsTime(); at.After(s.Last) {
		s.Last = at
	}
	h := t.id.series(resKey, metric, pa, t.keys)
	if s.Window > 0 {
		w := ts.AsTime().Truncate(s.Window).UnixNano()
		if t.perWindow[w] == nil {
			t.perWindow[w] = map[uint64]struct{}{}
		}
		t.perWindow[w][h] = struct{}{}
		t.points[w]++
	}
	if _, seen := t.series[h]; !seen {
		t.series[h] = struct{}{}
		s.Metrics[metric]++
		if proc != "" {
			s.ProcessSeries[proc]++
		}
	}
}

// distinct notes the values of m's attributes, by their hash.
func (t *tally) distinct(m pcommon.Map) {
	m.Range(func(k string, v pcommon.Value) bool {
		set := t.values[k]
		if set == nil {
			set = map[uint64]struct{}{}
			t.values[k] = set
		}
		set[xxhash.Sum64String(v.AsString())] = struct{}{}
		return true
	})
}

// summary is what was counted.
func (t *tally) summary() Summary {
	s := t.s
	s.Series = len(t.series)
	if s.Window > 0 {
		s.Windows = make(map[int64]WindowCount, len(t.perWindow))
	}
	for w, ws := range t.perWindow {
		s.SeriesPerWindow += float64(len(ws)) / float64(len(t.perWindow))
		s.Windows[w] = WindowCount{Series: len(ws), Datapoints: t.points[w]}
	}
	s.Processes = slices.Sorted(maps.Keys(t.procs))
	s.Attributes = slices.Sorted(maps.Keys(t.keys))
	if len(t.values) > 0 {
		s.AttributeValues = make(map[string]int, len(t.values))
		for k, set := range t.values {
			s.AttributeValues[k] = len(set)
		}
	}
	if len(t.pointKeys) > 0 {
		s.PointAttributes = make(map[string][]string, len(t.pointKeys))
		for m, keys := range t.pointKeys {
			s.PointAttributes[m] = slices.Sorted(maps.Keys(keys))
		}
	}
	return s
}
