// Package events is the one place that defines the CloudEvents Phoenix emits and consumes: their
// types, sources, the tenant extension and the typed payloads with validation. Functions build and
// read events only through it, so a type's name and shape live in exactly one file.
package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
)

// Event types, reverse-DNS with a version suffix. docs/events.md lists who emits and consumes each.
const (
	ExperimentStarted  = "io.phoenix.experiment.started.v1"  // API → controller: a user started an experiment
	ManifestsRequested = "io.phoenix.manifests.requested.v1" // controller → generator
	AnalysisRequested  = "io.phoenix.analysis.requested.v1"  // controller → analyzer
	AnalysisCompleted  = "io.phoenix.analysis.completed.v1"  // analyzer → controller
)

// Sources name the emitting component.
const (
	SourceAPI        = "/phoenix/api"
	SourceController = "/phoenix/controller"
	SourceAnalyzer   = "/phoenix/analyzer"
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
	ExperimentID uuid.UUID `json:"experiment_id"`
	ResultID     uuid.UUID `json:"result_id"` // row of analysis_results holding the full report
	Verdict      string    `json:"verdict"`   // promote, reject or inconclusive
}

// Validate reports missing ids or an unknown verdict.
func (r AnalysisResult) Validate() error {
	switch {
	case r.ExperimentID == uuid.Nil || r.ResultID == uuid.Nil:
		return errors.New("experiment_id and result_id are required")
	case r.Verdict != "promote" && r.Verdict != "reject" && r.Verdict != "inconclusive":
		return fmt.Errorf("verdict %q is not promote, reject or inconclusive", r.Verdict)
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
