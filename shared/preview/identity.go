package preview

import (
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// identity hashes series identities without building their strings: a million datapoints'
// keys as strings cost 0.6 s of allocation and copying here (BenchmarkRecommend_1MDatapoints'
// profile), written into one reused digest they cost nothing but the hashing.
type identity struct {
	d    xxhash.Digest
	keys []string        // scratch: one map's keys, sorted
	skip map[string]bool // attribute keys left out of identities (those a pipeline adds to every series)
}

// resource is a resource's attributes in key order, each key and value length-safe; it notes
// the keys.
func (id *identity) resource(m pcommon.Map, keys map[string]struct{}) string {
	var b strings.Builder
	for _, k := range id.sorted(m, keys) {
		v, _ := m.Get(k)
		b.WriteString(k)
		b.WriteByte(1)
		b.WriteString(v.Type().String())
		b.WriteByte(1)
		b.WriteString(v.AsString())
		b.WriteByte(2)
	}
	return b.String()
}

// series is the 64-bit hash of a series: its resource (as resource wrote it), its metric's name
// and its datapoint's attributes in key order; it notes the attribute keys.
func (id *identity) series(resource, metric string, attrs pcommon.Map, keys map[string]struct{}) uint64 {
	id.d.Reset()
	_, _ = id.d.WriteString(resource)
	_, _ = id.d.Write([]byte{0})
	_, _ = id.d.WriteString(metric)
	_, _ = id.d.Write([]byte{0})
	for _, k := range id.sorted(attrs, keys) {
		v, _ := attrs.Get(k)
		_, _ = id.d.WriteString(k)
		_, _ = id.d.Write([]byte{1})
		_, _ = id.d.WriteString(v.Type().String())
		_, _ = id.d.Write([]byte{1})
		_, _ = id.d.WriteString(v.AsString())
		_, _ = id.d.Write([]byte{2})
	}
	return id.d.Sum64()
}

// sorted are m's keys in order but those skipped, in the scratch slice; each is noted in keys.
func (id *identity) sorted(m pcommon.Map, keys map[string]struct{}) []string {
	id.keys = id.keys[:0]
	m.Range(func(k string, _ pcommon.Value) bool {
		if id.skip[k] {
			return true
		}
		id.keys = append(id.keys, k)
		if _, ok := keys[k]; !ok {
			keys[k] = struct{}{}
		}
		return true
	})
	slices.Sort(id.keys)
	return id.keys
}
