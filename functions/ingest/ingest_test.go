package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/ingesttoken"
	"github.com/phoenixotel/phoenix/shared/realtime"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/pgtest"
	"github.com/phoenixotel/phoenix/test/redistest"
)

// env is one test's ingest function over its own database and its own Redis keys.
type env struct {
	t      testing.TB
	st     *store.Store
	rdb    *redis.Client
	in     *Ingest
	srv    *httptest.Server
	prefix string // Redis key prefix of this test
}

func newEnv(t testing.TB, o Options) *env {
	t.Helper()
	st := pgtest.Migrated(t).AppStore(t, store.Options{})
	rdb := redistest.Client(t)
	o.Prefix = redistest.Prefix(t, rdb)
	if o.ScopeTTL == 0 {
		o.ScopeTTL = time.Nanosecond // every request reads the token anew: revocation shows at once
	}
	in := New(st, rdb, realtime.NewPublisher(rdb, o.Prefix), o)
	srv := httptest.NewServer(in.Routes())
	t.Cleanup(srv.Close)
	return &env{t: t, st: st, rdb: rdb, in: in, srv: srv, prefix: o.Prefix}
}

// experiment creates an experiment in a new tenant, with spec, moved to state.
func (e *env) experiment(tenantName string, spec string, to experiment.State) (uuid.UUID, uuid.UUID) {
	e.t.Helper()
	tenant := pgtest.Tenant(e.t, e.st, tenantName)
	var id uuid.UUID
	err := e.st.WithTenant(context.Background(), tenant, func(tx *store.Tx) error {
		x, err := tx.CreateExperiment(context.Background(), store.NewExperiment{Name: "x", DurationSeconds: 600, CreatedBy: "t",
			Baseline: store.PipelineChoice{Template: "process-baseline"}, Candidate: store.PipelineChoice{Template: "process-minimal"},
			Spec: pgtest.Spec(e.t, spec)})
		if err != nil {
			return err
		}
		id = x.ID
		path := []experiment.State{experiment.Pending, experiment.Generating, experiment.Deploying, experiment.Running}
		for i := 1; i < len(path) && path[i-1] != to; i++ {
			if _, err := tx.Move(context.Background(), id, path[i-1], path[i], "test", "test", ""); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return tenant, id
}

func (e *env) token(tenant, exp uuid.UUID, v experiment.Variant) string {
	e.t.Helper()
	tok, err := ingesttoken.Issue(context.Background(), e.st, tenant, exp, v, time.Minute)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// request is one export as a collector would send it.
type request struct {
	token       string
	contentType string // default protobuf
	encoding    string // Content-Encoding; default gzip
	body        []byte // overrides the encoded metrics
}

// encode gives md's body as r asks: protobuf or JSON, gzip or not.
func encode(t testing.TB, md pmetric.Metrics, json, gz bool) []byte {
	t.Helper()
	req := pmetricotlp.NewExportRequestFromMetrics(md)
	var b []byte
	var err error
	if json {
		b, err = req.MarshalJSON()
	} else {
		b, err = req.MarshalProto()
	}
	if err != nil {
		t.Fatal(err)
	}
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(b)
		_ = zw.Close()
		b = buf.Bytes()
	}
	return b
}

// post sends r and returns the status, the parsed OTLP response or error status, and the bytes sent.
func (e *env) post(r request, md pmetric.Metrics) (int, pmetricotlp.ExportResponse, *spb.Status, int) {
	e.t.Helper()
	if r.contentType == "" {
		r.contentType = contentProto
	}
	if r.encoding == "" {
		r.encoding = "gzip"
	}
	isJSON := strings.HasPrefix(r.contentType, contentJSON)
	body := r.body
	if body == nil {
		body = encode(e.t, md, isJSON, r.encoding == "gzip")
	}
	resp, raw := e.send(r, body)
	if want, _, _ := mime.ParseMediaType(r.contentType); resp.Header.Get("Content-Type") != want {
		e.t.Errorf("response Content-Type %q, want %q", resp.Header.Get("Content-Type"), want)
	}
	out := pmetricotlp.NewExportResponse()
	if resp.StatusCode == http.StatusOK {
		var err error
		if isJSON {
			err = out.UnmarshalJSON(raw)
		} else {
			err = out.UnmarshalProto(raw)
		}
		if err != nil {
			e.t.Fatalf("200 with a body that is no ExportMetricsServiceResponse: %v", err)
		}
		return resp.StatusCode, out, nil, len(body)
	}
	st := &spb.Status{}
	var err error
	if isJSON {
		err = protojson.Unmarshal(raw, st)
	} else {
		err = proto.Unmarshal(raw, st)
	}
	if err != nil {
		e.t.Fatalf("status %d with a body that is no google.rpc.Status: %v (%q)", resp.StatusCode, err, raw)
	}
	return resp.StatusCode, out, st, len(body)
}

// send posts body with r's headers as they are and returns the response and its body.
func (e *env) send(r request, body []byte) (*http.Response, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/metrics", bytes.NewReader(body))
	req.Header.Set("Content-Type", r.contentType)
	if r.encoding != "none" {
		req.Header.Set("Content-Encoding", r.encoding)
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

// redisNow is Redis's clock, the one windows are cut by.
func (e *env) redisNow() time.Time {
	e.t.Helper()
	now, err := e.rdb.Time(context.Background()).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	return now
}

// freshWindow waits, if need be, until a window starts, so that at least room is left in it.
func (e *env) freshWindow(room time.Duration) time.Time {
	e.t.Helper()
	w := e.in.o.Window
	now := e.redisNow()
	start := now.Truncate(w)
	if start.Add(w).Sub(now) < room {
		start = start.Add(w)
		time.Sleep(start.Sub(now) + 5*time.Millisecond) // waiting for Redis's clock to reach the next window
	}
	return start
}

// nextWindow waits until the next window starts and returns its start.
func (e *env) nextWindow() time.Time {
	e.t.Helper()
	now := e.redisNow()
	start := now.Truncate(e.in.o.Window).Add(e.in.o.Window)
	time.Sleep(start.Sub(now) + 5*time.Millisecond) // waiting for Redis's clock to reach the next window
	return start
}

// closeAll waits until Redis time has passed end and closes every due window.
func (e *env) closeAll(end time.Time) int {
	e.t.Helper()
	if d := end.Sub(e.redisNow()); d > 0 {
		time.Sleep(d + 5*time.Millisecond) // waiting for Redis's clock to pass the window's end
	}
	n, err := e.in.CloseDue(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) windows(tenant, exp uuid.UUID, v experiment.Variant) []store.KPIWindow {
	e.t.Helper()
	var ws []store.KPIWindow
	err := e.st.WithTenant(context.Background(), tenant, func(tx *store.Tx) (err error) {
		ws, err = tx.KPIWindows(context.Background(), exp, store.KPIFilter{Variant: v})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return ws
}

func TestIngest_ExactCountsPerWindowAndCoverageAndTheAnalyzersSeries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{Window: time.Second, Prices: experiment.Prices{SeriesMonth: 0.73}})
	tenant, exp := e.experiment("acme", `{"critical_processes":["postgres","redis.*"]}`, experiment.Running)
	base, cand := e.token(tenant, exp, experiment.Baseline), e.token(tenant, exp, experiment.Candidate)

	w1 := e.nextWindow() // the run started before it: a complete window
	sent := map[string]int{}
	status, resp, _, n := e.post(request{token: base}, processMetrics(exp, "baseline", t0, proc{"postgres", 1}, proc{"nginx", 2}))
	sent["b1"] += n
	if status != http.StatusOK || resp.PartialSuccess().RejectedDataPoints() != 0 {
		t.Fatalf("status %d, rejected %d", status, resp.PartialSuccess().RejectedDataPoints())
	}
	// The next scrape of the same processes in the same window: new datapoints, no new series.
	_, _, _, n = e.post(request{token: base}, processMetrics(exp, "baseline", t0.Add(time.Second), proc{"postgres", 1}, proc{"nginx", 2}))
	sent["b1"] += n
	_, _, _, n = e.post(request{token: cand, contentType: contentJSON, encoding: "none"}, processMetrics(exp, "candidate", t0, proc{"nginx", 2}))
	sent["c1"] += n
	if now := e.redisNow(); !now.Before(w1.Add(time.Second)) {
		t.Skipf("the machine is too slow to post three requests within one 1 s window (now %s)", now.Sub(w1))
	}
	// The same series in the next window count again there.
	w2 := e.freshWindow(700 * time.Millisecond)
	if !w2.After(w1) {
		time.Sleep(w1.Add(time.Second).Sub(e.redisNow()) + 5*time.Millisecond)
		w2 = w1.Add(time.Second)
	}
	_, _, _, n = e.post(request{token: base}, processMetrics(exp, "baseline", t0.Add(2*time.Second), proc{"postgres", 1}, proc{"nginx", 2}))
	sent["b2"] += n
	if closed := e.closeAll(w2.Add(time.Second)); closed != 3 {
		t.Fatalf("closed %d windows, want 3 (two baseline, one candidate)", closed)
	}

	b := e.windows(tenant, exp, experiment.Baseline)
	if len(b) != 2 {
		t.Fatalf("%d baseline windows, want 2: %+v", len(b), b)
	}
	want := []struct {
		start                   time.Time
		series, datapoints, req int64
		bytes                   int
	}{{w1, 6, 12, 2, sent["b1"]}, {w2, 6, 6, 1, sent["b2"]}}
	for i, w := range want {
		got := b[i]
		if !got.WindowStart.Equal(w.start) || got.Series != w.series || got.Datapoints != w.datapoints || got.Requests != w.req ||
			got.PayloadBytes != int64(w.bytes) || !got.Complete {
			t.Errorf("baseline window %d: %+v, want start %s series %d datapoints %d requests %d bytes %d complete", i, got, w.start, w.series, w.datapoints, w.req, w.bytes)
		}
		if got.KPIs["series"] != float64(w.series) || got.KPIs["datapoints_per_second"] != float64(w.datapoints) ||
			got.KPIs["bytes_per_second"] != float64(w.bytes) || got.KPIs["critical_process_coverage"] != 0.5 {
			t.Errorf("baseline window %d KPIs %v", i, got.KPIs)
		}
		if !slices.Equal(got.CriticalCovered, []string{"postgres"}) || !slices.Equal(got.CriticalMissing, []string{"redis.*"}) {
			t.Errorf("baseline window %d covered %q missing %q", i, got.CriticalCovered, got.CriticalMissing)
		}
	}
	c := e.windows(tenant, exp, experiment.Candidate)
	if len(c) != 1 || c[0].Series != 3 || c[0].Datapoints != 3 || c[0].PayloadBytes != int64(sent["c1"]) ||
		c[0].KPIs["critical_process_coverage"] != 0 || !slices.Equal(c[0].CriticalMissing, []string{"postgres", "redis.*"}) {
		t.Fatalf("candidate windows %+v", c)
	}
	// The analyzer's view: complete windows as KPI samples, per metric and variant, in order.
	var series map[string]map[experiment.Variant][]float64
	_ = e.st.WithTenant(context.Background(), tenant, func(tx *store.Tx) (err error) {
		series, err = tx.KPISeries(context.Background(), exp)
		return err
	})
	if got := series["series"]; !slices.Equal(got[experiment.Baseline], []float64{6, 6}) || !slices.Equal(got[experiment.Candidate], []float64{3}) {
		t.Errorf("analyzer's series KPI %v", got)
	}
	if got := series["cost_per_hour"][experiment.Baseline]; len(got) != 2 || got[0] != 6*0.73/730.5 {
		t.Errorf("cost %v", got)
	}
	// Closing again finds nothing: each window was closed once.
	if n, err := e.in.CloseDue(context.Background()); err != nil || n != 0 {
		t.Errorf("second close: %d, %v", n, err)
	}
}

func TestIngest_TokensAreScopedToTheirTenantExperimentAndVariant(t *testing.T) {
	t.Parallel()
	var skew time.Duration // how far this test moves the ingest function's clock
	e := newEnv(t, Options{Window: time.Second, Now: func() time.Time { return time.Now().Add(skew) }})
	tenant, exp := e.experiment("acme", `{}`, experiment.Running)
	otherTenant, otherExp := e.experiment("globex", `{}`, experiment.Running)
	pendingTenant, pending := e.experiment("initech", `{}`, experiment.Deploying)
	base := e.token(tenant, exp, experiment.Baseline)
	foreign := e.token(otherTenant, otherExp, experiment.Baseline)
	forged, _ := ingesttoken.New(tenant) // right tenant, never issued
	notRunning := e.token(pendingTenant, pending, experiment.Candidate)
	revoked := e.token(tenant, exp, experiment.Candidate)
	if _, err := ingesttoken.Revoke(context.Background(), e.st, tenant, exp, experiment.Candidate); err != nil {
		t.Fatal(err)
	}

	cand := processMetrics(exp, "candidate", t0, proc{"nginx", 2})
	tests := []struct {
		name     string
		token    string
		md       pmetric.Metrics
		status   int
		rejected int64
	}{
		{"a baseline token cannot write candidate data", base, cand, http.StatusOK, 3},
		{"another tenant's token cannot write this experiment's data", foreign, cand, http.StatusOK, 3},
		{"another tenant's token with this experiment's baseline data", foreign, processMetrics(exp, "baseline", t0, proc{"x", 1}), http.StatusOK, 3},
		{"a token Phoenix never issued", forged, cand, http.StatusUnauthorized, 0},
		{"garbage", "pit_AAAA", cand, http.StatusUnauthorized, 0},
		{"no token", "", cand, http.StatusUnauthorized, 0},
		{"a revoked token", revoked, cand, http.StatusUnauthorized, 0},
		{"an experiment that is not running", notRunning, processMetrics(pending, "candidate", t0, proc{"x", 1}), http.StatusConflict, 0},
	}
	for _, tt := range tests {
		status, resp, st, _ := e.post(request{token: tt.token}, tt.md)
		if status != tt.status {
			t.Errorf("%s: status %d (%v), want %d", tt.name, status, st, tt.status)
			continue
		}
		if status == http.StatusOK && (resp.PartialSuccess().RejectedDataPoints() != tt.rejected || resp.PartialSuccess().ErrorMessage() == "") {
			t.Errorf("%s: partial success %d %q, want %d rejected with a reason", tt.name, resp.PartialSuccess().RejectedDataPoints(),
				resp.PartialSuccess().ErrorMessage(), tt.rejected)
		}
		if isRetryable(status) {
			t.Errorf("%s: %d is a status collectors retry", tt.name, status)
		}
	}
	// An expired token: the same baseline token a day later.
	skew = 24 * time.Hour
	if status, _, _, _ := e.post(request{token: base}, processMetrics(exp, "baseline", t0, proc{"x", 1})); status != http.StatusUnauthorized {
		t.Errorf("an expired token: status %d, want 401", status)
	}
	skew = 0
	// A suspended tenant's tokens stop working.
	err := e.st.Platform(context.Background(), func(tx *store.PlatformTx) error {
		_, _, err := tx.SetTenantStatus(context.Background(), otherTenant, "suspended")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if status, _, _, _ := e.post(request{token: foreign}, processMetrics(otherExp, "baseline", t0, proc{"x", 1})); status != http.StatusUnauthorized {
		t.Errorf("a suspended tenant's token: status %d, want 401", status)
	}
	e.closeAll(e.redisNow().Truncate(time.Second).Add(time.Second))
	// Nothing was counted for the candidate, nor for the other tenant's experiment.
	if c := e.windows(tenant, exp, experiment.Candidate); len(c) != 0 {
		t.Errorf("candidate windows %+v, want none", c)
	}
	for _, w := range e.windows(tenant, exp, experiment.Baseline) {
		if w.Datapoints != 0 || w.Series != 0 || w.Rejected == 0 {
			t.Errorf("baseline window counted refused data: %+v", w)
		}
	}
	for _, w := range e.windows(otherTenant, otherExp, "") {
		if w.Datapoints != 0 {
			t.Errorf("the other tenant's window counted data: %+v", w)
		}
	}
}

func isRetryable(status int) bool {
	return status == 429 || status == 502 || status == 503 || status == 504
}

func TestIngest_EncodingsAndRetries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{Window: 2 * time.Second})
	tenant, exp := e.experiment("acme", `{}`, experiment.Running)
	tok := e.token(tenant, exp, experiment.Baseline)
	start := e.freshWindow(1500 * time.Millisecond)
	total := 0
	for i, r := range []request{
		{token: tok, contentType: contentProto, encoding: "gzip"},
		{token: tok, contentType: contentProto, encoding: "none"},
		{token: tok, contentType: contentJSON, encoding: "gzip"},
		{token: tok, contentType: contentJSON + "; charset=utf-8", encoding: "identity"},
	} {
		md := processMetrics(exp, "baseline", t0.Add(time.Duration(i)*time.Second), proc{"p", int64(i)})
		status, _, st, n := e.post(r, md)
		if status != http.StatusOK {
			t.Fatalf("%s %s: %d %v", r.contentType, r.encoding, status, st)
		}
		total += n
	}
	// A collector retrying a request whose answer it lost: the same bytes count once.
	md := processMetrics(exp, "baseline", t0, proc{"retried", 9})
	body := encode(t, md, false, true)
	for range 2 {
		if status, _, _, _ := e.post(request{token: tok, body: body}, md); status != http.StatusOK {
			t.Fatalf("status %d", status)
		}
	}
	total += len(body)
	e.closeAll(start.Add(2 * time.Second))
	w := e.windows(tenant, exp, experiment.Baseline)
	if len(w) != 1 || w[0].Datapoints != 15 || w[0].Series != 15 || w[0].PayloadBytes != int64(total) || w[0].Requests != 5 {
		t.Fatalf("windows %+v, want 15 datapoints and series, %d bytes, 5 requests", w, total)
	}
}

func TestIngest_RefusesBadInputWithoutRetries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{MaxBody: 64 << 10, MaxDecoded: 256 << 10, ReadTimeout: 300 * time.Millisecond})
	tenant, exp := e.experiment("acme", `{}`, experiment.Running)
	tok := e.token(tenant, exp, experiment.Baseline)
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	_, _ = zw.Write(make([]byte, 1<<20)) // 1 MiB of zeros: about 1 KiB compressed
	_ = zw.Close()
	big := make([]byte, 100<<10)
	_, _ = rand.Read(big)
	tests := []struct {
		name   string
		r      request
		status int
	}{
		{"not protobuf", request{token: tok, encoding: "none", body: []byte("\xff\xff\xff\xffnot a protobuf")}, http.StatusBadRequest},
		{"not JSON", request{token: tok, contentType: contentJSON, encoding: "none", body: []byte(`{"resourceMetrics": [`)}, http.StatusBadRequest},
		{"not gzip", request{token: tok, encoding: "gzip", body: []byte("plain")}, http.StatusBadRequest},
		{"over the body limit", request{token: tok, encoding: "none", body: big}, http.StatusRequestEntityTooLarge},
		{"a gzip bomb", request{token: tok, encoding: "gzip", body: bomb.Bytes()}, http.StatusRequestEntityTooLarge},
		{"another content type", request{token: tok, contentType: "text/plain", encoding: "none", body: []byte("x")}, http.StatusUnsupportedMediaType},
		{"another content encoding", request{token: tok, encoding: "br", body: []byte("x")}, http.StatusUnsupportedMediaType},
	}
	for _, tt := range tests {
		ct := tt.r.contentType
		if ct == "" || ct == "text/plain" {
			tt.r.contentType = contentProto
		}
		status, _, st, _ := e.postRaw(tt.r, ct)
		if status != tt.status || st == nil || st.GetMessage() == "" {
			t.Errorf("%s: status %d %v, want %d with a status message", tt.name, status, st, tt.status)
		}
		if isRetryable(status) {
			t.Errorf("%s: %d would be retried", tt.name, status)
		}
	}
	// A client that sends a few bytes and stalls is cut off after ReadTimeout.
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nAuthorization: Bearer %s\r\nContent-Length: 1000\r\n\r\nabc", tok)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound on the test, far above ReadTimeout
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("a stalled client got no answer: %v", err)
	}
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("a stalled client: status %d, want 408", resp.StatusCode)
	}
}

// postRaw posts r with contentType as given (post always sends a supported one).
func (e *env) postRaw(r request, contentType string) (int, pmetricotlp.ExportResponse, *spb.Status, int) {
	if contentType == "text/plain" {
		r.contentType = contentType
		resp, raw := e.send(r, r.body)
		st := &spb.Status{}
		if err := proto.Unmarshal(raw, st); err != nil {
			return resp.StatusCode, pmetricotlp.NewExportResponse(), nil, 0
		}
		return resp.StatusCode, pmetricotlp.NewExportResponse(), st, 0
	}
	return e.post(r, pmetric.NewMetrics())
}

func TestIngest_CollectorCPUAndMemoryFromSelfTelemetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{Window: 2 * time.Second})
	tenant, exp := e.experiment("acme", `{}`, experiment.Running)
	tok := e.token(tenant, exp, experiment.Candidate)
	start := e.freshWindow(1500 * time.Millisecond)
	// Two collectors (two nodes of a DaemonSet). a: 1.5 CPU s over 5 s, then 0.5 over 5 s → 0.2 cores;
	// b: its first reading only (no interval yet), then 2 s over 10 s → 0.2 cores.
	for _, r := range []struct {
		instance string
		at       time.Duration
		cpu      float64
		rss      int64
	}{
		{"a", 0, 10, 100 << 20}, {"a", 5 * time.Second, 11.5, 120 << 20}, {"a", 10 * time.Second, 12, 110 << 20},
		{"b", 0, 1, 50 << 20}, {"b", 10 * time.Second, 3, 50 << 20},
	} {
		if status, _, st, _ := e.post(request{token: tok}, selfTelemetry(exp, "candidate", r.instance, t0.Add(r.at), r.cpu, r.rss)); status != http.StatusOK {
			t.Fatalf("status %d %v", status, st)
		}
	}
	e.closeAll(start.Add(2 * time.Second))
	w := e.windows(tenant, exp, experiment.Candidate)
	if len(w) != 1 {
		t.Fatalf("windows %+v", w)
	}
	if w[0].Collectors != 2 || w[0].KPIs["collector_cpu"] != 0.4 || w[0].KPIs["collector_memory"] != float64(110<<20+50<<20) {
		t.Errorf("collectors %d, KPIs %v; want 2 collectors, 0.4 cores, %d bytes", w[0].Collectors, w[0].KPIs, 110<<20+50<<20)
	}
	if w[0].Datapoints != 0 || w[0].Series != 0 || w[0].PayloadBytes != 0 || w[0].Requests != 5 {
		t.Errorf("self-telemetry counted as output: %+v", w[0])
	}
}

