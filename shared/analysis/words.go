package analysis

import (
	"fmt"
	"math"
	"strings"
)

// signedPct formats a relative change with its sign, e.g. −80.7% or +3.2%: a reader sees at once
// which way the candidate moved, whatever the direction that is better.
func signedPct(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+∞%"
	case math.IsInf(f, -1):
		return "−∞%"
	}
	s := fmt.Sprintf("%+.3g%%", 100*f)
	return strings.Replace(s, "-", "−", 1)
}

// pct formats a fraction as an unsigned percentage, e.g. 5%.
func pct(f float64) string { return fmt.Sprintf("%.3g%%", 100*f) }
