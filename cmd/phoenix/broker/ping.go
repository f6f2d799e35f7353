package broker

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/robfig/cron/v3"
)

// pingEventType is the type Knative's PingSource gives its events.
const pingEventType = "dev.knative.sources.ping"

// runPing emits p's event into the ingress path at every tick of its schedule until ctx ends.
// A tick that comes while the previous event still waits for room in the queue is skipped,
// as a missed cron tick is.
func (b *Broker) runPing(ctx context.Context, p ping) {
	for {
		now := time.Now()
		next := p.schedule.Next(now)
		if next.IsZero() {
			b.log.Warn("PingSource schedule has no future tick", "ping_source", p.Name)
			return
		}
		if err := sleep(ctx, next.Sub(now)); err != nil {
			return
		}
		e := b.pingEvent(p.PingSource, next)
		if err := b.admit(ctx, e); err != nil {
			return
		}
		b.log.Debug("PingSource ticked", "ping_source", p.Name, "event_id", e.ID())
	}
}

// pingEvent is the event a PingSource emits at tick t, shaped like Knative's.
func (b *Broker) pingEvent(p PingSource, t time.Time) event.Event {
	e := event.New()
	e.SetID(uuid.NewString())
	e.SetType(pingEventType)
	e.SetSource(fmt.Sprintf("/apis/v1/namespaces/%s/pingsources/%s", b.namespace, p.Name))
	e.SetTime(t)
	if p.Data != "" {
		contentType := p.ContentType
		if contentType == "" {
			contentType = event.ApplicationJSON
		}
		// Bytes go in as they are; SetData would JSON-encode a string a second time.
		_ = e.SetData(contentType, []byte(p.Data))
	}
	e.SetExtension(ttlExtension, int32(defaultTTL))
	return e
}

// parseSchedule reads standard cron (five fields, descriptors, CRON_TZ=), as PingSource does.
// "@every" is read here instead: robfig/cron rounds it up to whole seconds, and dev runs and
// tests want ticks faster than that.
func parseSchedule(spec string) (cron.Schedule, error) {
	if rest, ok := strings.CutPrefix(strings.TrimSpace(spec), "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil {
			return nil, err
		}
		if d <= 0 {
			return nil, fmt.Errorf("@every %s: must be positive", d)
		}
		return every(d), nil
	}
	return cron.ParseStandard(spec)
}

// every is a constant-delay cron.Schedule without robfig's one-second floor.
type every time.Duration

func (d every) Next(t time.Time) time.Time { return t.Add(time.Duration(d)) }
