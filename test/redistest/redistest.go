// Package redistest gives each test the real Redis and a key prefix of its own, so suites can run
// side by side on one server and leave nothing behind.
//
// The server is found through REDIS_ADDR (default 127.0.0.1:6379, the machine's Redis).
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Addr is the Redis the tests use.
func Addr() string {
	if a := os.Getenv("REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// Client connects to the test Redis, fails the test when it does not answer, and closes the
// connection when the test ends.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: Addr()})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		t.Fatalf("redis at %s: %v", Addr(), err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// Prefix is a key prefix no other test uses; the keys under it are deleted when the test ends
// (before rdb closes, as cleanups run last-registered first).
func Prefix(t testing.TB, rdb *redis.Client) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "phoenix-test:" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx := context.Background()
		var keys []string
		iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			_ = rdb.Del(ctx, keys...).Err()
		}
	})
	return prefix
}
