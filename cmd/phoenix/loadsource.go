package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/phoenixotel/phoenix/functions/gateway"
	"github.com/phoenixotel/phoenix/shared/apiclient"
	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/config"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/realtime"
	"github.com/phoenixotel/phoenix/shared/store"
)

// loadEventType is the CloudEvent type of the events the load test publishes itself. They go to
// Redis for the gateway only, never to the broker, so they are not in the event catalog.
const loadEventType = "io.phoenix.test.load.v1"

// eventSource causes the load test's events and recognises them on arrival.
type eventSource struct {
	tenants []uuid.UUID                            // the tenants whose channels carry the events
	verb    string                                 // how events are caused, for progress lines
	from    string                                 // what the latency is measured from
	cause   func(ctx context.Context, n int) error // causes event n in every tenant
	stamp   func(frame []byte) (time.Time, bool)   // when an arriving event was caused; false: not the test's
	close   func()                                 // releases the source
}

// redisEvents publishes the events through Redis exactly as the controller publishes transitions,
// to o.tenants fresh tenants at once: the gateway alone is measured, with every tenant's event
// arriving at the same instant (the worst case for one event per second to all).
func redisEvents(ctx context.Context, o loadOptions) (*eventSource, error) {
	ropts, err := redis.ParseURL(o.redisURL)
	if err != nil {
		return nil, inputError{fmt.Errorf("--redis: %w", err)}
	}
	rdb := redis.NewClient(ropts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("redis %s: %w", ropts.Addr, err)
	}
	pub := realtime.NewPublisher(rdb, gateway.ChannelPrefix)
	tenants, experiments := make([]uuid.UUID, o.tenants), make([]uuid.UUID, o.tenants)
	for i := range tenants {
		tenants[i], experiments[i] = uuid.New(), uuid.New()
	}
	return &eventSource{
		tenants: tenants, verb: "publishing", from: "publish",
		cause: func(ctx context.Context, n int) error {
			for i, tenant := range tenants {
				if err := pub.Publish(ctx, tenant, experiments[i], loadEvent(n, tenant)); err != nil {
					return fmt.Errorf("publish: %w", err)
				}
			}
			return nil
		},
		stamp: func(frame []byte) (time.Time, bool) {
			sent, ok := numberAfter(frame, `"sent_ns":`)
			return time.Unix(0, int64(sent)), ok // #nosec G115 -- Unix nanoseconds fit int64 until 2262
		},
		close: func() { _ = rdb.Close() },
	}, nil
}

// loadEvent is event n for tenant as a structured CloudEvent, stamped with its send time.
func loadEvent(n int, tenant uuid.UUID) []byte {
	now := time.Now()
	b, _ := json.Marshal(map[string]any{
		"specversion": "1.0", "id": fmt.Sprintf("load-%d-%s", n, tenant), "source": "/phoenix/test/load",
		"type": loadEventType, "time": now.UTC().Format(time.RFC3339Nano), "datacontenttype": "application/json",
		"data": map[string]any{"n": n, "sent_ns": now.UnixNano()},
	})
	return b
}

// apiEvents causes the events through the API as the logged-in user: event n is experiment
// "loadtest-n" created and stopped, and what arrives is the controller's transition of it from
// pending to cancelled — API, broker, controller, PostgreSQL, Redis and gateway all on the path.
// The user's tenant is read from their access token, verified with the key set the connections'
// tokens are signed with (the gateway's).
func apiEvents(ctx context.Context, api *client, keys *auth.KeySet, cfg config.Config) (*eventSource, error) {
	tok, err := api.token(ctx)
	if err != nil {
		return nil, err
	}
	v, err := auth.NewVerifier(auth.VerifierConfig{Keys: keys, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience})
	if err != nil {
		return nil, err
	}
	who, err := v.Verify(ctx, tok)
	if err != nil {
		return nil, inputError{fmt.Errorf("--through-api: the session's token does not verify with --keys (%w): use the gateway's key set", err)}
	}
	var mu sync.Mutex
	stopped := map[string]time.Time{} // experiment id → when its stop was requested
	// What marks the transition to cancelled in a frame, made once: stamp runs for every frame.
	moved, cancelled := []byte(`"type":"`+events.ExperimentMoved+`"`), []byte(`"to":"cancelled"`)
	return &eventSource{
		tenants: []uuid.UUID{who.Tenant}, verb: "creating and stopping", from: "stop request",
		cause: func(ctx context.Context, n int) error {
			var e store.Experiment
			create := apiclient.NewExperiment{Name: "loadtest-" + strconv.Itoa(n), Description: "phoenix test load",
				Baseline: store.PipelineChoice{Template: "process-baseline"}, Candidate: store.PipelineChoice{Template: "process-topk"},
				DurationSeconds: 60}
			if err := api.call(ctx, http.MethodPost, "/v1/experiments", create, &e); err != nil {
				return fmt.Errorf("create experiment: %w", err)
			}
			mu.Lock()
			stopped[e.ID.String()] = time.Now() // before the request: the event may arrive before its answer
			mu.Unlock()
			if _, err := api.api.Act(ctx, e.ID.String(), "stop", "phoenix test load"); err != nil {
				return fmt.Errorf("stop experiment %s: %w", e.ID, err)
			}
			return nil
		},
		stamp: func(frame []byte) (time.Time, bool) {
			if !bytes.Contains(frame, moved) || !bytes.Contains(frame, cancelled) {
				return time.Time{}, false
			}
			id, ok := stringAfter(frame, `"experiment_id":"`)
			if !ok {
				return time.Time{}, false
			}
			mu.Lock()
			at, ours := stopped[id]
			mu.Unlock()
			return at, ours
		},
		close: func() {},
	}, nil
}
