package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// ErrInvalidPayload is returned by Publish when the payload is not valid
// JSON; subscribers embed payloads verbatim in JSON frames, so anything else
// would be dropped on the way out.
var ErrInvalidPayload = errors.New("realtime: payload is not valid JSON")

// Publisher publishes experiment events to the tenant and experiment
// channels. It is safe for concurrent use.
type Publisher struct {
	// rdb is the client whose pool carries the MULTI/EXEC.
	rdb *redis.Client
	// prefix namespaces the channel names, see TenantChannel.
	prefix string
}

// NewPublisher returns a Publisher that publishes through rdb on channels
// named with prefix. rdb stays owned by the caller.
func NewPublisher(rdb *redis.Client, prefix string) *Publisher {
	return &Publisher{rdb: rdb, prefix: prefix}
}

// Publish sends payload, an opaque JSON document (a structured CloudEvent),
// to the channel of tenant and to the channel of experiment within it, in one
// MULTI/EXEC so that a subscriber of both sees both or neither. The tenant
// channel is published first.
func (p *Publisher) Publish(ctx context.Context, tenant, experiment uuid.UUID, payload []byte) error {
	if !json.Valid(payload) {
		return fmt.Errorf("publish event of experiment %s: %w", experiment, ErrInvalidPayload)
	}
	_, err := p.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Publish(ctx, TenantChannel(p.prefix, tenant), payload)
		pipe.Publish(ctx, ExperimentChannel(p.prefix, tenant, experiment), payload)
		return nil
	})
	if err != nil {
		return fmt.Errorf("publish event of experiment %s: %w", experiment, err)
	}
	return nil
}
