package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/spf13/cobra"

	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/config"
)

// loadOptions are the flags of `phoenix test load`.
type loadOptions struct {
	connections    int           // WebSocket connections to hold
	duration       time.Duration // how long to publish events over
	events         int           // events published to every tenant; 0 = one per second
	gateway        string        // the gateway's ws:// URL of /ws
	metrics        string        // the gateway's /metrics URL; empty = derived from gateway, "-" = none
	redisURL       string        // where to publish; empty = PHOENIX_REDIS_URL
	keysFile       string        // the signing keys the gateway verifies with
	tenants        int           // tenants the connections are spread over; 0 = one per 1000
	users          int           // subjects per tenant; 0 = one per 25 connections
	distinctTokens bool          // one token per connection instead of one per subject
	sources        int           // loopback source addresses to dial from
	concurrency    int           // handshakes in flight
	grace          time.Duration // how long to wait for deliveries after the last event
	settle         time.Duration // how long to wait for the gateway's next garbage collection before measuring memory
	throughAPI     bool          // cause the events through the API as the logged-in user instead of publishing them
}

func testCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Exercise a running Phoenix",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(loadTestCmd(), integrationCmd())
	return cmd
}

func loadTestCmd() *cobra.Command {
	var o loadOptions
	cmd := &cobra.Command{
		Use:   "load --connections N [--duration D] [--events E]",
		Short: "Hold N authenticated WebSocket connections to the gateway and measure event delivery",
		Long: "Opens N connections to a running gateway, authenticated with short-lived tokens signed by the\n" +
			"key set the gateway verifies with (--keys; phoenix dev's development keys by default), spread\n" +
			"over --tenants tenants and --users subjects per tenant, and subscribes each to its tenant channel.\n" +
			"Then it publishes E events to every tenant through Redis, exactly as the controller publishes\n" +
			"transitions, spread evenly over D, and checks that every connection receives every event once,\n" +
			"in order, without gaps. It prints the connection time, the delivery latency (publish to\n" +
			"receipt, p50/p95/p99/max), events lost, and the gateway's memory per connection (from its\n" +
			"/metrics, measured before the first event). Run it in a process of its own: each connection\n" +
			"is a file descriptor here and one in the gateway.\n\n" +
			"With --through-api the events are real experiment transitions caused through the API as the\n" +
			"user of `phoenix login`: each is an experiment created and stopped, whose move to cancelled\n" +
			"the controller publishes; every connection joins that user's tenant, and the latency runs from\n" +
			"the stop request to receipt (API, broker, controller, Redis and gateway).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			var api *client
			if o.throughAPI {
				if api, err = session(); err != nil {
					return inputError{fmt.Errorf("--through-api: %w", err)}
				}
				if !cmd.Flags().Changed("gateway") && api.creds.Gateway != "" {
					o.gateway = wsURL(api.creds.Gateway)
				}
			}
			rep, err := runLoad(cmd.Context(), o, cfg, api, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			rep.write(cmd.OutOrStdout())
			return rep.verdict()
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.connections, "connections", 1000, "WebSocket connections to open and hold")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "how long to publish events over")
	f.IntVar(&o.events, "events", 0, "events published to every tenant (default: one per second of --duration)")
	f.StringVar(&o.gateway, "gateway", "ws://127.0.0.1:8081/ws", "the gateway's WebSocket URL")
	f.StringVar(&o.metrics, "metrics", "", `the gateway's metrics URL (default: /metrics beside --gateway; "-" for none)`)
	f.StringVar(&o.redisURL, "redis", "", "Redis to publish through (default: PHOENIX_REDIS_URL)")
	f.StringVar(&o.keysFile, "keys", "", "PEM file of the gateway's signing keys (default: PHOENIX_JWT_KEYS_FILE, else .phoenix/dev-jwt.pem)")
	f.IntVar(&o.tenants, "tenants", 0, "tenants to spread the connections over (default: one per 1000 connections)")
	f.IntVar(&o.users, "users", 0, "subjects per tenant (default: one per 25 connections)")
	f.BoolVar(&o.distinctTokens, "distinct-tokens", false, "give every connection its own token (the revocation check's worst case)")
	f.IntVar(&o.sources, "source-addrs", 16, "loopback source addresses (127.0.0.1 up) to spread connections over")
	f.IntVar(&o.concurrency, "concurrency", 64, "handshakes in flight at once")
	f.DurationVar(&o.grace, "grace", 5*time.Second, "how long to wait for the last deliveries")
	f.BoolVar(&o.throughAPI, "through-api", false, "cause the events through the API as the user of `phoenix login` (one tenant; default: publish through Redis)")
	f.DurationVar(&o.settle, "settle", 150*time.Second, "how long to wait for the gateway's next garbage collection before measuring its memory (Go collects at least every 2 minutes)")
	return cmd
}

