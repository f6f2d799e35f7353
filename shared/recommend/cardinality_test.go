package recommend

import (
	"fmt"
	"testing"

	"github.com/phoenixotel/phoenix/shared/preview"
)

func TestCostliest_TheLargestFirstTiesByName(t *testing.T) {
	in := preview.Summary{Series: 100,
		Metrics:         map[string]int{"a": 10, "b": 50, "c": 40},
		ProcessSeries:   map[string]int{"nginx": 5, "mysqld": 5, "cron": 1},
		AttributeValues: map[string]int{"state": 2, "process.pid": 30}}
	got := Costliest(in, 2)
	want := "{100 [{b 50} {c 40}] [{mysqld 5} {nginx 5}] [{process.pid 30} {state 2}]}"
	if fmt.Sprint(got) != want {
		t.Errorf("costliest %v, want %s", got, want)
	}
	if c := Costliest(preview.Summary{}, 5); len(c.Metrics)+len(c.Processes)+len(c.Attributes) != 0 {
		t.Errorf("an empty summary: %v", c)
	}
}