func TestIngest_CollectorInputAndRestartsAreStoredWithTheWindow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{Window: 2 * time.Second})
	tenant, exp := e.experiment("acme", `{}`, experiment.Running)
	base, cand := e.token(tenant, exp, experiment.Baseline), e.token(tenant, exp, experiment.Candidate)
	start := e.freshWindow(1500 * time.Millisecond)
	// Candidate collector node-1 accepts 3 000 points between two readings, then restarts: a new
	// service.instance.id under the same name, its counters from zero. node-2 accepts 500 and has
	// 5 refused. The baseline sends output only.
	up := t0.Add(-time.Minute)
	again := t0.Add(10 * time.Second)
	for _, c := range []counters{
		{name: "node-1", instance: "u-1", at: t0, started: up, cpu: 1, uptime: 60, accepted: []int64{900, 100}, refused: []int64{0, 0}, rss: 100 << 20},
		{name: "node-1", instance: "u-1", at: t0.Add(5 * time.Second), started: up, cpu: 2, uptime: 65, accepted: []int64{3600, 400}, refused: []int64{0, 0}, rss: 100 << 20},
		{name: "node-1", instance: "u-2", at: t0.Add(12 * time.Second), started: again, cpu: 0.3, uptime: 2, accepted: []int64{200}, refused: []int64{0}, rss: 70 << 20},
		{name: "node-2", instance: "u-3", at: t0, started: up, cpu: 1, uptime: 60, accepted: []int64{100}, refused: []int64{1}, rss: 50 << 20},
		{name: "node-2", instance: "u-3", at: t0.Add(5 * time.Second), started: up, cpu: 1.5, uptime: 65, accepted: []int64{600}, refused: []int64{6}, rss: 50 << 20},
	} {
		if status, _, st, _ := e.post(request{token: cand}, collectorTelemetry(exp, "candidate", c)); status != http.StatusOK {
			t.Fatalf("status %d %v", status, st)
		}
	}
	if status, _, st, _ := e.post(request{token: base}, processMetrics(exp, "baseline", t0, proc{"a", 1})); status != http.StatusOK {
		t.Fatalf("status %d %v", status, st)
	}
	e.closeAll(start.Add(2 * time.Second))
	c := e.windows(tenant, exp, experiment.Candidate)
	if len(c) != 1 {
		t.Fatalf("candidate windows %+v", c)
	}
	if got := c[0]; !eqInt(got.ReceivedPoints, ptrInt(3500)) || !eqInt(got.RefusedPoints, ptrInt(5)) || got.Restarts != 1 || got.Collectors != 2 ||
		derefFloat(got.ReceivedSeconds) != 10 {
		t.Errorf("received %v over %v s, refused %v, restarts %d, collectors %d; want 3500 over 10 s (5 s of each collector), 5, 1 restart, 2 collectors (by name)",
			deref(got.ReceivedPoints), derefFloat(got.ReceivedSeconds), deref(got.RefusedPoints), got.Restarts, got.Collectors)
	}
	if got, want := c[0].KPIs["collector_memory"], float64(270<<20)/3+float64(50<<20); math.Abs(got-want) > 1 {
		t.Errorf("collector memory %v, want %v: node-1's readings before and after its restart are one collector's", got, want)
	}
	if _, ok := c[0].KPIs["received_points"]; ok {
		t.Errorf("the collectors' input became a KPI: %v", c[0].KPIs)
	}
	b := e.windows(tenant, exp, experiment.Baseline)
	if len(b) != 1 || b[0].ReceivedPoints != nil || b[0].RefusedPoints != nil || b[0].Restarts != 0 {
		t.Errorf("baseline windows %+v, want one without collector input (no self-telemetry reached it)", b)
	}
}

