package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/phoenixotel/phoenix/cmd/phoenix/broker"
	"github.com/phoenixotel/phoenix/functions/analyzer"
	"github.com/phoenixotel/phoenix/functions/api"
	"github.com/phoenixotel/phoenix/functions/controller"
	"github.com/phoenixotel/phoenix/functions/gateway"
	"github.com/phoenixotel/phoenix/functions/generator"
	"github.com/phoenixotel/phoenix/functions/ingest"
	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/bootstrap"
	"github.com/phoenixotel/phoenix/shared/config"
	"github.com/phoenixotel/phoenix/shared/deployer"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/logging"
	"github.com/phoenixotel/phoenix/triggers"
)

// deployable is one function as `phoenix dev` runs it.
type deployable struct {
	name  string            // function name
	addr  string            // listen address
	needs bootstrap.Needs   // resources it uses
	build bootstrap.Builder // its service
	role  string            // what it does, printed at start
}

// devOptions are the flags of `phoenix dev`.
type devOptions struct {
	api, gateway, controller, generator, analyzer string // listen addresses
	deployer, ingest                              string // listen addresses of the local deployer and the ingest function
	broker                                        string // listen address of the local broker
	collector                                     string // the collector binary the local deployer runs
	runDir                                        string // where running collectors' configurations live
	tick                                          string // the PingSource schedule in development
	keysFile                                      string // dev JWT key file when PHOENIX_JWT_KEYS_FILE is unset
	skipMigrate                                   bool   // do not apply migrations first
	// ready, if set, receives the base URL of each function by name once all are up (phoenix demo).
	ready func(urls map[string]string)
}

func devCmd() *cobra.Command {
	var o devOptions
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run every Phoenix function and the gateway on this machine",
		Long: "Applies migrations, then starts the API, the gateway and the event functions, each on its own\n" +
			"loopback port, exactly as they run on Knative. Stops cleanly on Ctrl-C.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			return runDev(cmd.Context(), cfg, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	addDevFlags(cmd, &o)
	return cmd
}

// defaultCollector is the collector phoenix pipeline check uses ($PHOENIX_COLLECTOR, next to
// this binary, on PATH), else bin/phoenix-collector under the working directory.
func defaultCollector() string {
	if c := collector(); c != "" {
		return c
	}
	return filepath.Join("bin", "phoenix-collector")
}

// addDevFlags declares the flags of phoenix dev on cmd (phoenix demo runs the same platform).
func addDevFlags(cmd *cobra.Command, o *devOptions) {
	f := cmd.Flags()
	f.StringVar(&o.api, "api-addr", "127.0.0.1:8080", "listen address of the API")
	f.StringVar(&o.gateway, "gateway-addr", "127.0.0.1:8081", "listen address of the WebSocket gateway")
	f.StringVar(&o.controller, "controller-addr", "127.0.0.1:8082", "listen address of the controller function")
	f.StringVar(&o.generator, "generator-addr", "127.0.0.1:8083", "listen address of the generator function")
	f.StringVar(&o.analyzer, "analyzer-addr", "127.0.0.1:8084", "listen address of the analyzer function")
	f.StringVar(&o.ingest, "ingest-addr", "127.0.0.1:8086", "listen address of the ingest function (OTLP/HTTP from the collectors)")
	f.StringVar(&o.deployer, "deployer-addr", "127.0.0.1:8087", "listen address of the local deployer (runs the collectors)")
	f.StringVar(&o.collector, "collector", defaultCollector(), "the Phoenix collector binary (make collector) the deployer runs for each variant")
	f.StringVar(&o.runDir, "run-dir", filepath.Join(".phoenix", "run"), "where the deployer writes the configurations of running collectors")
	f.StringVar(&o.broker, "broker-addr", "127.0.0.1:8085", "listen address of the local broker (K_SINK of the functions)")
	f.StringVar(&o.tick, "tick", "@every 5s", "schedule of the controller's clock (the PingSource), cron syntax")
	f.StringVar(&o.keysFile, "dev-keys", filepath.Join(".phoenix", "dev-jwt.pem"),
		"token signing keys created on first start when PHOENIX_JWT_KEYS_FILE is not set")
	f.BoolVar(&o.skipMigrate, "skip-migrate", false, "do not apply migrations before starting")
}

