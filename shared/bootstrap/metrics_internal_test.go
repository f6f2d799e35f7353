package bootstrap

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/phoenixotel/phoenix/shared/function"
)

func TestFromRedis_MapsGoRedisCountersOntoThePoolMetrics(t *testing.T) {
	tests := []struct {
		name string
		in   redis.PoolStats
		size int
		want function.PoolStats
	}{
		{"idle pool", redis.PoolStats{TotalConns: 3, IdleConns: 3, Hits: 10, Misses: 3}, 10,
			function.PoolStats{Max: 10, Idle: 3, InUse: 0, Acquires: 13}},
		{"busy pool that waited and timed out", redis.PoolStats{TotalConns: 20, IdleConns: 2, Hits: 100, Misses: 40,
			WaitCount: 7, WaitDurationNs: int64(1500 * time.Millisecond), Timeouts: 2}, 20,
			function.PoolStats{Max: 20, Idle: 2, InUse: 18, Acquires: 140, Waits: 7, WaitTime: 1500 * time.Millisecond, Failures: 2}},
		{"idle read after a connection closed", redis.PoolStats{TotalConns: 2, IdleConns: 3}, 10,
			function.PoolStats{Max: 10, Idle: 3, InUse: 0}},
		{"counters past 2^31", redis.PoolStats{Hits: 1 << 31, Misses: 1 << 31}, 1,
			function.PoolStats{Max: 1, Acquires: 1 << 32}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fromRedis(&tt.in, tt.size); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCount_NeverWrapsANegativeCounter(t *testing.T) {
	for in, want := range map[int64]uint64{-1: 0, 0: 0, 42: 42, 1 << 40: 1 << 40} {
		if got := count(in); got != want {
			t.Errorf("count(%d) = %d, want %d", in, got, want)
		}
	}
}
