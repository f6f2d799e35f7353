package broker

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/sosodev/duration"
)

// The extensions Knative adds to an event it dead-letters.
const (
	errorDestExtension = "knativeerrordest"
	errorCodeExtension = "knativeerrorcode"
	errorDataExtension = "knativeerrordata"
)

// maxErrorData bounds knativeerrordata, which is base64: 768 body bytes encode to exactly 1 KiB,
// so the value stays within Knative's limit and still decodes.
const maxErrorData = 1024 / 4 * 3

// retryPolicy is a trigger's effective DeliverySpec, parsed once in New.
type retryPolicy struct {
	retries     int           // attempts after the first
	exponential bool          // delay·2^n rather than delay·n before retry n
	delay       time.Duration // the backoff unit
	deadLetter  *Destination  // nil: failures are only logged
}

// mergeDelivery overlays the trigger's spec on the broker's, field by field, as Knative does
// when it builds a trigger's subscription.
func mergeDelivery(broker, trigger *DeliverySpec) DeliverySpec {
	var out DeliverySpec
	for _, s := range []*DeliverySpec{broker, trigger} {
		if s == nil {
			continue
		}
		if s.Retry != nil {
			out.Retry = s.Retry
		}
		if s.BackoffPolicy != "" {
			out.BackoffPolicy = s.BackoffPolicy
		}
		if s.BackoffDelay != "" {
			out.BackoffDelay = s.BackoffDelay
		}
		if s.DeadLetterSink != nil {
			out.DeadLetterSink = s.DeadLetterSink
		}
	}
	return out
}

func newRetryPolicy(spec DeliverySpec) (retryPolicy, error) {
	var p retryPolicy
	if spec.Retry != nil {
		if *spec.Retry < 0 {
			return p, fmt.Errorf("retry %d: must not be negative", *spec.Retry)
		}
		p.retries = int(*spec.Retry)
	}
	switch spec.BackoffPolicy {
	case "", "exponential":
		p.exponential = true
	case "linear":
	default:
		return p, fmt.Errorf("backoffPolicy %q: want linear or exponential", spec.BackoffPolicy)
	}
	if spec.BackoffDelay != "" {
		d, err := duration.Parse(spec.BackoffDelay)
		if err != nil {
			return p, fmt.Errorf("backoffDelay %q: %w", spec.BackoffDelay, err)
		}
		if p.delay = d.ToTimeDuration(); d.Negative || p.delay < 0 {
			return p, fmt.Errorf("backoffDelay %q: must not be negative", spec.BackoffDelay)
		}
	}
	if spec.DeadLetterSink != nil {
		if err := checkDestination(*spec.DeadLetterSink); err != nil {
			return p, fmt.Errorf("deadLetterSink: %w", err)
		}
	}
	p.deadLetter = spec.DeadLetterSink
	return p, nil
}

// backoff is the wait before retry n (n = 0 for the first retry): linear delay·n, exponential
// delay·2^n, saturating instead of overflowing for absurd retry counts.
func (p retryPolicy) backoff(n int) time.Duration {
	if !p.exponential {
		if p.delay > 0 && time.Duration(n) > time.Duration(1<<62)/p.delay {
			return 1 << 62
		}
		return p.delay * time.Duration(n)
	}
	if n >= 62 || p.delay > time.Duration(1<<62)>>n {
		return 1 << 62
	}
	return p.delay << n
}

// outcome is what one POST produced.
type outcome struct {
	status int          // HTTP status; 0 when no response came
	err    error        // why no response came (network, resolution)
	body   []byte       // start of a non-2xx body, for knativeerrordata
	reply  *event.Event // a CloudEvent in a 2xx body
}

func (o outcome) ok() bool { return o.err == nil && o.status >= 200 && o.status < 300 }

// retryable follows Knative's SelectiveRetry: no response, 5xx, 404 (a pod becoming ready),
// 408, 409 and 429 are worth another try; other answers will not change.
func (o outcome) retryable() bool {
	switch {
	case o.err != nil, o.status >= 500:
		return true
	}
	switch o.status {
	case http.StatusNotFound, http.StatusRequestTimeout, http.StatusConflict, http.StatusTooManyRequests:
		return true
	}
	return false
}

// route is a trigger ready for delivery.
type route struct {
	Trigger
	policy retryPolicy // the broker's delivery overlaid with the trigger's
}

// deliver sends e to the trigger's subscriber with retries, dead-letters it when that fails, and
// returns the subscriber's reply, if any. It gives up silently when ctx ends: the broker is
// stopping, and a dead letter would misreport the subscriber.
func (b *Broker) deliver(ctx context.Context, r route, e event.Event) *event.Event {
	log := b.log.With("trigger", r.Name, "event_id", e.ID(), "event_type", e.Type())
	// Knative's filter strips the broker's TTL before the subscriber sees the event; the reply
	// gets it back from the original.
	sent := e.Clone()
	sent.SetExtension(ttlExtension, nil)

	var last outcome
	var target string
	for n := 0; n <= r.policy.retries; n++ {
		if n > 0 {
			if err := sleep(ctx, r.policy.backoff(n-1)); err != nil {
				log.Debug("delivery abandoned: broker stopping")
				return nil
			}
		}
		last, target = b.post(ctx, r.Subscriber, sent, true)
		if ctx.Err() != nil {
			log.Debug("delivery abandoned: broker stopping")
			return nil
		}
		if last.ok() {
			log.Debug("delivered", "subscriber", target, "status", last.status, "attempts", n+1)
			return last.reply
		}
		log.Debug("delivery attempt failed", "subscriber", target, "attempt", n+1, "status", last.status, "error", last.err)
		if !last.retryable() {
			break
		}
	}
	b.deadLetter(ctx, log, r.policy, e, target, last)
	return nil
}

