package smoke

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/shared/wsproto"
)

// Tenancy checks tenant isolation through the API and the gateway. Credentials.Primary (tenant A)
// creates an experiment; Credentials.Other (tenant B) must get 404 for it on every read (the
// experiment, its transitions, manifests, KPIs and analysis) and every command (start, stop,
// promote, rollback, which must leave it untouched), must not find it in B's list, and must not
// subscribe to its channel. Finally A stops it while B listens on B's tenant channel: B's own
// experiment's events arrive there, A's never do.
func Tenancy(ctx context.Context, t Target, c Credentials, o Options) Result {
	o = o.withDefaults()
	r := newRecorder(ctx, "tenancy")
	isolation(ctx, r, t, c, o)
	return r.done()
}

func isolation(ctx context.Context, r *recorder, t Target, c Credentials, o Options) {
	a := newAPI(t)
	var sa, sb *session
	if !r.step("both accounts log in, to different tenants", func() (string, error) {
		var err error
		if sa, err = open(ctx, a, c.Primary); err != nil {
			return "", fmt.Errorf("account A: %w", err)
		}
		if sb, err = open(ctx, a, c.Other); err != nil {
			return "", fmt.Errorf("account B: %w", err)
		}
		if sa.me.Tenant.ID == sb.me.Tenant.ID {
			return "", fmt.Errorf("both accounts belong to tenant %s (%s): the scenario needs accounts of two tenants", sa.me.Tenant.Name, sa.me.Tenant.ID)
		}
		return fmt.Sprintf("A: %s; B: %s", sa, sb), nil
	}) {
		return
	}
	if !r.step("both accounts may do what the checks need", func() (string, error) {
		var errs []string
		need := []string{"experiment:create", "experiment:read", "experiment:start", "experiment:stop",
			"experiment:promote", "experiment:rollback", "analysis:read"}
		for _, s := range []*session{sa, sb} {
			if miss := s.me.missing(need...); len(miss) > 0 {
				errs = append(errs, fmt.Sprintf("%s lacks %s", s, strings.Join(miss, ", ")))
			}
		}
		if len(errs) > 0 {
			return "", fmt.Errorf("%s: give both the operator or admin role, or a 403 would hide whether the tenant check holds", strings.Join(errs, "; "))
		}
		return "both hold every experiment permission and analysis:read", nil
	}) {
		return
	}

	var e store.Experiment
	if !r.step("tenant A creates an experiment and reads it", func() (string, error) {
		var err error
		if e, err = create(ctx, sa, "smoke-tenancy-"+o.RunID, o); err != nil {
			return "", err
		}
		r.undo("cleanup: stop A's experiment", stopUnlessEnded(sa, e.ID.String()))
		if _, err := read(ctx, sa, e.ID.String()); err != nil {
			return "", fmt.Errorf("tenant A cannot read its own experiment: %w", err)
		}
		return "experiment " + e.ID.String(), nil
	}) {
		return
	}

	reads := []string{"", "/transitions", "/manifests", "/kpis", "/analysis", "/looks"}
	r.step("tenant B gets 404 for every read of A's experiment", func() (string, error) {
		var errs []error
		for _, sub := range reads {
			rep, err := sb.do(ctx, http.MethodGet, "/v1/experiments/"+e.ID.String()+sub, nil)
			if err != nil {
				return "", err
			}
			errs = append(errs, hidden(rep))
		}
		if err := errors.Join(errs...); err != nil {
			return "", err
		}
		return fmt.Sprintf("GET /v1/experiments/{id}{%s}: 404 each", strings.Join(reads, ",")), nil
	})

	r.step("tenant B's list shows only B's experiments", func() (string, error) {
		var page struct {
			Items []store.Experiment `json:"items"` // newest first
		}
		if err := sb.get(ctx, "/v1/experiments?limit=200", &page); err != nil {
			return "", err
		}
		for _, it := range page.Items {
			if it.ID == e.ID {
				return "", fmt.Errorf("tenant B's list contains A's experiment %s", e.ID)
			}
			if it.TenantID.String() != sb.me.Tenant.ID {
				return "", fmt.Errorf("tenant B's list contains experiment %s of tenant %s", it.ID, it.TenantID)
			}
		}
		return fmt.Sprintf("%d experiments, all of tenant B, none of A's", len(page.Items)), nil
	})

	r.step("tenant B gets 404 for every command on A's experiment, which stays untouched", func() (string, error) {
		var errs []error
		for _, verb := range []string{"start", "stop", "promote", "rollback"} {
			rep, err := command(ctx, sb, e.ID.String(), verb)
			if err != nil {
				return "", err
			}
			errs = append(errs, hidden(rep))
		}
		after, err := read(ctx, sa, e.ID.String())
		if err != nil {
			return "", err
		}
		if after.State != experiment.Pending || after.Version != e.Version {
			errs = append(errs, fmt.Errorf("tenant A's experiment is now %s at version %d (was pending at %d): B's command reached it", after.State, after.Version, e.Version))
		}
		if err := errors.Join(errs...); err != nil {
			return "", err
		}
		return "start, stop, promote, rollback: 404 each; A's experiment still pending, version unchanged", nil
	})

	deadline := func() time.Time { return time.Now().Add(o.Timeout) }
	var bsock *socket
	if !r.step("tenant B cannot subscribe to A's experiment", func() (string, error) {
		tok, err := sb.token(ctx)
		if err != nil {
			return "", err
		}
		if bsock, err = dial(ctx, t.Gateway, tok, false); err != nil {
			return "", fmt.Errorf("tenant B connects to the gateway: %w", err)
		}
		r.undo("cleanup: close B's connection", func(context.Context) (string, error) { bsock.close(); return "closed", nil })
		var errs []string
		if _, err := bsock.subscribe(channelOf(e.ID.String()), nil, deadline()); !isCode(err, "not_found") {
			errs = append(errs, fmt.Sprintf("subscribe %s answered %v, want not_found", channelOf(e.ID.String()), describe(err)))
		}
		other := "tenant:" + sa.me.Tenant.ID
		if _, err := bsock.subscribe(other, nil, deadline()); !isCode(err, "invalid_channel") {
			errs = append(errs, fmt.Sprintf("subscribe %s answered %v, want invalid_channel", other, describe(err)))
		}
		if len(errs) > 0 {
			return "", errors.New(strings.Join(errs, "; "))
		}
		return "its channel: not_found; A's tenant channel by id: invalid_channel", nil
	}) {
		return
	}

	r.step("tenant B's live events exclude A's", func() (string, error) {
		return exclusive(ctx, r, t, sa, sb, bsock, e.ID.String(), o, deadline)
	})
}