// runDev runs the platform until ctx ends or a function fails.
func runDev(ctx context.Context, cfg config.Config, o devOptions, out, logs io.Writer) error {
	if !o.skipMigrate {
		if err := migrateUp(ctx, cfg, out); err != nil {
			return err
		}
	}
	// On this machine collectors run as processes (no /hostfs) and send to the local ingest.
	if _, set := os.LookupEnv("PHOENIX_DEPLOY_TARGET"); !set {
		cfg.DeployTarget = "local"
	}
	// The dead-letter sink: on a cluster a separate, cluster-local API serves it.
	cfg.InternalRoutes = true
	if cfg.JWTKeysFile == "" && cfg.JWTKeys == "" {
		if _, err := auth.EnsureDevKeyFile(o.keysFile); err != nil {
			return fmt.Errorf("development keys: %w", err)
		}
		cfg.JWTKeysFile = o.keysFile
	}
	all := []deployable{
		{"api", o.api, api.Needs(), api.Service, "HTTP API"},
		{"gateway", o.gateway, gateway.Needs(), gateway.Service, "WebSocket gateway (GET /ws)"},
		{"controller", o.controller, controller.Needs(), controller.Service, "CloudEvents: experiment transitions"},
		{"generator", o.generator, generator.Needs(), generator.Service, "CloudEvents: manifests"},
		{"analyzer", o.analyzer, analyzer.Needs(), analyzer.Service, "CloudEvents: analysis"},
		{"ingest", o.ingest, ingest.Needs(), ingest.Service, "OTLP/HTTP: measures both variants' output (POST /v1/metrics)"},
		{"deployer", o.deployer, deployer.Needs(), deployer.LocalService(o.collector, o.runDir),
			"CloudEvents: runs each variant's collector (" + o.collector + ")"},
	}
	var union bootstrap.Needs
	for _, d := range all {
		union.Store = union.Store || d.needs.Store
		union.Redis = union.Redis || d.needs.Redis
		union.Keys = union.Keys || d.needs.Keys
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The local broker listens first: its address is every function's K_SINK.
	local, err := startBroker(ctx, o, logging.New(logs, "broker", cfg.LogLevel))
	if err != nil {
		return err
	}
	cfg.Sink = local.url

	// runDev is this process's entry point for the platform, so it may set go-redis's
	// process-wide logger: the library's lines join the platform's logs (demo: the log file,
	// not the terminal).
	bootstrap.RouteRedisLogs(logging.New(logs, "redis", cfg.LogLevel))
	// Every function's port is bound first, so each knows the others' addresses before any starts:
	// the API's console knows where the gateway is, and the gateway admits the console's origin.
	listeners, err := listen(all)
	if err != nil {
		return err
	}
	defer func() {
		for _, ln := range listeners {
			_ = ln.Close() // closed already when its function ran; here for a start that failed
		}
	}()
	addrs := map[string]string{}
	for i, d := range all {
		addrs[d.name] = listeners[i].Addr().String()
	}
	if cfg.GatewayURL == "" {
		cfg.GatewayURL = "ws://" + addrs["gateway"] + "/ws"
	}
	if _, set := os.LookupEnv("PHOENIX_INGEST_URL"); !set {
		// Where the deployer's collectors send: the ingest's own bound port. (Choosing a free port
		// first and binding it later lost it once to another process in between.)
		cfg.IngestURL = "http://" + addrs["ingest"]
	}
	if cfg.CollectorBinary == "" {
		cfg.CollectorBinary = o.collector // the API checks tenants' own pipelines with the collector the deployer runs
	}
	cfg.AllowedOrigins = append(cfg.AllowedOrigins, "http://"+addrs["api"])
	shared, err := bootstrap.Open(cfg, logging.New(logs, "phoenix-dev", cfg.LogLevel), union)
	if err != nil {
		return err
	}
	defer shared.Close()
	// One group: the first function that fails stops the others, and runDev returns its error.
	g, gctx := errgroup.WithContext(ctx)
	bound := make([]string, len(all))
	ready := make(chan struct{}, len(all))
	for i, d := range all {
		res := *shared
		res.Logger = logging.New(logs, d.name, cfg.LogLevel)
		g.Go(func() error {
			err := bootstrap.Run(gctx, &res, d.build, function.Options{
				Addr: d.addr, Listener: listeners[i],
				Listening: func(a net.Addr) {
					bound[i] = a.String()
					local.serviceAt("phoenix-"+d.name, "http://"+a.String())
					if d.name == "api" { // on loopback the one API also serves what phoenix-api-internal does on a cluster
						local.serviceAt("phoenix-api-internal", "http://"+a.String())
					}
				},
				Started: func() { ready <- struct{}{} },
			})
			if err != nil {
				return fmt.Errorf("%s: %w", d.name, err)
			}
			return nil
		})
	}
	for range all {
		select {
		case <-ready:
		case <-gctx.Done(): // a function failed to start, or the caller stopped
			return errors.Join(g.Wait(), stopBroker(cancel, local))
		case err := <-local.failed:
			cancel()
			return errors.Join(fmt.Errorf("local broker: %w", err), g.Wait())
		}
	}
	printPlatform(out, all, bound, local, o.tick, cfg.JWTKeysFile)
	if o.ready != nil {
		urls := map[string]string{"broker": local.url}
		for i, d := range all {
			urls[d.name] = "http://" + bound[i]
		}
		o.ready(urls)
	}
	if err := errors.Join(g.Wait(), stopBroker(cancel, local)); err != nil {
		return err
	}
	fmt.Fprintln(out, "stopped")
	return nil
}

// listen binds every deployable's address.
func listen(all []deployable) ([]net.Listener, error) {
	out := make([]net.Listener, 0, len(all))
	for _, d := range all {
		ln, err := net.Listen("tcp", d.addr)
		if err != nil {
			for _, l := range out {
				_ = l.Close()
			}
			return nil, fmt.Errorf("%s: listen on %s: %w", d.name, d.addr, err)
		}
		out = append(out, ln)
	}
	return out, nil
}

// stopBroker stops the local broker (cancelling the platform's context) and returns how it ended.
func stopBroker(cancel context.CancelFunc, local *localBroker) error {
	cancel()
	if err := <-local.done; err != nil {
		return fmt.Errorf("local broker: %w", err)
	}
	return nil
}

// printPlatform prints where each function listens and what it does, the broker, and the keys.
func printPlatform(out io.Writer, all []deployable, bound []string, local *localBroker, tick, keys string) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FUNCTION\tLISTENS ON\tROLE")
	for i, d := range all {
		fmt.Fprintf(tw, "%s\thttp://%s\t%s\n", d.name, bound[i], d.role)
	}
	fmt.Fprintf(tw, "broker\t%s\tKnative-semantics broker: %d triggers, clock %q\n", local.url, local.triggers, tick)
	_ = tw.Flush()
	fmt.Fprintf(out, "token keys: %s (JWKS at http://%s%s)\nconsole: http://%s/console/\nPhoenix is running; press Ctrl-C to stop.\n",
		keys, bound[0], auth.JWKSPath, bound[0])
}

