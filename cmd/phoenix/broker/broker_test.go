package broker

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/google/go-cmp/cmp"
)

// failsafe bounds every wait so that a broken broker fails a test instead of hanging it. It is
// never how a test synchronises: that is always a channel or a log record.
const failsafe = 10 * time.Second

// --- log records: what the broker did, for tests to wait on ---

type record struct {
	level slog.Level
	msg   string
	attrs map[string]any
}

// logs collects the broker's log records. wait lets one test goroutine block until a record
// appears; changed holds at most one pending wake-up, so a record logged between a scan and the
// wait is not missed.
type logs struct {
	mu      sync.Mutex
	records []record
	changed chan struct{}
}

func newLogs() *logs { return &logs{changed: make(chan struct{}, 1)} }

func (l *logs) wait(t *testing.T, what string, match func(record) bool) record {
	t.Helper()
	timeout := time.After(failsafe)
	for {
		l.mu.Lock()
		for _, r := range l.records {
			if match(r) {
				l.mu.Unlock()
				return r
			}
		}
		l.mu.Unlock()
		select {
		case <-l.changed:
		case <-timeout:
			t.Fatalf("no log record %s", what)
		}
	}
}

type logHandler struct {
	logs  *logs
	attrs []slog.Attr
}

func (h logHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h logHandler) Handle(_ context.Context, r slog.Record) error {
	rec := record{level: r.Level, msg: r.Message, attrs: map[string]any{}}
	for _, a := range h.attrs {
		rec.attrs[a.Key] = a.Value.Any()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.Any()
		return true
	})
	h.logs.mu.Lock()
	h.logs.records = append(h.logs.records, rec)
	h.logs.mu.Unlock()
	select {
	case h.logs.changed <- struct{}{}:
	default:
	}
	return nil
}

func (h logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{logs: h.logs, attrs: append(slices.Clip(h.attrs), as...)}
}

func (h logHandler) WithGroup(string) slog.Handler { return h }

// msgFor matches a record by message prefix and event id.
func msgFor(prefix, id string) func(record) bool {
	return func(r record) bool { return strings.HasPrefix(r.msg, prefix) && r.attrs["event_id"] == id }
}

// --- subscribers: real HTTP servers that record what they receive ---

type received struct {
	event  event.Event
	header http.Header
	at     time.Time
}

type subscriber struct {
	url   string
	got   chan received // every request, in arrival order
	calls atomic.Int32
}

// newSubscriber starts a subscriber; respond writes the answer to call n (from 1), and nil means
// 200 with an empty body.
func newSubscriber(t *testing.T, respond func(w http.ResponseWriter, n int32, e event.Event)) *subscriber {
	t.Helper()
	s := &subscriber{got: make(chan received, 1024)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		e, err := cehttp.NewEventFromHTTPRequest(r)
		if err != nil {
			t.Errorf("subscriber got a request without a CloudEvent: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		n := s.calls.Add(1)
		// A broker that delivers far too much must fail the test, not hang it: the broker
		// cancels its requests when it stops, which releases this handler.
		select {
		case s.got <- received{event: *e, header: r.Header.Clone(), at: at}:
		case <-r.Context().Done():
			return
		}
		if respond != nil {
			respond(w, n, *e)
		}
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *subscriber) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-s.got:
		return r
	case <-time.After(failsafe):
		t.Fatal("subscriber received nothing")
		return received{}
	}
}

// status answers with a status and body.
func status(code int, body string) func(http.ResponseWriter, int32, event.Event) {
	return func(w http.ResponseWriter, _ int32, _ event.Event) {
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

// --- the broker under test ---

// start runs a broker named phoenix on a loopback port until the test ends. Without a Logger in
// o, its records go to the returned logs.
func start(t *testing.T, cfg Config, o Options) (*Broker, string, *logs) {
	t.Helper()
	l := newLogs()
	if o.Logger == nil {
		o.Logger = slog.New(logHandler{logs: l})
	}
	b, err := New(cfg, "phoenix", o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	srv := httptest.NewServer(b)
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(failsafe):
			t.Error("Run did not return after its context ended")
		}
		srv.Close()
	})
	return b, srv.URL, l
}

func config(d *DeliverySpec, triggers ...Trigger) Config {
	return Config{Brokers: []BrokerSpec{{Name: "phoenix", Delivery: d}}, Triggers: triggers}
}

func onType(name, typ, url string) Trigger {
	return Trigger{Name: name, Broker: "phoenix", Attributes: map[string]string{"type": typ}, Subscriber: Destination{URI: url}}
}

func service(name string) *Reference {
	return &Reference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: name}
}

