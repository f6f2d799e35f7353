package broker

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMergeDelivery_TriggerOverridesBrokerFieldByField(t *testing.T) {
	two, five := int32(2), int32(5)
	dls := &Destination{URI: "http://127.0.0.1:1/dls"}
	other := &Destination{URI: "http://127.0.0.1:1/other"}
	broker := &DeliverySpec{Retry: &five, BackoffPolicy: "exponential", BackoffDelay: "PT0.5S", DeadLetterSink: dls}
	tests := []struct {
		name            string
		broker, trigger *DeliverySpec
		want            DeliverySpec
	}{
		{"neither", nil, nil, DeliverySpec{}},
		{"broker only", broker, nil, *broker},
		{"trigger only", nil, &DeliverySpec{Retry: &two}, DeliverySpec{Retry: &two}},
		{"trigger overrides retry only", broker, &DeliverySpec{Retry: &two},
			DeliverySpec{Retry: &two, BackoffPolicy: "exponential", BackoffDelay: "PT0.5S", DeadLetterSink: dls}},
		{"trigger overrides policy and sink", broker, &DeliverySpec{BackoffPolicy: "linear", DeadLetterSink: other},
			DeliverySpec{Retry: &five, BackoffPolicy: "linear", BackoffDelay: "PT0.5S", DeadLetterSink: other}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, mergeDelivery(tt.broker, tt.trigger)); diff != "" {
				t.Errorf("mergeDelivery (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRetryPolicy_Backoff(t *testing.T) {
	const d = 100 * time.Millisecond
	tests := []struct {
		name   string
		policy string
		want   []time.Duration // before retry 0, 1, 2, 3
	}{
		{"linear is delay·n", "linear", []time.Duration{0, d, 2 * d, 3 * d}},
		{"exponential is delay·2^n", "exponential", []time.Duration{d, 2 * d, 4 * d, 8 * d}},
		{"exponential by default", "", []time.Duration{d, 2 * d, 4 * d, 8 * d}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := newRetryPolicy(DeliverySpec{BackoffPolicy: tt.policy, BackoffDelay: "PT0.1S"})
			if err != nil {
				t.Fatal(err)
			}
			for n, want := range tt.want {
				if got := p.backoff(n); got != want {
					t.Errorf("backoff(%d) = %v, want %v", n, got, want)
				}
			}
		})
	}
	p := retryPolicy{exponential: true, delay: time.Hour}
	if got := p.backoff(200); got <= 0 {
		t.Errorf("backoff(200) = %v, want a saturated positive duration", got)
	}
}

func TestNewRetryPolicy_Refuses(t *testing.T) {
	neg := int32(-1)
	tests := []struct {
		name string
		spec DeliverySpec
	}{
		{"negative retry", DeliverySpec{Retry: &neg}},
		{"unknown policy", DeliverySpec{BackoffPolicy: "fibonacci"}},
		{"delay not ISO 8601", DeliverySpec{BackoffDelay: "500ms"}},
		{"negative delay", DeliverySpec{BackoffDelay: "-PT1S"}},
		{"empty dead-letter sink", DeliverySpec{DeadLetterSink: &Destination{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := newRetryPolicy(tt.spec); err == nil {
				t.Error("newRetryPolicy succeeded, want an error")
			}
		})
	}
}

func TestOutcome_Retryable(t *testing.T) {
	tests := []struct {
		outcome outcome
		want    bool
	}{
		{outcome{err: errors.New("connection refused")}, true},
		{outcome{status: 500}, true},
		{outcome{status: 503}, true},
		{outcome{status: 404}, true},
		{outcome{status: 408}, true},
		{outcome{status: 409}, true},
		{outcome{status: 429}, true},
		{outcome{status: 400}, false},
		{outcome{status: 401}, false},
		{outcome{status: 403}, false},
		{outcome{status: 413}, false},
		{outcome{status: 422}, false},
		{outcome{status: 302}, false},
	}
	for _, tt := range tests {
		if got := tt.outcome.retryable(); got != tt.want {
			t.Errorf("%+v retryable = %v, want %v", tt.outcome, got, tt.want)
		}
	}
}

func TestResolve(t *testing.T) {
	b := &Broker{resolver: func(d Destination) (string, error) {
		if d.URI != "" {
			return "", errors.New("the resolver must see the ref alone")
		}
		if d.Ref.Name == "missing" {
			return "", errors.New("no such service")
		}
		return "http://127.0.0.1:8081/base/", nil
	}}
	svc := func(name string) *Reference { return &Reference{Kind: "Service", Name: name} }
	tests := []struct {
		name string
		dest Destination
		want string // "" means an error
	}{
		{"absolute uri", Destination{URI: "http://127.0.0.1:9/x"}, "http://127.0.0.1:9/x"},
		{"relative uri without ref", Destination{URI: "/x"}, ""},
		{"ref", Destination{Ref: svc("api")}, "http://127.0.0.1:8081/base/"},
		{"ref with absolute path", Destination{Ref: svc("api"), URI: "/internal/dead-letters"}, "http://127.0.0.1:8081/internal/dead-letters"},
		{"ref with relative path", Destination{Ref: svc("api"), URI: "events"}, "http://127.0.0.1:8081/base/events"},
		{"unresolvable ref", Destination{Ref: svc("missing")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := b.resolve(tt.dest)
			if tt.want == "" {
				if err == nil {
					t.Errorf("resolve = %q, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("resolve = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := (&Broker{}).resolve(Destination{Ref: svc("api")}); err == nil {
		t.Error("resolve without a resolver succeeded for a ref")
	}
}
