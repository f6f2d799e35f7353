package bootstrap

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/phoenixotel/phoenix/shared/function"
)

// DependencyCheckTimeout bounds the dependency checks of one scrape: well inside Prometheus's
// default 10 s scrape timeout, so a dependency that hangs reads as down instead of failing the
// whole scrape.
const DependencyCheckTimeout = 2 * time.Second

// Instrument registers on reg, for the deployable called name, the saturation of each
// connection pool it opened (phoenix_pool_*{pool="postgres"|"redis"}) and a health check of each
// dependency (phoenix_dependency_up). Both are read at scrape time, so an idle function pays
// nothing between scrapes. Run calls it for every deployable.
func (r *Resources) Instrument(name string, reg prometheus.Registerer) error {
	var cs []prometheus.Collector
	checks := map[string]func(context.Context) error{}
	if r.Store != nil {
		cs = append(cs, function.NewPoolCollector(name, "postgres", func() function.PoolStats { return fromPgx(r.Store.PoolStats()) }))
		checks["postgres"] = r.Store.Ping
	}
	if r.Redis != nil {
		size := r.Redis.Options().PoolSize
		cs = append(cs, function.NewPoolCollector(name, "redis", func() function.PoolStats { return fromRedis(r.Redis.PoolStats(), size) }))
		checks["redis"] = func(ctx context.Context) error { return r.Redis.Ping(ctx).Err() }
	}
	if len(checks) > 0 {
		cs = append(cs, function.NewDependencyCollector(name, DependencyCheckTimeout, checks))
	}
	if r.Revocation != nil {
		// The revocation checks' answers (phoenix_revocation_checks_total) and cache rebuilds; a
		// gateway's second revocation view shares these instruments.
		cs = append(cs, r.Revocation.Metrics())
	}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return fmt.Errorf("register the pool and dependency metrics of %s: %w", name, err)
		}
	}
	return nil
}

// fromPgx maps pgxpool's statistics onto the runtime's: a wait is an acquisition that found no
// idle connection (EmptyAcquireCount) and its time is what such acquisitions spent waiting; a
// failure is an acquisition cancelled (by its context's deadline or cancellation) while waiting.
func fromPgx(s *pgxpool.Stat) function.PoolStats {
	return function.PoolStats{
		Max:      int64(s.MaxConns()),
		Idle:     int64(s.IdleConns()),
		InUse:    int64(s.AcquiredConns()),
		Acquires: count(s.AcquireCount()),
		Waits:    count(s.EmptyAcquireCount()),
		WaitTime: s.EmptyAcquireWaitTime(),
		Failures: count(s.CanceledAcquireCount()),
	}
}

// fromRedis maps go-redis's statistics onto the runtime's. go-redis counts a connection taken
// from the pool as a hit and one it had to dial or wait for as a miss, so acquisitions are both;
// a failure is a wait that timed out (PoolTimeout). Its pub/sub connections live in a pool of
// their own and are not counted here. size is the client's PoolSize, the most it opens.
func fromRedis(s *redis.PoolStats, size int) function.PoolStats {
	in := int64(s.TotalConns) - int64(s.IdleConns)
	return function.PoolStats{
		Max:      int64(size),
		Idle:     int64(s.IdleConns),
		InUse:    max(in, 0), // the two are read one after the other, not atomically
		Acquires: uint64(s.Hits) + uint64(s.Misses),
		Waits:    uint64(s.WaitCount),
		WaitTime: time.Duration(s.WaitDurationNs),
		Failures: uint64(s.Timeouts),
	}
}

// count converts one of pgx's counters, which never go below zero, to the runtime's unsigned one.
func count(n int64) uint64 {
	if n < 0 {
		return 0
	}
	return uint64(n) // #nosec G115 -- n is not negative
}
