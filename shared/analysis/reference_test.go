package analysis

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// reference holds testdata/reference.json, written by testdata/generate.py
// from scipy, numpy and statsmodels (versions inside the file).
type reference struct {
	Versions map[string]string `json:"versions"`
	Welch    []struct {
		Name                string
		Baseline, Candidate []float64
		Confidence          float64
		Want                map[string]float64
	} `json:"welch"`
	MannWhitney []struct {
		Name                string
		Baseline, Candidate []float64
		Confidence          float64
		Want                map[string]any
	} `json:"mann_whitney"`
	TOST []struct {
		Name                string
		Baseline, Candidate []float64
		Lower, Upper        float64
		Relative            bool
		Alpha               float64
		Want                map[string]any
	} `json:"tost"`
	Power []struct {
		V1    float64 `json:"v1"`
		N1    int     `json:"n1"`
		V2    float64 `json:"v2"`
		N2    int     `json:"n2"`
		Delta float64 `json:"delta"`
		Alpha float64 `json:"alpha"`
		Power float64 `json:"power"`
		Sides int     `json:"sides"`
		Want  struct {
			MDE      float64 `json:"mde"`
			N        int     `json:"n"`
			NCTPower float64 `json:"nct_power"`
		} `json:"want"`
	} `json:"power"`
	Windows []struct {
		Name   string
		Series []float64
		Size   int
		Want   struct {
			Means      []float64 `json:"means"`
			Dropped    int       `json:"dropped"`
			Lag1Before *float64  `json:"lag1_before"`
			Lag1After  *float64  `json:"lag1_after"`
		}
	} `json:"windows"`
	WindowSize []struct {
		Name   string
		Series [][]float64
		Want   int
	} `json:"window_size"`
}

// refTol is the agreement the issue asks of every reference value.
const refTol = 1e-7