// services resolves Service refs by name, as `phoenix dev` maps them to local ports.
func services(urls map[string]string) Resolver {
	return func(d Destination) (string, error) {
		u, ok := urls[d.Ref.Name]
		if !ok {
			return "", fmt.Errorf("no service %s", d.Ref.Name)
		}
		return u, nil
	}
}

func retry(n int32, policy, delay string, dls *Destination) *DeliverySpec {
	return &DeliverySpec{Retry: &n, BackoffPolicy: policy, BackoffDelay: delay, DeadLetterSink: dls}
}

func newEvent(id, typ string) event.Event {
	e := event.New()
	e.SetID(id)
	e.SetType(typ)
	e.SetSource("/test")
	_ = e.SetData(event.ApplicationJSON, map[string]string{"id": id})
	return e
}

// send posts e in binary mode to the ingress and returns the status.
func send(t *testing.T, ingress string, e event.Event) int {
	t.Helper()
	req, err := cehttp.NewHTTPRequestFromEvent(context.Background(), ingress, e)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func mustSend(t *testing.T, ingress string, e event.Event) {
	t.Helper()
	if code := send(t, ingress, e); code != http.StatusAccepted {
		t.Fatalf("ingress answered %d for %s, want 202", code, e.ID())
	}
}

func extension(t *testing.T, e event.Event, name string) (string, bool) {
	t.Helper()
	v, ok := e.Extensions()[name]
	if !ok {
		return "", false
	}
	s, err := types.Format(v)
	if err != nil {
		t.Fatal(err)
	}
	return s, true
}

// --- ingress ---

func TestIngress_AcceptsBinaryAndStructuredAndRefusesGarbage(t *testing.T) {
	sub := newSubscriber(t, nil)
	// One worker delivers in acceptance order, so the marker below arrives next only if
	// nothing refused was delivered.
	_, ingress, _ := start(t, config(nil, Trigger{Name: "all", Broker: "phoenix", Subscriber: Destination{URI: sub.url}}), Options{Workers: 1})

	binary := http.Header{"Ce-Specversion": {"1.0"}, "Ce-Id": {"bin-1"}, "Ce-Type": {"t"}, "Ce-Source": {"/test"}, "Content-Type": {"application/json"}}
	structured := http.Header{"Content-Type": {"application/cloudevents+json"}}
	without := func(h http.Header, key string) http.Header { h = h.Clone(); h.Del(key); return h }
	tests := []struct {
		name   string
		method string
		header http.Header
		body   string
		want   int
		id     string // the event the subscriber then receives, for 202
	}{
		{"binary", http.MethodPost, binary, `{"a":1}`, http.StatusAccepted, "bin-1"},
		{"structured", http.MethodPost, structured, `{"specversion":"1.0","id":"str-1","type":"t","source":"/test","data":{"a":1}}`, http.StatusAccepted, "str-1"},
		{"garbage", http.MethodPost, http.Header{"Content-Type": {"text/plain"}}, "hello", http.StatusBadRequest, ""},
		{"binary without type", http.MethodPost, without(binary, "Ce-Type"), `{"a":1}`, http.StatusBadRequest, ""},
		{"structured without id", http.MethodPost, structured, `{"specversion":"1.0","type":"t","source":"/test"}`, http.StatusBadRequest, ""},
		{"structured not JSON", http.MethodPost, structured, `{"specversion":`, http.StatusBadRequest, ""},
		{"GET", http.MethodGet, binary, "", http.StatusMethodNotAllowed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, ingress, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tt.header
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.id == "" {
				return
			}
			got := sub.next(t)
			if got.event.ID() != tt.id || string(got.event.Data()) != `{"a":1}` {
				t.Errorf("subscriber got %s with data %s, want %s with {\"a\":1}", got.event.ID(), got.event.Data(), tt.id)
			}
			// Delivery is binary mode and asks for a reply; the broker's TTL stays inside the broker.
			if got.header.Get("Ce-Id") != tt.id || got.header.Get("Prefer") != "reply" {
				t.Errorf("delivery headers Ce-Id=%q Prefer=%q, want binary mode with Prefer: reply", got.header.Get("Ce-Id"), got.header.Get("Prefer"))
			}
			if _, ok := extension(t, got.event, ttlExtension); ok {
				t.Error("the subscriber saw knativebrokerttl")
			}
		})
	}
	mustSend(t, ingress, newEvent("marker", "t"))
	if got := sub.next(t).event.ID(); got != "marker" {
		t.Errorf("after the table the subscriber got %s, want the marker: a refused request was delivered", got)
	}
}

