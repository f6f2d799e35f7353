// Package deployer is the CloudEvent function that puts an experiment's collectors on a cluster:
// on "deploy requested" it applies the generated manifests (and a Secret with each variant's
// ingest token) to the Kubernetes API with server-side apply; on "teardown requested" it deletes
// them and revokes the tokens. The ApiServerSource reports the DaemonSets' readiness to the
// controller. The logic lives in shared/deployer, beside the local deployer `phoenix dev` runs.
package deployer

import (
	"github.com/phoenixotel/phoenix/shared/bootstrap"
	"github.com/phoenixotel/phoenix/shared/deployer"
	"github.com/phoenixotel/phoenix/shared/function"
)

// Needs are the resources the deployer uses.
func Needs() bootstrap.Needs { return deployer.Needs() }

// Service is the deployer as a deployable.
func Service(res *bootstrap.Resources) (function.Service, error) {
	return deployer.KubernetesService(res)
}
