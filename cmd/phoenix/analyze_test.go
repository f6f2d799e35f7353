package main

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/phoenixotel/phoenix/shared/analysis"
)

func writeLines(tb testing.TB, dir, name string, xs []float64) string {
	tb.Helper()
	var buf bytes.Buffer
	for _, x := range xs {
		buf.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
		buf.WriteByte('\n')
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// BenchmarkAnalyze1M reads two files of 1M values each and runs the test, as `phoenix analyze`
// does (process start aside):
//
//	go test -run '^$' -bench Analyze1M ./cmd/phoenix
func BenchmarkAnalyze1M(b *testing.B) {
	dir := b.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	mk := func(mean float64) []float64 {
		xs := make([]float64, 1_000_000)
		for i := range xs {
			xs[i] = mean + r.NormFloat64()*50
		}
		return xs
	}
	bp, cp := writeLines(b, dir, "b.txt", mk(1000)), writeLines(b, dir, "c.txt", mk(990))
	st, _ := os.Stat(bp)
	b.SetBytes(2 * st.Size())
	for b.Loop() {
		xs, ys, err := readSamples(bp, cp)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := analysis.WelchTTest(xs, ys, 0.95); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzReadSample: whatever the file holds, the parser either refuses it or returns only finite
// numbers, never panics.
func FuzzReadSample(f *testing.F) {
	for _, seed := range []string{"1\n2\n", "1.5e3\n\n-2\n", "NaN\n", "inf\n1\n", "x\n", "", "1\r\n2\r\n", "0x1p-2\n3\n"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data string) {
		p := filepath.Join(t.TempDir(), "in.txt")
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		xs, err := readSample(p)
		if err != nil {
			return
		}
		if len(xs) < 2 {
			t.Fatalf("accepted %d values", len(xs))
		}
		for _, x := range xs {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Fatalf("accepted a non-finite value from %q", data)
			}
		}
	})
}
