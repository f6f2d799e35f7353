package main

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	bp, cp := millionSamples(b)
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

// millionSamples writes a baseline and a candidate file of 1M normal values each (means 1000
// and 990, sd 50) and returns their paths.
func millionSamples(b *testing.B) (baseline, candidate string) {
	dir := b.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	mk := func(mean float64) []float64 {
		xs := make([]float64, 1_000_000)
		for i := range xs {
			xs[i] = mean + r.NormFloat64()*50
		}
		return xs
	}
	return writeLines(b, dir, "b.txt", mk(1000)), writeLines(b, dir, "c.txt", mk(990))
}

// BenchmarkAnalyzeMWU1M is BenchmarkAnalyze1M with --method mwu: Welch, and Mann–Whitney with
// the Hodges–Lehmann interval over 10¹² pairwise differences:
//
//	go test -run '^$' -bench AnalyzeMWU1M ./cmd/phoenix
func BenchmarkAnalyzeMWU1M(b *testing.B) {
	bp, cp := millionSamples(b)
	for b.Loop() {
		xs, ys, err := readSamples(bp, cp)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := analysis.WelchTTest(xs, ys, 0.95); err != nil {
			b.Fatal(err)
		}
		if _, err := analysis.MannWhitneyU(xs, ys, 0.95); err != nil {
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

// runAnalyze runs the command in-process and returns stdout.
func runAnalyze(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := analyzeCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestAnalyze_MethodMWU(t *testing.T) {
	dir := t.TempDir()
	// Reference (scipy 1.10, numpy 1.24): mannwhitneyu(c, b, method="exact") → U = 0,
	// p = 0.02857142857142857; np.median(np.subtract.outer(c, b)) = −3.25; with 4 and 4 values
	// the 95% interval is the widest, [min, max] = [−5.5, −1.0], covering 1 − 2/70.
	b := writeLines(t, dir, "b.txt", []float64{10, 12, 11, 13})
	c := writeLines(t, dir, "c.txt", []float64{8, 9, 7.5, 8.2})
	out, err := runAnalyze(t, "--baseline", b, "--candidate", c, "--format", "json", "--method", "mwu")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Welch       struct{ T float64 } `json:"welch"`
		Significant bool                `json:"significant"`
		Outcome     string              `json:"outcome"`
		Method      string              `json:"method"`
		MannWhitney struct {
			U             float64 `json:"u"`
			PValue        float64 `json:"p_value"`
			Exact         bool    `json:"exact"`
			HodgesLehmann struct {
				Estimate float64 `json:"estimate"`
				CILower  float64 `json:"ci_lower"`
				CIUpper  float64 `json:"ci_upper"`
				Coverage float64 `json:"coverage"`
			} `json:"hodges_lehmann"`
		} `json:"mann_whitney"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	hl := got.MannWhitney.HodgesLehmann
	if got.Method != "mwu" || got.MannWhitney.U != 0 || !got.MannWhitney.Exact || math.Abs(got.MannWhitney.PValue-0.02857142857142857) > 1e-15 ||
		hl.Estimate != -3.25 || hl.CILower != -5.5 || hl.CIUpper != -1 || math.Abs(hl.Coverage-(1-2.0/70)) > 1e-15 {
		t.Errorf("mann_whitney: %s", out)
	}
	if !got.Significant || got.Outcome != "improved" || got.Welch.T >= 0 {
		t.Errorf("decision: %s", out)
	}
	text, err := runAnalyze(t, "--baseline", b, "--candidate", c, "--method", "mwu")
	if err != nil || !strings.Contains(text, "Hodges-Lehmann shift (candidate - baseline): -3.25") || !strings.Contains(text, "by Mann-Whitney): improved") {
		t.Errorf("text: %v\n%s", err, text)
	}
	// Without --method the output has no Mann–Whitney block: the contract's default is Welch.
	plain, err := runAnalyze(t, "--baseline", b, "--candidate", c, "--format", "json")
	if err != nil || strings.Contains(plain, "mann_whitney") || !strings.Contains(plain, `"method":"welch"`) {
		t.Errorf("default: %v %s", err, plain)
	}
	if _, err := runAnalyze(t, "--baseline", b, "--candidate", c, "--method", "sign"); err == nil {
		t.Error("--method sign accepted")
	}
}
