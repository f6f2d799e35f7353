package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/test/redistest"
)

// newWindows is a window store over the real Redis under keys of this test alone.
func newWindows(t *testing.T, length time.Duration) *windows {
	t.Helper()
	rdb := redistest.Client(t)
	return &windows{rdb: rdb, prefix: redistest.Prefix(t, rdb), length: length, keep: time.Hour, dedupe: time.Minute}
}

// roomInWindow waits, if need be, until the current window of w has at least room left.
func roomInWindow(t *testing.T, w *windows, room time.Duration) {
	t.Helper()
	now, err := w.rdb.Time(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	if end := now.Truncate(w.length).Add(w.length); end.Sub(now) < room {
		time.Sleep(end.Sub(now) + 5*time.Millisecond) // waiting for Redis's clock to reach the next window
	}
}

// recordReadings records each reading as one request of its own and returns the windows they
// landed in, in order.
func recordReadings(t *testing.T, w *windows, exp uuid.UUID, rs ...reading) []time.Time {
	t.Helper()
	starts := make([]time.Time, 0, len(rs))
	for _, r := range rs {
		parts, err := w.record(context.Background(), uuid.Nil, exp, experiment.Baseline, measurement{readings: []reading{r}, parts: []part{{start: -1}}}, 0, 0)
		if err != nil || len(parts) != 1 {
			t.Fatal(parts, err)
		}
		starts = append(starts, parts[0].window)
	}
	return starts
}

func readTotals(t *testing.T, w *windows, exp uuid.UUID, start time.Time) totals {
	t.Helper()
	tot, err := w.read(context.Background(), window{experiment: exp, variant: experiment.Baseline, start: start, length: w.length})
	if err != nil {
		t.Fatal(err)
	}
	return tot
}

// at is a reading of collector name at second s of a process started at second p, with CPU
// seconds cpu and accepted and refused points.
func at(name string, s, p int64, cpu, accepted, refused float64) reading {
	ms := t0.UnixMilli() + s*1000
	return reading{instance: name, millis: ms, has: hasCPU | hasUptime | hasAccepted | hasRefused, cpu: cpu,
		uptime: float64(s - p), started: t0.UnixMilli() + p*1000, accepted: accepted, refused: refused}
}

func TestWindows_CollectorInputIsTheIncreaseBetweenReadingsAndRestartsAddNothing(t *testing.T) {
	t.Parallel()
	w := newWindows(t, time.Minute)
	lacking := func(r reading, bits uint8) reading { r.has &^= bits; return r }
	tests := []struct {
		name              string
		readings          []reading // in the order they arrive
		received, refused *int64
		restarts          int
		cpu               map[string][2]float64 // CPU seconds over seconds, per collector
		seconds           float64               // collector-seconds the input spans (0: none known)
	}{
		{"a first reading has no interval: nothing known",
			[]reading{at("a", 5, 0, 1, 1000, 0)}, nil, nil, 0, map[string][2]float64{}, 0},
		{"the increase between consecutive readings",
			[]reading{at("a", 5, 0, 1, 1000, 2), at("a", 10, 0, 1.5, 3000, 2), at("a", 15, 0, 2, 6500, 9)},
			ptrInt(5500), ptrInt(7), 0, map[string][2]float64{"a": {1, 10}}, 10},
		{"summed over collectors",
			[]reading{at("a", 5, 0, 1, 1000, 0), at("b", 6, 0, 1, 100, 0), at("a", 10, 0, 2, 2000, 0), at("b", 11, 0, 2, 400, 0)},
			ptrInt(1300), ptrInt(0), 0, map[string][2]float64{"a": {1, 5}, "b": {1, 5}}, 10},
		{"accepted points fell: a restart, and the interval adds nothing",
			[]reading{at("a", 5, 0, 1, 1000, 0), at("a", 10, 0, 2, 2000, 0), at("a", 20, 14, 2.5, 1500, 0), at("a", 25, 14, 3, 2500, 0)},
			ptrInt(2000), ptrInt(0), 1, map[string][2]float64{"a": {1.5, 10}}, 10},
		{"one restart per collector however many counters fell",
			[]reading{at("a", 5, 0, 4, 9000, 50), at("a", 30, 28, 0.5, 100, 0)}, nil, nil, 1, map[string][2]float64{}, 0},
		{"only the uptime fell",
			[]reading{changed(at("a", 5, 0, 1, 1000, 0), func(r *reading) { r.uptime, r.started = 50, 0 }), at("a", 10, 3, 2, 2000, 0)},
			nil, nil, 1, map[string][2]float64{}, 0},
		{"the process started later though every counter grew (a quick crash after a reading)",
			[]reading{at("a", 5, 0, 0.5, 1000, 0), at("a", 15, 4, 0.7, 1100, 0)}, nil, nil, 1, map[string][2]float64{}, 0},
		{"a retried older reading is neither an interval nor a restart",
			[]reading{at("a", 5, 0, 1, 1000, 0), at("a", 10, 0, 2, 2000, 0), at("a", 5, 0, 1, 1000, 0), at("a", 15, 0, 3, 3000, 0)},
			ptrInt(2000), ptrInt(0), 0, map[string][2]float64{"a": {2, 10}}, 10},
		{"a reading without receiver counters: the next one starts a new receiver interval",
			[]reading{at("a", 5, 0, 1, 1000, 0), lacking(at("a", 10, 0, 2, 2000, 0), hasAccepted|hasRefused), at("a", 15, 0, 3, 3000, 0)},
			nil, nil, 0, map[string][2]float64{"a": {2, 10}}, 0},
		{"collectors whose telemetry has no uptime or refused counter",
			[]reading{lacking(at("a", 5, 0, 1, 1000, 0), hasUptime|hasRefused), lacking(at("a", 10, 0, 2, 1400, 0), hasUptime|hasRefused)},
			ptrInt(400), nil, 0, map[string][2]float64{"a": {1, 5}}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := uuid.New()
			roomInWindow(t, w, 5*time.Second)
			starts := recordReadings(t, w, exp, tt.readings...)
			for _, s := range starts[1:] {
				if !s.Equal(starts[0]) {
					t.Fatalf("the readings landed in windows %v, want one", starts)
				}
			}
			got := readTotals(t, w, exp, starts[0])
			if !eqInt(got.received, tt.received) || !eqInt(got.refused, tt.refused) || got.restarts != tt.restarts {
				t.Errorf("received %v refused %v restarts %d, want %v %v %d",
					deref(got.received), deref(got.refused), got.restarts, deref(tt.received), deref(tt.refused), tt.restarts)
			}
			if secs := derefFloat(got.receivedT); secs < tt.seconds-1e-9 || secs > tt.seconds+1e-9 || (got.receivedT == nil) != (got.received == nil) {
				t.Errorf("input over %v collector-seconds (received %v), want %v", secs, deref(got.received), tt.seconds)
			}
			if len(got.cpu) != len(tt.cpu) {
				t.Errorf("cpu %v, want %v", got.cpu, tt.cpu)
			}
			for inst, want := range tt.cpu {
				if c := got.cpu[inst]; c[0] < want[0]-1e-9 || c[0] > want[0]+1e-9 || c[1] != want[1] {
					t.Errorf("cpu of %s %v, want %v", inst, c, want)
				}
			}
		})
	}
}

