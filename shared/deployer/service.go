package deployer

import (
	"context"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/bootstrap"
	"github.com/phoenixotel/phoenix/shared/emit"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/ingesttoken"
	"github.com/phoenixotel/phoenix/shared/store"
)

// Needs are the resources either deployer uses.
func Needs() bootstrap.Needs { return bootstrap.Needs{Store: true} }

// tokens issues a variant's ingest token when it is deployed and revokes an experiment's
// tokens when it is torn down.
type tokens struct {
	store     *store.Store  // where tokens are recorded (their SHA-256)
	deploying time.Duration // the deploying phase's limit, part of a token's lifetime
}

func (t tokens) issue(ctx context.Context, tenant, id uuid.UUID, v experiment.Variant) (string, error) {
	return ingesttoken.Issue(ctx, t.store, tenant, id, v, t.deploying)
}

func (t tokens) live(ctx context.Context, tenant, id uuid.UUID, v experiment.Variant, token string) (bool, error) {
	return ingesttoken.Live(ctx, t.store, tenant, id, v, token)
}

func (t tokens) revoke(ctx context.Context, tenant, id uuid.UUID) error {
	_, err := ingesttoken.Revoke(ctx, t.store, tenant, id, "")
	return err
}

// LocalService is the local deployer as `phoenix dev` runs it: collectors from the binary at
// collector, their configurations under dir, each variant with an ingest token of its own in its
// environment, revoked when the experiment's collectors are torn down.
func LocalService(collector, dir string) bootstrap.Builder {
	return func(res *bootstrap.Resources) (function.Service, error) {
		sender, err := emit.New(res.Config.Sink)
		if err != nil {
			return function.Service{}, err
		}
		if !sender.Configured() {
			return function.Service{}, fmt.Errorf("the local deployer reports to the broker: set K_SINK")
		}
		t := tokens{store: res.Store, deploying: res.Config.Timeouts.Deploying}
		l, err := NewLocal(res.Store, sender, Options{Collector: collector, Dir: dir, Logger: res.Logger,
			Env: func(ctx context.Context, tenant, id uuid.UUID, v experiment.Variant) ([]string, error) {
				token, err := t.issue(ctx, tenant, id, v)
				if err != nil {
					return nil, err
				}
				return ingesttoken.Env(token), nil
			},
			Released: t.revoke,
		})
		if err != nil {
			return function.Service{}, err
		}
		start := func(ctx context.Context) error {
			if err := res.Start(ctx); err != nil {
				return err
			}
			return l.Reconcile(ctx)
		}
		return function.Service{Name: "deployer", Events: l, Start: start, Stop: l.Close}, nil
	}
}

// KubernetesService is the deployer on a cluster: it applies manifests with the pod's service
// account (deploy/base grants it the objects it manages in the experiment namespaces).
func KubernetesService(res *bootstrap.Resources) (function.Service, error) {
	if res.Config.DeployTarget != "kubernetes" {
		return function.Service{}, fmt.Errorf("PHOENIX_DEPLOY_TARGET is %q: the deployer function applies manifests to a cluster "+
			"(kubernetes); on one machine `phoenix dev` runs the local deployer", res.Config.DeployTarget)
	}
	cluster, err := InCluster()
	if err != nil {
		return function.Service{}, err
	}
	return function.Service{Name: "deployer", Events: KubernetesWithTokens(res.Store, cluster, res.Config.Timeouts.Deploying)}, nil
}

// KubernetesWithTokens is the deployer for cluster with real ingest tokens in st: issued when a
// variant is deployed (a live one kept on a redelivery), revoked at teardown; deploying is the
// deploying phase's limit, part of a token's lifetime.
func KubernetesWithTokens(st *store.Store, cluster Cluster, deploying time.Duration) *Kubernetes {
	t := tokens{store: st, deploying: deploying}
	k := NewKubernetes(st, cluster)
	k.Issue, k.Live, k.Revoke = t.issue, t.live, t.revoke
	return k
}

// request reads a deploy or teardown request: its tenant and the experiment it is about. Anything
// else is refused as invalid (the broker does not retry it).
func request(e event.Event) (uuid.UUID, events.ExperimentRef, error) {
	var ref events.ExperimentRef
	if e.Type() != events.DeployRequested && e.Type() != events.TeardownRequested {
		return uuid.Nil, ref, function.Invalid(fmt.Errorf("the deployer does not consume %q", e.Type()))
	}
	tenant, err := events.Tenant(e)
	if err != nil {
		return uuid.Nil, ref, function.Invalid(err)
	}
	if err := events.DecodeAbout(e, &ref, func() uuid.UUID { return ref.ExperimentID }); err != nil {
		return uuid.Nil, ref, function.Invalid(err)
	}
	return tenant, ref, nil
}
