package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/test/redistest"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Limit
		ok   bool
	}{
		{"10/m", Limit{10, time.Minute}, true},
		{" 200/s ", Limit{200, time.Second}, true},
		{"5/h", Limit{5, time.Hour}, true},
		{"off", Limit{}, true},
		{"0/m", Limit{0, time.Minute}, true},
		{"10", Limit{}, false},
		{"ten/m", Limit{}, false},
		{"10/d", Limit{}, false},
		{"-1/s", Limit{}, false},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("Parse(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestAllow_RefusesOverTheLimitPerKey(t *testing.T) {
	rdb := redistest.Client(t)
	l := New(rdb, redistest.Prefix(t, rdb))
	ctx := context.Background()
	lim := Limit{Rate: 3, Period: time.Minute}
	for i := range 3 {
		d, err := l.Allow(ctx, "ip:1", lim)
		if err != nil || !d.Allowed {
			t.Fatalf("event %d refused: %+v %v", i, d, err)
		}
	}
	d, err := l.Allow(ctx, "ip:1", lim)
	if err != nil || d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 20*time.Second+time.Second {
		t.Fatalf("4th event: %+v %v; want refused with retry-after about 20s", d, err)
	}
	if d, _ := l.Allow(ctx, "ip:2", lim); !d.Allowed {
		t.Fatal("another key shares the budget")
	}
	if d, _ := l.Allow(ctx, "ip:1", Limit{}); !d.Allowed {
		t.Fatal("disabled limit refused")
	}
	if !l.FirstRefusal(ctx, "ip:1", time.Minute) || l.FirstRefusal(ctx, "ip:1", time.Minute) {
		t.Fatal("FirstRefusal must be true once per window")
	}
	if got := RetryAfterSeconds(1500 * time.Millisecond); got != "2" {
		t.Fatalf("RetryAfterSeconds = %s", got)
	}
}