// exclusive has A stop its experiment and waits until A's own connection received the
// transition (so it was published), then has B create and stop an experiment of its own and
// reads B's tenant channel until B's transition arrives: nothing of A's may come before it.
func exclusive(ctx context.Context, r *recorder, t Target, sa, sb *session, bsock *socket, idA string, o Options, deadline func() time.Time) (string, error) {
	if _, err := bsock.subscribe(tenantChannel, nil, deadline()); err != nil {
		return "", fmt.Errorf("tenant B subscribes to its tenant channel: %w", err)
	}
	wa, err := watch(ctx, sa, t.Gateway, idA, false, 0, deadline())
	if err != nil {
		return "", fmt.Errorf("tenant A subscribes to its experiment: %w", err)
	}
	defer wa.close()
	rep, err := command(ctx, sa, idA, "stop")
	if err != nil {
		return "", err
	}
	if err := rep.Want(http.StatusAccepted); err != nil {
		return "", fmt.Errorf("tenant A stops its experiment: %w", err)
	}
	if err := wa.until(ctx, deadline(), ended); err != nil {
		return "", fmt.Errorf("tenant A's own connection: %w", err)
	}
	f, err := create(ctx, sb, "smoke-tenancy-b-"+o.RunID, o)
	if err != nil {
		return "", err
	}
	r.undo("cleanup: stop B's experiment", stopUnlessEnded(sb, f.ID.String()))
	if rep, err = command(ctx, sb, f.ID.String(), "stop"); err != nil {
		return "", err
	}
	if err := rep.Want(http.StatusAccepted); err != nil {
		return "", fmt.Errorf("tenant B stops its experiment: %w", err)
	}
	seen := 0
	for d := deadline(); ; {
		fr, err := bsock.next(d)
		if err != nil {
			return "", fmt.Errorf("tenant B's tenant channel never carried B's own transition (%d other events): %w", seen, err)
		}
		if fr.Type != wsproto.Event {
			continue
		}
		ev, err := fr.event()
		if err != nil {
			return "", err
		}
		if strings.EqualFold(ev.Subject, idA) || (ev.Tenant != "" && ev.Tenant != sb.me.Tenant.ID) {
			return "", fmt.Errorf("tenant B's tenant channel carried %s about A's experiment %s (tenant %s)", ev.Type, ev.Subject, ev.Tenant)
		}
		if strings.EqualFold(ev.Subject, f.ID.String()) {
			return fmt.Sprintf("A's stop reached A's connection; B's channel then carried B's own transition (after %d other events of B) and nothing of A's", seen), nil
		}
		seen++
	}
}

// describe renders a subscription's outcome for a message.
func describe(err error) string {
	if err == nil {
		return "subscribed"
	}
	return err.Error()
}
