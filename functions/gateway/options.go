package gateway

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Defaults applied by New to zero-valued Options fields.
const (
	DefaultMaxConnections   = 10000
	DefaultSendBuffer       = 64
	DefaultMaxMessageSize   = 4 << 10
	DefaultMaxSubscriptions = 100
	DefaultPingInterval     = 25 * time.Second
	DefaultPongWait         = 60 * time.Second
	DefaultRecheckInterval  = 30 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	DefaultSubscribeTimeout = 5 * time.Second
)

// Options configures a Gateway. Only Redis and Authenticator are required;
// every other zero value means the default documented on the field.
type Options struct {
	// Redis provides the one pub/sub connection the gateway shares between
	// all clients. It stays owned by the caller; Shutdown does not close it.
	Redis *redis.Client
	// ChannelPrefix namespaces the Redis channels, as in realtime.TenantChannel;
	// publishers must use the same prefix.
	ChannelPrefix string
	// Authenticator turns the handshake request into an Identity.
	Authenticator Authenticator
	// AllowedOrigins lists the browser origins ("https://app.example.com")
	// allowed to connect. Empty allows only same-origin requests and requests
	// without an Origin header (CLIs); "*" allows every origin.
	AllowedOrigins []string
	// MaxConnections caps concurrent connections; the handshake beyond it gets
	// 503. Default DefaultMaxConnections.
	MaxConnections int
	// SendBuffer is the number of frames queued per connection before the
	// client counts as a slow consumer and is disconnected. Default
	// DefaultSendBuffer.
	SendBuffer int
	// MaxMessageSize is the largest frame accepted from a client, in bytes;
	// a larger one closes the connection with 1009. Default
	// DefaultMaxMessageSize.
	MaxMessageSize int64
	// MaxSubscriptions caps the channels one connection may subscribe to.
	// Default DefaultMaxSubscriptions.
	MaxSubscriptions int
	// PingInterval is how often the server pings each client. It must be
	// shorter than PongWait. Default DefaultPingInterval.
	PingInterval time.Duration
	// RecheckInterval is how often each connection's credential is checked for revocation.
	// Default DefaultRecheckInterval.
	RecheckInterval time.Duration
	// PongWait is how long a connection may stay silent (no pong, no frame)
	// before it is closed. Default DefaultPongWait.
	PongWait time.Duration
	// WriteTimeout bounds every write to a client, and how long a closing
	// connection waits for the client's close frame. Default
	// DefaultWriteTimeout.
	WriteTimeout time.Duration
	// SubscribeTimeout bounds how long a subscribe waits for Redis to confirm.
	// Default DefaultSubscribeTimeout.
	SubscribeTimeout time.Duration
	// Logger receives connection-level diagnostics. Nil discards them.
	Logger *slog.Logger
	// Registerer registers the gateway's metrics. Nil leaves them
	// unregistered.
	Registerer prometheus.Registerer
}

// withDefaults returns o with zero values replaced by defaults, or an error
// naming the first unusable field.
func (o Options) withDefaults() (Options, error) {
	if o.Redis == nil {
		return o, errors.New("gateway: Options.Redis is required")
	}
	if o.Authenticator == nil {
		return o, errors.New("gateway: Options.Authenticator is required")
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = DefaultMaxConnections
	}
	if o.SendBuffer <= 0 {
		o.SendBuffer = DefaultSendBuffer
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.MaxSubscriptions <= 0 {
		o.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if o.RecheckInterval <= 0 {
		o.RecheckInterval = DefaultRecheckInterval
	}
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.PongWait <= 0 {
		o.PongWait = DefaultPongWait
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.SubscribeTimeout <= 0 {
		o.SubscribeTimeout = DefaultSubscribeTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.PingInterval >= o.PongWait {
		return o, errors.New("gateway: Options.PingInterval must be shorter than PongWait")
	}
	return o, nil
}
