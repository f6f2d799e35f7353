// Package events is the one place that defines the CloudEvents Phoenix emits and consumes: their
// types, sources, the tenant extension and the typed payloads with validation. Functions build and
// read events only through it, so a type's name and shape live in exactly one file.
package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/analysis"
	"github.com/phoenixotel/phoenix/shared/experiment"
)

// Event types, reverse-DNS with a version suffix. docs/events.md lists who emits and consumes each.
const (
	ExperimentStarted  = "io.phoenix.experiment.started.v1"            // API → controller: start
	ExperimentStop     = "io.phoenix.experiment.stop-requested.v1"     // API → controller: cancel
	ExperimentPromote  = "io.phoenix.experiment.promote-requested.v1"  // API → controller: adopt the candidate
	ExperimentRollback = "io.phoenix.experiment.rollback-requested.v1" // API → controller: keep the baseline
	ManifestsRequested = "io.phoenix.manifests.requested.v1"           // controller → generator
	ManifestsGenerated = "io.phoenix.manifests.generated.v1"           // generator → controller
	ManifestsFailed    = "io.phoenix.manifests.failed.v1"              // generator → controller: cannot render
	DeployRequested    = "io.phoenix.deploy.requested.v1"              // controller → deployer (applies the manifests)
	TeardownRequested  = "io.phoenix.teardown.requested.v1"            // controller → deployer (removes the collectors)
	WorkloadFailed     = "io.phoenix.workload.failed.v1"               // deployer → controller: a collector failed
	AnalysisRequested  = "io.phoenix.analysis.requested.v1"            // controller → analyzer
	AnalysisCompleted  = "io.phoenix.analysis.completed.v1"            // analyzer → controller
	ExperimentMoved    = "io.phoenix.experiment.transitioned.v1"       // controller → gateway (Redis): a state change
	KPIWindowClosed    = "io.phoenix.kpi.window-closed.v1"             // ingest → gateway (Redis) and analyzer (broker): one variant's KPIs over a closed window
	AnalysisLook       = "io.phoenix.analysis.look.v1"                 // analyzer → gateway (Redis): the change of every metric with its interval, at one look
)

// Event types Knative sources emit, consumed as they arrive.
const (
	PingTick               = "dev.knative.sources.ping"              // PingSource: the controller's clock
	APIServerResourceEvent = "dev.knative.apiserver.resource.update" // ApiServerSource (Resource mode): a workload changed
	APIServerRefEvent      = "dev.knative.apiserver.ref.update"      // ApiServerSource (Reference mode): a workload changed
)

// Sources name the emitting component.
const (
	SourceAPI        = "/phoenix/api"
	SourceController = "/phoenix/controller"
	SourceGenerator  = "/phoenix/generator"
	SourceAnalyzer   = "/phoenix/analyzer"
	SourceDeployer   = "/phoenix/deployer"
	SourceIngest     = "/phoenix/ingest"
)

// TenantExtension is the extension attribute carrying the tenant id. A consumer never trusts it
// alone: it loads the subject inside that tenant's transaction and rejects a mismatch.
const TenantExtension = "phoenixtenant"

// replyNamespace derives reply ids: the same input event always yields the same reply id, so a
// redelivered event produces an identical reply that downstream deduplication recognises.
var replyNamespace = uuid.MustParse("8f0e3a52-3d7c-4c36-9d7e-2b6a4f1c0e91")

// ExperimentRef is the payload of events that concern one experiment and carry nothing else.
type ExperimentRef struct {
	ExperimentID uuid.UUID `json:"experiment_id"`
}

// Validate reports a missing experiment id.
func (r ExperimentRef) Validate() error {
	if r.ExperimentID == uuid.Nil {
		return errors.New("experiment_id is required")
	}
	return nil
}

// AnalysisResult is the payload of AnalysisCompleted.
type AnalysisResult struct {
	ExperimentID uuid.UUID          `json:"experiment_id"`
	ResultID     uuid.UUID          `json:"result_id"` // row of analysis_results holding the full report
	Verdict      experiment.Verdict `json:"verdict"`   // promote, reject, inconclusive, invalid, or continue (run longer, then ask again)
	// ExtendSeconds is, for continue, how much longer the run should gather data.
	ExtendSeconds int `json:"extend_seconds,omitempty"`
	// Early is set when a live look found the answer clear before the run's end: the run ends now.
	Early bool `json:"early,omitempty"`
	// Reason says why, in a sentence (for the transition's record).
	Reason string `json:"reason,omitempty"`
}

