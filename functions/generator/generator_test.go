package generator

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/function"
)

// Until pipeline templates exist the generator must refuse its requests in a way Knative does not
// retry (a 4xx other than 404, 408, 409, 429), so they reach the dead-letter sink.
func TestHandle_RefusesWhatItCannotDoYet(t *testing.T) {
	exp := uuid.New()
	for typ, want := range map[string]int{
		events.ManifestsRequested: http.StatusUnprocessableEntity,
		events.DeployRequested:    http.StatusUnprocessableEntity,
		events.TeardownRequested:  http.StatusUnprocessableEntity,
		"io.phoenix.other.v1":     http.StatusBadRequest,
	} {
		e, err := events.New("id", typ, events.SourceController, uuid.New(), exp, events.ExperimentRef{ExperimentID: exp})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Generator{}.Handle(context.Background(), e)
		var fe *function.Error
		if !errors.As(err, &fe) || fe.Status != want {
			t.Errorf("%s: %v, want status %d", typ, err, want)
		}
	}
}
