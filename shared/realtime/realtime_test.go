package realtime

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

func TestChannelNames(t *testing.T) {
	tenant := uuid.MustParse("11111111-1111-1111-1111-111111111111")
	experiment := uuid.MustParse("22222222-2222-2222-2222-222222222222")
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"tenant", TenantChannel("phoenix", tenant), "phoenix:tenant:11111111-1111-1111-1111-111111111111"},
		{"tenant without prefix", TenantChannel("", tenant), "tenant:11111111-1111-1111-1111-111111111111"},
		{"experiment", ExperimentChannel("phoenix", tenant, experiment),
			"phoenix:tenant:11111111-1111-1111-1111-111111111111:experiment:22222222-2222-2222-2222-222222222222"},
		{"experiment without prefix", ExperimentChannel("", tenant, experiment),
			"tenant:11111111-1111-1111-1111-111111111111:experiment:22222222-2222-2222-2222-222222222222"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestExperimentChannel_DiffersBetweenTenants(t *testing.T) {
	experiment := uuid.New()
	a, b := ExperimentChannel("p", uuid.New(), experiment), ExperimentChannel("p", uuid.New(), experiment)
	if a == b {
		t.Fatalf("the same experiment ID in two tenants maps to one channel %q", a)
	}
}

// newRedis connects to the test Redis or fails the test.
func newRedis(t *testing.T) *redis.Client {
	t.Helper()
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func TestPublish_ReachesTenantThenExperimentChannel(t *testing.T) {
	rdb := newRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	prefix := "realtime-test-" + uuid.NewString()
	tenant, experiment := uuid.New(), uuid.New()
	tenantCh, experimentCh := TenantChannel(prefix, tenant), ExperimentChannel(prefix, tenant, experiment)

	sub := rdb.Subscribe(ctx, tenantCh, experimentCh)
	t.Cleanup(func() { _ = sub.Close() })
	for range 2 { // wait for both confirmations
		if _, err := sub.ReceiveTimeout(ctx, 5*time.Second); err != nil {
			t.Fatalf("subscribe: %v", err)
		}
	}

	payload := `{"specversion":"1.0","type":"experiment.started"}`
	if err := NewPublisher(rdb, prefix).Publish(ctx, tenant, experiment, []byte(payload)); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	for _, want := range []string{tenantCh, experimentCh} {
		m, err := sub.ReceiveMessage(ctx)
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if m.Channel != want || m.Payload != payload {
			t.Fatalf("got %q on %q, want %q on %q", m.Payload, m.Channel, payload, want)
		}
	}
}

func TestPublish_RejectsPayloadThatIsNotJSON(t *testing.T) {
	p := NewPublisher(newRedis(t), "realtime-test-"+uuid.NewString())
	err := p.Publish(context.Background(), uuid.New(), uuid.New(), []byte(`{"truncated":`))
	if !errors.Is(err, ErrInvalidPayload) {
		t.Fatalf("Publish = %v, want ErrInvalidPayload", err)
	}
}

func TestPublish_ReportsRedisErrors(t *testing.T) {
	rdb := newRedis(t)
	_ = rdb.Close()
	err := NewPublisher(rdb, "p").Publish(context.Background(), uuid.New(), uuid.New(), []byte(`{}`))
	if err == nil {
		t.Fatal("Publish on a closed client succeeded")
	}
}