// deadLetter sends the original event, annotated with why delivery failed, to the sink. The sink
// gets the same retries; its own failure can only be logged.
func (b *Broker) deadLetter(ctx context.Context, log *slog.Logger, p retryPolicy, e event.Event, target string, last outcome) {
	log = log.With("subscriber", target, "status", last.status, "error", last.err)
	if p.deadLetter == nil {
		log.Error("delivery failed and there is no dead-letter sink: event lost")
		return
	}
	dl := e.Clone()
	if target != "" {
		dl.SetExtension(errorDestExtension, target)
	}
	if last.status != 0 {
		dl.SetExtension(errorCodeExtension, last.status)
	}
	if len(last.body) > 0 {
		dl.SetExtension(errorDataExtension, base64.StdEncoding.EncodeToString(last.body))
	}
	for n := 0; n <= p.retries; n++ {
		if n > 0 {
			if err := sleep(ctx, p.backoff(n-1)); err != nil {
				return
			}
		}
		res, sink := b.post(ctx, *p.deadLetter, dl, false)
		if ctx.Err() != nil {
			return
		}
		if res.ok() {
			log.Warn("delivery failed: event sent to the dead-letter sink", "dead_letter_sink", sink)
			return
		}
		if !res.retryable() {
			log.Error("delivery failed and so did the dead-letter sink: event lost", "dead_letter_sink", sink, "sink_status", res.status, "sink_error", res.err)
			return
		}
	}
	log.Error("delivery failed and the dead-letter sink kept failing: event lost")
}

// post sends e once, in binary mode, to d and returns what came back and the URL it went to.
func (b *Broker) post(ctx context.Context, d Destination, e event.Event, wantReply bool) (outcome, string) {
	target, err := b.resolve(d)
	if err != nil {
		return outcome{err: err}, ""
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, nil)
	if err != nil {
		return outcome{err: err}, target
	}
	if err := cehttp.WriteRequest(binding.WithForceBinary(ctx), binding.ToMessage(&e), req); err != nil {
		return outcome{err: fmt.Errorf("encode event: %w", err)}, target
	}
	if wantReply {
		// The Knative data-plane contract: the subscriber may answer with an event.
		req.Header.Set("Prefer", "reply")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return outcome{err: err}, target
	}
	defer func() {
		// Drain a little so the connection can be reused; a huge body is not worth reading.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()
	res := outcome{status: resp.StatusCode}
	if !res.ok() {
		res.body, _ = io.ReadAll(io.LimitReader(resp.Body, maxErrorData))
		return res, target
	}
	if wantReply {
		res.reply = b.readReply(resp, target)
	}
	return res, target
}

// readReply returns the CloudEvent in a 2xx response, or nil when there is none. A malformed one
// is logged and ignored: the delivery itself succeeded.
func (b *Broker) readReply(resp *http.Response, target string) *event.Event {
	msg := cehttp.NewMessageFromHttpResponse(resp)
	if msg.ReadEncoding() == binding.EncodingUnknown {
		return nil
	}
	reply, err := binding.ToEvent(context.Background(), msg)
	if err == nil {
		err = reply.Validate()
	}
	if err != nil {
		b.log.Warn("subscriber replied with an invalid CloudEvent: reply ignored", "subscriber", target, "error", err)
		return nil
	}
	return reply
}

// resolve turns d into an absolute URL. Options.Resolve maps a Ref (and sees only the Ref); a URI
// is then resolved against the Ref's URL, as Knative does. A lone URI must be absolute.
func (b *Broker) resolve(d Destination) (string, error) {
	if d.Ref == nil {
		u, err := url.Parse(d.URI)
		if err != nil {
			return "", fmt.Errorf("resolve %q: %w", d.URI, err)
		}
		if !u.IsAbs() {
			return "", fmt.Errorf("resolve %q: a uri without a ref must be absolute", d.URI)
		}
		return d.URI, nil
	}
	if b.resolver == nil {
		return "", fmt.Errorf("resolve %s %s: no resolver configured", d.Ref.Kind, d.Ref.Name)
	}
	base, err := b.resolver(Destination{Ref: d.Ref})
	if err != nil {
		return "", fmt.Errorf("resolve %s %s: %w", d.Ref.Kind, d.Ref.Name, err)
	}
	baseURL, err := url.Parse(base)
	if err != nil || !baseURL.IsAbs() {
		return "", fmt.Errorf("resolve %s %s: resolver gave %q, not an absolute URL", d.Ref.Kind, d.Ref.Name, base)
	}
	if d.URI == "" {
		return base, nil
	}
	rel, err := url.Parse(d.URI)
	if err != nil {
		return "", fmt.Errorf("resolve %q against %s: %w", d.URI, base, err)
	}
	return baseURL.ResolveReference(rel).String(), nil
}

// sleep waits for d or until ctx ends, whichever is first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errStopped is returned to the ingress once Run has returned.
var errStopped = errors.New("broker stopped")
