package ingest

import (
	"strings"
	"testing"
	"time"
)

func TestPartial_SaysWhyAWindowsDataIsPartial(t *testing.T) {
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	ms := start.UnixMilli()
	tests := []struct {
		name string
		t    totals
		lost bool   // a window of the experiment was stored before the epoch
		want string // substring; "" for a whole window
	}{
		{"a whole window", totals{epoch: ms - 60_000}, true, ""},
		{"a collector restarted in it", totals{epoch: ms - 60_000, restarts: 1}, true, "a collector restarted during the window (1 restarts)"},
		{"the store's epoch began after the window did", totals{epoch: ms + 4_000}, true, "lost its memory at 12:00:04 UTC"},
		{"the epoch began at the window's start exactly: nothing before it", totals{epoch: ms}, true, ""},
		{"the experiment's first windows in a new store", totals{epoch: ms + 4_000}, false, ""},
	}
	for _, tt := range tests {
		got := partial(tt.t, start, tt.lost)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
