// Package gateway owns Phoenix's WebSocket gateway: it authenticates browsers
// and CLIs, lets them subscribe to their tenant's experiment events, and fans
// those events out from Redis pub/sub.
//
// The package is split the way centrifugal/centrifuge splits its engine:
//
//   - Gateway (gateway.go) is the node: options, the HTTP edge (/ws, auth,
//     Origin, connection limit) and the lifecycle (Shutdown).
//   - hub (hub.go) owns the connected clients and the channel subscriptions,
//     refcounted so that the process holds one Redis subscription per channel
//     however many clients want it, and dispatches each message to them.
//   - client (client.go) is one connection: exactly one reader goroutine and
//     one writer goroutine; only the writer writes to the socket.
//   - redisBroker (redis.go) is the one shared Redis pub/sub connection,
//     behind the broker interface the hub declares.
//
// # Protocol
//
// The handshake is GET /ws. The token travels in "Authorization: Bearer" or,
// for browsers that cannot set headers, as "Sec-WebSocket-Protocol:
// phoenix.v1, bearer.<token>"; the server then selects phoenix.v1 and never
// echoes the token. Tokens in the query string are refused because URLs end
// up in logs.
//
// Frames are JSON text messages. A client sends
//
//	{"type":"subscribe","channel":"tenant"}
//	{"type":"subscribe","channel":"experiment:<uuid>"}
//	{"type":"unsubscribe","channel":"<channel>"}
//	{"type":"ping"}
//
// and receives
//
//	{"type":"subscribed","channel":"<channel>"}
//	{"type":"unsubscribed","channel":"<channel>"}
//	{"type":"event","channel":"<channel>","data":<payload as published>}
//	{"type":"pong"}
//	{"type":"error","code":"<code>","message":"<text>"}
//
// Channels are relative to the authenticated tenant: "experiment:<uuid>" is
// that experiment within the caller's tenant, so no frame can name another
// tenant. "subscribed" is sent once Redis has confirmed the subscription, so
// everything published after it is delivered. Errors in a frame leave the
// connection open; a client that does not keep up with its events is
// disconnected with close code 1008 rather than slowing everyone else.
//
// Delivery is at most once, like Redis pub/sub beneath it: after a reconnect
// a client must reload state through the API. The gateway must not store
// events, and it knows nothing about what a payload means.
package gateway
