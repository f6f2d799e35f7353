// Package generator is the CloudEvent function that turns an experiment's two pipeline choices
// into collector configurations and Kubernetes manifests, and on a cluster applies and removes
// them. The deployable, its wiring and its event contract exist now; rendering arrives with the
// pipeline templates (shared/pipeline), and until then its requests are refused as unprocessable
// (422, not retried), so they reach the dead-letter sink and the experiment's generating timeout
// fails it with a clear reason.
package generator

import (
	"context"
	"fmt"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/phoenixotel/phoenix/shared/bootstrap"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/function"
)

// Needs are the resources the generator uses.
func Needs() bootstrap.Needs { return bootstrap.Needs{Store: true} }

// Generator renders manifests.
type Generator struct{}

// Service is the generator as a deployable.
func Service(*bootstrap.Resources) (function.Service, error) {
	return function.Service{Name: "generator", Events: Generator{}}, nil
}

// Handle answers one CloudEvent.
func (Generator) Handle(_ context.Context, e event.Event) (*event.Event, error) {
	switch e.Type() {
	case events.ManifestsRequested, events.DeployRequested, events.TeardownRequested:
		return nil, &function.Error{Status: http.StatusUnprocessableEntity,
			Err: fmt.Errorf("no pipeline templates are installed yet; cannot handle %s for %s", e.Type(), e.Subject())}
	}
	return nil, function.Invalid(fmt.Errorf("the generator does not consume %q", e.Type()))
}
