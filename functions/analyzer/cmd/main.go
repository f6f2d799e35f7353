// Command analyzer runs the analysis CloudEvent function as a Knative Service.
package main

import (
	"github.com/phoenixotel/phoenix/functions/analyzer"
	"github.com/phoenixotel/phoenix/shared/bootstrap"
)

func main() { bootstrap.Main("analyzer", analyzer.Needs(), analyzer.Service) }
