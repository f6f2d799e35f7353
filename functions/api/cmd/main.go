// Command api serves Phoenix's HTTP API as a Knative Service.
package main

import (
	"github.com/phoenixotel/phoenix/functions/api"
	"github.com/phoenixotel/phoenix/shared/bootstrap"
)

func main() { bootstrap.Main("api", api.Needs(), api.Service) }