func TestIngest_ReplicasShareWindowsAndEachWindowIsClosedAndPublishedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{Window: time.Second})
	tenant, exp := e.experiment("acme", `{}`, experiment.Running)
	tok := e.token(tenant, exp, experiment.Baseline)
	// Both replicas publish through the real publisher; rec keeps what they hand it.
	rec := &recorder{next: realtime.NewPublisher(e.rdb, e.prefix)}
	e.in.publisher = rec
	// A second replica over the same Redis keys and database.
	other := New(e.st, e.rdb, rec, e.in.o)
	otherSrv := httptest.NewServer(other.Routes())
	defer otherSrv.Close()
	start := e.freshWindow(700 * time.Millisecond)
	e.post(request{token: tok}, processMetrics(exp, "baseline", t0, proc{"a", 1}))
	first := e.srv
	e.srv = otherSrv
	e.post(request{token: tok}, processMetrics(exp, "baseline", t0, proc{"a", 1}, proc{"b", 2}))
	e.srv = first
	if d := start.Add(time.Second).Sub(e.redisNow()); d > 0 {
		time.Sleep(d + 5*time.Millisecond) // waiting for Redis's clock to pass the window's end
	}
	// Both replicas close at once; a window held by a lease is left to its holder.
	results := make(chan int, 2)
	for _, r := range []*Ingest{e.in, other} {
		go func() {
			n, err := r.CloseDue(context.Background())
			if err != nil {
				t.Error(err)
			}
			results <- n
		}()
	}
	if n := <-results + <-results; n != 1 {
		t.Fatalf("the replicas closed %d windows together, want 1", n)
	}
	w := e.windows(tenant, exp, experiment.Baseline)
	if len(w) != 1 || w[0].Series != 6 || w[0].Datapoints != 9 || w[0].Requests != 2 {
		t.Fatalf("windows %+v, want one with 6 series and 9 datapoints from both replicas", w)
	}
	if len(rec.published) != 1 || rec.tenants[0] != tenant || rec.experiments[0] != exp {
		t.Fatalf("published %d events, want 1 for the experiment", len(rec.published))
	}
	var ce struct {
		Type    string           `json:"type"`
		Subject string           `json:"subject"`
		Tenant  string           `json:"phoenixtenant"`
		Data    events.KPIWindow `json:"data"`
	}
	if err := json.Unmarshal(rec.published[0], &ce); err != nil || ce.Type != events.KPIWindowClosed || ce.Data.Series != 6 ||
		ce.Data.KPIs["series"] != 6 || !ce.Data.WindowStart.Equal(start) || ce.Data.Variant != "baseline" ||
		ce.Subject != exp.String() || ce.Tenant != tenant.String() {
		t.Fatalf("published %s (%v)", rec.published[0], err)
	}
}

