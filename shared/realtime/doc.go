// Package realtime owns how experiment events travel from the functions that publish them to the
// WebSocket gateway: the Redis pub/sub channel names, the per-channel sequence numbers, the bounded
// history each channel keeps in a Redis stream, and the Publisher that writes all three.
//
// Every event is published on two channels: the tenant's (all of a tenant's experiments) and the
// experiment's. Both names embed the tenant, so a subscriber that builds its channel name from an
// authenticated tenant can never reach another tenant's events.
//
// Per channel, one Lua script (atomic, like MULTI/EXEC) increments the channel's sequence counter,
// appends the event to the channel's history stream under that number (trimmed to a bounded
// length, expiring when the channel goes quiet) and publishes "<seq> <payload>". Numbers are
// gap-free per channel; a subscriber that sees seq n+2 after n knows it missed one and reads it
// back with History.After, and one that reconnects asks for everything after the last number it
// saw. When the history no longer reaches back that far, History says so (ErrHistoryGap) instead
// of returning a partial answer, and the client reloads state from the API.
//
// This package knows nothing about what a payload means, and never retries a publish: the caller
// decides whether an event is worth failing for.
package realtime
