package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Experiments answers whether an experiment exists in a tenant. The gateway asks before it
// subscribes a client to an experiment's channel, so that an id unknown in the caller's tenant
// (another tenant's included) is refused rather than silently empty.
type Experiments interface {
	ExperimentExists(ctx context.Context, tenant, experiment uuid.UUID) (bool, error)
}

// Bounds of the experiment cache.
const (
	// experimentCacheTTL is how long a positive answer is reused: experiments are never moved
	// between tenants, so a stale "yes" only outlives a deleted experiment by this much.
	experimentCacheTTL = 5 * time.Minute
	// experimentCacheSize caps the remembered answers; a full cache starts over.
	experimentCacheSize = 10000
)

// experimentCache remembers positive answers of an Experiments, so a reconnect storm of clients
// resubscribing to the same experiments does not become a storm of database reads. Negative
// answers are not kept: an experiment created a moment later must be subscribable at once.
type experimentCache struct {
	// src answers what the cache does not know.
	src Experiments
	// mu guards known.
	mu sync.Mutex
	// known maps (tenant, experiment) to when its "yes" stops being trusted.
	known map[[2]uuid.UUID]time.Time
}

// newExperimentCache wraps src.
func newExperimentCache(src Experiments) *experimentCache {
	return &experimentCache{src: src, known: make(map[[2]uuid.UUID]time.Time)}
}

// ExperimentExists answers from the cache or from src.
func (c *experimentCache) ExperimentExists(ctx context.Context, tenant, experiment uuid.UUID) (bool, error) {
	key := [2]uuid.UUID{tenant, experiment}
	now := time.Now()
	c.mu.Lock()
	until, ok := c.known[key]
	c.mu.Unlock()
	if ok && now.Before(until) {
		return true, nil
	}
	exists, err := c.src.ExperimentExists(ctx, tenant, experiment)
	if err != nil || !exists {
		return exists, err
	}
	c.mu.Lock()
	if len(c.known) >= experimentCacheSize {
		clear(c.known)
	}
	c.known[key] = now.Add(experimentCacheTTL)
	c.mu.Unlock()
	return true, nil
}
