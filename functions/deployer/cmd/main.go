// Command deployer runs the deployer CloudEvent function as a Knative Service.
package main

import (
	"github.com/phoenixotel/phoenix/functions/deployer"
	"github.com/phoenixotel/phoenix/shared/bootstrap"
)

func main() { bootstrap.Main("deployer", deployer.Needs(), deployer.Service) }
