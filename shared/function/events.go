package function

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/logging"
)

// serveEvent decodes a CloudEvent (binary or structured mode), runs the handler and answers as
// Knative's delivery expects: 2xx with an optional reply event; 400 for an event that cannot be
// parsed or is invalid (not retried); 413 when too large; 5xx for failures worth retrying.
func (rt *runtime) serveEvent(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, rt.opts.MaxEventSize)
	e, err := cehttp.NewEventFromHTTPRequest(r)
	if err == nil {
		err = e.Validate()
	}
	if err != nil {
		setRoute(r.Context(), routeInvalidEvent)
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("event larger than %d bytes", rt.opts.MaxEventSize), http.StatusRequestEntityTooLarge)
			return
		}
		logging.FromContext(r.Context()).Info("unparsable event", "err", err)
		http.Error(w, "not a valid CloudEvent: "+err.Error(), http.StatusBadRequest)
		return
	}
	setRoute(r.Context(), rt.metrics.eventRoute(e.Type()))
	ctx := logging.With(r.Context(), "event_id", e.ID(), "event_type", e.Type(), "event_source", e.Source())
	if tenant, ok := e.Extensions()[events.TenantExtension]; ok {
		ctx = logging.With(ctx, "tenant", fmt.Sprint(tenant))
	}
	log := logging.FromContext(ctx)

	reply, err := rt.svc.Events.Handle(ctx, *e)
	if err != nil {
		status := http.StatusInternalServerError
		var fe *Error
		if errors.As(err, &fe) {
			status = fe.Status
		}
		if status >= 500 {
			log.Error("event failed; the sender will retry", "err", err, "status", status)
			http.Error(w, http.StatusText(status), status)
			return
		}
		log.Info("event rejected", "err", err, "status", status)
		http.Error(w, err.Error(), status)
		return
	}
	if reply == nil {
		log.Debug("event handled")
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if err := reply.Validate(); err != nil {
		log.Error("handler produced an invalid reply", "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	log.Debug("event handled", "reply_type", reply.Type(), "reply_id", reply.ID())
	if err := cehttp.WriteResponseWriter(ctx, binding.ToMessage(reply), http.StatusOK, w); err != nil {
		log.Error("write reply", "err", err)
	}
}