func TestIngress_DropsEventsWithExhaustedTTL(t *testing.T) {
	tests := []struct {
		name string
		ttl  any
	}{
		{"zero", int32(0)},
		{"negative", int32(-3)},
		{"zero as a string", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := newSubscriber(t, nil)
			_, ingress, logs := start(t, config(nil, onType("t", "t", sub.url)), Options{Workers: 1})
			e := newEvent("expired", "t")
			e.SetExtension(ttlExtension, tt.ttl)
			mustSend(t, ingress, e)
			logs.wait(t, "about the dropped event", msgFor("event dropped", "expired"))
			mustSend(t, ingress, newEvent("marker", "t"))
			if got := sub.next(t).event.ID(); got != "marker" {
				t.Errorf("subscriber got %s, want the marker only", got)
			}
		})
	}
}

// --- routing ---

func TestRouting_DeliversToEveryMatchingTrigger(t *testing.T) {
	a, b, c := newSubscriber(t, nil), newSubscriber(t, nil), newSubscriber(t, nil)
	cfg := config(nil,
		onType("legacy", "io.phoenix.experiment.started.v1", a.url),
		Trigger{Name: "dialect", Broker: "phoenix", Subscriber: Destination{URI: b.url},
			Filters: []Filter{{Prefix: map[string]string{"type": "io.phoenix."}}}},
		onType("unmatched", "io.phoenix.other.v1", c.url),
		Trigger{Name: "other-broker", Broker: "other", Subscriber: Destination{URI: c.url}},
	)
	_, ingress, logs := start(t, cfg, Options{})
	mustSend(t, ingress, newEvent("ev-1", "io.phoenix.experiment.started.v1"))

	routed := logs.wait(t, "routing ev-1", msgFor("event routed", "ev-1"))
	if diff := cmp.Diff([]string{"legacy", "dialect"}, routed.attrs["triggers"]); diff != "" {
		t.Errorf("routed to (-want +got):\n%s", diff)
	}
	for name, s := range map[string]*subscriber{"legacy": a, "dialect": b} {
		if got := s.next(t).event.ID(); got != "ev-1" {
			t.Errorf("%s subscriber got %s, want ev-1", name, got)
		}
	}
}

// --- delivery, retries, dead letters ---

func TestDelivery_RetriesUntilSuccess(t *testing.T) {
	const failures = 2
	for _, code := range []int{500, 503, 404, 408, 409, 429} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			sub := newSubscriber(t, func(w http.ResponseWriter, n int32, _ event.Event) {
				if n <= failures {
					w.WriteHeader(code)
				}
			})
			cfg := config(retry(5, "linear", "PT0.01S", nil), onType("t", "t", sub.url))
			_, ingress, logs := start(t, cfg, Options{})
			mustSend(t, ingress, newEvent("ev-1", "t"))

			done := logs.wait(t, "about the delivery", msgFor("delivered", "ev-1"))
			if got := sub.calls.Load(); got != failures+1 {
				t.Errorf("subscriber called %d times, want %d", got, failures+1)
			}
			if got := done.attrs["attempts"]; got != int64(failures+1) {
				t.Errorf("delivered after %v attempts, want %d", got, failures+1)
			}
		})
	}
}

