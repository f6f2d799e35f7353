package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/phoenixotel/phoenix/shared/analysis"
)

// inputError is bad input named by file and line; the command exits with status 2 for it.
type inputError struct{ error }

func analyzeCmd() *cobra.Command {
	var o struct {
		baseline, candidate, direction, format, method string
		alpha, confidence                              float64
		paired                                         bool
	}
	cmd := &cobra.Command{
		Use:   "analyze --baseline FILE --candidate FILE",
		Short: "Compare two samples with Welch's t-test (candidate minus baseline), or paired windows with --paired",
		Long: "Each FILE holds one number per line (blank lines ignored). A line that is not a finite number,\n" +
			"fewer than 2 values, or both samples constant is refused with exit status 2.\n\n" +
			"--method mwu adds the Mann–Whitney U test and the Hodges–Lehmann shift with its interval\n" +
			"(robust to outliers and heavy tails) and lets it decide significant and outcome.\n\n" +
			"--paired compares line i of both files as one window's pair, oldest first, as an experiment's\n" +
			"analysis does: the change (log-ratio when every value is positive, else the difference) with an\n" +
			"interval that holds under autocorrelation up to lag-1 0.9 (equal-weighted cosine long-run variance,\n" +
			"guarded critical value); both files need the same number of values, at least 3.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.direction != "lower" && o.direction != "higher" {
				return inputError{fmt.Errorf("--direction must be lower or higher, got %q", o.direction)}
			}
			if o.format != "text" && o.format != "json" {
				return inputError{fmt.Errorf("--format must be text or json, got %q", o.format)}
			}
			if !(o.alpha > 0 && o.alpha < 1) {
				return inputError{fmt.Errorf("--alpha must be between 0 and 1, got %v", o.alpha)}
			}
			if o.method != "welch" && o.method != "mwu" {
				return inputError{fmt.Errorf("--method must be welch or mwu, got %q", o.method)}
			}
			b, c, err := readSamples(o.baseline, o.candidate)
			if err != nil {
				return err
			}
			if o.paired {
				return analyzePaired(cmd.OutOrStdout(), o.format, b, c, o.alpha, o.direction)
			}
			w, err := analysis.WelchTTest(b, c, o.confidence)
			if err != nil {
				switch {
				case errors.Is(err, analysis.ErrZeroVariance):
					return inputError{errors.New("both samples are constant: there is no variance to test against")}
				case errors.Is(err, analysis.ErrConfidence):
					return inputError{fmt.Errorf("--confidence must be between 0 and 1, got %v", o.confidence)}
				}
				return inputError{err}
			}
			var mw *analysis.MannWhitney
			if o.method == "mwu" {
				u, err := analysis.MannWhitneyU(b, c, o.confidence)
				if err != nil {
					return inputError{err}
				}
				mw = &u
			}
			return writeAnalysis(cmd.OutOrStdout(), o.format, w, mw, o.alpha, o.direction)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.baseline, "baseline", "", "file of baseline values, one per line")
	f.StringVar(&o.candidate, "candidate", "", "file of candidate values, one per line")
	f.Float64Var(&o.alpha, "alpha", 0.05, "significance level")
	f.Float64Var(&o.confidence, "confidence", 0.95, "confidence level of the interval")
	f.StringVar(&o.direction, "direction", "lower", "which way is better: lower or higher")
	f.StringVar(&o.format, "format", "text", "text or json")
	f.StringVar(&o.method, "method", "welch", "test that decides significant and outcome: welch, or mwu (Mann–Whitney U with the Hodges–Lehmann shift, reported next to Welch)")
	f.BoolVar(&o.paired, "paired", false, "compare line i of both files as one window's pair, with an interval robust to autocorrelation (--alpha is its error level)")
	_ = cmd.MarkFlagRequired("baseline")
	_ = cmd.MarkFlagRequired("candidate")
	return cmd
}

