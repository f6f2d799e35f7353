package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
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
