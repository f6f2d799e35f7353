package ingest

import (
	"strings"
	"testing"
	"time"
)

func TestPartial_SaysWhyAWindowsDataIsPartial(t *testing.T) {
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	ms := start.UnixMilli()
	x := window{start: start, length: 15 * time.Second}
	tests := []struct {
		name     string
		t        totals
		interval time.Duration // how often the variant scrapes
		lost     bool          // a window of the experiment was stored before the epoch
		want     string        // substring; "" for a whole window
	}{
		{"a whole window", totals{epoch: ms - 60_000, scrapes: 3}, 5 * time.Second, true, ""},
		{"a collector restarted in it", totals{epoch: ms - 60_000, restarts: 1}, 0, true, "a collector restarted during the window (1 restarts)"},
		{"the store's epoch began after the window did", totals{epoch: ms + 4_000}, 0, true, "lost its memory at 12:00:04 UTC"},
		{"the epoch began at the window's start exactly: nothing before it", totals{epoch: ms}, 0, true, ""},
		{"the experiment's first windows in a new store", totals{epoch: ms + 4_000}, 0, false, ""},
		{"a scrape wavered across the window's edge", totals{scrapes: 6}, 2 * time.Second, false, ""},
		{"scrapes were lost", totals{scrapes: 5}, 2 * time.Second, false, "only 5 scrapes arrived of the 6 or more a 15s window holds with a scrape every 2s"},
		{"one scrape of three lost: within the edge's leeway", totals{scrapes: 2}, 5 * time.Second, false, ""},
		{"two of three lost", totals{scrapes: 1}, 5 * time.Second, false, "only 1 scrapes arrived of the 2"},
		{"data refused as too late while it waited", totals{late: 12, scrapes: 7}, 2 * time.Second, false, "12 datapoints for it arrived after the lateness bound"},
		{"no output at all: the silence rule's", totals{scrapes: 0}, 2 * time.Second, false, ""},
		{"an interval the window cannot judge", totals{scrapes: 1}, 10 * time.Second, false, ""},
	}
	for _, tt := range tests {
		got := partial(tt.t, x, tt.interval, tt.lost)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
