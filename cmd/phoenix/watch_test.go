package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/phoenixotel/phoenix/functions/analyzer"
	"github.com/phoenixotel/phoenix/shared/analysis"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
)

// The verdict table reads the report the analyzer really stores: a change of its format that the
// CLI does not follow fails here.
func TestPrintVerdict_ShowsEachMetricWhyAndTheRecommendation(t *testing.T) {
	run := analyzer.NewRun(experiment.Spec{SuccessCriteria: []experiment.Criterion{{Metric: "series"}, {Metric: "collector_cpu", Critical: true}}},
		3*time.Minute, 3*time.Minute, 15*time.Second)
	run.Series = map[string]store.PairedSeries{
		"series": {Baseline: []float64{1000, 1010, 990, 1005, 995, 1002, 998, 1001, 999, 1003, 997, 1000},
			Candidate: []float64{100, 101, 99, 100.5, 99.5, 100.2, 99.8, 100.1, 99.9, 100.3, 99.7, 100}},
		"collector_cpu": {Baseline: []float64{0.010, 0.012, 0.011, 0.009, 0.010, 0.011, 0.012, 0.010, 0.009, 0.011, 0.010, 0.010},
			Candidate: []float64{0.0100, 0.0121, 0.0110, 0.0090, 0.0101, 0.0110, 0.0119, 0.0100, 0.0090, 0.0111, 0.0100, 0.0100}},
	}
	// Both delivered the twelve windows a three-minute run of 15 s windows gives.
	run.Parity = analysis.ParityInput{Baseline: analysis.Received{Windows: 12}, Candidate: analysis.Received{Windows: 12}}
	rep, err := analyzer.Look(run, analysis.Planned, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(rep)
	stored, _ := json.Marshal(map[string]any{"verdict": rep.Verdict, "report": json.RawMessage(raw)})
	var out strings.Builder
	printVerdict(&out, stored)
	got := out.String()
	for _, want := range []string{"METRIC", "CHANGE [95% INTERVAL, EVERY LOOK]", "series", "collector_cpu (guardrail)", "−90.0% [",
		"improved", "why:", "critical coverage", "planned look at 12 paired windows", "recommendation: " + strings.ToUpper(string(rep.Verdict))} {
		if !strings.Contains(got, want) {
			t.Errorf("verdict table lacks %q:\n%s", want, got)
		}
	}
	if rep.Verdict != experiment.VerdictPromote {
		t.Errorf("verdict %s: %s", rep.Verdict, rep.Reason)
	}
}

// A look prints every metric's change with its interval, and why the run ends when it ends.
func TestView_PrintsEachLookOnceWithItsIntervals(t *testing.T) {
	var out strings.Builder
	v := &view{out: &out}
	est, lo, hi := -0.807, -0.811, -0.803
	l := events.Look{Kind: "live", Windows: 9, Verdict: experiment.VerdictContinue, Spent: 0.12,
		Metrics: []events.LookMetric{{Metric: "bytes_per_second", Outcome: analysis.Improved, Estimate: &est, Low: &lo, High: &hi},
			{Metric: "collector_cpu", Critical: true, Outcome: analysis.Undecided}}}
	v.look(l)
	v.look(l) // a replay: printed once
	l.Windows, l.Verdict, l.Early, l.Reason = 10, experiment.VerdictPromote, true, "improved: bytes_per_second"
	v.look(l)
	got := out.String()
	if strings.Count(got, "live look, 9 paired windows") != 1 || !strings.Contains(got, "bytes/s −80.7% [−81.1%, −80.3%] better") ||
		!strings.Contains(got, "cpu … ?") || !strings.Contains(got, "the run ends early: PROMOTE — improved: bytes_per_second") {
		t.Fatalf("looks:\n%s", got)
	}
}

func TestView_PrintsAWindowOnceBothVariantsReported(t *testing.T) {
	var out strings.Builder
	start := time.Date(2026, 11, 26, 4, 0, 0, 0, time.UTC)
	v := &view{out: &out, windows: map[time.Time]map[string]events.KPIWindow{}, printed: map[time.Time]bool{},
		exp: store.Experiment{DurationSeconds: 60}}
	v.transition(events.Transition{Seq: 1, From: "deploying", To: "running", At: start})
	v.transition(events.Transition{Seq: 1, From: "deploying", To: "running", At: start}) // a replay: printed once
	w := func(variant string, series float64, covered int) events.KPIWindow {
		return events.KPIWindow{Variant: variant, WindowStart: start, WindowEnd: start.Add(15 * time.Second),
			KPIs:            map[string]float64{"series": series, "datapoints_per_second": series / 5},
			CriticalCovered: make([]string, covered), CriticalMissing: make([]string, 3-covered)}
	}
	v.window(w("baseline", 1200, 3))
	if strings.Contains(out.String(), "1200") {
		t.Fatal("printed a window before the candidate's arrived")
	}
	v.window(w("candidate", 120, 2))
	v.window(w("candidate", 120, 2)) // redelivered
	got := out.String()
	if strings.Count(got, "deploying → running") != 1 || strings.Count(got, "1200 | 120 (-90%)") != 1 ||
		!strings.Contains(got, "3/3 | 2/3") || !strings.Contains(got, "[#######") || !strings.Contains(got, "25%") {
		t.Fatalf("view:\n%s", got)
	}
}

func TestProgress(t *testing.T) {
	cases := []struct {
		elapsed, total time.Duration
		want           string
	}{
		{0, time.Minute, "[..............................]   0%"},
		{30 * time.Second, time.Minute, "[###############...............]  50%"},
		{2 * time.Minute, time.Minute, "[##############################] 100%"},
		{-time.Second, time.Minute, "[..............................]   0%"},
	}
	for _, c := range cases {
		if got := progress(c.elapsed, c.total); !strings.HasPrefix(got, c.want) {
			t.Errorf("progress(%v, %v) = %q, want prefix %q", c.elapsed, c.total, got, c.want)
		}
	}
}

func TestParseParams(t *testing.T) {
	got, err := parseParams([]string{"k=5", "high_processes=envoy|java", "ratio=0.5"})
	if err != nil || got["k"] != json.Number("5") || got["high_processes"] != "envoy|java" || got["ratio"] != json.Number("0.5") {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"novalue", "=x"} {
		if _, err := parseParams([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// watchedID is the experiment the fake platform serves.
const watchedID = "7c1e5a30-2f4b-4d8e-9a61-0b3c5d7e9f10"

// fakePlatform serves what watch reads of experiment watchedID: its state and transitions from the
// functions given, a promote verdict, and the gateway's /ws, where stream plays one connection
// after the subscribe frame is read. A second connection is a reconnect, which the tests count
// as a failure: it cancels ctx so that watch stops retrying. It returns the server's URL and the
// number of connections made.
func fakePlatform(t *testing.T, cancel context.CancelFunc, state func() string, transitions func() []events.Transition,
	stream func(conn *websocket.Conn)) (string, *atomic.Int32) {
	t.Helper()
	var connections atomic.Int32
	upgrader := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/experiments/"+watchedID, func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"id": watchedID, "name": "e", "state": state(), "duration_seconds": 60})
	})
	mux.HandleFunc("GET /v1/experiments/"+watchedID+"/transitions", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"items": transitions()})
	})
	mux.HandleFunc("GET /v1/experiments/"+watchedID+"/analysis", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"verdict":"promote"}`))
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		if connections.Add(1) > 1 {
			cancel() // a reconnect: the test has failed already; end watch rather than let it retry
			return
		}
		if _, _, err := conn.ReadMessage(); err != nil { // the subscribe frame
			return
		}
		if conn.WriteJSON(map[string]any{"type": "subscribed", "channel": "experiment:" + watchedID, "seq": 0}) != nil {
			return
		}
		stream(conn)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, &connections
}

// A quiet experiment sends no frame for longer than the live connection may stay silent, but the
// gateway keeps pinging: watch must stay on its one connection, answering every ping.
func TestFollow_PingsKeepAQuietConnection(t *testing.T) {
	const (
		silence  = 300 * time.Millisecond // what the test grants watch instead of liveSilence
		pingEach = 20 * time.Millisecond  // the gateway's ping period, scaled down alike
		quiet    = 4 * silence            // only pings for this long, then the experiment ends
	)
	var (
		pongs atomic.Int32
		state atomic.Value // the experiment's state as the API reports it
	)
	state.Store("running")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url, connections := fakePlatform(t, cancel, func() string { return state.Load().(string) },
		func() []events.Transition { return []events.Transition{} },
		func(conn *websocket.Conn) {
			conn.SetPongHandler(func(string) error { pongs.Add(1); return nil })
			read := make(chan struct{})
			go func() { // reading is what runs the pong handler; it ends when watch closes
				defer close(read)
				for {
					if _, _, err := conn.ReadMessage(); err != nil {
						return
					}
				}
			}()
			tick := time.NewTicker(pingEach)
			defer tick.Stop()
			for end := time.Now().Add(quiet); time.Now().Before(end); {
				select {
				case <-tick.C:
					if conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)) != nil {
						return
					}
				case <-read:
					return // watch hung up while only pings came
				}
			}
			state.Store("completed")
			moved, _ := json.Marshal(map[string]any{"type": events.ExperimentMoved,
				"data": events.Transition{Seq: 1, From: "running", To: "completed", At: time.Now()}})
			if conn.WriteJSON(map[string]any{"type": "event", "data": json.RawMessage(moved)}) != nil {
				return
			}
			<-read
		})

	var out strings.Builder
	c := newClient(credentials{API: url, Gateway: url, AccessToken: "t", ExpiresAt: time.Now().Add(time.Hour)}, false)
	final, err := newView(&out, silence).follow(ctx, c, watchedID)
	if n := connections.Load(); n != 1 || strings.Contains(out.String(), "reconnecting") {
		t.Fatalf("%d connections for one quiet experiment, want 1:\n%s", n, out.String())
	}
	if err != nil {
		t.Fatalf("follow: %v\n%s", err, out.String())
	}
	if final.State != "completed" || pongs.Load() == 0 {
		t.Fatalf("state %s, %d pongs: want completed, every ping answered", final.State, pongs.Load())
	}
}

// Events lost on the way (the gateway says history_unavailable: its event store restarted empty)
// are said, and what the API keeps is reloaded on the same connection — not skipped in silence.
func TestFollow_LostEventsAreSaidAndReloaded(t *testing.T) {
	var reloads atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url, connections := fakePlatform(t, cancel,
		func() string {
			if reloads.Load() > 1 {
				return "completed"
			}
			return "running"
		},
		func() []events.Transition {
			items := []events.Transition{{Seq: 1, From: "deploying", To: "running", At: time.Now()}}
			if reloads.Add(1) > 1 { // the reload after the loss finds what the stream missed
				items = append(items, events.Transition{Seq: 2, From: "running", To: "completed", At: time.Now()})
			}
			return items
		},
		func(conn *websocket.Conn) {
			_ = conn.WriteJSON(map[string]any{"type": "error", "code": "history_unavailable", "channel": "experiment:" + watchedID,
				"message": "the event history after seq 7 was lost (the event store restarted)"})
			_, _, _ = conn.ReadMessage() // until watch hangs up
		})

	var out strings.Builder
	c := newClient(credentials{API: url, Gateway: url, AccessToken: "t", ExpiresAt: time.Now().Add(time.Hour)}, false)
	final, err := newView(&out, time.Minute).follow(ctx, c, watchedID)
	if err != nil {
		t.Fatalf("follow: %v\n%s", err, out.String())
	}
	if n := connections.Load(); n != 1 || reloads.Load() < 2 || !strings.Contains(out.String(), "live events were lost") {
		t.Fatalf("%d connections, %d transition reads; want 1 connection, a reload, and the loss said:\n%s", n, reloads.Load(), out.String())
	}
	if final.State != "completed" || !strings.Contains(out.String(), "completed") {
		t.Fatalf("state %s, want the completion the reload found:\n%s", final.State, out.String())
	}
}
