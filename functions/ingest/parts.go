package ingest

import (
	"cmp"
	"slices"
)

// part is the output of one request that belongs to one window.
type part struct {
	start      int64    // the window's start (ms); -1 for the part of points without a time of their own
	at         int64    // its newest datapoint's time (ms); 0 when none has one
	datapoints int64    // its datapoints
	series     []uint64 // its distinct series
	covered    []string // critical patterns its resources matched, sorted
	// scrapes are the scrapes its datapoints come from, each by the time of the first of its
	// points seen (ms). The host-metrics process scraper stamps each process as it reads it, so
	// one scrape's points spread over the milliseconds the scrape takes; points less than half
	// an interval apart are one scrape (see scrapeOf). Bounded by maxScrapes.
	scrapes []int64
	bytes   int64 // its share of the request's bytes, by datapoints (set by windows.record)
}

// scrapeOf adds a point taken at ms to the scrapes (by their first point's time) when it is at
// least half an interval from all of them: a new scrape. Points of one scrape arrive together,
// so the last scrape is checked first.
func scrapeOf(scrapes []int64, ms, interval int64) []int64 {
	half := interval / 2
	near := func(at int64) bool { return ms > at-half && ms < at+half }
	if n := len(scrapes); n > 0 && near(scrapes[n-1]) {
		return scrapes
	}
	if len(scrapes) >= maxScrapes || slices.ContainsFunc(scrapes, near) {
		return scrapes
	}
	return append(scrapes, ms)
}

// partFor returns the index of the part a datapoint taken at ms (Unix ms, 0 when it has no time)
// belongs to, adding it when it is new: the part of its window, or the part of points without a
// time when requests are kept whole, the point has no time, or maxParts are taken.
func (s *scratch) partFor(ms int64) int {
	start := int64(-1)
	if s.window > 0 && ms > 0 {
		start = ms - ms%s.window
	}
	if s.cur >= 0 && s.parts[s.cur].start == start {
		return s.cur
	}
	for i := range s.parts {
		if s.parts[i].start == start {
			s.cur = i
			return i
		}
	}
	if start != -1 && len(s.parts) >= maxParts {
		return s.partFor(0)
	}
	if n := len(s.parts); n < cap(s.parts) { // reuse the slices an earlier request grew
		old := s.parts[:n+1][n]
		s.parts = append(s.parts, part{start: start, series: old.series[:0], covered: old.covered[:0], scrapes: old.scrapes[:0]})
	} else {
		s.parts = append(s.parts, part{start: start})
	}
	s.cur = len(s.parts) - 1
	if start == -1 {
		s.untimed = s.cur
	}
	return s.cur
}

// finish merges the part of points without a time into the newest timed part (its series may
// then repeat there: the window's set counts them once) and orders the parts oldest first. A
// request without output that still says something (telemetry, refused datapoints: whole says
// so) gets one empty part, at its newest time.
func (s *scratch) finish(at int64, whole bool) []part {
	if len(s.parts) == 0 {
		if !whole {
			return nil
		}
		s.parts = append(s.parts, part{start: -1})
	}
	newest := -1
	for i, p := range s.parts {
		if p.start != -1 && (newest < 0 || p.start > s.parts[newest].start) {
			newest = i
		}
	}
	if u := s.untimed; u >= 0 && newest >= 0 {
		n := &s.parts[newest]
		n.datapoints += s.parts[u].datapoints
		n.series = append(n.series, s.parts[u].series...)
		n.covered = union(n.covered, s.parts[u].covered)
		n.scrapes = append(n.scrapes, s.parts[u].scrapes...)
		s.parts = slices.Delete(s.parts, u, u+1)
	}
	if len(s.parts) == 1 && s.parts[0].start == -1 {
		s.parts[0].at = at // kept whole: the window of its newest time
	}
	slices.SortFunc(s.parts, func(a, b part) int { return cmp.Compare(a.start, b.start) })
	for i := range s.parts {
		slices.Sort(s.parts[i].covered)
	}
	return s.parts
}

// union adds to a the members of b it lacks.
func union(a, b []string) []string {
	for _, x := range b {
		if !slices.Contains(a, x) {
			a = append(a, x)
		}
	}
	return a
}

// A request's output splits into at most maxParts windows; points of further windows join the
// newest part (a collector sends seconds of data per request, so two parts are the most seen
// from a real one). A part keeps at most maxScrapes scrape times.
const (
	maxParts   = 8
	maxScrapes = 1024
)
