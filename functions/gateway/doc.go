// Package gateway owns Phoenix's WebSocket gateway: it authenticates browsers and CLIs, lets them
// subscribe to their tenant's experiment events, and fans those events out from Redis pub/sub with
// gap-free sequence numbers and recovery from a bounded history. docs/websocket.md is the
// protocol contract (frames, error and close codes, limits, recovery); this comment is the map of
// the code.
//
// The package is split the way centrifugal/centrifuge splits its engine:
//
//   - Gateway (gateway.go) is the node: options, the HTTP edge (/ws: Origin, handshake rate,
//     authentication, connection caps) and the lifecycle (Ready, Shutdown with a drain window).
//   - hub (hub.go) owns the connected clients and the channel subscriptions, refcounted so that
//     the process holds one Redis subscription per channel however many clients want it. It
//     orders, per channel, live events, catch-up from the history and clients joining, so that
//     every holder gets every event once and in order; and it sweeps credentials for revocation.
//   - client (client.go) is one connection: one reader goroutine and one writer goroutine;
//     only the writer writes to the socket, from a bounded queue (queue.go). The writer runs
//     while there is something to write and is started again by the next frame, ping or close,
//     so an idle connection holds one goroutine stack, not two.
//   - redisBroker (redis.go) is the one shared Redis pub/sub connection, behind the broker
//     interface the hub declares; it notices a broken connection, re-establishes it and has the
//     hub catch up each channel from its history.
//
// The tenant of every channel comes from the credential, never from a frame: channel names are
// relative to it, and the Redis channels and history keys embed it (shared/realtime). An
// experiment channel is also checked against the database (Experiments), so an unknown id is
// refused rather than silently empty. The gateway never stores events itself and knows nothing
// about what a payload means.
package gateway