// recorder keeps what is handed to the real publisher.
type recorder struct {
	next        Publisher   // the real publisher
	mu          sync.Mutex  // guards the fields below
	published   [][]byte    // payloads, in order
	tenants     []uuid.UUID // their tenants
	experiments []uuid.UUID // their experiments
}

func (r *recorder) Publish(ctx context.Context, tenant, experiment uuid.UUID, payload []byte) error {
	r.mu.Lock()
	r.published = append(r.published, payload)
	r.tenants = append(r.tenants, tenant)
	r.experiments = append(r.experiments, experiment)
	r.mu.Unlock()
	return r.next.Publish(ctx, tenant, experiment, payload)
}

func TestIngest_AWindowLeftByADeadReplicaIsClosedByAnother(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{Window: time.Second, CloseLease: 300 * time.Millisecond})
	tenant, exp := e.experiment("acme", `{}`, experiment.Running)
	tok := e.token(tenant, exp, experiment.Baseline)
	start := e.freshWindow(700 * time.Millisecond)
	e.post(request{token: tok}, processMetrics(exp, "baseline", t0, proc{"a", 1}))
	if d := start.Add(time.Second).Sub(e.redisNow()); d > 0 {
		time.Sleep(d + 5*time.Millisecond) // waiting for Redis's clock to pass the window's end
	}
	// A replica took the lease and died before storing anything.
	due, err := e.in.windows.due(context.Background(), 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("due %v %v", due, err)
	}
	if ok, _ := e.in.windows.lease(context.Background(), due[0], 300*time.Millisecond); !ok {
		t.Fatal("no lease")
	}
	if n, _ := e.in.CloseDue(context.Background()); n != 0 {
		t.Fatalf("closed %d windows under another replica's lease", n)
	}
	time.Sleep(400 * time.Millisecond) // waiting for the dead replica's lease to expire
	if n, err := e.in.CloseDue(context.Background()); n != 1 || err != nil {
		t.Fatalf("after the lease expired: closed %d (%v), want 1", n, err)
	}
	if w := e.windows(tenant, exp, experiment.Baseline); len(w) != 1 || w[0].Series != 3 {
		t.Fatalf("windows %+v", w)
	}
}

