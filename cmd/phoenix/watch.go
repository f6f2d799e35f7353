package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gorilla/websocket"
	"github.com/spf13/cobra"

	"github.com/phoenixotel/phoenix/functions/analyzer"
	"github.com/phoenixotel/phoenix/functions/gateway"
	"github.com/phoenixotel/phoenix/shared/analysis"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/shared/wsproto"
)

func watchCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "watch ID",
		Short: "Follow an experiment live (WebSocket): state changes, KPI windows of both variants, progress, verdict",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := session()
			if err != nil {
				return err
			}
			final, err := follow(cmd.Context(), c, args[0], cmd.OutOrStdout())
			if err != nil {
				return err
			}
			if final.State != "completed" && final.State != "promoted" && final.State != "rolled_back" {
				return fmt.Errorf("experiment ended %s: %s", final.State, deref(final.FailureReason))
			}
			return nil
		},
	}
}

// ended says whether an experiment in state s will not move on by itself.
func ended(s experiment.State) bool {
	return s == experiment.Completed || s.Terminal()
}

// liveSilence is how long the live connection may stay silent (no frame, no ping) before watch
// counts it as lost: three of the gateway's ping periods, so one late or lost ping never costs a
// reconnect, while a dead connection is still noticed within 75 s.
const liveSilence = 3 * gateway.DefaultPingInterval

// pongWait bounds the write of one pong, as gorilla's default ping handler does.
const pongWait = time.Second

// view prints what happens to one experiment.
type view struct {
	out      io.Writer                                 // the terminal
	silence  time.Duration                             // how long the live connection may stay silent before it counts as lost; 0 means liveSilence
	exp      store.Experiment                          // as last read
	lastSeq  int64                                     // last transition printed
	runStart time.Time                                 // when running began (zero before)
	windows  map[time.Time]map[string]events.KPIWindow // window start → variant → KPIs, until both are printed
	printed  map[time.Time]bool                        // windows already printed
	lastLook int                                       // paired windows of the last live look printed
}

// follow shows an experiment until it ends (see view.follow), with the live connection's
// silence bounded by the gateway's ping period.
func follow(ctx context.Context, c *client, id string, out io.Writer) (store.Experiment, error) {
	return newView(out, liveSilence).follow(ctx, c, id)
}

// newView returns a view printing to out whose live connection counts as lost after silence
// without a frame or a ping.
func newView(out io.Writer, silence time.Duration) *view {
	return &view{out: out, silence: silence, windows: map[time.Time]map[string]events.KPIWindow{}, printed: map[time.Time]bool{}}
}

