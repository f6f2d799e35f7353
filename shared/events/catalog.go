package events

// Spec describes one event type: who emits it and which functions consume it.
type Spec struct {
	Type      string   // the CloudEvent type
	Emitters  []string // the components that send it
	Consumers []string // the functions (Knative Services, without the phoenix- prefix) that receive it from the broker
	Terminal  string   // for a type no function consumes: why, and where it goes instead
}

// Catalog lists every event type Phoenix emits or consumes. triggers/ must route each consumed
// type to each consumer, and docs/events.md must describe each type; test/wiring checks both.
func Catalog() []Spec {
	return []Spec{
		{Type: ExperimentStarted, Emitters: []string{"api"}, Consumers: []string{"controller"}},
		{Type: ExperimentStop, Emitters: []string{"api"}, Consumers: []string{"controller"}},
		{Type: ExperimentPromote, Emitters: []string{"api"}, Consumers: []string{"controller"}},
		{Type: ExperimentRollback, Emitters: []string{"api"}, Consumers: []string{"controller"}},
		{Type: ManifestsRequested, Emitters: []string{"controller"}, Consumers: []string{"generator"}},
		{Type: ManifestsGenerated, Emitters: []string{"generator"}, Consumers: []string{"controller"}},
		{Type: ManifestsFailed, Emitters: []string{"generator"}, Consumers: []string{"controller"}},
		{Type: DeployRequested, Emitters: []string{"controller"}, Consumers: []string{"deployer"}},
		{Type: TeardownRequested, Emitters: []string{"controller"}, Consumers: []string{"deployer"}},
		{Type: WorkloadFailed, Emitters: []string{"deployer"}, Consumers: []string{"controller"}},
		{Type: AnalysisRequested, Emitters: []string{"controller"}, Consumers: []string{"analyzer"}},
		{Type: AnalysisCompleted, Emitters: []string{"analyzer"}, Consumers: []string{"controller"}},
		{Type: ExperimentMoved, Emitters: []string{"controller"},
			Terminal: "published on Redis pub/sub for the WebSocket gateway, not sent to the broker"},
		{Type: KPIWindowClosed, Emitters: []string{"ingest"}, Consumers: []string{"analyzer"}},
		{Type: AnalysisLook, Emitters: []string{"analyzer"},
			Terminal: "published on Redis pub/sub for the WebSocket gateway (live intervals), not sent to the broker; the look is stored in analysis_looks"},
		{Type: PingTick, Emitters: []string{"PingSource phoenix-clock"}, Consumers: []string{"controller", "ingest"}},
		{Type: APIServerResourceEvent, Emitters: []string{"ApiServerSource phoenix-collectors"}, Consumers: []string{"controller"}},
		{Type: APIServerRefEvent, Emitters: []string{"ApiServerSource (Reference mode)"}, Consumers: []string{"controller"}},
	}
}