func TestIngest_PartialWindowsAreKeptButNotAnalysed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{Window: time.Second})
	e.nextWindow()
	time.Sleep(50 * time.Millisecond) // so the run starts inside this window, not at its start
	tenant, exp := e.experiment("acme", `{}`, experiment.Running)
	tok := e.token(tenant, exp, experiment.Baseline)
	if status, _, st, _ := e.post(request{token: tok}, processMetrics(exp, "baseline", t0, proc{"a", 1})); status != http.StatusOK {
		t.Fatalf("status %d %v", status, st)
	}
	// The run ends inside the next window, after data arrived in it.
	second := e.nextWindow()
	e.post(request{token: tok}, processMetrics(exp, "baseline", t0.Add(time.Second), proc{"a", 1}))
	err := e.st.WithTenant(context.Background(), tenant, func(tx *store.Tx) error {
		_, err := tx.Move(context.Background(), exp, experiment.Running, experiment.Analyzing, "test", "test", "")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if status, _, _, _ := e.post(request{token: tok}, processMetrics(exp, "baseline", t0.Add(2*time.Second), proc{"a", 1})); status != http.StatusConflict {
		t.Errorf("data after the run: status %d, want 409", status)
	}
	e.closeAll(second.Add(time.Second))
	ws := e.windows(tenant, exp, experiment.Baseline)
	if len(ws) != 2 || ws[0].Complete || ws[1].Complete || ws[0].Series != 3 || ws[1].Series != 3 {
		t.Fatalf("windows %+v, want two partial ones (run start, run end) with 3 series each", ws)
	}
	var series map[string]map[experiment.Variant][]float64
	_ = e.st.WithTenant(context.Background(), tenant, func(tx *store.Tx) (err error) {
		series, err = tx.KPISeries(context.Background(), exp)
		return err
	})
	if len(series) != 0 {
		t.Errorf("partial windows reached the analysis: %v", series)
	}
}

// TestIngest_AWindowThatLostItsDataWithRedisIsIncomplete is Redis restarted without persistence
// in the middle of a window: what that window had received is gone, and what comes after opens
// it anew. Before, it closed complete on a fraction of its data and was analysed; now it closes
// incomplete, saying why, and the next window is whole again.
func TestIngest_AWindowThatLostItsDataWithRedisIsIncomplete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{Window: time.Second})
	tenant, exp := e.experiment("acme", `{}`, experiment.Running)
	base := e.token(tenant, exp, experiment.Baseline)
	scrapes := 0
	send := func() { // a new scrape each time: a repeated request would count once
		t.Helper()
		scrapes++
		if status, _, st, _ := e.post(request{token: base}, processMetrics(exp, "baseline", t0.Add(time.Duration(scrapes)*time.Second), proc{"nginx", 2})); status != http.StatusOK {
			t.Fatalf("status %d %v", status, st)
		}
	}
	w1 := e.nextWindow() // begun after the run did (a window begun before is not complete)
	send()
	e.closeAll(w1.Add(time.Second)) // a first whole window: the variant has delivered

	w2 := e.freshWindow(700 * time.Millisecond)
	send()
	// Redis loses its memory: every key of this deployment, the pending windows and the epoch
	// among them.
	iter := e.rdb.Scan(context.Background(), 0, e.prefix+":*", 1000).Iterator()
	for iter.Next(context.Background()) {
		e.rdb.Del(context.Background(), iter.Val())
	}
	send() // the same window, opened anew
	if now := e.redisNow(); !now.Before(w2.Add(time.Second)) {
		t.Skipf("the machine is too slow to post within one 1 s window (now %s)", now.Sub(w2))
	}
	w3 := e.nextWindow()
	send()
	e.closeAll(w3.Add(time.Second))

	ws := e.windows(tenant, exp, experiment.Baseline)
	if len(ws) != 3 {
		t.Fatalf("%d windows, want 3: %+v", len(ws), ws)
	}
	for i, want := range []struct {
		start    time.Time
		complete bool
		reason   string
	}{{w1, true, ""}, {w2, false, "the ingest store (Redis) lost its memory"}, {w3, true, ""}} {
		got := ws[i]
		if !got.WindowStart.Equal(want.start) || got.Complete != want.complete || !strings.Contains(got.IncompleteReason, want.reason) ||
			(want.reason == "") != (got.IncompleteReason == "") {
			t.Errorf("window %d: start %s complete %v (%q); want %s complete %v (%q)", i, got.WindowStart, got.Complete, got.IncompleteReason,
				want.start, want.complete, want.reason)
		}
	}
}

