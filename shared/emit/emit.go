// Package emit sends CloudEvents to the broker: on Knative to $K_SINK (set by a SinkBinding or
// the source's sink), in `phoenix dev` to the local broker. It owns only the transport; which
// events exist is shared/events' business.
package emit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/protocol"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// ErrNoSink means no broker is configured, so commands cannot be sent.
var ErrNoSink = errors.New("no broker configured (set K_SINK)")

// Sender posts events to one sink in binary mode.
type Sender struct {
	client cloudevents.Client // the SDK's HTTP client
	sink   string             // the broker's ingress URL; empty means not configured
}

// New returns a sender to sink. An empty sink gives a sender whose Send returns ErrNoSink.
func New(sink string) (*Sender, error) {
	if sink == "" {
		return &Sender{}, nil
	}
	p, err := cloudevents.NewHTTP(cloudevents.WithTarget(sink), cehttp.WithClient(http.Client{Timeout: 10 * time.Second}))
	if err != nil {
		return nil, fmt.Errorf("broker client: %w", err)
	}
	c, err := cloudevents.NewClient(p, cloudevents.WithTimeNow())
	if err != nil {
		return nil, fmt.Errorf("broker client: %w", err)
	}
	return &Sender{client: c, sink: sink}, nil
}

// Configured reports whether a sink is set.
func (s *Sender) Configured() bool { return s.sink != "" }

// Send delivers e to the broker and returns an error unless the broker accepted it (2xx).
func (s *Sender) Send(ctx context.Context, e event.Event) error {
	if s.sink == "" {
		return ErrNoSink
	}
	res := s.client.Send(ctx, e)
	if protocol.IsACK(res) {
		return nil
	}
	return fmt.Errorf("send %s %s to the broker: %w", e.Type(), e.ID(), res)
}