// validate fills defaults and refuses impossible combinations.
func (o *loadOptions) validate(cfg config.Config) error {
	switch {
	case o.connections < 1 || o.connections > 100_000:
		return inputError{fmt.Errorf("--connections must be from 1 to 100000, got %d", o.connections)}
	case o.duration <= 0 || o.duration > 30*time.Minute:
		return inputError{fmt.Errorf("--duration must be positive and at most 30m, got %s", o.duration)}
	case o.events < 0 || o.sources < 1 || o.sources > 250 || o.concurrency < 1:
		return inputError{errors.New("--events must not be negative, --source-addrs must be 1-250, --concurrency positive")}
	}
	if o.events == 0 {
		o.events = max(1, int(o.duration/time.Second))
	}
	if o.throughAPI {
		if o.tenants > 1 {
			return inputError{errors.New("--through-api holds every connection in the logged-in user's tenant: drop --tenants")}
		}
		o.tenants = 1
	}
	if o.tenants <= 0 {
		o.tenants = (o.connections + 999) / 1000
	}
	o.tenants = min(o.tenants, o.connections)
	perTenant := (o.connections + o.tenants - 1) / o.tenants
	if o.users <= 0 {
		o.users = (perTenant + 24) / 25
	}
	o.users = min(o.users, perTenant)
	if o.redisURL == "" {
		o.redisURL = cfg.RedisURL
	}
	if o.keysFile == "" {
		o.keysFile = cfg.JWTKeysFile
	}
	if o.keysFile == "" {
		o.keysFile = ".phoenix/dev-jwt.pem"
	}
	u, err := url.Parse(o.gateway)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return inputError{fmt.Errorf("--gateway must be a ws:// or wss:// URL, got %q", o.gateway)}
	}
	if o.metrics == "" {
		m := *u
		m.Scheme = strings.Replace(strings.Replace(u.Scheme, "wss", "https", 1), "ws", "http", 1)
		m.Path = "/metrics"
		o.metrics = m.String()
	}
	return nil
}

// loadConn is one connection of the test and what its reader saw.
type loadConn struct {
	ws       *websocket.Conn // the connection
	tenant   int             // index of its tenant
	next     uint64          // the sequence number it expects next; 0: the channel's first, any number
	got      int             // events received in order
	dup      int             // events with a number already seen
	gaps     int             // numbers skipped
	latency  []time.Duration // cause-to-receipt time of each event
	errFrame string          // the first error frame, if any
	ended    error           // why the connection ended before the test closed it
}

// loadReport is the outcome of a run.
type loadReport struct {
	Connections     int             // connections asked for
	Opened          int             // connections opened and subscribed
	Failed          []string        // why connections could not be opened (first few)
	FailedCount     int             // connections that could not be opened
	ConnectWall     time.Duration   // time to open all of them
	Connect         []time.Duration // per connection: handshake and subscription
	Tenants         int             // tenants the connections were spread over
	Users           int             // subjects per tenant
	Events          int             // events published to every tenant
	Interval        time.Duration   // time between events
	Expected        int             // deliveries expected: every event to every connection of its tenant
	Delivered       int             // deliveries received in order
	Duplicates      int             // deliveries of a number already received
	Gaps            int             // numbers skipped
	Ended           int             // connections that ended during the test
	ErrorFrames     int             // connections that received an error frame
	Latency         []time.Duration // every delivery's cause-to-receipt time
	LatencyFrom     string          // what the latency is measured from
	MemoryKnown     bool            // whether the gateway's metrics could be read
	MemoryCollected bool            // whether the gateway collected garbage after the connections opened
	RSSPerConn      float64         // gateway resident memory added per connection, bytes
	HeapPerConn     float64         // gateway live heap and stacks added per connection, bytes
	GatewayConns    float64         // the gateway's own connection count when measured
	Fanout          []bucket        // the gateway's fan-out histogram over the events
	GatewayCPU      float64         // the gateway's CPU seconds over the events
}