func TestDelivery_NonRetryableAnswerGoesStraightToDeadLetterSink(t *testing.T) {
	for _, code := range []int{400, 403, 422} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			const body = "invalid payload: tenant missing"
			sub := newSubscriber(t, status(code, body))
			dls := newSubscriber(t, nil)
			cfg := config(retry(3, "exponential", "PT0.01S", &Destination{Ref: service("phoenix-api"), URI: "/internal/dead-letters"}),
				Trigger{Name: "t", Broker: "phoenix", Subscriber: Destination{Ref: service("fn"), URI: "/handle"}})
			_, ingress, _ := start(t, cfg, Options{Resolve: services(map[string]string{"fn": sub.url, "phoenix-api": dls.url})})
			mustSend(t, ingress, newEvent("ev-1", "t"))

			got := dls.next(t)
			if got.event.ID() != "ev-1" || got.event.Type() != "t" {
				t.Errorf("dead letter is %s/%s, want the original ev-1/t", got.event.ID(), got.event.Type())
			}
			if got.header.Get("Ce-Id") == "" {
				t.Error("dead letter not in binary mode")
			}
			if n := sub.calls.Load(); n != 1 {
				t.Errorf("subscriber called %d times, want 1: %d is not retried", n, code)
			}
			if dest, _ := extension(t, got.event, errorDestExtension); dest != sub.url+"/handle" {
				t.Errorf("knativeerrordest = %q, want %q", dest, sub.url+"/handle")
			}
			if c, _ := extension(t, got.event, errorCodeExtension); c != fmt.Sprint(code) {
				t.Errorf("knativeerrorcode = %q, want %d", c, code)
			}
			data, _ := extension(t, got.event, errorDataExtension)
			if decoded, err := base64.StdEncoding.DecodeString(data); err != nil || string(decoded) != body {
				t.Errorf("knativeerrordata decodes to %q (%v), want %q", decoded, err, body)
			}
		})
	}
}

func TestDelivery_RetriesExhaustedGoToDeadLetterSink(t *testing.T) {
	body := strings.Repeat("0123456789", 200) // longer than knativeerrordata may carry
	sub := newSubscriber(t, status(http.StatusServiceUnavailable, body))
	dls := newSubscriber(t, nil)
	cfg := config(retry(2, "exponential", "PT0.01S", &Destination{URI: dls.url}), onType("t", "t", sub.url))
	_, ingress, logs := start(t, cfg, Options{})
	mustSend(t, ingress, newEvent("ev-1", "t"))

	got := dls.next(t)
	if n := sub.calls.Load(); n != 3 {
		t.Errorf("subscriber called %d times, want 1 + 2 retries", n)
	}
	if c, _ := extension(t, got.event, errorCodeExtension); c != "503" {
		t.Errorf("knativeerrorcode = %q, want 503", c)
	}
	data, _ := extension(t, got.event, errorDataExtension)
	decoded, err := base64.StdEncoding.DecodeString(data)
	if err != nil || len(data) > 1024 || !strings.HasPrefix(body, string(decoded)) || len(decoded) == 0 {
		t.Errorf("knativeerrordata is %d chars decoding to %d bytes (%v); want at most 1 KiB of base64 of the body's start", len(data), len(decoded), err)
	}
	logs.wait(t, "about the dead letter", msgFor("delivery failed: event sent to the dead-letter sink", "ev-1"))
}

func TestDelivery_NetworkErrorDeadLettersWithoutCode(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // nothing listens there any more
	dls := newSubscriber(t, nil)
	_, ingress, _ := start(t, config(retry(1, "linear", "PT0.01S", &Destination{URI: dls.url}), onType("t", "t", gone.URL)), Options{})
	mustSend(t, ingress, newEvent("ev-1", "t"))

	got := dls.next(t)
	if dest, _ := extension(t, got.event, errorDestExtension); dest != gone.URL {
		t.Errorf("knativeerrordest = %q, want %q", dest, gone.URL)
	}
	for _, name := range []string{errorCodeExtension, errorDataExtension} {
		if v, ok := extension(t, got.event, name); ok {
			t.Errorf("%s = %q, want it absent after a network error", name, v)
		}
	}
}