// Validate reports missing ids, an unknown verdict, a continue without an extension, or an early
// end that is not final.
func (r AnalysisResult) Validate() error {
	switch {
	case r.ExperimentID == uuid.Nil || r.ResultID == uuid.Nil:
		return errors.New("experiment_id and result_id are required")
	case r.Verdict == experiment.VerdictContinue && (r.ExtendSeconds <= 0 || r.ExtendSeconds > experiment.MaxRunSeconds):
		return fmt.Errorf("continue needs extend_seconds between 1 and %d", experiment.MaxRunSeconds)
	case r.Verdict == experiment.VerdictContinue && r.Early:
		return errors.New("an early end needs a final verdict, not continue")
	case !r.Verdict.Valid():
		return fmt.Errorf("verdict %q is not promote, reject, inconclusive, invalid or continue", r.Verdict)
	case len(r.Reason) > 4000:
		return errors.New("reason is at most 4000 characters")
	}
	return nil
}

// Look is the payload of AnalysisLook: where every metric stands at one look.
type Look struct {
	ExperimentID uuid.UUID          `json:"experiment_id"`
	Kind         string             `json:"kind"`              // live, planned or extension
	Windows      int                `json:"windows"`           // paired windows at the look
	WindowEnd    time.Time          `json:"window_end"`        // end of the newest window looked at
	Verdict      experiment.Verdict `json:"verdict"`           // continue while the run goes on, else how it ended
	Pending      experiment.Verdict `json:"pending,omitempty"` // the verdict a live look reached that may not end the run yet
	Early        bool               `json:"early,omitempty"`   // the look ended the run before its end
	Reason       string             `json:"reason"`            // why, in plain words
	Spent        float64            `json:"budget_spent"`      // share of alpha the run's looks have spent
	Misses       int                `json:"critical_misses"`   // windows in which the candidate lost a critical process
	Metrics      []LookMetric       `json:"metrics"`           // per metric
}

// LookMetric is one metric at a look. Changes are relative to the baseline: −0.2 is 20% less.
type LookMetric struct {
	Metric   string           `json:"metric"`
	Critical bool             `json:"critical,omitempty"` // a guardrail
	Outcome  analysis.Outcome `json:"outcome"`            // improved, regressed, no_change or undecided
	Pairs    int              `json:"pairs"`              // windows compared
	Estimate *float64         `json:"estimate,omitempty"` // the change, when there is an interval
	Low      *float64         `json:"low,omitempty"`      // the interval's ends (±Inf are left out)
	High     *float64         `json:"high,omitempty"`
}

// Validate reports a missing experiment, an unknown look or verdict.
func (l Look) Validate() error {
	switch {
	case l.ExperimentID == uuid.Nil:
		return errors.New("experiment_id is required")
	case l.Kind != string(analysis.Live) && l.Kind != string(analysis.Planned) && l.Kind != string(analysis.Extension):
		return fmt.Errorf("look %q is not live, planned or extension", l.Kind)
	case !l.Verdict.Valid():
		return fmt.Errorf("verdict %q is unknown", l.Verdict)
	case l.Windows < 0 || len(l.Metrics) > 100:
		return errors.New("windows must not be negative, metrics at most 100")
	}
	return nil
}

// Command is the payload of the API's commands (start, stop, promote, rollback).
type Command struct {
	ExperimentID uuid.UUID `json:"experiment_id"`
	RequestedBy  string    `json:"requested_by"` // the token subject that asked
	Reason       string    `json:"reason,omitempty"`
}

// Validate reports a missing experiment or requester, or an overlong reason.
func (c Command) Validate() error {
	switch {
	case c.ExperimentID == uuid.Nil:
		return errors.New("experiment_id is required")
	case c.RequestedBy == "":
		return errors.New("requested_by is required")
	case len(c.Reason) > 500:
		return errors.New("reason is at most 500 characters")
	}
	return nil
}

// WorkloadFailure is the payload of WorkloadFailed.
type WorkloadFailure struct {
	ExperimentID uuid.UUID `json:"experiment_id"`
	Variant      string    `json:"variant"` // baseline or candidate
	Reason       string    `json:"reason"`  // what failed, e.g. the collector's last log lines
}

// Validate reports a missing experiment, an unknown variant or an empty reason.
func (f WorkloadFailure) Validate() error {
	switch {
	case f.ExperimentID == uuid.Nil:
		return errors.New("experiment_id is required")
	case f.Variant != "baseline" && f.Variant != "candidate":
		return fmt.Errorf("variant %q is not baseline or candidate", f.Variant)
	case f.Reason == "" || len(f.Reason) > 4000:
		return errors.New("reason is required, at most 4000 characters")
	}
	return nil
}

// Failure is the payload of ManifestsFailed.
type Failure struct {
	ExperimentID uuid.UUID `json:"experiment_id"`
	Reason       string    `json:"reason"` // what the user must fix
}

// Validate reports a missing experiment or reason.
func (f Failure) Validate() error {
	if f.ExperimentID == uuid.Nil || f.Reason == "" || len(f.Reason) > 4000 {
		return errors.New("experiment_id and a reason of at most 4000 characters are required")
	}
	return nil
}