func TestWindows_CollectorInputCountsInTheWindowTheNewReadingLandsIn(t *testing.T) {
	t.Parallel()
	w := newWindows(t, time.Second)
	exp := uuid.New()
	next := func() {
		roomInWindow(t, w, w.length) // waits for the next window: no window has a whole length left
	}
	roomInWindow(t, w, 700*time.Millisecond)
	first := recordReadings(t, w, exp, at("a", 5, 0, 1, 1000, 0))[0]
	next()
	second := recordReadings(t, w, exp, at("a", 10, 0, 2, 2500, 1))[0]
	next()
	third := recordReadings(t, w, exp, at("a", 20, 18, 0.2, 300, 0))[0]
	if !first.Before(second) || !second.Before(third) {
		t.Fatalf("windows %s %s %s, want three in order", first, second, third)
	}
	tests := []struct {
		name              string
		start             time.Time
		received, refused *int64
		restarts          int
	}{
		{"the first reading's window knows no input", first, nil, nil, 0},
		{"the second reading's window has the increase since the first", second, ptrInt(1500), ptrInt(1), 0},
		{"the restarted collector's first reading: a restart, no input", third, nil, nil, 1},
	}
	for _, tt := range tests {
		got := readTotals(t, w, exp, tt.start)
		if !eqInt(got.received, tt.received) || !eqInt(got.refused, tt.refused) || got.restarts != tt.restarts {
			t.Errorf("%s: received %v refused %v restarts %d, want %v %v %d", tt.name,
				deref(got.received), deref(got.refused), got.restarts, deref(tt.received), deref(tt.refused), tt.restarts)
		}
	}
}

// derefFloat reads a quantity that may be absent as 0.
func derefFloat(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// deref prints a count that may be absent.
func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}