// localBroker is the broker `phoenix dev` runs in place of Knative's.
type localBroker struct {
	url      string            // ingress URL, the functions' K_SINK
	triggers int               // how many triggers it routes
	mu       sync.Mutex        // guards services
	services map[string]string // Knative Service name -> local base URL
	failed   chan error        // the broker's server stopped before the platform was up
	done     chan error        // the broker has stopped; its result
}

func (l *localBroker) serviceAt(name, url string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.services[name] = url
}

// resolve maps a Knative destination to a local URL: Services to the functions, the Broker to
// itself, a relative URI against the ref's URL.
func (l *localBroker) resolve(d broker.Destination) (string, error) {
	if d.Ref == nil {
		if d.URI == "" {
			return "", errors.New("destination has neither ref nor uri")
		}
		return d.URI, nil
	}
	var base string
	switch d.Ref.Kind {
	case "Broker":
		base = strings.TrimSuffix(l.url, "/")
	case "Service":
		l.mu.Lock()
		base = l.services[d.Ref.Name]
		l.mu.Unlock()
	}
	if base == "" {
		return "", fmt.Errorf("no local %s named %s", d.Ref.Kind, d.Ref.Name)
	}
	if d.URI != "" {
		return base + "/" + strings.TrimPrefix(d.URI, "/"), nil
	}
	return base + "/", nil
}

// startBroker loads the embedded triggers and starts the local broker on o.broker.
func startBroker(ctx context.Context, o devOptions, logger *slog.Logger) (*localBroker, error) {
	cfg, err := broker.Load(triggers.FS)
	if err != nil {
		return nil, fmt.Errorf("load triggers: %w", err)
	}
	l := &localBroker{services: map[string]string{}, triggers: len(cfg.Triggers), failed: make(chan error, 1), done: make(chan error, 1)}
	b, err := broker.New(cfg, "phoenix", broker.Options{Resolve: l.resolve, Namespace: "phoenix", Logger: logger, PingSchedule: o.tick})
	if err != nil {
		return nil, fmt.Errorf("local broker: %w", err)
	}
	listening := make(chan string, 1)
	go func() {
		runErr := make(chan error, 1)
		go func() { runErr <- b.Run(ctx) }()
		err := function.Serve(ctx, function.Service{Name: "broker", HTTP: b}, function.Options{
			Addr: o.broker, Logger: logger, Listening: func(a net.Addr) { listening <- "http://" + a.String() + "/" },
		})
		if err != nil {
			l.failed <- err
		}
		l.done <- errors.Join(err, <-runErr)
	}()
	select {
	case l.url = <-listening:
		return l, nil
	case err := <-l.failed:
		return nil, err
	}
}