// follow shows an experiment until it ends, over the gateway's WebSocket, reconnecting (and
// reading back what it missed from the API) when the connection drops.
func (v *view) follow(ctx context.Context, c *client, id string) (store.Experiment, error) {
	out := v.out
	if err := c.call(ctx, http.MethodGet, "/v1/experiments/"+url.PathEscape(id), nil, &v.exp); err != nil {
		return v.exp, err
	}
	fmt.Fprintf(out, "experiment %s %q: %s vs %s for %s\n", v.exp.ID, v.exp.Name, v.exp.Baseline.Template,
		v.exp.Candidate.Template, time.Duration(v.exp.DurationSeconds)*time.Second)
	backoff := 500 * time.Millisecond
	for {
		err := v.stream(ctx, c)
		if ctx.Err() != nil {
			return v.exp, ctx.Err()
		}
		if err == nil || ended(v.exp.State) {
			break
		}
		fmt.Fprintf(out, "  (live connection lost: %v; reconnecting)\n", err)
		select {
		case <-ctx.Done():
			return v.exp, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
	if err := c.call(ctx, http.MethodGet, "/v1/experiments/"+url.PathEscape(id), nil, &v.exp); err != nil {
		return v.exp, err
	}
	switch v.exp.State {
	case "failed":
		fmt.Fprintf(out, "\nexperiment failed: %s\n", deref(v.exp.FailureReason))
	case "cancelled":
		fmt.Fprintln(out, "\nexperiment cancelled")
	default:
		var raw json.RawMessage
		if err := c.call(ctx, http.MethodGet, "/v1/experiments/"+url.PathEscape(id)+"/analysis", nil, &raw); err != nil {
			return v.exp, fmt.Errorf("read the verdict: %w", err)
		}
		printVerdict(out, raw)
	}
	return v.exp, nil
}

// wsURL is the WebSocket endpoint of the gateway at base (http:// or https://).
func wsURL(base string) string {
	return strings.Replace(strings.Replace(base, "https://", "wss://", 1), "http://", "ws://", 1) + "/ws"
}

// stream subscribes to the experiment's channel and prints until the experiment ends (nil) or
// the connection fails (the error).
func (v *view) stream(ctx context.Context, c *client) error {
	tok, err := c.token(ctx)
	if err != nil {
		return err
	}
	ws := wsURL(c.creds.Gateway)
	conn, res, err := websocket.DefaultDialer.DialContext(ctx, ws, http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		if res != nil {
			return fmt.Errorf("connect to the gateway %s: %s", ws, res.Status)
		}
		return fmt.Errorf("connect to the gateway %s: %w", ws, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	if err := conn.WriteJSON(wsproto.ClientFrame{Type: wsproto.Subscribe, Channel: wsproto.ExperimentChannel(v.exp.ID)}); err != nil {
		return err
	}
	// Subscribed first — confirmed by the gateway, since sending the request is not holding the
	// subscription — then what happened before (or while disconnected) from the API: nothing
	// falls between the two, and transitions are printed once by their sequence number.
	if err := awaitSubscribed(conn, cmp.Or(v.silence, liveSilence)); err != nil {
		return err
	}
	if err := v.catchUp(ctx, c); err != nil || ended(v.exp.State) {
		return err
	}
	// A quiet experiment sends no frame for minutes, but the gateway still pings: each ping, like
	// each frame, proves the connection alive. (The deadline used to move on frames only, so every
	// quiet minute ended in a reconnect.) The handler runs inside the read below.
	silence := cmp.Or(v.silence, liveSilence)
	alive := func() { _ = conn.SetReadDeadline(time.Now().Add(silence)) }
	conn.SetPingHandler(func(data string) error {
		alive()
		return pong(conn, data)
	})
	for {
		alive()
		var f wsproto.ServerFrame
		if err := conn.ReadJSON(&f); err != nil {
			return err
		}
		switch f.Type {
		case wsproto.Error:
			if f.Code != wsproto.CodeHistoryUnavailable {
				return fmt.Errorf("gateway: %s: %s", f.Code, f.Message)
			}
			// Events were lost on the way (the event store restarted, or the history no longer
			// reached back): say so, and reload what the API keeps — the transitions — instead of
			// going on as if nothing were missing.
			fmt.Fprintf(v.out, "  (live events were lost: %s; reloading from the API)\n", f.Message)
			if err := v.catchUp(ctx, c); err != nil || ended(v.exp.State) {
				return err
			}
		case wsproto.Event:
			var e struct {
				Type string          `json:"type"`
				Data json.RawMessage `json:"data"`
			}
			if json.Unmarshal(f.Data, &e) != nil {
				continue
			}
			switch e.Type {
			case events.ExperimentMoved:
				var tr events.Transition
				if json.Unmarshal(e.Data, &tr) == nil {
					v.transition(tr)
					if tr.From == "analyzing" && tr.To == "running" {
						// Extended: the run keeps its start and lasts longer.
						if err := c.call(ctx, http.MethodGet, "/v1/experiments/"+url.PathEscape(v.exp.ID.String()), nil, &v.exp); err != nil {
							return err
						}
					}
				}
			case events.KPIWindowClosed:
				var w events.KPIWindow
				if json.Unmarshal(e.Data, &w) == nil {
					v.window(w)
				}
			case events.AnalysisLook:
				var l events.Look
				if json.Unmarshal(e.Data, &l) == nil {
					v.look(l)
				}
			}
			if ended(v.exp.State) {
				return nil
			}
		}
	}
}

// awaitSubscribed reads until the gateway confirms the subscription; no event comes before that.
func awaitSubscribed(conn *websocket.Conn, within time.Duration) error {
	_ = conn.SetReadDeadline(time.Now().Add(within))
	for {
		var f wsproto.ServerFrame
		if err := conn.ReadJSON(&f); err != nil {
			return err
		}
		switch f.Type {
		case wsproto.Subscribed:
			return nil
		case wsproto.Error:
			return fmt.Errorf("gateway: %s: %s", f.Code, f.Message)
		}
	}
}

// pong answers a ping as gorilla's default handler does: a connection already closing, or a
// network error (which the next read reports anyway), is not the handler's failure.
func pong(conn *websocket.Conn, data string) error {
	err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(pongWait))
	var netErr net.Error
	if errors.Is(err, websocket.ErrCloseSent) || errors.As(err, &netErr) {
		return nil
	}
	return err
}

// catchUp prints the transitions recorded since the last one printed.
func (v *view) catchUp(ctx context.Context, c *client) error {
	var page struct {
		Items []events.Transition `json:"items"`
	}
	if err := c.call(ctx, http.MethodGet, "/v1/experiments/"+url.PathEscape(v.exp.ID.String())+"/transitions", nil, &page); err != nil {
		return err
	}
	for _, tr := range page.Items {
		v.transition(tr)
	}
	return nil
}

func (v *view) transition(tr events.Transition) {
	if tr.Seq <= v.lastSeq {
		return
	}
	v.lastSeq = tr.Seq
	v.exp.State = experiment.State(tr.To)
	line := fmt.Sprintf("%s  %s → %s", tr.At.Local().Format(time.TimeOnly), tr.From, tr.To)
	if tr.Reason != "" {
		line += "  (" + tr.Reason + ")"
	}
	fmt.Fprintln(v.out, line)
	if tr.To == "running" && v.runStart.IsZero() {
		v.runStart = tr.At
		fmt.Fprintln(v.out, "          window     series (base | cand)   datapoints/s         cost/hour            critical    collector CPU   collector memory")
	}
}

// window prints a window once both variants have reported it, with the run's progress.
func (v *view) window(w events.KPIWindow) {
	start := w.WindowStart.UTC()
	if v.printed[start] {
		return
	}
	if v.windows[start] == nil {
		v.windows[start] = map[string]events.KPIWindow{}
	}
	v.windows[start][w.Variant] = w
	b, okB := v.windows[start]["baseline"]
	cand, okC := v.windows[start]["candidate"]
	if !okB || !okC {
		return
	}
	delete(v.windows, start)
	v.printed[start] = true
	pair := func(name string, format func(float64) string) string {
		x, y := b.KPIs[name], cand.KPIs[name]
		s := format(x) + " | " + format(y)
		if x != 0 {
			s += fmt.Sprintf(" (%+.0f%%)", 100*(y-x)/x)
		}
		return s
	}
	count := func(x float64) string { return fmt.Sprintf("%.0f", x) }
	rate := func(x float64) string { return fmt.Sprintf("%.1f", x) }
	money := func(x float64) string { return fmt.Sprintf("$%.4f", x) }
	cpu := func(x float64) string { return fmt.Sprintf("%.3f", x) }
	mib := func(x float64) string { return fmt.Sprintf("%.0fMiB", x/(1<<20)) }
	cov := func(f events.KPIWindow) string {
		return fmt.Sprintf("%d/%d", len(f.CriticalCovered), len(f.CriticalCovered)+len(f.CriticalMissing))
	}
	fmt.Fprintf(v.out, "%s  %-22s %-20s %-20s %-11s %-15s %s\n", w.WindowEnd.Local().Format(time.TimeOnly),
		pair("series", count), pair("datapoints_per_second", rate), pair("cost_per_hour", money),
		cov(b)+" | "+cov(cand), pair("collector_cpu", cpu), pair("collector_memory", mib))
	if !v.runStart.IsZero() && v.exp.DurationSeconds > 0 {
		fmt.Fprintln(v.out, "          "+progress(w.WindowEnd.Sub(v.runStart), time.Duration(v.exp.DurationSeconds)*time.Second))
	}
}

// progress is a bar for elapsed of total.
func progress(elapsed, total time.Duration) string {
	const width = 30
	frac := math.Max(0, math.Min(1, float64(elapsed)/float64(total)))
	n := int(frac * width)
	return fmt.Sprintf("[%s%s] %3.0f%%  %s of %s", strings.Repeat("#", n), strings.Repeat(".", width-n), 100*frac,
		elapsed.Truncate(time.Second), total)
}

// look prints where every metric stands at a look: its change with the interval that holds at
// every look, narrowing window by window, and why the run ends when it does.
func (v *view) look(l events.Look) {
	if l.Windows <= v.lastLook && l.Kind == "live" {
		return
	}
	v.lastLook = l.Windows
	parts := make([]string, 0, len(l.Metrics))
	for _, m := range l.Metrics {
		p := shortName(m.Metric) + " "
		switch {
		case m.Estimate == nil:
			p += "…"
		case m.Low == nil || m.High == nil || *m.High > 9.99:
			p += signed(*m.Estimate) + " [wide]" // a change of +1000% or more: the interval says nothing yet
		default:
			p += fmt.Sprintf("%s [%s, %s]", signed(*m.Estimate), signed(*m.Low), signed(*m.High))
		}
		parts = append(parts, p+" "+outcomeMark(m.Outcome))
	}
	fmt.Fprintf(v.out, "          %s look, %d paired windows (%.0f%% of the error budget spent): %s\n", l.Kind, l.Windows, 100*l.Spent, strings.Join(parts, "  "))
	if l.Misses > 0 {
		fmt.Fprintf(v.out, "          critical processes lost in %d windows\n", l.Misses)
	}
	if l.Verdict != experiment.VerdictContinue {
		when := "the run ends"
		if l.Early {
			when = "the run ends early"
		}
		fmt.Fprintf(v.out, "          %s: %s — %s\n", when, strings.ToUpper(string(l.Verdict)), l.Reason)
	}
}

// signed formats a relative change with its sign, to one decimal: −80.7%.
func signed(f float64) string { return strings.Replace(fmt.Sprintf("%+.1f%%", 100*f), "-", "−", 1) }

// shortName abbreviates a KPI for the live view.
func shortName(metric string) string {
	if s, ok := map[string]string{"datapoints_per_second": "dp/s", "bytes_per_second": "bytes/s", "cost_per_hour": "cost/h",
		"collector_cpu": "cpu", "collector_memory": "mem", "critical_process_coverage": "coverage"}[metric]; ok {
		return s
	}
	return metric
}

// outcomeMark is a metric's outcome as the live view shows it.
func outcomeMark(o analysis.Outcome) string {
	switch o {
	case analysis.Improved:
		return "better"
	case analysis.Regressed:
		return "WORSE"
	case analysis.NoChange:
		return "same"
	}
	return "?"
}

// printVerdict prints the stored analysis: one row per metric with its change and interval, why
// each came out as it did, the safety rules, and the overall recommendation.
func printVerdict(out io.Writer, raw json.RawMessage) {
	var a struct {
		Verdict string          `json:"verdict"`
		Report  json.RawMessage `json:"report"`
	}
	if err := json.Unmarshal(raw, &a); err != nil || len(a.Report) == 0 {
		fmt.Fprintf(out, "\nverdict: %s\n", a.Verdict)
		return
	}
	// The report as the analyzer stores it: its own type, so the table follows its format.
	var rep analyzer.Report
	if err := json.Unmarshal(a.Report, &rep); err != nil {
		fmt.Fprintf(out, "\nverdict: %s (report unreadable: %v)\n", a.Verdict, err)
		return
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "METRIC\tBASELINE\tCANDIDATE\tCHANGE [%.0f%% INTERVAL, EVERY LOOK]\tBETTER\tOUTCOME\n", 100*rep.Settings.Confidence)
	for _, m := range rep.Metrics {
		name := m.Metric
		if m.Critical {
			name += " (guardrail)"
		}
		change := "-"
		if c := m.Change; c != nil {
			change = fmt.Sprintf("%s [%s, %s]", signed(c.Estimate), signed(c.Low), signed(c.High))
		}
		better := "lower"
		if m.Direction == analysis.HigherIsBetter {
			better = "higher"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, short(m.BaselineMean), short(m.CandidateMean), change, better, m.Outcome)
	}
	_ = tw.Flush()
	fmt.Fprintln(out, "\nwhy:")
	for _, m := range rep.Metrics {
		fmt.Fprintf(out, "  %-26s %s\n", m.Metric, m.Reason)
	}
	for _, step := range rep.Trace {
		if step.Rule == "critical coverage" || step.Rule == "input parity" {
			fmt.Fprintf(out, "  %-26s %s: %s\n", step.Rule, step.Result, step.Detail)
		}
	}
	fmt.Fprintf(out, "\n%s look at %d paired windows of %d planned (at most %d); %d looks taken, %.0f%% of the error budget spent\n",
		rep.Look.Kind, rep.Look.Windows, rep.Look.Schedule.Planned, rep.Look.Schedule.Max, rep.Look.Looks, 100*rep.Look.Spent)
	if c := rep.Calibration; c != nil {
		result := "HOLDS"
		if !c.Holds {
			result = "FALSE ALARM"
		}
		fmt.Fprintf(out, "A/A calibration: %s — %s\n", result, c.Detail)
	}
	if p := rep.Prediction; p != nil {
		fmt.Fprintf(out, "prediction against proof: %s\n", p.Detail)
	}
	verdict := strings.ToUpper(firstNonEmpty(string(rep.Verdict), a.Verdict))
	if rep.Early {
		verdict += " (ended early)"
	}
	fmt.Fprintf(out, "recommendation: %s", verdict)
	if rep.Reason != "" {
		fmt.Fprintf(out, " — %s", rep.Reason)
	}
	fmt.Fprintln(out)
	if rep.WindowsNeeded > 0 {
		fmt.Fprintf(out, "more data that would likely decide it: about %d paired windows in all\n", rep.WindowsNeeded)
	}
}

func short(x float64) string {
	switch ax := math.Abs(x); {
	case ax >= 1e9:
		return fmt.Sprintf("%.2fG", x/1e9)
	case ax >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case ax >= 1e4:
		return fmt.Sprintf("%.1fk", x/1e3)
	case ax >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.4g", x)
	}
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
