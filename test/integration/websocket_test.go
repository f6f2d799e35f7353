package integration

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/cmd/phoenix/smoke"
)

// websocketSteps are the websocket scenario's checks, in order.
var websocketSteps = []string{
	"a handshake without a token is refused with 401",
	"subscribe to a new experiment's channel and the tenant channel",
	"started, its transitions arrive in order with gap-free seq on both channels",
	"while disconnected, the experiment ends",
	"a reconnect with since replays exactly what was missed",
}

// TestWebSocket_DeliveryAndRecovery runs the websocket scenario against the real gateway, then
// through proxies that lose, reorder or fail to replay events: each must fail the scenario.
func TestWebSocket_DeliveryAndRecovery(t *testing.T) {
	t.Parallel()
	p := startDev(t, devOptions{})
	tenant := p.tenant(t, "websocket")
	ctx := context.Background()
	n := 0
	account := func() smoke.Credentials {
		n++
		return smoke.Credentials{Primary: p.user(t, tenant, "ops"+strings.Repeat("x", n)+"@ws.example", "operator")}
	}

	t.Run("the gateway passes", func(t *testing.T) {
		res := smoke.WebSocket(ctx, p.target, account(), smoke.Options{})
		requirePassed(t, res, websocketSteps...)
	})

	// edit runs fn on the experiment channel's event frames, counting them from 1.
	edit := func(fn func(i int, f map[string]any) map[string]any) frameEdit {
		var mu sync.Mutex
		i := 0
		return func(f map[string]any) map[string]any {
			ch, _ := f["channel"].(string)
			if f["type"] != "event" || !strings.HasPrefix(ch, "experiment:") {
				return f
			}
			mu.Lock()
			defer mu.Unlock()
			i++
			return fn(i, f)
		}
	}
	for _, tc := range []struct {
		name string
		fn   func(i int, f map[string]any) map[string]any
		step string // the step that must fail
		want string // what it must say (numbers left out: a channel's numbering starts at Redis's clock)
	}{
		{"a lost event is caught", func(i int, f map[string]any) map[string]any {
			if i == 2 {
				return nil
			}
			return f
		}, websocketSteps[2], "is missing"}, // one event: "seq jumped from N to N+2: event N+1 is missing"
		{"a renumbered channel is caught", func(i int, f map[string]any) map[string]any {
			if i == 2 {
				f["seq"] = f["seq"].(float64) + 5
			}
			return f
		}, websocketSteps[2], "are missing"}, // "seq jumped from N to N+6: events N+1–N+5 are missing"
		{"a missing replay is caught", func(i int, f map[string]any) map[string]any {
			if i >= 3 { // the first two arrive live; everything after is the replay
				return nil
			}
			return f
		}, websocketSteps[4], "stopped at"}, // "replay after N stopped at N of N+1"
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A lost replay is noticed when the wait for it times out: long enough for the live
			// part on a loaded machine, short enough to keep the suite quick.
			gw := tamperGateway(t, p.target.Gateway, edit(tc.fn))
			res := smoke.WebSocket(ctx, smoke.Target{API: p.target.API, Gateway: gw}, account(), smoke.Options{Timeout: 8 * time.Second})
			requireFailedAt(t, res, tc.step, tc.want)
		})
	}
}
