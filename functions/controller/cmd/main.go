// Command controller runs the experiment-lifecycle CloudEvent function as a Knative Service.
package main

import (
	"github.com/phoenixotel/phoenix/functions/controller"
	"github.com/phoenixotel/phoenix/shared/bootstrap"
)

func main() { bootstrap.Main("controller", controller.Needs(), controller.Service) }
