package function

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// running starts svc on a free loopback port and returns its base URL and a stop function that
// cancels it and returns Serve's result.
func running(t *testing.T, svc Service) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, svc, Options{Addr: "127.0.0.1:0", MaxEventSize: 4096, DrainTimeout: 5 * time.Second,
			Listening: func(a net.Addr) { addrs <- a }})
	}()
	var base string
	select {
	case a := <-addrs:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("Serve returned before listening: %v", err)
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = stop() })
	return base, stop
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually polls cond every 5 ms until it holds (true) or 10 s have passed (false): generous,
// since CI runs packages side by side on two cores.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// waitReady polls readiness; the runtime becomes ready asynchronously after Start.
func waitReady(t *testing.T, base string) {
	t.Helper()
	if !eventually(func() bool { code, _ := get(t, base+"/readyz"); return code == http.StatusOK }) {
		t.Fatal("never became ready")
	}
}

func echoHandler() Handler {
	return HandlerFunc(func(ctx context.Context, e event.Event) (*event.Event, error) {
		switch e.Type() {
		case "test.invalid":
			return nil, Invalid(errors.New("field x is required"))
		case "test.broken":
			return nil, errors.New("database unavailable: secret detail")
		case "test.silent":
			return nil, nil
		}
		reply := event.New()
		reply.SetID("reply-" + e.ID())
		reply.SetSource("test/echo")
		reply.SetType("test.reply")
		_ = reply.SetData("application/json", map[string]string{"echo": e.ID()})
		return &reply, nil
	})
}

func postBinary(t *testing.T, base, id, typ string, body []byte) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/", bytes.NewReader(body))
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", id)
	req.Header.Set("Ce-Source", "test/source")
	req.Header.Set("Ce-Type", typ)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestEvents_StatusCodesFollowKnativeDelivery(t *testing.T) {
	base, _ := running(t, Service{Name: "t", Events: echoHandler()})
	waitReady(t, base)
	tests := []struct {
		name, typ string
		body      []byte
		want      int
	}{
		{"reply", "test.ok", []byte(`{}`), http.StatusOK},
		{"no reply", "test.silent", []byte(`{}`), http.StatusAccepted},
		{"invalid is not retried", "test.invalid", []byte(`{}`), http.StatusBadRequest},
		{"failure is retried", "test.broken", []byte(`{}`), http.StatusInternalServerError},
		{"too large", "test.ok", bytes.Repeat([]byte("x"), 5000), http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := postBinary(t, base, "id-1", tt.typ, tt.body)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tt.want)
			}
			if strings.Contains(string(body), "secret detail") {
				t.Fatalf("a 5xx leaked the internal error: %s", body)
			}
			if tt.want == http.StatusOK {
				if resp.Header.Get("Ce-Id") != "reply-id-1" || resp.Header.Get("Ce-Type") != "test.reply" {
					t.Fatalf("reply not a binary CloudEvent: %v", resp.Header)
				}
			}
		})
	}
}

func TestEvents_StructuredModeAndGarbage(t *testing.T) {
	base, _ := running(t, Service{Name: "t", Events: echoHandler()})
	waitReady(t, base)
	structured := `{"specversion":"1.0","id":"s-1","source":"test/src","type":"test.ok","data":{"a":1}}`
	resp, err := http.Post(base+"/", "application/cloudevents+json", strings.NewReader(structured))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Ce-Id") != "reply-s-1" {
		t.Fatalf("structured mode: %d %v", resp.StatusCode, resp.Header)
	}
	for name, send := range map[string]func() (*http.Response, error){
		"plain JSON, no CloudEvent attributes": func() (*http.Response, error) {
			return http.Post(base+"/", "application/json", strings.NewReader(`{"a":1}`))
		},
		"structured, not JSON": func() (*http.Response, error) {
			return http.Post(base+"/", "application/cloudevents+json", strings.NewReader(`{{{`))
		},
		"structured, missing id": func() (*http.Response, error) {
			return http.Post(base+"/", "application/cloudevents+json",
				strings.NewReader(`{"specversion":"1.0","source":"s","type":"t"}`))
		},
	} {
		resp, err := send()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", name, resp.StatusCode)
		}
	}
}

