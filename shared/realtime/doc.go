// Package realtime owns the names of the Redis pub/sub channels that carry
// experiment events to the WebSocket gateway, and the Publisher that writes
// to them.
//
// Every event is published twice in one MULTI/EXEC: once on the tenant
// channel (all of a tenant's experiments) and once on the experiment channel.
// Both names embed the tenant, so a subscriber that builds its channel name
// from an authenticated tenant can never reach another tenant's events.
//
// Redis pub/sub is at-most-once: a subscriber that is disconnected while an
// event is published never sees it. Consumers must treat events as hints and
// reload state from the API after reconnecting. This package must not grow
// delivery guarantees, retries or knowledge of what a payload means.
package realtime
