package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/apiclient"
	"github.com/phoenixotel/phoenix/shared/emit"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/problem"
	"github.com/phoenixotel/phoenix/shared/store"
)

// command serves POST /v1/experiments/{id}/<verb>: it checks that the command applies to the
// experiment's current state (409 otherwise), sends the command event to the broker and answers
// 202 with the experiment. The controller makes the move; GET …/transitions shows it.
func (a *API) command(t experiment.Trigger, eventType string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(w, r)
		if !ok {
			return
		}
		var req apiclient.Command
		if r.ContentLength != 0 && !problem.DecodeJSON(w, r, &req) {
			return
		}
		if len(req.Reason) > 500 {
			problem.Write(w, http.StatusBadRequest, "reason is at most 500 characters")
			return
		}
		p := principalFrom(r.Context())
		var exp store.Experiment
		err := a.o.Store.WithTenant(r.Context(), p.Tenant, func(tx *store.Tx) (err error) {
			exp, err = tx.Experiment(r.Context(), id)
			return err
		})
		if err != nil {
			storeError(w, r, err, "experiment")
			return
		}
		if _, err := experiment.Next(exp.State, t); err != nil {
			problem.Write(w, http.StatusConflict, err.Error())
			return
		}
		if t == experiment.Promote && exp.Verdict != nil && experiment.Verdict(*exp.Verdict) == experiment.VerdictInvalid {
			problem.Write(w, http.StatusConflict, "the comparison is invalid: the two collectors did not receive the same input "+
				"(GET /v1/experiments/"+id.String()+"/analysis says why); run the experiment again instead of promoting")
			return
		}
		e, err := events.New(uuid.NewString(), eventType, events.SourceAPI, p.Tenant, id,
			events.Command{ExperimentID: id, RequestedBy: p.Subject, Reason: req.Reason})
		if err != nil {
			problem.Write(w, http.StatusBadRequest, err.Error())
			return
		}
		if err := a.o.Sender.Send(r.Context(), e); err != nil {
			logFrom(r).Error("send command", "type", eventType, "err", err)
			detail := "the broker is unavailable; retry shortly"
			if errors.Is(err, emit.ErrNoSink) {
				detail = "no broker is configured (K_SINK); commands cannot be delivered"
			}
			problem.Write(w, http.StatusServiceUnavailable, detail)
			return
		}
		a.audit(r, p.Tenant, p, "experiment."+string(t), "success", "info", req.Reason,
			map[string]any{"experiment_id": id, "event_id": e.ID()})
		w.Header().Set("Location", "/v1/experiments/"+id.String())
		writeJSON(w, http.StatusAccepted, exp)
	}
}

// deadLetter receives events the broker gave up on (the Broker's deadLetterSink) and records
// them in the tenant's dead-letter list. It always acknowledges what it can parse: a sink that
// fails would only make the broker log and drop the event.
func (a *API) deadLetter(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	e, err := cehttp.NewEventFromHTTPRequest(r)
	if err == nil {
		err = e.Validate()
	}
	if err != nil {
		problem.Write(w, http.StatusBadRequest, "not a valid CloudEvent")
		return
	}
	tenant, err := events.Tenant(*e)
	if err != nil {
		logFrom(r).Error("dead letter without a tenant: logged, not stored", "event_id", e.ID(), "type", e.Type(), "source", e.Source())
		w.WriteHeader(http.StatusAccepted)
		return
	}
	ext := e.Extensions()
	d := store.DeadLetter{EventID: e.ID(), EventType: e.Type(), EventSource: e.Source()}
	if v, ok := ext["knativeerrordest"]; ok {
		d.ErrorDest = fmt.Sprint(v)
	}
	if v, ok := ext["knativeerrorcode"]; ok {
		if n, err := strconv.Atoi(fmt.Sprint(v)); err == nil {
			d.ErrorCode = &n
		}
	}
	if v, ok := ext["knativeerrordata"]; ok {
		raw, err := base64.StdEncoding.DecodeString(fmt.Sprint(v))
		if err != nil {
			raw = []byte(fmt.Sprint(v))
		}
		if len(raw) > 4096 {
			raw = raw[:4096]
		}
		d.ErrorData = string(raw)
	}
	if d.Event, err = json.Marshal(e); err != nil {
		problem.Write(w, http.StatusBadRequest, "the event cannot be encoded")
		return
	}
	// The tenant extension alone proves nothing (this endpoint has no caller identity): the
	// event's subject must be an experiment of that tenant, read under its row-level security.
	expID, perr := uuid.Parse(e.Subject())
	stored := false
	err = a.o.Store.WithTenant(r.Context(), tenant, func(tx *store.Tx) error {
		if perr != nil {
			return nil
		}
		if _, err := tx.Experiment(r.Context(), expID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		stored = true
		return tx.AddDeadLetter(r.Context(), d)
	})
	if err == nil && !stored {
		logFrom(r).Error("dead letter not about an experiment of its tenant: logged, not stored",
			"event_id", e.ID(), "type", e.Type(), "tenant", tenant, "subject", e.Subject())
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if err != nil {
		storeError(w, r, err, "dead letter")
		return
	}
	logFrom(r).Warn("dead letter recorded", "event_id", e.ID(), "type", e.Type(), "dest", d.ErrorDest, "code", d.ErrorCode)
	w.WriteHeader(http.StatusAccepted)
}

func (a *API) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	limit, ok := queryLimit(w, r)
	if !ok {
		return
	}
	var out []store.DeadLetter
	err := a.o.Store.WithTenant(r.Context(), principalFrom(r.Context()).Tenant, func(tx *store.Tx) (err error) {
		out, err = tx.DeadLetters(r.Context(), limit)
		return err
	})
	if err != nil {
		storeError(w, r, err, "dead letters")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}
