// Package triggers holds Phoenix's Knative wiring — the Broker, one Trigger per consumer and event
// type, the PingSource clock, the ApiServerSource for collector workloads — embedded so that
// `phoenix dev`'s local broker routes exactly as the cluster does.
package triggers

import "embed"

// FS holds every *.yaml file of this directory.
//
//go:embed *.yaml
var FS embed.FS