// readSample reads one finite number per line, blank lines ignored. The file is read whole and
// split in place: line scanning and per-line allocation, not float parsing, dominated before.
func readSample(path string) ([]float64, error) {
	data, err := os.ReadFile(path) // #nosec G304 -- the file the user named on the command line
	if err != nil {
		return nil, inputError{err}
	}
	xs := make([]float64, 0, len(data)/8)
	for line := 1; len(data) > 0; line++ {
		end := bytes.IndexByte(data, '\n')
		var raw []byte
		if end < 0 {
			raw, data = data, nil
		} else {
			raw, data = data[:end], data[end+1:]
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, inputError{fmt.Errorf("%s:%d: %q is not a finite number", path, line, truncate(string(raw), 40))}
		}
		xs = append(xs, v)
	}
	if len(xs) < 2 {
		return nil, inputError{fmt.Errorf("%s: %d values; a sample needs at least 2", path, len(xs))}
	}
	return xs, nil
}

// readSamples reads both files at once: on two cores that halves the wall time of large inputs.
func readSamples(a, b string) ([]float64, []float64, error) {
	type result struct {
		xs  []float64
		err error
	}
	ch := make(chan result, 1)
	go func() {
		xs, err := readSample(b)
		ch <- result{xs, err}
	}()
	xa, errA := readSample(a)
	rb := <-ch
	if errA != nil {
		return nil, nil, errA
	}
	return xa, rb.xs, rb.err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

type sampleStats struct {
	N      int     `json:"n"`
	Mean   float64 `json:"mean"`
	StdDev float64 `json:"stddev"`
}

type analyzeResult struct {
	Baseline  sampleStats `json:"baseline"`
	Candidate sampleStats `json:"candidate"`
	Welch     struct {
		T      float64 `json:"t"`
		DF     float64 `json:"df"`
		PValue float64 `json:"p_value"`
	} `json:"welch"`
	Difference struct {
		Estimate   float64 `json:"estimate"`
		CILower    float64 `json:"ci_lower"`
		CIUpper    float64 `json:"ci_upper"`
		Confidence float64 `json:"confidence"`
	} `json:"difference"`
	RelativeChange *float64        `json:"relative_change"` // null when the baseline mean is 0
	Significant    bool            `json:"significant"`     // by the --method test
	Outcome        string          `json:"outcome"`         // improved, regressed or no_change for --direction, by the --method test
	HedgesG        float64         `json:"hedges_g"`
	Method         string          `json:"method"`                 // welch or mwu: the test significant and outcome follow
	MannWhitney    *mannWhitneyOut `json:"mann_whitney,omitempty"` // with --method mwu
}

// mannWhitneyOut is the Mann–Whitney block of --format json, candidate minus baseline.
type mannWhitneyOut struct {
	U               float64 `json:"u"`                // pairs with candidate > baseline, ties counting ½
	Z               float64 `json:"z"`                // normal approximation, tie- and continuity-corrected
	PValue          float64 `json:"p_value"`          // two-sided
	Exact           bool    `json:"exact"`            // p from the exact null distribution
	ProbSuperiority float64 `json:"prob_superiority"` // U / (n1·n2)
	HodgesLehmann   struct {
		Estimate   float64 `json:"estimate"`   // median of all pairwise differences
		CILower    float64 `json:"ci_lower"`   // distribution-free interval
		CIUpper    float64 `json:"ci_upper"`   //
		Confidence float64 `json:"confidence"` // requested level
		Coverage   float64 `json:"coverage"`   // level the interval achieves
	} `json:"hodges_lehmann"`
}

func writeAnalysis(w io.Writer, format string, r analysis.Welch, mw *analysis.MannWhitney, alpha float64, direction string) error {
	var out analyzeResult
	out.Baseline = sampleStats{N: r.N1, Mean: r.Mean1, StdDev: math.Sqrt(r.Var1)}
	out.Candidate = sampleStats{N: r.N2, Mean: r.Mean2, StdDev: math.Sqrt(r.Var2)}
	out.Welch.T, out.Welch.DF, out.Welch.PValue = r.T, r.DF, r.P
	out.Difference.Estimate, out.Difference.CILower, out.Difference.CIUpper, out.Difference.Confidence = r.Diff, r.CILow, r.CIHigh, r.Confidence
	if r.RelDefined {
		rel := r.RelChange
		out.RelativeChange = &rel
	}
	out.Significant = r.P < alpha
	dir := analysis.LowerIsBetter
	if direction == "higher" {
		dir = analysis.HigherIsBetter
	}
	out.Outcome = string(analysis.Classify(r, dir, alpha))
	out.HedgesG = r.HedgesG
	out.Method = "welch"
	if mw != nil {
		m := &mannWhitneyOut{U: mw.U, Z: mw.Z, PValue: mw.P, Exact: mw.Exact, ProbSuperiority: mw.ProbSuperiority}
		m.HodgesLehmann.Estimate, m.HodgesLehmann.CILower, m.HodgesLehmann.CIUpper = mw.Shift, mw.ShiftLow, mw.ShiftHigh
		m.HodgesLehmann.Confidence, m.HodgesLehmann.Coverage = mw.Confidence, mw.Coverage
		out.MannWhitney, out.Method = m, "mwu"
		// Classify reads the sign of Diff and the p-value: give it the shift and Mann–Whitney's p.
		out.Significant = mw.P < alpha
		out.Outcome = string(analysis.Classify(analysis.Welch{Diff: mw.Shift, P: mw.P}, dir, alpha))
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\tn\tmean\tstddev\t\n")
	fmt.Fprintf(tw, "baseline\t%d\t%.6g\t%.6g\t\n", out.Baseline.N, out.Baseline.Mean, out.Baseline.StdDev)
	fmt.Fprintf(tw, "candidate\t%d\t%.6g\t%.6g\t\n", out.Candidate.N, out.Candidate.Mean, out.Candidate.StdDev)
	_ = tw.Flush()
	rel := "undefined (baseline mean is 0)"
	if out.RelativeChange != nil {
		rel = fmt.Sprintf("%+.3f%%", *out.RelativeChange*100)
	}
	fmt.Fprintf(w, "\ndifference (candidate - baseline): %.6g, %g%% CI [%.6g, %.6g]\nrelative change: %s\n",
		r.Diff, r.Confidence*100, r.CILow, r.CIHigh, rel)
	sig := map[bool]string{true: "significant", false: "not significant"}
	fmt.Fprintf(w, "Welch t = %.6g, df = %.6g, p = %.6g (%s at alpha %g); Hedges' g = %.4g\n",
		r.T, r.DF, r.P, sig[r.P < alpha], alpha, r.HedgesG)
	if m := out.MannWhitney; m != nil {
		exact := "normal approximation"
		if m.Exact {
			exact = "exact"
		}
		fmt.Fprintf(w, "Mann-Whitney U = %.6g, z = %.6g, p = %.6g (%s, %s at alpha %g); P(candidate > baseline) = %.4g\n",
			m.U, m.Z, m.PValue, exact, sig[out.Significant], alpha, m.ProbSuperiority)
		fmt.Fprintf(w, "Hodges-Lehmann shift (candidate - baseline): %.6g, %g%% CI [%.6g, %.6g] (achieved coverage %.4g%%)\n",
			m.HodgesLehmann.Estimate, m.HodgesLehmann.Confidence*100, m.HodgesLehmann.CILower, m.HodgesLehmann.CIUpper, m.HodgesLehmann.Coverage*100)
	}
	fmt.Fprintf(w, "outcome (%s is better, by %s): %s\n", direction, map[string]string{"welch": "Welch", "mwu": "Mann-Whitney"}[out.Method], out.Outcome)
	return nil
}
