package ingest

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
)

// FuzzDecode drives the decoder path — body limits, gzip, protobuf or JSON through pdata, then
// measurement — with arbitrary bytes: it must never panic, and what it counts must add up.
//
//	go test -run '^$' -fuzz FuzzDecode -fuzztime 60s ./functions/ingest
func FuzzDecode(f *testing.F) {
	md := processMetrics(expA, "baseline", t0, proc{"postgres", 1}, proc{"nginx", 2})
	appendProcesses(md, expA, "candidate", t0, proc{"redis", 3})
	req := pmetricotlp.NewExportRequestFromMetrics(md)
	pb, _ := req.MarshalProto()
	js, _ := req.MarshalJSON()
	tel, _ := pmetricotlp.NewExportRequestFromMetrics(selfTelemetry(expA, "baseline", "c", t0, 1, 2)).MarshalProto()
	for _, seed := range [][]byte{pb, js, tel, pb[:len(pb)/2], []byte("{}"), nil} {
		f.Add(seed, false, false)
		f.Add(seed, true, false)
		f.Add(gzipped(seed), false, true)
		f.Add(gzipped(seed), true, true)
	}
	in := New(nil, nil, nil, Options{MaxBody: 1 << 20, MaxDecoded: 4 << 20, ReadTimeout: time.Minute})
	t := tgt(expA, "baseline", "postgres", "nginx.*")
	f.Fuzz(func(tt *testing.T, body []byte, json, gz bool) {
		r := httptest.NewRequest(http.MethodPost, "/v1/metrics", bytes.NewReader(body))
		if gz {
			r.Header.Set("Content-Encoding", "gzip")
		}
		raw, decoded := new(bytes.Buffer), new(bytes.Buffer)
		payload, status, err := in.readBody(httptest.NewRecorder(), r, raw, decoded)
		if err != nil {
			if status < 400 || status > 499 {
				tt.Fatalf("a bad body answered %d", status)
			}
			return
		}
		enc := encProto
		if json {
			enc = encJSON
		}
		req, err := decode(enc, payload)
		if err != nil {
			return
		}
		m := measure(req.Metrics(), t, newScratch())
		total := int64(req.Metrics().DataPointCount())
		if m.datapoints < 0 || m.rejected < 0 || m.datapoints+m.rejected > total || int64(len(seriesOf(m))) > m.datapoints {
			tt.Fatalf("counted %d datapoints, %d rejected, %d series of %d datapoints", m.datapoints, m.rejected, len(seriesOf(m)), total)
		}
	})
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}
