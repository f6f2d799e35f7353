package analysis

import "testing"

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		w    Welch
		dir  Direction
		want Outcome
	}{
		{"lower is better, significant drop", Welch{Diff: -5, P: 0.001}, LowerIsBetter, Improved},
		{"lower is better, significant rise", Welch{Diff: 5, P: 0.001}, LowerIsBetter, Regressed},
		{"higher is better, significant drop", Welch{Diff: -5, P: 0.001}, HigherIsBetter, Regressed},
		{"higher is better, significant rise", Welch{Diff: 5, P: 0.001}, HigherIsBetter, Improved},
		{"not significant", Welch{Diff: -5, P: 0.2}, LowerIsBetter, NoChange},
		{"p exactly alpha is not significant", Welch{Diff: -5, P: 0.05}, LowerIsBetter, NoChange},
	}
	for _, tt := range tests {
		if got := Classify(tt.w, tt.dir, 0.05); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
}
