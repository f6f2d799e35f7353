// Package generator is the CloudEvent function that turns an experiment's two pipeline choices
// into collector configurations and Kubernetes manifests (shared/pipeline), stores them, and
// replies that they are ready — or that they cannot be, with the reason, which fails the
// experiment. It is idempotent like every function: a redelivered request answers the same.
// Applying and removing the manifests is the deployer's (functions/deployer).
package generator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoenixotel/phoenix/shared/bootstrap"
	"github.com/phoenixotel/phoenix/shared/delivery"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/store"
)

// consumer names this function in the processed-events record.
const consumer = "generator"

// Needs are the resources the generator uses.
func Needs() bootstrap.Needs { return bootstrap.Needs{Store: true} }

// Options say what the generator renders for.
type Options struct {
	Target pipeline.Target // kubernetes or local
	Ingest string          // where collectors send their output
	Image  string          // the collector image in manifests
}

// Generator renders and stores manifests.
type Generator struct {
	store   *store.Store // experiments in, manifests out
	o       Options      // rendering settings
	metrics *metrics     // render durations
}

// New wires the generator.
func New(st *store.Store, o Options) *Generator {
	return &Generator{store: st, o: o, metrics: newMetrics()}
}

// Service is the generator as a deployable.
func Service(res *bootstrap.Resources) (function.Service, error) {
	c := res.Config
	g := New(res.Store, Options{
		Target: pipeline.Target(c.DeployTarget), Ingest: c.IngestURL, Image: c.CollectorImage,
	})
	reg := prometheus.NewRegistry()
	if err := g.metrics.register(reg); err != nil {
		return function.Service{}, err
	}
	return function.Service{Name: consumer, Events: g, Registry: reg}, nil
}

// Handle answers one CloudEvent.
func (g *Generator) Handle(ctx context.Context, e event.Event) (*event.Event, error) {
	switch e.Type() {
	case events.ManifestsRequested:
	default:
		return nil, function.Invalid(fmt.Errorf("the generator does not consume %q", e.Type()))
	}
	tenant, err := events.Tenant(e)
	if err != nil {
		return nil, function.Invalid(err)
	}
	var ref events.ExperimentRef
	if err := events.DecodeAbout(e, &ref, func() uuid.UUID { return ref.ExperimentID }); err != nil {
		return nil, function.Invalid(err)
	}
	res, err := delivery.Once(ctx, g.store, consumer, tenant, e, func(ctx context.Context, tx *store.Tx) (delivery.Result, error) {
		exp, err := tx.Experiment(ctx, ref.ExperimentID)
		if errors.Is(err, store.ErrNotFound) {
			return delivery.Result{}, function.Invalid(fmt.Errorf("tenant has no experiment %s", ref.ExperimentID))
		}
		if err != nil {
			return delivery.Result{}, err
		}
		typ, data := events.ManifestsGenerated, events.Validator(events.ExperimentRef{ExperimentID: exp.ID})
		problem, err := g.render(ctx, tx, tenant, exp)
		if err != nil {
			return delivery.Result{}, err
		}
		if problem != "" {
			typ, data = events.ManifestsFailed, events.Failure{ExperimentID: exp.ID, Reason: problem}
		}
		return delivery.Replied(events.Reply(e, consumer, typ, events.SourceGenerator, tenant, exp.ID, data))
	})
	if err != nil {
		return nil, err
	}
	return res.Reply, nil
}

// render renders and stores both variants. It returns what the user must fix ("" when nothing),
// or an error when storing failed (retried).
func (g *Generator) render(ctx context.Context, tx *store.Tx, tenant uuid.UUID, exp store.Experiment) (string, error) {
	spec := exp.Spec
	var problems []string
	for _, v := range []struct {
		variant experiment.Variant
		choice  store.PipelineChoice
	}{{experiment.Baseline, exp.Baseline}, {experiment.Candidate, exp.Candidate}} {
		req := v.choice.Request(spec.CriticalProcesses)
		req.ExperimentID, req.Variant, req.Target = exp.ID, string(v.variant), g.o.Target
		// The token itself is issued at deploy time (shared/ingesttoken) and reaches the
		// collector through its environment: what is stored here only references it.
		req.Output = pipeline.Output{Endpoint: g.o.Ingest, Headers: pipeline.IngestHeaders()}
		start := time.Now()
		cfg, err := pipeline.Render(req)
		if err != nil {
			g.metrics.rendered(v.choice.Template, time.Since(start))
			problems = append(problems, fmt.Sprintf("%s: %v", v.variant, err))
			continue
		}
		ms, err := pipeline.Manifests(req, pipeline.Deployment{Namespace: spec.Targets.Namespace,
			NodeSelector: spec.Targets.NodeSelector, Image: g.o.Image, Tenant: tenant.String()}, cfg)
		g.metrics.rendered(v.choice.Template, time.Since(start))
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", v.variant, err))
			continue
		}
		recs := make([]store.ManifestRecord, 0, len(ms))
		hashes := make([][]byte, 0, len(ms))
		for _, m := range ms {
			recs = append(recs, store.ManifestRecord{Kind: m.Kind, Name: m.Name, Content: string(m.Content)})
			hashes = append(hashes, m.SHA256)
		}
		if err := tx.SaveManifests(ctx, exp.ID, v.variant, recs, hashes); err != nil {
			return "", err
		}
	}
	return strings.Join(problems, "; "), nil
}
