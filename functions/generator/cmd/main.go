// Command generator runs the manifest-generation CloudEvent function as a Knative Service.
package main

import (
	"github.com/phoenixotel/phoenix/functions/generator"
	"github.com/phoenixotel/phoenix/shared/bootstrap"
)

func main() { bootstrap.Main("generator", generator.Needs(), generator.Service) }
