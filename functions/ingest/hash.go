package ingest

import (
	"encoding/binary"
	"math"
	"slices"

	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// hashAttrs hashes seed with a set of attributes, whatever their order: each attribute is hashed
// alone (key length-prefixed, value tagged with its type), and the sorted attribute hashes are
// hashed with seed. Sorting 64-bit numbers is what makes order irrelevant, and is cheaper than
// sorting by key.
func (s *scratch) hashAttrs(seed uint64, attrs pcommon.Map) uint64 {
	s.hs = s.hs[:0]
	attrs.Range(func(k string, v pcommon.Value) bool {
		s.hs = append(s.hs, s.hashAttr(k, v))
		return true
	})
	if len(s.hs) > 1 {
		slices.Sort(s.hs)
	}
	b := binary.LittleEndian.AppendUint64(s.buf[:0], seed)
	for _, h := range s.hs {
		b = binary.LittleEndian.AppendUint64(b, h)
	}
	s.buf = b
	return xxhash.Sum64(b)
}

// hashName hashes a resource's hash with a metric name: the seed of the metric's datapoints.
func (s *scratch) hashName(resource uint64, name string) uint64 {
	b := binary.LittleEndian.AppendUint64(s.buf[:0], resource)
	b = appendString(b, name)
	s.buf = b
	return xxhash.Sum64(b)
}

// hashAttr hashes one attribute. Every string is length-prefixed and every value tagged with
// its type, so no two different attributes encode alike.
func (s *scratch) hashAttr(k string, v pcommon.Value) uint64 {
	b := appendString(s.abuf[:0], k)
	b = append(b, byte(v.Type())) // #nosec G115 -- pcommon.ValueType is a small enum
	switch v.Type() {
	case pcommon.ValueTypeStr:
		b = appendString(b, v.Str())
	case pcommon.ValueTypeInt:
		b = binary.LittleEndian.AppendUint64(b, uint64(v.Int())) // #nosec G115 -- hashes the bit pattern
	case pcommon.ValueTypeDouble:
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Double()))
	case pcommon.ValueTypeBool:
		if v.Bool() {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	case pcommon.ValueTypeBytes:
		raw := v.Bytes().AsRaw()
		b = binary.LittleEndian.AppendUint64(b, uint64(len(raw)))
		b = append(b, raw...)
	default: // maps and slices: their JSON form, rare in metric attributes
		b = appendString(b, v.AsString())
	}
	s.abuf = b
	return xxhash.Sum64(b)
}

// appendString appends a length-prefixed string.
func appendString(b []byte, v string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(v)))
	return append(b, v...)
}