func TestDelivery_WithoutDeadLetterSinkLogsAnError(t *testing.T) {
	sub := newSubscriber(t, status(http.StatusBadRequest, "no"))
	_, ingress, logs := start(t, config(nil, onType("t", "t", sub.url)), Options{})
	mustSend(t, ingress, newEvent("ev-1", "t"))
	logs.wait(t, "at error level about the lost event", func(r record) bool {
		return r.level == slog.LevelError && r.attrs["event_id"] == "ev-1" && r.attrs["trigger"] == "t"
	})
}

func TestDelivery_BackoffGapsGrow(t *testing.T) {
	const delay = 100 * time.Millisecond
	tests := []struct {
		policy  string
		atLeast []time.Duration // the backoff before retries 0, 1, 2
	}{
		{"linear", []time.Duration{0, delay, 2 * delay}},
		{"exponential", []time.Duration{delay, 2 * delay, 4 * delay}},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			sub := newSubscriber(t, status(http.StatusServiceUnavailable, ""))
			_, ingress, _ := start(t, config(retry(3, tt.policy, "PT0.1S", nil), onType("t", "t", sub.url)), Options{})
			mustSend(t, ingress, newEvent("ev-1", "t"))

			var at []time.Time
			for range 4 {
				at = append(at, sub.next(t).at)
			}
			var gaps []time.Duration
			for i := 1; i < len(at); i++ {
				gaps = append(gaps, at[i].Sub(at[i-1]))
			}
			// A timer never fires early, so the lower bounds are exact; the order tolerates
			// scheduling noise up to one delay.
			for i, gap := range gaps {
				if gap < tt.atLeast[i] {
					t.Errorf("gap before retry %d = %v, want at least %v (gaps %v)", i, gap, tt.atLeast[i], gaps)
				}
				if i > 0 && gap <= gaps[i-1] {
					t.Errorf("gaps %v do not grow", gaps)
				}
			}
		})
	}
}

func TestDelivery_SlowSubscriberDoesNotHoldUpOtherTriggers(t *testing.T) {
	release := make(chan struct{})
	slow := newSubscriber(t, func(http.ResponseWriter, int32, event.Event) { <-release })
	t.Cleanup(func() { close(release) })
	fast := newSubscriber(t, nil)
	_, ingress, _ := start(t, config(nil, onType("slow", "t", slow.url), onType("fast", "t", fast.url)), Options{Workers: 2})
	mustSend(t, ingress, newEvent("ev-1", "t"))
	slow.next(t) // in the slow subscriber, which will not answer until the test ends
	if got := fast.next(t).event.ID(); got != "ev-1" {
		t.Errorf("fast subscriber got %s, want ev-1", got)
	}
}

// --- replies and the TTL loop guard ---

func TestReply_ReentersAndIsRoutedToAnotherTrigger(t *testing.T) {
	tests := []struct {
		mode  string
		force func(context.Context) context.Context
	}{
		{"binary", binding.WithForceBinary},
		{"structured", binding.WithForceStructured},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			asker := newSubscriber(t, func(w http.ResponseWriter, _ int32, e event.Event) {
				reply := newEvent("answer-to-"+e.ID(), "io.phoenix.answer")
				if err := cehttp.WriteResponseWriter(tt.force(context.Background()), binding.ToMessage(&reply), http.StatusOK, w); err != nil {
					t.Errorf("write reply: %v", err)
				}
			})
			answerer := newSubscriber(t, nil)
			cfg := config(nil, onType("asker", "io.phoenix.question", asker.url), onType("answerer", "io.phoenix.answer", answerer.url))
			_, ingress, logs := start(t, cfg, Options{})
			mustSend(t, ingress, newEvent("q-1", "io.phoenix.question"))

			got := answerer.next(t)
			if got.event.ID() != "answer-to-q-1" || got.event.Type() != "io.phoenix.answer" {
				t.Errorf("answerer got %s/%s, want the reply answer-to-q-1", got.event.ID(), got.event.Type())
			}
			// The reply re-entered with one hop less than the question's default 255.
			routed := logs.wait(t, "routing the reply", msgFor("event routed", "answer-to-q-1"))
			if diff := cmp.Diff([]string{"answerer"}, routed.attrs["triggers"]); diff != "" {
				t.Errorf("reply routed to (-want +got):\n%s", diff)
			}
			if n := asker.calls.Load(); n != 1 {
				t.Errorf("asker called %d times, want 1", n)
			}
		})
	}
}