// TestIngest_DataCountsInTheWindowOfItsOwnTime is a collector retrying batches after an outage:
// with a lateness bound, a batch counts in the window it was scraped in, not the one it arrives
// in; a batch later than the bound counts nowhere, says so, and the window it belonged to — if
// it was stored — no longer passes for complete.
func TestIngest_DataCountsInTheWindowOfItsOwnTime(t *testing.T) {
	t.Parallel()
	const late = 3 * time.Second
	e := newEnv(t, Options{Window: time.Second, Lateness: late})
	tenant, exp := e.experiment("acme", `{}`, experiment.Running)
	base := e.token(tenant, exp, experiment.Baseline)
	post := func(at time.Time, procs ...proc) pmetricotlp.ExportResponse {
		t.Helper()
		status, resp, st, _ := e.post(request{token: base}, processMetrics(exp, "baseline", at, procs...))
		if status != http.StatusOK {
			t.Fatalf("status %d %v", status, st)
		}
		return resp
	}
	now := e.redisNow()
	earlier := now.Add(-1500 * time.Millisecond) // a retried batch: scraped 1.5 s ago, within the bound
	post(now, proc{"nginx", 1})
	post(earlier, proc{"nginx", 1}, proc{"redis", 2})
	resp := post(now.Add(-10*time.Second), proc{"postgres", 3}) // beyond the bound
	if n := resp.PartialSuccess().RejectedDataPoints(); n != 3 || !strings.Contains(resp.PartialSuccess().ErrorMessage(), "after its KPI window closed") {
		t.Fatalf("a batch later than the bound: %d rejected, %q; want its 3 datapoints refused, saying why", n, resp.PartialSuccess().ErrorMessage())
	}
	e.closeAll(now.Truncate(time.Second).Add(time.Second + late))
	ws := e.windows(tenant, exp, experiment.Baseline)
	if len(ws) != 2 {
		t.Fatalf("%d windows, want 2 (the retried batch's and the current one): %+v", len(ws), ws)
	}
	for i, want := range []struct {
		start      time.Time
		datapoints int64
	}{{earlier.Truncate(time.Second), 6}, {now.Truncate(time.Second), 3}} {
		// (Both began before the run, which started as the test did: not complete for that.)
		if got := ws[i]; !got.WindowStart.Equal(want.start) || got.Datapoints != want.datapoints || got.IncompleteReason != "" {
			t.Errorf("window %d: start %s, %d datapoints (%q); want %s, %d, nothing partial", i, got.WindowStart, got.Datapoints, got.IncompleteReason,
				want.start, want.datapoints)
		}
	}
	// Data for the stored current window, after it closed: not counted, and the window is marked.
	resp = post(now, proc{"nginx", 1}, proc{"java", 4})
	if n := resp.PartialSuccess().RejectedDataPoints(); n != 6 {
		t.Fatalf("data for a closed window: %d rejected, want 6", n)
	}
	ws = e.windows(tenant, exp, experiment.Baseline)
	if got := ws[1]; got.Complete || !strings.Contains(got.IncompleteReason, "arrived after it closed") || got.Datapoints != 3 {
		t.Fatalf("the closed window after late data: complete %v (%q), %d datapoints; want incomplete, saying why, its count unchanged",
			got.Complete, got.IncompleteReason, got.Datapoints)
	}
}

