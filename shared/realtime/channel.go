package realtime

import "github.com/google/uuid"

// TenantChannel is the Redis channel that carries every event of tenant:
// "<prefix>:tenant:<tenant>", or "tenant:<tenant>" when prefix is empty.
func TenantChannel(prefix string, tenant uuid.UUID) string {
	name := "tenant:" + tenant.String()
	if prefix == "" {
		return name
	}
	return prefix + ":" + name
}

// ExperimentChannel is the Redis channel that carries the events of one
// experiment: the tenant channel followed by ":experiment:<experiment>".
// The tenant is part of the name so that knowing an experiment's ID is not
// enough to subscribe to it from another tenant.
func ExperimentChannel(prefix string, tenant, experiment uuid.UUID) string {
	return TenantChannel(prefix, tenant) + ":experiment:" + experiment.String()
}

// DefaultPrefix prefixes the channels of a Phoenix deployment.
const DefaultPrefix = "phoenix"
