package analysis

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// ar1 returns n values of x_t = phi·x_{t−1} + e_t around mean: what a gauge scraped every few
// seconds looks like.
func ar1(seed uint64, n int, phi, mean float64) []float64 {
	r := rand.New(rand.NewPCG(seed, 3))
	xs := make([]float64, n)
	x := 0.0
	for i := range xs {
		x = phi*x + r.NormFloat64()
		xs[i] = mean + x
	}
	return xs
}

func TestWindowSize_BatchesAutocorrelatedSeriesUntilIndependent(t *testing.T) {
	series := ar1(1, 3000, 0.95, 100)
	size, err := WindowSize(Batching{}, series)
	if err != nil {
		t.Fatal(err)
	}
	w, err := BatchMeans(series, size, 0)
	if err != nil {
		t.Fatal(err)
	}
	if size < 16 || w.Count < DefaultMinWindows || !w.Independent || *w.Lag1Before < 0.9 || *w.Lag1After > DefaultMaxLag1 {
		t.Fatalf("size %d: %+v", size, w)
	}
	if !strings.Contains(w.Note, "windows of") || !strings.Contains(w.Note, "before") {
		t.Errorf("note %q", w.Note)
	}
	// The same series shuffled has no autocorrelation: it is cut only to stay within
	// MaxWindows, 1000 by default.
	r := rand.New(rand.NewPCG(2, 2))
	r.Shuffle(len(series), func(i, j int) { series[i], series[j] = series[j], series[i] })
	if size, _ := WindowSize(Batching{}, series); size != 3 {
		t.Errorf("independent series of 3000 batched by %d, want 3", size)
	}
	if size, _ := WindowSize(Batching{MaxWindows: 5000}, series); size != 1 {
		t.Errorf("independent series batched by %d with room for 5000 windows", size)
	}
}

func TestWindowSize_Settings(t *testing.T) {
	long, short := make([]float64, 100), make([]float64, 37)
	tests := []struct {
		name string
		b    Batching
		want int
		err  error
	}{
		{"fixed size", Batching{Size: 7}, 7, nil},
		{"count of the shortest", Batching{Count: 5}, 7, nil},
		{"count above the length", Batching{Count: 50}, 1, nil},
		{"negative size", Batching{Size: -1}, 0, ErrParameter},
		{"max lag 1", Batching{MaxLag1: 1}, 0, ErrParameter},
		{"negative max windows", Batching{MaxWindows: -1}, 0, ErrParameter},
		{"at most 10 windows", Batching{MaxWindows: 10}, 10, nil},
		{"constant series need none", Batching{}, 1, nil},
	}
	for _, tt := range tests {
		got, err := WindowSize(tt.b, long, short)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("%s: %d, %v; want %d, %v", tt.name, got, err, tt.want, tt.err)
		}
	}
}

func TestBatchMeans_DropsTheOldestAndAveragesTheRest(t *testing.T) {
	w, err := BatchMeans([]float64{100, 1, 2, 3, 4, 5, 6, 7}, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	if w.Dropped != 2 || w.Count != 2 || w.Means[0] != 3 || w.Means[1] != 6 || w.Lag1After != nil || !w.Independent {
		t.Fatalf("%+v", w)
	}
	if _, err := BatchMeans([]float64{1}, 0, 0); !errors.Is(err, ErrParameter) {
		t.Errorf("size 0: %v", err)
	}
}

func TestDecide_WindowsAutocorrelatedKPIs(t *testing.T) {
	d, err := Decide([]Series{goal("series", ar1(5, 2000, 0.9, 1000), ar1(6, 2000, 0.9, 990))}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := d.Metrics[0]
	if m.Baseline.Windows.Size < 8 || m.Baseline.Windows.Size != m.Candidate.Windows.Size || stepResult(m.Trace, "windows") != Pass {
		t.Fatalf("windows %+v; trace %+v", m.Baseline.Windows, m.Trace)
	}
	// Taken one by one, the same samples look far more certain than they are.
	raw, _ := WelchTTest(ar1(5, 2000, 0.9, 1000), ar1(6, 2000, 0.9, 990), 0.95)
	if !(m.Welch.CIHigh-m.Welch.CILow > 2*(raw.CIHigh-raw.CILow)) {
		t.Errorf("windowed CI width %v, raw %v", m.Welch.CIHigh-m.Welch.CILow, raw.CIHigh-raw.CILow)
	}
}