func TestTTL_StopsASubscriberThatAlwaysReplies(t *testing.T) {
	tests := []struct {
		name string
		ttl  any // nil: the ingress sets the default
		hops int32
	}{
		{"default TTL", nil, defaultTTL},
		{"TTL from the sender", int32(3), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			echo := newSubscriber(t, func(w http.ResponseWriter, n int32, _ event.Event) {
				reply := newEvent(fmt.Sprintf("echo-%d", n), "io.phoenix.echo")
				_ = cehttp.WriteResponseWriter(context.Background(), binding.ToMessage(&reply), http.StatusOK, w)
			})
			_, ingress, logs := start(t, config(nil, onType("echo", "io.phoenix.echo", echo.url)), Options{})
			e := newEvent("echo-0", "io.phoenix.echo")
			if tt.ttl != nil {
				e.SetExtension(ttlExtension, tt.ttl)
			}
			mustSend(t, ingress, e)

			// The last reply is dropped; after that nothing is left to deliver.
			last := fmt.Sprintf("echo-%d", tt.hops)
			logs.wait(t, "dropping "+last, msgFor("event dropped", last))
			if n := echo.calls.Load(); n != tt.hops {
				t.Errorf("echo called %d times, want %d", n, tt.hops)
			}
		})
	}
}

// --- back-pressure ---

func TestIngress_BlocksWhenTheQueueIsFullAndLosesNothing(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	sub := newSubscriber(t, func(http.ResponseWriter, int32, event.Event) { <-release })
	t.Cleanup(unblock)
	b, ingress, _ := start(t, config(nil, onType("t", "t", sub.url)), Options{QueueSize: 1, Workers: 1})

	mustSend(t, ingress, newEvent("ev-1", "t"))
	sub.next(t)                                 // ev-1 holds the only worker
	mustSend(t, ingress, newEvent("ev-2", "t")) // routed, waits for the worker
	mustSend(t, ingress, newEvent("ev-3", "t")) // fills the queue

	// No room: the ingress waits for it and, when the request gives up first, says 503.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, err := cehttp.NewHTTPRequestFromEvent(ctx, "http://broker.invalid/", newEvent("ev-4", "t"))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	b.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("ingress answered %d with a full queue, want 503 after waiting", rec.Code)
	}

	accepted := make(chan int, 1)
	go func() {
		req, _ := cehttp.NewHTTPRequestFromEvent(context.Background(), ingress, newEvent("ev-4", "t"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			accepted <- 0
			return
		}
		_ = resp.Body.Close()
		accepted <- resp.StatusCode
	}()
	select {
	case code := <-accepted:
		t.Fatalf("ingress answered %d while the queue was full", code)
	default:
	}
	unblock()
	for _, want := range []string{"ev-2", "ev-3", "ev-4"} {
		if got := sub.next(t).event.ID(); got != want {
			t.Errorf("subscriber got %s, want %s", got, want)
		}
	}
	if code := <-accepted; code != http.StatusAccepted {
		t.Errorf("blocked ingress request answered %d, want 202", code)
	}
	if n := sub.calls.Load(); n != 4 {
		t.Errorf("subscriber called %d times, want each of 4 events once", n)
	}
}

// --- PingSource ---

