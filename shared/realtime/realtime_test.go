package realtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/phoenixotel/phoenix/test/redistest"
)

func TestChannelNames(t *testing.T) {
	tenant := uuid.MustParse("11111111-1111-1111-1111-111111111111")
	experiment := uuid.MustParse("22222222-2222-2222-2222-222222222222")
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"tenant", TenantChannel("phoenix", tenant), "phoenix:tenant:11111111-1111-1111-1111-111111111111"},
		{"tenant without prefix", TenantChannel("", tenant), "tenant:11111111-1111-1111-1111-111111111111"},
		{"experiment", ExperimentChannel("phoenix", tenant, experiment),
			"phoenix:tenant:11111111-1111-1111-1111-111111111111:experiment:22222222-2222-2222-2222-222222222222"},
		{"experiment without prefix", ExperimentChannel("", tenant, experiment),
			"tenant:11111111-1111-1111-1111-111111111111:experiment:22222222-2222-2222-2222-222222222222"},
		{"tenant counter", Channel{Tenant: tenant}.CounterKey("phoenix"), "phoenix:seq:{11111111-1111-1111-1111-111111111111}"},
		{"experiment history", Channel{Tenant: tenant, Experiment: experiment}.historyKey("phoenix"),
			"phoenix:history:{11111111-1111-1111-1111-111111111111}:experiment:22222222-2222-2222-2222-222222222222"},
		{"revocations", RevocationChannel("phoenix"), "phoenix:revocations"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestExperimentChannel_DiffersBetweenTenants(t *testing.T) {
	experiment := uuid.New()
	a, b := ExperimentChannel("p", uuid.New(), experiment), ExperimentChannel("p", uuid.New(), experiment)
	if a == b {
		t.Fatalf("the same experiment ID in two tenants maps to one channel %q", a)
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		in      string
		want    Event
		wantErr bool
	}{
		{`1 {"a":1}`, Event{Seq: 1, Data: `{"a":1}`}, false},
		{`18446744073709551615 {}`, Event{Seq: 18446744073709551615, Data: `{}`}, false},
		{`7 {"text":"with spaces inside"}`, Event{Seq: 7, Data: `{"text":"with spaces inside"}`}, false},
		{`{"a":1}`, Event{}, true},
		{`0 {}`, Event{}, true},
		{`-1 {}`, Event{}, true},
		{`12`, Event{}, true},
		{``, Event{}, true},
	}
	for _, tt := range tests {
		got, err := Decode(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Decode(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// newRedis connects to the test Redis or fails the test.
func newRedis(t *testing.T) *redis.Client {
	t.Helper()
	return redistest.Client(t)
}

// testPrefix is a prefix of its own for one test, whose keys are deleted afterwards.
func testPrefix(t *testing.T, rdb *redis.Client) string {
	prefix := "realtime-test-" + uuid.NewString()
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := rdb.Keys(ctx, prefix+":*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	return prefix
}

func TestPublish_NumbersEachChannelAndPublishesTenantFirst(t *testing.T) {
	rdb := newRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	prefix := testPrefix(t, rdb)
	tenant, first, second := uuid.New(), uuid.New(), uuid.New()
	tenantCh := TenantChannel(prefix, tenant)
	firstCh, secondCh := ExperimentChannel(prefix, tenant, first), ExperimentChannel(prefix, tenant, second)

	sub := rdb.Subscribe(ctx, tenantCh, firstCh, secondCh)
	t.Cleanup(func() { _ = sub.Close() })
	for range 3 { // wait for the confirmations
		if _, err := sub.ReceiveTimeout(ctx, 5*time.Second); err != nil {
			t.Fatalf("subscribe: %v", err)
		}
	}
	p := NewPublisher(rdb, prefix)
	before := time.Now().UnixMicro()
	for _, e := range []uuid.UUID{first, second, first} {
		if err := p.Publish(ctx, tenant, e, []byte(`{"experiment":"`+e.String()+`"}`)); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	after := time.Now().UnixMicro()
	// The tenant channel numbers all three; each experiment channel its own, each from its
	// first number on (n below counts from 1).
	want := []struct {
		channel string
		n       uint64
		payload string
	}{
		{tenantCh, 1, `{"experiment":"` + first.String() + `"}`},
		{firstCh, 1, `{"experiment":"` + first.String() + `"}`},
		{tenantCh, 2, `{"experiment":"` + second.String() + `"}`},
		{secondCh, 1, `{"experiment":"` + second.String() + `"}`},
		{tenantCh, 3, `{"experiment":"` + first.String() + `"}`},
		{firstCh, 2, `{"experiment":"` + first.String() + `"}`},
	}
	starts := map[string]uint64{}
	for _, w := range want {
		m, err := sub.ReceiveMessage(ctx)
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		e, err := Decode(m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if w.n == 1 {
			starts[m.Channel] = e.Seq
		}
		if m.Channel != w.channel || e.Seq != starts[w.channel]+w.n-1 || e.Data != w.payload {
			t.Fatalf("got %q on %q, want number %d of %q on %q", m.Payload, m.Channel, w.n, w.payload, w.channel)
		}
	}
	// A new numbering starts at Redis's clock in microseconds (the same machine's clock here).
	for ch, start := range starts {
		if start < uint64(before) || start > uint64(after) {
			t.Errorf("%s starts at %d, want Redis's clock in µs, in [%d, %d]", ch, start, before, after)
		}
	}
}

func TestPublish_ConcurrentPublishersLeaveNoGaps(t *testing.T) {
	rdb := newRedis(t)
	ctx := context.Background()
	prefix := testPrefix(t, rdb)
	tenant, experiment := uuid.New(), uuid.New()
	p := NewPublisher(rdb, prefix)
	const publishers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, publishers*each)
	for w := range publishers {
		wg.Go(func() {
			for i := range each {
				errs <- p.Publish(ctx, tenant, experiment, fmt.Appendf(nil, `{"w":%d,"i":%d}`, w, i))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	h := NewHistory(rdb, prefix)
	for _, ch := range []Channel{{Tenant: tenant}, {Tenant: tenant, Experiment: experiment}} {
		events, latest, err := h.After(ctx, ch, 0, publishers*each)
		if err != nil {
			t.Fatalf("After: %v", err)
		}
		if len(events) != publishers*each || latest != events[0].Seq+publishers*each-1 || !events[0].First {
			t.Fatalf("latest %d, %d events; want %d of each, the first marked first", latest, len(events), publishers*each)
		}
		for i, e := range events {
			if e.Seq != events[0].Seq+uint64(i) {
				t.Fatalf("event %d has seq %d", i, e.Seq)
			}
		}
	}
}

func TestHistory_After(t *testing.T) {
	rdb := newRedis(t)
	ctx := context.Background()
	prefix := testPrefix(t, rdb)
	tenant, experiment := uuid.New(), uuid.New()
	ch := Channel{Tenant: tenant, Experiment: experiment}
	p, h := NewPublisher(rdb, prefix), NewHistory(rdb, prefix)
	for i := 1; i <= 5; i++ {
		if err := p.Publish(ctx, tenant, experiment, fmt.Appendf(nil, `{"n":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	b := firstNumber(t, h, ch) - 1 // number n of the channel is b+n
	tests := []struct {
		name       string
		ch         Channel
		after      uint64
		limit      int
		wantSeqs   []uint64
		wantLatest uint64
		wantErr    error
	}{
		{"everything: after 0, from the numbering's first", ch, 0, 10, []uint64{b + 1, b + 2, b + 3, b + 4, b + 5}, b + 5, nil},
		{"after 3", ch, b + 3, 10, []uint64{b + 4, b + 5}, b + 5, nil},
		{"a page", ch, b + 1, 2, []uint64{b + 2, b + 3}, b + 5, nil},
		{"up to date", ch, b + 5, 10, nil, b + 5, nil},
		{"beyond the latest", ch, b + 9, 10, nil, b + 5, ErrHistoryGap},
		{"a number just below the first: a numbering before this one", ch, b - 1, 10, nil, b + 5, ErrHistoryGap},
		{"a channel without events", Channel{Tenant: uuid.New()}, 0, 10, nil, 0, nil},
		{"a number the channel never had", Channel{Tenant: uuid.New()}, 3, 10, nil, 0, ErrHistoryGap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, latest, err := h.After(ctx, tt.ch, tt.after, tt.limit)
			if !errors.Is(err, tt.wantErr) || latest != tt.wantLatest {
				t.Fatalf("After = latest %d, err %v; want %d, %v", latest, err, tt.wantLatest, tt.wantErr)
			}
			var seqs []uint64
			for _, e := range events {
				seqs = append(seqs, e.Seq)
				if e.Data != fmt.Sprintf(`{"n":%d}`, e.Seq-b) || e.First != (e.Seq == b+1) {
					t.Fatalf("event %d data %s first %v", e.Seq, e.Data, e.First)
				}
			}
			if fmt.Sprint(seqs) != fmt.Sprint(tt.wantSeqs) {
				t.Fatalf("seqs %v, want %v", seqs, tt.wantSeqs)
			}
		})
	}
	if n, err := h.Latest(ctx, ch); err != nil || n != b+5 {
		t.Fatalf("Latest = %d, %v; want %d", n, err, b+5)
	}
}

// firstNumber is the number of the first event of ch's numbering, which the history must hold.
func firstNumber(t *testing.T, h *History, ch Channel) uint64 {
	t.Helper()
	events, _, err := h.After(context.Background(), ch, 0, 1)
	if err != nil || len(events) != 1 || !events[0].First {
		t.Fatalf("the first event of %v: %+v, %v", ch, events, err)
	}
	return events[0].Seq
}

func TestHistory_ReportsAGapOnceTrimmedOrExpired(t *testing.T) {
	rdb := newRedis(t)
	ctx := context.Background()
	prefix := testPrefix(t, rdb)
	tenant, experiment := uuid.New(), uuid.New()
	ch := Channel{Tenant: tenant, Experiment: experiment}
	// Trimming is approximate (whole stream nodes of 100 entries), so publish well beyond it.
	p, h := NewPublisher(rdb, prefix, WithHistory(10, time.Hour)), NewHistory(rdb, prefix)
	for i := 1; i <= 350; i++ {
		if err := p.Publish(ctx, tenant, experiment, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	latest, err := h.Latest(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	b := latest - 350 // number n is b+n
	for _, after := range []uint64{0, b + 1} {
		if _, got, err := h.After(ctx, ch, after, 10); !errors.Is(err, ErrHistoryGap) || got != latest {
			t.Fatalf("After(%d) on a trimmed history = latest %d, %v; want %d, ErrHistoryGap", after, got, err, latest)
		}
	}
	if events, _, err := h.After(ctx, ch, b+345, 10); err != nil || len(events) != 5 {
		t.Fatalf("After(345) = %d events, %v; want the last 5", len(events), err)
	}
	// The history expires before the counter: numbering continues, the gap is reported.
	if err := rdb.Del(ctx, ch.historyKey(prefix)).Err(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.After(ctx, ch, b+345, 10); !errors.Is(err, ErrHistoryGap) {
		t.Fatalf("After on an expired history = %v, want ErrHistoryGap", err)
	}
	if err := p.Publish(ctx, tenant, experiment, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if events, _, err := h.After(ctx, ch, b+350, 10); err != nil || len(events) != 1 || events[0].Seq != b+351 || events[0].First {
		t.Fatalf("After(350) = %+v, %v; want number 351, not a new numbering", events, err)
	}
}

func TestPublish_ContinuesNumberingWhenTheCounterIsLost(t *testing.T) {
	rdb := newRedis(t)
	ctx := context.Background()
	prefix := testPrefix(t, rdb)
	tenant, experiment := uuid.New(), uuid.New()
	ch := Channel{Tenant: tenant, Experiment: experiment}
	p, h := NewPublisher(rdb, prefix), NewHistory(rdb, prefix)
	for range 3 {
		if err := p.Publish(ctx, tenant, experiment, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	b := firstNumber(t, h, ch) - 1
	if err := rdb.Del(ctx, ch.CounterKey(prefix)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(ctx, tenant, experiment, []byte(`{}`)); err != nil {
		t.Fatalf("Publish after the counter was lost: %v", err)
	}
	if events, latest, err := h.After(ctx, ch, b+3, 10); err != nil || latest != b+4 || len(events) != 1 || events[0].First {
		t.Fatalf("After(3) = %+v, latest %d, %v; want number 4", events, latest, err)
	}
}

// TestPublish_ANumberingLostWithRedisMemoryCannotRepeat is a Redis restart without persistence:
// counters and histories gone. The new numbering starts above every old number, so a holder of
// an old number is told of the gap instead of receiving repeats it would drop.
func TestPublish_ANumberingLostWithRedisMemoryCannotRepeat(t *testing.T) {
	rdb := newRedis(t)
	ctx := context.Background()
	prefix := testPrefix(t, rdb)
	tenant, experiment := uuid.New(), uuid.New()
	p, h := NewPublisher(rdb, prefix), NewHistory(rdb, prefix)
	for range 50 {
		if err := p.Publish(ctx, tenant, experiment, []byte(`{"old":true}`)); err != nil {
			t.Fatal(err)
		}
	}
	channels := []Channel{{Tenant: tenant}, {Tenant: tenant, Experiment: experiment}}
	olds := map[Channel]uint64{}
	for _, ch := range channels {
		old, err := h.Latest(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		olds[ch] = old
		if err := rdb.Del(ctx, ch.CounterKey(prefix), ch.historyKey(prefix)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Publish(ctx, tenant, experiment, []byte(`{"new":true}`)); err != nil {
		t.Fatal(err)
	}
	for _, ch := range channels {
		old := olds[ch]
		events, latest, err := h.After(ctx, ch, old, 10)
		if !errors.Is(err, ErrHistoryGap) || latest <= old {
			t.Fatalf("%v: After(the old latest %d) = %+v, latest %d, %v; want ErrHistoryGap and a latest above it", ch, old, events, latest, err)
		}
		if first := firstNumber(t, h, ch); first != latest {
			t.Fatalf("%v: the new numbering's first is %d, latest %d", ch, first, latest)
		}
	}
}

func TestPublish_SetsExpiryOnCountersAndHistories(t *testing.T) {
	rdb := newRedis(t)
	ctx := context.Background()
	prefix := testPrefix(t, rdb)
	tenant, experiment := uuid.New(), uuid.New()
	if err := NewPublisher(rdb, prefix, WithHistory(10, time.Hour)).Publish(ctx, tenant, experiment, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	ch := Channel{Tenant: tenant, Experiment: experiment}
	tests := []struct {
		key      string
		min, max time.Duration
	}{
		{ch.historyKey(prefix), 59 * time.Minute, time.Hour},
		{ch.CounterKey(prefix), DefaultCounterTTL - time.Minute, DefaultCounterTTL},
	}
	for _, tt := range tests {
		ttl, err := rdb.TTL(ctx, tt.key).Result()
		if err != nil || ttl < tt.min || ttl > tt.max {
			t.Errorf("TTL of %s = %v, %v; want within [%v, %v]", tt.key, ttl, err, tt.min, tt.max)
		}
	}
}

func TestPublishRevocation_ReachesTheRevocationChannel(t *testing.T) {
	rdb := newRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	prefix := testPrefix(t, rdb)
	sub := rdb.Subscribe(ctx, RevocationChannel(prefix))
	t.Cleanup(func() { _ = sub.Close() })
	if _, err := sub.ReceiveTimeout(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	tenant := uuid.New()
	if err := NewPublisher(rdb, prefix).PublishRevocation(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	m, err := sub.ReceiveMessage(ctx)
	if err != nil || m.Payload != tenant.String() {
		t.Fatalf("got %v, %v; want %s", m, err, tenant)
	}
}

func TestPublish_RejectsPayloadThatIsNotJSON(t *testing.T) {
	p := NewPublisher(newRedis(t), "realtime-test-"+uuid.NewString())
	err := p.Publish(context.Background(), uuid.New(), uuid.New(), []byte(`{"truncated":`))
	if !errors.Is(err, ErrInvalidPayload) {
		t.Fatalf("Publish = %v, want ErrInvalidPayload", err)
	}
}

func TestRedisErrorsAreReported(t *testing.T) {
	rdb := newRedis(t)
	_ = rdb.Close()
	ctx := context.Background()
	ch := Channel{Tenant: uuid.New()}
	p, h := NewPublisher(rdb, "p"), NewHistory(rdb, "p")
	checks := map[string]error{
		"Publish":           p.Publish(ctx, uuid.New(), uuid.New(), []byte(`{}`)),
		"PublishRevocation": p.PublishRevocation(ctx, uuid.New()),
	}
	_, checks["Latest"] = h.Latest(ctx, ch)
	_, _, checks["After"] = h.After(ctx, ch, 0, 1)
	for name, err := range checks {
		if err == nil || !strings.Contains(err.Error(), "closed") {
			t.Errorf("%s on a closed client = %v, want an error", name, err)
		}
	}
}