// TestIngest_EachScrapeCountsInItsOwnWindow_AndAWindowShortOfScrapesIsIncomplete: one request
// holding scrapes from two windows (a collector's batch across a window's end, or a retried
// backlog) counts each scrape in the window of its own time, a retry of it counts nothing, and a
// window that received fewer scrapes than its collection interval promises says so.
func TestIngest_EachScrapeCountsInItsOwnWindow_AndAWindowShortOfScrapesIsIncomplete(t *testing.T) {
	t.Parallel()
	const window, late = 3 * time.Second, 10 * time.Second
	e := newEnv(t, Options{Window: window, Lateness: late})
	tenant, exp := e.experiment("acme", `{}`, experiment.Running)
	err := e.st.WithTenant(context.Background(), tenant, func(tx *store.Tx) error {
		_, err := tx.Exec(context.Background(), `UPDATE experiments SET baseline = '{"template": "process-baseline", "parameters": {"collection_interval": "1s"}}' WHERE id = $1`, exp)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	base := e.redisNow().Truncate(window).Add(-2 * window)
	md := pmetric.NewMetrics()
	// Window A holds three scrapes a second apart; window B only one of its three.
	for _, at := range []time.Duration{200, 1200, 2200, 3200} {
		// A scrape's points carry the moment each process was read: a few milliseconds apart.
		appendProcesses(md, exp, "baseline", base.Add(at*time.Millisecond), proc{"nginx", 1})
		appendProcesses(md, exp, "baseline", base.Add((at+7)*time.Millisecond), proc{"redis", 2})
	}
	tok := e.token(tenant, exp, experiment.Baseline)
	for range 2 { // the second time a collector's retry of it: nothing more counts
		if status, resp, st, _ := e.post(request{token: tok}, md); status != http.StatusOK || resp.PartialSuccess().RejectedDataPoints() != 0 {
			t.Fatalf("status %d %v, %d rejected", status, st, resp.PartialSuccess().RejectedDataPoints())
		}
	}
	e.closeAll(base.Add(2*window + late))
	ws := e.windows(tenant, exp, experiment.Baseline)
	if len(ws) != 2 {
		t.Fatalf("%d windows, want 2: %+v", len(ws), ws)
	}
	for i, want := range []struct {
		start      time.Time
		datapoints int64
		reason     string
	}{{base, 18, ""}, {base.Add(window), 6, "only 1 scrapes arrived of the 2 or more a 3s window holds with a scrape every 1s"}} {
		got := ws[i]
		if !got.WindowStart.Equal(want.start) || got.Datapoints != want.datapoints || got.Series != 6 || // both processes' three series in each
			(want.reason == "") != (got.IncompleteReason == "") || !strings.Contains(got.IncompleteReason, want.reason) {
			t.Errorf("window %d: start %s, %d datapoints, %d series (%q); want %s, %d, %q", i, got.WindowStart, got.Datapoints, got.Series,
				got.IncompleteReason, want.start, want.datapoints, want.reason)
		}
	}
}

// TestIngest_DataTooLateForAWindowNotYetStoredMarksIt: when a window cannot be stored in time
// (the database is away), data for it may pass the lateness bound while it still waits in Redis.
// That data is refused as too late, and the window, once stored, says it lacks it.
func TestIngest_DataTooLateForAWindowNotYetStoredMarksIt(t *testing.T) {
	t.Parallel()
	const late = time.Second
	e := newEnv(t, Options{Window: time.Second, Lateness: late})
	tenant, exp := e.experiment("acme", `{}`, experiment.Running)
	tok := e.token(tenant, exp, experiment.Baseline)
	at := e.redisNow().Add(-200 * time.Millisecond)
	post := func(procs ...proc) int64 {
		t.Helper()
		status, resp, st, _ := e.post(request{token: tok}, processMetrics(exp, "baseline", at, procs...))
		if status != http.StatusOK {
			t.Fatalf("status %d %v", status, st)
		}
		return resp.PartialSuccess().RejectedDataPoints()
	}
	if n := post(proc{"nginx", 1}); n != 0 {
		t.Fatalf("%d datapoints refused in time", n)
	}
	// Nobody closes the window (as while the database is away) until the bound has passed.
	for e.redisNow().Before(at.Add(late + 50*time.Millisecond)) {
		time.Sleep(20 * time.Millisecond) // waiting for Redis's clock to pass the bound
	}
	if n := post(proc{"postgres", 2}); n != 3 {
		t.Fatalf("%d datapoints refused, want the 3 beyond the bound", n)
	}
	e.closeAll(at.Truncate(time.Second).Add(time.Second + late))
	ws := e.windows(tenant, exp, experiment.Baseline)
	if len(ws) != 1 {
		t.Fatalf("%d windows, want 1", len(ws))
	}
	got := ws[0]
	if !got.WindowStart.Equal(at.Truncate(time.Second)) || got.Complete || got.Datapoints != 3 ||
		!strings.Contains(got.IncompleteReason, "3 datapoints for it arrived after the lateness bound, before it could be stored") {
		t.Fatalf("window %s: complete %v, %d datapoints (%q); want %s incomplete with its 3 datapoints, saying what it lacks",
			got.WindowStart, got.Complete, got.Datapoints, got.IncompleteReason, at.Truncate(time.Second))
	}
}
