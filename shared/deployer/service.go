package deployer

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/bootstrap"
	"github.com/phoenixotel/phoenix/shared/emit"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/ingesttoken"
)

// LocalNeeds are the resources the local deployer uses.
func LocalNeeds() bootstrap.Needs { return bootstrap.Needs{Store: true} }

// LocalService is the local deployer as `phoenix dev` runs it: collectors from the binary at
// collector, their configurations under dir, each variant with an ingest token of its own that is
// issued when it starts and revoked when the experiment's collectors are torn down.
func LocalService(collector, dir string) bootstrap.Builder {
	return func(res *bootstrap.Resources) (function.Service, error) {
		sender, err := emit.New(res.Config.Sink)
		if err != nil {
			return function.Service{}, err
		}
		if !sender.Configured() {
			return function.Service{}, fmt.Errorf("the local deployer reports to the broker: set K_SINK")
		}
		st, deploying := res.Store, res.Config.Timeouts.Deploying
		l, err := NewLocal(st, sender, Options{Collector: collector, Dir: dir, Logger: res.Logger,
			Env: func(ctx context.Context, tenant, id uuid.UUID, v experiment.Variant) ([]string, error) {
				token, err := ingesttoken.Issue(ctx, st, tenant, id, v, deploying)
				if err != nil {
					return nil, err
				}
				return ingesttoken.Env(token), nil
			},
			Released: func(ctx context.Context, tenant, id uuid.UUID) error {
				_, err := ingesttoken.Revoke(ctx, st, tenant, id, "")
				return err
			},
		})
		if err != nil {
			return function.Service{}, err
		}
		return function.Service{Name: "deployer", Events: l, Stop: l.Close}, nil
	}
}