func loadReference(t *testing.T) reference {
	t.Helper()
	raw, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// check compares named values to refTol, exactly where the reference is 0,
// and returns the largest relative error.
func check(t *testing.T, name string, got map[string]float64, want map[string]any) (worst float64) {
	t.Helper()
	for k, g := range got {
		w, ok := want[k].(float64)
		if !ok {
			t.Fatalf("%s: reference has no %s", name, k)
		}
		if w == 0 && g != 0 || !within(g, w, refTol) {
			t.Errorf("%s: %s = %.17g, want %.17g (rel err %.2g)", name, k, g, w, math.Abs(g-w)/math.Abs(w))
		}
		if w != 0 {
			worst = max(worst, math.Abs(g-w)/math.Abs(w))
		}
	}
	return worst
}

func TestReference_Welch(t *testing.T) {
	var worst float64
	for _, c := range loadReference(t).Welch {
		w, err := WelchTTest(c.Baseline, c.Candidate, c.Confidence)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		want := map[string]any{}
		for k, v := range c.Want {
			want[k] = v
		}
		worst = max(worst, check(t, c.Name, map[string]float64{
			"mean1": w.Mean1, "mean2": w.Mean2, "var1": w.Var1, "var2": w.Var2, "diff": w.Diff, "std_err": w.StdErr,
			"t": w.T, "df": w.DF, "p_value": w.P, "ci_low": w.CILow, "ci_high": w.CIHigh,
		}, want))
	}
	t.Logf("largest relative error %.2g", worst)
}

func TestReference_MannWhitneyAndHodgesLehmann(t *testing.T) {
	var worst float64
	for _, c := range loadReference(t).MannWhitney {
		u, err := MannWhitneyU(c.Baseline, c.Candidate, c.Confidence)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if u.Exact != c.Want["exact"].(bool) {
			t.Errorf("%s: exact = %v, reference used exact = %v", c.Name, u.Exact, c.Want["exact"])
		}
		worst = max(worst, check(t, c.Name, map[string]float64{
			"u": u.U, "p_value": u.P, "z": u.Z, "tie_term": u.TieTerm, "shift": u.Shift,
			"shift_low": u.ShiftLow, "shift_high": u.ShiftHigh, "coverage": u.Coverage, "baseline_median": u.BaselineMedian,
		}, c.Want))
	}
	t.Logf("largest relative error %.2g", worst)
}

func TestReference_TOST(t *testing.T) {
	var worst float64
	for _, c := range loadReference(t).TOST {
		// TOST works on the Welch result; its confidence does not matter here.
		w, err := WelchTTest(c.Baseline, c.Candidate, 0.95)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		e, err := TOST(w, Margin{Lower: c.Lower, Upper: c.Upper, Relative: c.Relative}, c.Alpha)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if e.Equivalent != c.Want["equivalent"].(bool) {
			t.Errorf("%s: equivalent = %v, want %v", c.Name, e.Equivalent, c.Want["equivalent"])
		}
		got := map[string]float64{
			"lower": e.Lower, "upper": e.Upper, "t_lower": e.TLower, "t_upper": e.TUpper, "p_value": e.P,
			"df": e.DF, "ci_low": e.CILow, "ci_high": e.CIHigh, "p_lower": e.PLower, "p_upper": e.PUpper,
		}
		// statsmodels computes a tail as 1 − sf where it is near 1; a p
		// within 1e-12 of 1 carries only that absolute accuracy there.
		for _, k := range []string{"p_lower", "p_upper"} {
			if w := c.Want[k].(float64); w > 1-1e-9 {
				if math.Abs(got[k]-w) > 1e-12 {
					t.Errorf("%s: %s = %.17g, want %.17g", c.Name, k, got[k], w)
				}
				delete(got, k)
			}
		}
		worst = max(worst, check(t, c.Name, got, c.Want))
	}
	t.Logf("largest relative error %.2g", worst)
}

func TestReference_Power(t *testing.T) {
	for i, c := range loadReference(t).Power {
		mde, err := MinimumDetectableEffect(c.V1, c.N1, c.V2, c.N2, c.Alpha, c.Power, c.Sides)
		if err != nil {
			t.Fatal(err)
		}
		if !within(mde, c.Want.MDE, refTol) {
			t.Errorf("case %d: MDE = %.17g, want %.17g", i, mde, c.Want.MDE)
		}
		n, err := RequiredSampleSize(c.V1, c.V2, c.Delta, c.Alpha, c.Power, c.Sides)
		if err != nil {
			t.Fatal(err)
		}
		if n != c.Want.N {
			t.Errorf("case %d: RequiredSampleSize = %d, want %d", i, n, c.Want.N)
		}
		// The central-t approximation must not promise more power than
		// the noncentral t delivers at the planned size.
		if c.Want.NCTPower < c.Power-0.005 {
			t.Errorf("case %d: the planned design has noncentral-t power %.4f, below the %.2f asked", i, c.Want.NCTPower, c.Power)
		}
	}
}

func TestReference_Windows(t *testing.T) {
	ref := loadReference(t)
	for _, c := range ref.Windows {
		w, err := BatchMeans(c.Series, c.Size, 0)
		if err != nil {
			t.Fatal(err)
		}
		if w.Count != len(c.Want.Means) || w.Dropped != c.Want.Dropped || w.Size != c.Size || w.Observations != len(c.Series) {
			t.Fatalf("%s: %d windows of %d, %d dropped; want %d, %d dropped", c.Name, w.Count, w.Size, w.Dropped, len(c.Want.Means), c.Want.Dropped)
		}
		for i := range w.Means {
			if !within(w.Means[i], c.Want.Means[i], refTol) {
				t.Errorf("%s: mean %d = %.17g, want %.17g", c.Name, i, w.Means[i], c.Want.Means[i])
			}
		}
		for _, l := range []struct {
			name      string
			got, want *float64
		}{{"lag1 before", w.Lag1Before, c.Want.Lag1Before}, {"lag1 after", w.Lag1After, c.Want.Lag1After}} {
			if (l.got == nil) != (l.want == nil) {
				t.Errorf("%s: %s defined %v, want %v", c.Name, l.name, l.got != nil, l.want != nil)
				continue
			}
			// Near 0 the autocorrelation is a difference of sums: compare
			// absolutely there, relatively elsewhere.
			if l.got != nil && math.Abs(*l.got-*l.want) > refTol*math.Max(math.Abs(*l.want), 1e-3) {
				t.Errorf("%s: %s = %.17g, want %.17g", c.Name, l.name, *l.got, *l.want)
			}
		}
	}
	for _, c := range ref.WindowSize {
		got, err := WindowSize(Batching{}, c.Series...)
		if err != nil || got != c.Want {
			t.Errorf("%s: WindowSize = %d, %v; want %d", c.Name, got, err, c.Want)
		}
	}
}
