package realtime

import "github.com/google/uuid"

// DefaultPrefix prefixes the channels and keys of a Phoenix deployment.
const DefaultPrefix = "phoenix"

// TenantChannel is the Redis channel that carries every event of tenant:
// "<prefix>:tenant:<tenant>", or "tenant:<tenant>" when prefix is empty.
func TenantChannel(prefix string, tenant uuid.UUID) string {
	return Channel{Tenant: tenant}.Name(prefix)
}

// ExperimentChannel is the Redis channel that carries the events of one
// experiment: the tenant channel followed by ":experiment:<experiment>".
// The tenant is part of the name so that knowing an experiment's ID is not
// enough to subscribe to it from another tenant.
func ExperimentChannel(prefix string, tenant, experiment uuid.UUID) string {
	return Channel{Tenant: tenant, Experiment: experiment}.Name(prefix)
}

// RevocationChannel carries revocation notices: the id of a tenant some of whose credentials were
// just revoked, so that gateways re-check that tenant's connections at once instead of at their
// next periodic check.
func RevocationChannel(prefix string) string { return join(prefix, "revocations") }

// Channel is one stream of events: a tenant's, or one experiment's within it.
type Channel struct {
	// Tenant owns the channel; it is part of every name and key derived from it.
	Tenant uuid.UUID
	// Experiment is the experiment of an experiment channel; uuid.Nil for the tenant channel.
	Experiment uuid.UUID
}

// Name is the channel's Redis pub/sub channel.
func (c Channel) Name(prefix string) string {
	return join(prefix, "tenant:"+c.Tenant.String()+c.suffix())
}

// CounterKey holds the channel's last sequence number (docs/websocket.md lists it with the other
// keys): a channel whose counter exists goes on from it. The tenant in braces is a Redis Cluster
// hash tag: both channels of one publish, counters and streams alike, live in one slot, which a
// script touching all of them requires.
func (c Channel) CounterKey(prefix string) string {
	return join(prefix, "seq:{"+c.Tenant.String()+"}"+c.suffix())
}

// historyKey is the channel's history stream; see counterKey for the braces.
func (c Channel) historyKey(prefix string) string {
	return join(prefix, "history:{"+c.Tenant.String()+"}"+c.suffix())
}

// suffix distinguishes an experiment channel from its tenant's.
func (c Channel) suffix() string {
	if c.Experiment == uuid.Nil {
		return ""
	}
	return ":experiment:" + c.Experiment.String()
}

// join prefixes name, if there is a prefix.
func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + ":" + name
}