func TestReadiness_WaitsForStartAndFailsOnDependency(t *testing.T) {
	release := make(chan struct{})
	var depErr error = errors.New("db down")
	base, _ := running(t, Service{
		Name:  "t",
		Start: func(ctx context.Context) error { <-release; return nil },
		Ready: func(ctx context.Context) error { return depErr },
	})
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("liveness before start: %d", code)
	}
	if code, _ := get(t, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("ready before Start finished: %d", code)
	}
	close(release)
	var code int
	if !eventually(func() bool {
		var body string
		code, body = get(t, base+"/readyz")
		return strings.Contains(body, "dependency")
	}) {
		t.Fatal("Start never completed")
	}
	if code != http.StatusServiceUnavailable {
		t.Fatalf("dependency down but readiness %d", code)
	}
}

// Serve must return the Start error on its own, without being cancelled: a
// cancellation racing the failing Start would take the shutdown path instead.
func TestServe_StartErrorStopsTheFunction(t *testing.T) {
	done := make(chan error, 1)
	go func() {
		done <- Serve(context.Background(), Service{Name: "t", Start: func(context.Context) error { return errors.New("role can bypass RLS") }},
			Options{Addr: "127.0.0.1:0", DrainTimeout: time.Second})
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "role can bypass RLS") {
			t.Fatalf("Serve = %v, want the Start error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve kept running after Start failed")
	}
}

func TestServe_DrainsInFlightRequestsOnShutdown(t *testing.T) {
	inFlight := make(chan struct{})
	finish := make(chan struct{})
	base, stop := running(t, Service{Name: "t", HTTP: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inFlight)
		<-finish
		fmt.Fprint(w, "finished")
	})})
	waitReady(t, base)
	result := make(chan string, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			result <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		result <- string(b)
	}()
	<-inFlight
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	select {
	case err := <-stopped:
		t.Fatalf("stopped before the in-flight request finished: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(finish)
	if got := <-result; got != "finished" {
		t.Fatalf("in-flight request got %q", got)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("clean shutdown returned %v", err)
	}
}

func TestMetricsAndRequestID(t *testing.T) {
	base, _ := running(t, Service{Name: "probe", Events: echoHandler(), HTTP: http.NotFoundHandler()})
	waitReady(t, base)
	postBinary(t, base, "m-1", "test.ok", []byte(`{}`))
	req, _ := http.NewRequest(http.MethodGet, base+"/nothing", nil)
	req.Header.Set(RequestIDHeader, "abc-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get(RequestIDHeader); got != "abc-123" {
		t.Errorf("request id echoed as %q", got)
	}
	req.Header.Set(RequestIDHeader, `evil" log=line`)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get(RequestIDHeader); got == "" || strings.ContainsAny(got, `" =`) {
		t.Errorf("unsafe request id accepted: %q", got)
	}
	waitMetrics(t, base,
		`phoenix_function_requests_total{code="200",function="probe",kind="event",route="other"} 1`,
		`phoenix_function_requests_total{code="404",function="probe",kind="http",route="/"} 2`,
		`phoenix_function_request_duration_seconds_count{function="probe",kind="event",route="other"} 1`)
}

// waitMetrics polls /metrics until it holds every line in want: a request is counted when its
// handler returns, which can be just after the client has read the answer.
func waitMetrics(t *testing.T, base string, want ...string) {
	t.Helper()
	var body string
	if !eventually(func() bool {
		_, body = get(t, base+"/metrics")
		for _, w := range want {
			if !strings.Contains(body, w) {
				return false
			}
		}
		return true
	}) {
		t.Errorf("metrics lack some of %q:\n%s", want, body)
	}
}

func TestHTTP_HandlersCanHijackForWebSockets(t *testing.T) {
	base, _ := running(t, Service{Name: "t", HTTP: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "not a hijacker", http.StatusInternalServerError)
			return
		}
		conn, buf, err := h.Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
		_ = buf.Flush()
	})})
	waitReady(t, base)
	resp, err := http.Get(base + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101 from the hijacked connection", resp.StatusCode)
	}
	waitMetrics(t, base, `code="101"`)
}