// runLoad runs the load test; progress goes to log. With o.throughAPI, api is the logged-in
// session the events are caused through.
func runLoad(ctx context.Context, o loadOptions, cfg config.Config, api *client, log io.Writer) (*loadReport, error) {
	if err := o.validate(cfg); err != nil {
		return nil, err
	}
	if err := ensureOpenFiles(uint64(o.connections) + 256); err != nil { // #nosec G115 -- validate bounds connections to 1–100,000
		return nil, err
	}
	keys, err := auth.LoadKeySetFile(o.keysFile)
	if err != nil {
		return nil, fmt.Errorf("--keys: %w", err)
	}
	ttl := min(o.duration+10*time.Minute, auth.MaxTTL)
	issuer, err := auth.NewIssuer(auth.IssuerConfig{Keys: keys, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, TTL: ttl})
	if err != nil {
		return nil, err
	}
	var src *eventSource
	if o.throughAPI {
		src, err = apiEvents(ctx, api, keys, cfg)
	} else {
		src, err = redisEvents(ctx, o)
	}
	if err != nil {
		return nil, err
	}
	defer src.close()

	rep := &loadReport{Connections: o.connections, Tenants: o.tenants, Users: o.users, Events: o.events,
		Interval: o.duration / time.Duration(o.events), LatencyFrom: src.from}
	tokenFor, err := tokenSource(issuer, src.tenants, o)
	if err != nil {
		return nil, err
	}
	before, _ := scrapeGateway(o.metrics)

	fmt.Fprintf(log, "opening %d connections to %s (%d tenants × %d subjects, %d source addresses) …\n",
		o.connections, o.gateway, o.tenants, o.users, o.sources)
	conns, err := openAll(ctx, o, tokenFor, rep)
	defer closeAll(conns)
	if err != nil {
		return nil, err
	}
	if rep.Opened == 0 {
		return rep, nil
	}
	idle, collected, err := settledMemory(ctx, o.metrics, o.settle)
	if err == nil && before != nil {
		rep.MemoryKnown, rep.MemoryCollected = true, collected
		n := float64(rep.Opened)
		b, a := before.values, idle.values
		rep.RSSPerConn = (a["process_resident_memory_bytes"] - b["process_resident_memory_bytes"]) / n
		rep.HeapPerConn = (a["go_memstats_heap_alloc_bytes"] + a["go_memstats_stack_inuse_bytes"] -
			b["go_memstats_heap_alloc_bytes"] - b["go_memstats_stack_inuse_bytes"]) / n
		rep.GatewayConns = a["phoenix_gateway_connections"]
	}

	// Readers, then events.
	deadline := time.Now().Add(o.duration + o.grace + 10*time.Second)
	var pending sync.WaitGroup
	var wg sync.WaitGroup
	for _, c := range conns {
		if c == nil {
			continue
		}
		pending.Add(1)
		wg.Go(func() { c.read(o.events, deadline, src.stamp, pending.Done) })
	}
	allIn := make(chan struct{})
	go func() { pending.Wait(); close(allIn) }()

	fmt.Fprintf(log, "%s %d events to each of %d tenants, one every %s …\n", src.verb, o.events, o.tenants, rep.Interval)
	start := time.Now()
	for n := 1; n <= o.events; n++ {
		if !sleepCtx(ctx, time.Until(start.Add(time.Duration(n-1)*rep.Interval))) {
			return nil, ctx.Err()
		}
		if err := src.cause(ctx, n); err != nil {
			return nil, fmt.Errorf("event %d: %w", n, err)
		}
	}
	select {
	case <-allIn:
	case <-time.After(o.grace):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if idle != nil {
		if done, err := scrapeGateway(o.metrics); err == nil {
			rep.Fanout = done.fanoutSince(idle)
			rep.GatewayCPU = done.values["process_cpu_seconds_total"] - idle.values["process_cpu_seconds_total"]
		}
	}
	closeAll(conns)
	wg.Wait()
	for _, c := range conns {
		if c == nil {
			continue
		}
		rep.Expected += o.events
		rep.Delivered += c.got
		rep.Duplicates += c.dup
		rep.Gaps += c.gaps
		rep.Latency = append(rep.Latency, c.latency...)
		if c.ended != nil {
			rep.Ended++
		}
		if c.errFrame != "" {
			rep.ErrorFrames++
		}
	}
	return rep, nil
}

// tokenSource returns the token of connection i: signed once per subject, or once per
// connection with --distinct-tokens. The subjects are service accounts holding experiment:read,
// as a streaming client would be.
func tokenSource(issuer *auth.Issuer, tenants []uuid.UUID, o loadOptions) (func(i int) (string, int, error), error) {
	issue := func(tenant uuid.UUID, user int) (string, error) {
		tok, _, err := issuer.Issue(auth.Grant{Subject: "loadtest-" + strconv.Itoa(user), SubjectType: auth.SubjectServiceAccount,
			Tenant: tenant, Permissions: []string{"experiment:read"}})
		return tok, err
	}
	if o.distinctTokens {
		return func(i int) (string, int, error) {
			t := i % len(tenants)
			tok, err := issue(tenants[t], (i/len(tenants))%o.users)
			return tok, t, err
		}, nil
	}
	shared := make([][]string, len(tenants))
	for t := range tenants {
		shared[t] = make([]string, o.users)
		for u := range shared[t] {
			var err error
			if shared[t][u], err = issue(tenants[t], u); err != nil {
				return nil, err
			}
		}
	}
	return func(i int) (string, int, error) {
		t := i % len(tenants)
		return shared[t][(i/len(tenants))%o.users], t, nil
	}, nil
}

// openAll opens and subscribes every connection with bounded concurrency, retrying refusals the
// gateway asks to retry (503, 429 with Retry-After), as a well-behaved client does.
func openAll(ctx context.Context, o loadOptions, tokenFor func(int) (string, int, error), rep *loadReport) ([]*loadConn, error) {
	dialers := make([]*websocket.Dialer, o.sources)
	loopback := isLoopback(o.gateway)
	for i := range dialers {
		nd := &net.Dialer{Timeout: 30 * time.Second}
		if loopback && o.sources > 1 {
			nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))}
		}
		dialers[i] = &websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: 30 * time.Second,
			ReadBufferSize: 1024, WriteBufferSize: 512}
	}
	conns := make([]*loadConn, o.connections)
	times := make([]time.Duration, o.connections)
	var failed atomic.Int64
	var mu sync.Mutex
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range o.concurrency {
		wg.Go(func() {
			for i := range next {
				t0 := time.Now()
				c, err := openOne(ctx, dialers[i%len(dialers)], o.gateway, tokenFor, i)
				if err != nil {
					failed.Add(1)
					mu.Lock()
					if len(rep.Failed) < 5 {
						rep.Failed = append(rep.Failed, err.Error())
					}
					mu.Unlock()
					continue
				}
				times[i] = time.Since(t0)
				conns[i] = c
			}
		})
	}
	for i := range o.connections {
		select {
		case next <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(next)
	wg.Wait()
	rep.ConnectWall = time.Since(start)
	rep.FailedCount = int(failed.Load())
	for i, c := range conns {
		if c != nil {
			rep.Opened++
			rep.Connect = append(rep.Connect, times[i])
		}
	}
	return conns, ctx.Err()
}

// openOne opens connection i and subscribes it to its tenant channel.
func openOne(ctx context.Context, d *websocket.Dialer, gw string, tokenFor func(int) (string, int, error), i int) (*loadConn, error) {
	token, tenant, err := tokenFor(i)
	if err != nil {
		return nil, err
	}
	header := http.Header{"Authorization": {"Bearer " + token}}
	var ws *websocket.Conn
	for attempt := 0; ; attempt++ {
		var resp *http.Response
		ws, resp, err = d.DialContext(ctx, gw, header)
		if err == nil {
			break
		}
		if resp == nil || (resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusTooManyRequests) || attempt >= 30 {
			if resp != nil {
				return nil, fmt.Errorf("connection %d: %s", i, resp.Status)
			}
			return nil, fmt.Errorf("connection %d: %w", i, err)
		}
		wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		// Back off as told, at most 2 s, with jitter so the retries do not arrive together.
		backoff := min(time.Duration(max(wait, 1))*time.Second, 2*time.Second)
		if !sleepCtx(ctx, backoff/2+rand.N(backoff/2)) { // #nosec G404 -- retry jitter
			return nil, ctx.Err()
		}
	}
	c := &loadConn{ws: ws, tenant: tenant}
	_ = ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"subscribe","channel":"tenant"}`)); err != nil {
		_ = ws.Close()
		return nil, fmt.Errorf("connection %d: subscribe: %w", i, err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	var f struct {
		Type string `json:"type"`
		Seq  uint64 `json:"seq"`
		Code string `json:"code"`
	}
	if err := ws.ReadJSON(&f); err != nil || f.Type != "subscribed" {
		_ = ws.Close()
		return nil, fmt.Errorf("connection %d: subscribe answered %+v, %v", i, f, err)
	}
	// A channel that never had an event (seq 0) starts its numbering at any number (Redis's
	// clock, see docs/websocket.md): its first event is expected, whatever it is.
	if f.Seq > 0 {
		c.next = f.Seq + 1
	}
	return c, nil
}

// read receives events until the connection is closed, calling done once it has want of the
// events stamp recognises (stamp gives the time each was caused). Frames are read into one reused
// buffer and scanned for the few fields the test needs: at ten thousand connections the tool
// must cost less than the gateway it measures.
func (c *loadConn) read(want int, deadline time.Time, stamp func(frame []byte) (time.Time, bool), done func()) {
	c.latency = make([]time.Duration, 0, want)
	signalled := false
	signal := func() {
		if !signalled {
			signalled = true
			done()
		}
	}
	defer signal()
	_ = c.ws.SetReadDeadline(deadline)
	var buf bytes.Buffer
	for {
		_, r, err := c.ws.NextReader()
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		at := time.Now()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.Is(err, net.ErrClosed) && !(errors.As(err, &ce) && ce.Code == websocket.CloseNormalClosure) {
				c.ended = err
			}
			return
		}
		frame := buf.Bytes()
		switch {
		case bytes.HasPrefix(frame, []byte(`{"type":"error"`)):
			if c.errFrame == "" {
				c.errFrame = string(frame)
			}
		case !bytes.HasPrefix(frame, []byte(`{"type":"event"`)):
		default:
			seq, okSeq := numberAfter(frame, `"seq":`) // the gateway's, which precedes the event's data
			switch {
			case !okSeq:
				if c.errFrame == "" {
					c.errFrame = "unreadable event " + string(frame)
				}
			case seq < c.next:
				c.dup++
			default:
				if c.next == 0 {
					c.next = seq
				}
				c.gaps += int(seq - c.next) // #nosec G115 -- seq ≥ next here and counts events of this run
				c.next = seq + 1
				sent, ours := stamp(frame)
				if !ours {
					continue // another event of the tenant: in sequence, not one the test caused
				}
				c.got++
				c.latency = append(c.latency, at.Sub(sent))
				if c.got == want {
					signal()
				}
			}
		}
	}
}

// numberAfter reads the unsigned integer that follows the first key in frame.
func numberAfter(frame []byte, key string) (uint64, bool) {
	rest, ok := after(frame, key)
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	n, err := strconv.ParseUint(string(rest[:end]), 10, 64)
	return n, ok && err == nil
}

// stringAfter reads the JSON string (without escapes) that follows the first key in frame, the
// key including the opening quote of the value.
func stringAfter(frame []byte, key string) (string, bool) {
	rest, ok := after(frame, key)
	end := bytes.IndexByte(rest, '"')
	if !ok || end < 0 {
		return "", false
	}
	return string(rest[:end]), true
}

// after is what follows the first key in frame, or false when frame lacks it.
func after(frame []byte, key string) ([]byte, bool) {
	i := bytes.Index(frame, []byte(key))
	if i < 0 {
		return nil, false
	}
	return frame[i+len(key):], true
}

// closeAll closes every connection with a close frame, in parallel.
func closeAll(conns []*loadConn) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for _, c := range conns {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
			_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			_ = c.ws.Close()
		})
	}
	wg.Wait()
}

// gatewayMetrics is what the load test reads from the gateway's /metrics.
type gatewayMetrics struct {
	values map[string]float64 // the memory, connection, GC and CPU gauges and counters, by name
	fanout []bucket           // phoenix_gateway_fanout_seconds, cumulative, by upper bound
}

// bucket is one cumulative histogram bucket.
type bucket struct {
	le    float64 // upper bound, seconds
	count float64 // observations at or below le
}

// scrapeGateway reads the gateway's memory and connection gauges, its CPU time and its fan-out
// histogram from its /metrics.
func scrapeGateway(metricsURL string) (*gatewayMetrics, error) {
	if metricsURL == "-" {
		return nil, errors.New("no metrics URL")
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(metricsURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", metricsURL, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", metricsURL, err)
	}
	m := &gatewayMetrics{values: map[string]float64{}}
	for _, name := range []string{"process_resident_memory_bytes", "go_memstats_heap_alloc_bytes",
		"go_memstats_stack_inuse_bytes", "phoenix_gateway_connections", "process_cpu_seconds_total"} {
		if f := families[name]; f != nil && len(f.GetMetric()) == 1 {
			x := f.GetMetric()[0]
			m.values[name] = x.GetGauge().GetValue() + x.GetCounter().GetValue()
		}
	}
	if f := families["go_gc_duration_seconds"]; f != nil && len(f.GetMetric()) == 1 {
		m.values["go_gc_duration_seconds_count"] = float64(f.GetMetric()[0].GetSummary().GetSampleCount())
	}
	if f := families["phoenix_gateway_fanout_seconds"]; f != nil && len(f.GetMetric()) == 1 {
		for _, b := range f.GetMetric()[0].GetHistogram().GetBucket() {
			m.fanout = append(m.fanout, bucket{le: b.GetUpperBound(), count: float64(b.GetCumulativeCount())})
		}
	}
	if len(m.values) < 4 {
		return nil, fmt.Errorf("%s has no process and Go memory metrics", metricsURL)
	}
	return m, nil
}

// fanoutSince is the fan-out histogram of the observations made between before and m.
func (m *gatewayMetrics) fanoutSince(before *gatewayMetrics) []bucket {
	if len(before.fanout) != len(m.fanout) {
		return nil
	}
	out := make([]bucket, len(m.fanout))
	for i, b := range m.fanout {
		out[i] = bucket{le: b.le, count: b.count - before.fanout[i].count}
	}
	return out
}

// histogramQuantile estimates the q-quantile of a cumulative histogram as Prometheus's
// histogram_quantile does: linear interpolation within the bucket that holds it (the lowest
// bucket from 0). It returns the bound as an upper limit when the quantile falls beyond the last
// finite bucket, and NaN without observations.
func histogramQuantile(q float64, buckets []bucket) float64 {
	if len(buckets) == 0 || buckets[len(buckets)-1].count == 0 {
		return math.NaN()
	}
	total := buckets[len(buckets)-1].count
	rank := q * total
	lower, below := 0.0, 0.0
	for _, b := range buckets {
		if b.count >= rank {
			if math.IsInf(b.le, 1) {
				return lower
			}
			if b.count == below {
				return b.le
			}
			return lower + (b.le-lower)*(rank-below)/(b.count-below)
		}
		lower, below = b.le, b.count
	}
	return lower
}

// settledMemory reads the gateway's memory once it has collected garbage since now (so the heap
// holds what the connections keep, not what their handshakes left), or after wait at most.
func settledMemory(ctx context.Context, metricsURL string, wait time.Duration) (*gatewayMetrics, bool, error) {
	first, err := scrapeGateway(metricsURL)
	if err != nil {
		return nil, false, err
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if !sleepCtx(ctx, time.Second) {
			return nil, false, ctx.Err()
		}
		m, err := scrapeGateway(metricsURL)
		if err != nil {
			return nil, false, err
		}
		if m.values["go_gc_duration_seconds_count"] > first.values["go_gc_duration_seconds_count"] {
			return m, true, nil
		}
	}
	m, err := scrapeGateway(metricsURL)
	return m, false, err
}

// ensureOpenFiles raises the soft open-files limit to need if the hard limit allows, since every
// connection is a file descriptor.
func ensureOpenFiles(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil // cannot tell; the dials will say
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max >= need {
		lim.Cur = need
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
			return nil
		}
	}
	return fmt.Errorf("the open-files limit is %d (hard %d) but %d connections need about %d: raise it (ulimit -n) or open fewer",
		lim.Cur, lim.Max, need-256, need)
}

// isLoopback reports whether the gateway URL names a loopback host.
func isLoopback(gw string) bool {
	u, err := url.Parse(gw)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback() && ip.To4() != nil
}

// sleepCtx waits d, or returns false if ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// percentile returns the p-quantile (0 < p ≤ 1) of sorted by the nearest-rank method.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// lost is the deliveries that never came.
func (r *loadReport) lost() int { return r.Expected - r.Delivered }

// write prints the report.
func (r *loadReport) write(out io.Writer) {
	slices.Sort(r.Connect)
	slices.Sort(r.Latency)
	ms := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "connections\t%d opened, %d failed, %d ended early (%d tenants × %d subjects)\n",
		r.Opened, r.FailedCount, r.Ended, r.Tenants, r.Users)
	rate := 0.0
	if r.ConnectWall > 0 {
		rate = float64(r.Opened) / r.ConnectWall.Seconds()
	}
	fmt.Fprintf(tw, "connect\tall in %.1f s (%.0f/s); each p50 %s, p99 %s, max %s\n", r.ConnectWall.Seconds(), rate,
		ms(percentile(r.Connect, .5)), ms(percentile(r.Connect, .99)), ms(percentile(r.Connect, 1)))
	fmt.Fprintf(tw, "events\t%d to each tenant, one every %s\n", r.Events, r.Interval)
	fmt.Fprintf(tw, "deliveries\t%d of %d; lost %d, duplicates %d, gaps %d, error frames %d\n",
		r.Delivered, r.Expected, r.lost(), r.Duplicates, r.Gaps, r.ErrorFrames)
	fmt.Fprintf(tw, "latency\tp50 %s, p95 %s, p99 %s, max %s (%s to receipt)\n", ms(percentile(r.Latency, .5)),
		ms(percentile(r.Latency, .95)), ms(percentile(r.Latency, .99)), ms(percentile(r.Latency, 1)), r.LatencyFrom)
	if p99 := histogramQuantile(.99, r.Fanout); !math.IsNaN(p99) {
		perDelivery := 0.0
		if r.Delivered > 0 {
			perDelivery = r.GatewayCPU / float64(r.Delivered) * 1e6
		}
		fmt.Fprintf(tw, "gateway fan-out	p50 %.1f ms, p99 %.1f ms (its histogram: from Redis to the frame written); %.1f s of CPU over the events, %.1f µs per delivery\n",
			histogramQuantile(.5, r.Fanout)*1000, p99*1000, r.GatewayCPU, perDelivery)
	}
	switch {
	case r.MemoryKnown && (r.HeapPerConn <= 0 || r.RSSPerConn <= 0):
		// The process also did other work (phoenix dev runs every function in one): what the
		// connections added is lost in what the rest freed.
		fmt.Fprintln(tw, "gateway memory\tnot measurable: the process's memory fell while the connections opened (it runs more than the gateway)")
	case r.MemoryKnown:
		when := "after a garbage collection"
		if !r.MemoryCollected {
			when = "no garbage collection yet, so an upper bound"
		}
		fmt.Fprintf(tw, "gateway memory\t%.1f KB live heap+stacks and %.1f KB resident per idle connection (%.0f connections; %s)\n",
			r.HeapPerConn/1024, r.RSSPerConn/1024, r.GatewayConns, when)
	default:
		fmt.Fprintln(tw, "gateway memory\tunknown (its /metrics could not be read)")
	}
	for _, f := range r.Failed {
		fmt.Fprintf(tw, "failure\t%s\n", f)
	}
	_ = tw.Flush()
}

// verdict is an error unless every connection opened, stayed and received every event.
func (r *loadReport) verdict() error {
	if r.FailedCount > 0 || r.Ended > 0 || r.lost() > 0 || r.Duplicates > 0 || r.Gaps > 0 || r.ErrorFrames > 0 {
		return fmt.Errorf("load test failed: %d connections failed, %d ended early, %d deliveries lost, %d duplicates, %d gaps",
			r.FailedCount, r.Ended, r.lost(), r.Duplicates, r.Gaps)
	}
	return nil
}
