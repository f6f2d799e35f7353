package gateway

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Defaults applied by New to zero-valued Options fields. docs/websocket.md lists them for clients.
const (
	DefaultMaxConnections          = 10000
	DefaultMaxConnectionsPerTenant = 2000
	DefaultMaxConnectionsPerUser   = 50
	DefaultConnectRate             = 1000 // handshakes per second, per replica
	DefaultMessageRate             = 20   // client frames per second, per connection
	DefaultSendQueue               = 256
	DefaultMaxMessageSize          = 4 << 10
	DefaultMaxSubscriptions        = 100
	DefaultPingInterval            = 25 * time.Second
	DefaultPongWait                = 60 * time.Second
	DefaultRecheckInterval         = time.Second
	DefaultWriteTimeout            = 10 * time.Second
	DefaultSubscribeTimeout        = 5 * time.Second
	DefaultDrainWindow             = 10 * time.Second
	DefaultRedisHealthInterval     = time.Second
)

// Options configures a Gateway. Redis, Authenticator and Experiments are required; every other
// zero value means the default documented on the field.
type Options struct {
	// Redis carries the gateway's one pub/sub connection and the history reads. It stays owned by
	// the caller; Shutdown does not close it.
	Redis *redis.Client
	// ChannelPrefix namespaces the Redis channels and keys, as in realtime.TenantChannel;
	// publishers must use the same prefix.
	ChannelPrefix string
	// Authenticator turns a bearer token into an Identity, at the handshake and for in-band
	// re-authentication.
	Authenticator Authenticator
	// Experiments says whether an experiment exists in a tenant; a subscription to any other is
	// refused.
	Experiments Experiments
	// AllowedOrigins lists the browser origins ("https://app.example.com") allowed to connect.
	// Empty allows only same-origin requests and requests without an Origin header (CLIs); "*"
	// allows every origin.
	AllowedOrigins []string
	// MaxConnections caps this replica's connections; the handshake beyond it gets 503.
	MaxConnections int
	// MaxConnectionsPerTenant caps one tenant's connections on this replica (429 beyond).
	MaxConnectionsPerTenant int
	// MaxConnectionsPerUser caps one subject's connections on this replica (429 beyond).
	MaxConnectionsPerUser int
	// ConnectRate is how many handshakes per second this replica admits (a token bucket with a
	// burst of one second's worth); beyond it the handshake gets 503. Negative means unlimited.
	ConnectRate float64
	// MessageRate is how many frames per second one connection may send (a token bucket with a
	// burst of one second's worth); beyond it a frame gets a rate_limited error. Negative means
	// unlimited.
	MessageRate float64
	// SendQueue is how many frames may wait for one connection's writer; an event that finds the
	// queue full disconnects the client as a slow reader (close code 4008).
	SendQueue int
	// MaxMessageSize is the largest frame accepted from a client, in bytes; a larger one closes
	// the connection with 1009.
	MaxMessageSize int64
	// MaxSubscriptions caps the channels one connection may subscribe to.
	MaxSubscriptions int
	// PingInterval is how often the server pings each client. It must be shorter than PongWait.
	PingInterval time.Duration
	// PongWait is how long a connection may stay silent (no pong, no frame) before it is closed.
	PongWait time.Duration
	// RecheckInterval is how often every connection's credential is checked for revocation; a
	// revocation notice (realtime.RevocationChannel) checks its tenant's at once.
	RecheckInterval time.Duration
	// WriteTimeout bounds every write to a client, and how long a closing connection waits for
	// the client's close frame.
	WriteTimeout time.Duration
	// SubscribeTimeout bounds the Redis work of one subscribe: the subscription's confirmation
	// and each history read.
	SubscribeTimeout time.Duration
	// DrainWindow is the time over which Shutdown spreads the closing of connections, so that
	// their reconnects do not arrive at the other replicas all at once. It is capped at half of
	// the time Shutdown is given.
	DrainWindow time.Duration
	// RedisHealthInterval is how long the pub/sub connection may stay silent before it is pinged;
	// three intervals without an answer count as a broken connection.
	RedisHealthInterval time.Duration
	// Logger receives connection-level diagnostics. Nil discards them.
	Logger *slog.Logger
	// Registerer registers the gateway's metrics. Nil leaves them unregistered.
	Registerer prometheus.Registerer
}

// withDefaults returns o with zero values replaced by defaults, or an error naming the first
// unusable field.
func (o Options) withDefaults() (Options, error) {
	switch {
	case o.Redis == nil:
		return o, errors.New("gateway: Options.Redis is required")
	case o.Authenticator == nil:
		return o, errors.New("gateway: Options.Authenticator is required")
	case o.Experiments == nil:
		return o, errors.New("gateway: Options.Experiments is required")
	}
	positive(&o.MaxConnections, DefaultMaxConnections)
	positive(&o.MaxConnectionsPerTenant, DefaultMaxConnectionsPerTenant)
	positive(&o.MaxConnectionsPerUser, DefaultMaxConnectionsPerUser)
	positive(&o.SendQueue, DefaultSendQueue)
	positive(&o.MaxMessageSize, DefaultMaxMessageSize)
	positive(&o.MaxSubscriptions, DefaultMaxSubscriptions)
	positive(&o.PingInterval, DefaultPingInterval)
	positive(&o.PongWait, DefaultPongWait)
	positive(&o.RecheckInterval, DefaultRecheckInterval)
	positive(&o.WriteTimeout, DefaultWriteTimeout)
	positive(&o.SubscribeTimeout, DefaultSubscribeTimeout)
	positive(&o.DrainWindow, DefaultDrainWindow)
	positive(&o.RedisHealthInterval, DefaultRedisHealthInterval)
	if o.ConnectRate == 0 {
		o.ConnectRate = DefaultConnectRate
	}
	if o.MessageRate == 0 {
		o.MessageRate = DefaultMessageRate
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.PingInterval >= o.PongWait {
		return o, errors.New("gateway: Options.PingInterval must be shorter than PongWait")
	}
	if o.SendQueue < 2 {
		return o, errors.New("gateway: Options.SendQueue must be at least 2")
	}
	return o, nil
}

// positive replaces a zero or negative *v with def.
func positive[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
