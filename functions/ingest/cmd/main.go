// Command ingest runs the OTLP ingest and KPI-window function as a Knative Service.
package main

import (
	"github.com/phoenixotel/phoenix/functions/ingest"
	"github.com/phoenixotel/phoenix/shared/bootstrap"
)

func main() { bootstrap.Main("ingest", ingest.Needs(), ingest.Service) }