func TestPingSource_TicksAreRoutedToTriggers(t *testing.T) {
	sub := newSubscriber(t, nil)
	cfg := config(nil, onType("pings", pingEventType, sub.url))
	cfg.PingSources = []PingSource{
		{Name: "heartbeat", Schedule: "0 0 1 1 *", Data: `{"beat":true}`,
			Sink: Destination{Ref: &Reference{APIVersion: eventingV1, Kind: "Broker", Name: "phoenix"}}},
		{Name: "elsewhere", Schedule: "* * * * *", Sink: Destination{URI: "http://127.0.0.1:1/"}},
	}
	_, _, logs := start(t, cfg, Options{PingSchedule: "@every 100ms", Namespace: "dev"})

	first, second := sub.next(t).event, sub.next(t).event
	for _, e := range []event.Event{first, second} {
		if e.Source() != "/apis/v1/namespaces/dev/pingsources/heartbeat" || e.DataContentType() != event.ApplicationJSON ||
			!bytes.Equal(e.Data(), []byte(`{"beat":true}`)) || e.Time().IsZero() {
			t.Errorf("ping event source=%s contenttype=%s data=%s time=%v", e.Source(), e.DataContentType(), e.Data(), e.Time())
		}
	}
	if first.ID() == second.ID() {
		t.Errorf("two ticks share the id %s", first.ID())
	}
	logs.wait(t, "about the PingSource that does not sink here", func(r record) bool {
		return r.level == slog.LevelWarn && r.attrs["ping_source"] == "elsewhere"
	})
}

// --- construction and lifecycle ---

func TestNew_Validates(t *testing.T) {
	bad := "P1X"
	tests := []struct {
		name string
		cfg  Config
		o    Options
	}{
		{"unknown broker", Config{Brokers: []BrokerSpec{{Name: "other"}}}, Options{}},
		{"broker delay", config(&DeliverySpec{BackoffDelay: bad}), Options{}},
		{"trigger delay", config(nil, Trigger{Name: "t", Broker: "phoenix", Subscriber: Destination{URI: "http://x/"}, Delivery: &DeliverySpec{BackoffDelay: bad}}), Options{}},
		{"trigger policy", config(nil, Trigger{Name: "t", Broker: "phoenix", Subscriber: Destination{URI: "http://x/"}, Delivery: &DeliverySpec{BackoffPolicy: "random"}}), Options{}},
		{"trigger without subscriber", config(nil, Trigger{Name: "t", Broker: "phoenix"}), Options{}},
		{"ping schedule", Config{Brokers: []BrokerSpec{{Name: "phoenix"}}, PingSources: []PingSource{
			{Name: "p", Schedule: "every minute", Sink: Destination{Ref: &Reference{Kind: "Broker", Name: "phoenix"}}}}}, Options{}},
		{"ping schedule override", config(nil), Options{PingSchedule: "@every soon"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg, "phoenix", tt.o); err == nil {
				t.Error("New succeeded, want an error")
			}
		})
	}
	// A bad delay on another broker's trigger is not this broker's business.
	other := config(nil, Trigger{Name: "t", Broker: "other", Delivery: &DeliverySpec{BackoffDelay: bad}})
	if _, err := New(other, "phoenix", Options{}); err != nil {
		t.Errorf("New refused another broker's trigger: %v", err)
	}
}

func TestRun_StopsTakingEventsWhenItsContextEnds(t *testing.T) {
	b, err := New(config(nil), "phoenix", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
	case <-time.After(failsafe):
		t.Fatal("Run did not return")
	}
	req, _ := cehttp.NewHTTPRequestFromEvent(context.Background(), "http://broker.invalid/", newEvent("late", "t"))
	rec := httptest.NewRecorder()
	b.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("ingress after Run answered %d, want 503", rec.Code)
	}
	if err := b.Run(context.Background()); err == nil {
		t.Error("second Run succeeded, want an error")
	}
}

func TestRun_CancelsBackoffWaits(t *testing.T) {
	sub := newSubscriber(t, status(http.StatusServiceUnavailable, ""))
	b, err := New(config(retry(1, "exponential", "PT1H", nil), onType("t", "t", sub.url)), "phoenix", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	srv := httptest.NewServer(b)
	defer srv.Close()
	mustSend(t, srv.URL, newEvent("ev-1", "t"))
	sub.next(t) // the first attempt failed; the retry would come in an hour
	cancel()
	select {
	case <-done:
	case <-time.After(failsafe):
		t.Fatal("Run is still waiting for a backoff after its context ended")
	}
}