// Transition is the payload of ExperimentMoved.
type Transition struct {
	ExperimentID uuid.UUID `json:"experiment_id"`
	Seq          int64     `json:"seq"` // gap-free per experiment
	From         string    `json:"from"`
	To           string    `json:"to"`
	Reason       string    `json:"reason"`
	CauseID      string    `json:"cause_event_id"`
	At           time.Time `json:"at"`
}

// Validate reports missing fields.
func (t Transition) Validate() error {
	if t.ExperimentID == uuid.Nil || t.Seq <= 0 || t.From == "" || t.To == "" {
		return errors.New("experiment_id, seq, from and to are required")
	}
	return nil
}

// KPIWindow is the payload of KPIWindowClosed: what one variant's collectors sent over one
// closed window, as Phoenix measured it.
type KPIWindow struct {
	ExperimentID    uuid.UUID          `json:"experiment_id"`
	Variant         string             `json:"variant"`          // baseline or candidate
	WindowStart     time.Time          `json:"window_start"`     // inclusive
	WindowEnd       time.Time          `json:"window_end"`       // exclusive
	Complete        bool               `json:"complete"`         // the run spanned the whole window (only such windows are analysed)
	KPIs            map[string]float64 `json:"kpis"`             // by name, see shared/experiment Metrics
	Series          int64              `json:"series"`           // distinct series
	Datapoints      int64              `json:"datapoints"`       // datapoints accepted
	PayloadBytes    int64              `json:"payload_bytes"`    // bytes received
	CriticalCovered []string           `json:"critical_covered"` // critical process patterns present in the output
	CriticalMissing []string           `json:"critical_missing"` // critical process patterns absent
}

// Validate reports a missing experiment, an unknown variant or an empty window.
func (w KPIWindow) Validate() error {
	switch {
	case w.ExperimentID == uuid.Nil:
		return errors.New("experiment_id is required")
	case w.Variant != "baseline" && w.Variant != "candidate":
		return fmt.Errorf("variant %q is not baseline or candidate", w.Variant)
	case !w.WindowEnd.After(w.WindowStart):
		return errors.New("window_end must be after window_start")
	}
	return nil
}

// Validator is a payload that can check itself.
type Validator interface{ Validate() error }

// New builds an event about an experiment of a tenant.
func New(id, typ, source string, tenant, experiment uuid.UUID, data Validator) (event.Event, error) {
	if err := data.Validate(); err != nil {
		return event.Event{}, fmt.Errorf("%s payload: %w", typ, err)
	}
	e := event.New()
	e.SetID(id)
	e.SetType(typ)
	e.SetSource(source)
	e.SetSubject(experiment.String())
	e.SetExtension(TenantExtension, tenant.String())
	if err := e.SetData(event.ApplicationJSON, data); err != nil {
		return event.Event{}, fmt.Errorf("encode %s payload: %w", typ, err)
	}
	return e, nil
}

// Reply builds the reply a consumer sends for in, with an id derived from in's source and id.
func Reply(in event.Event, consumer, typ, source string, tenant, experiment uuid.UUID, data Validator) (event.Event, error) {
	id := uuid.NewSHA1(replyNamespace, []byte(consumer+"\x00"+in.Source()+"\x00"+in.ID()+"\x00"+typ))
	return New(id.String(), typ, source, tenant, experiment, data)
}

// Tenant reads and parses the tenant extension.
func Tenant(e event.Event) (uuid.UUID, error) {
	v, ok := e.Extensions()[TenantExtension]
	if !ok {
		return uuid.Nil, fmt.Errorf("event has no %s extension", TenantExtension)
	}
	s, ok := v.(string)
	if !ok {
		return uuid.Nil, fmt.Errorf("%s extension is not a string", TenantExtension)
	}
	id, err := uuid.Parse(s)
	if err != nil || id == uuid.Nil {
		return uuid.Nil, fmt.Errorf("%s extension %q is not a tenant id", TenantExtension, s)
	}
	return id, nil
}

// DecodeAbout decodes e's payload into v and checks that e's subject is the experiment the
// payload names (id reads it from v after decoding): every consumer of an experiment event needs
// both, and the subject is what routing and logs show.
func DecodeAbout(e event.Event, v Validator, id func() uuid.UUID) error {
	if err := Decode(e, v); err != nil {
		return err
	}
	if e.Subject() != id().String() {
		return errors.New("subject does not match experiment_id")
	}
	return nil
}

// Decode reads e's JSON payload into v strictly and validates it.
func Decode(e event.Event, v Validator) error {
	if ct := e.DataContentType(); ct != "" && ct != event.ApplicationJSON {
		return fmt.Errorf("data content type %q, want application/json", ct)
	}
	dec := json.NewDecoder(bytes.NewReader(e.Data()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode %s payload: %w", e.Type(), err)
	}
	return v.Validate()
}
