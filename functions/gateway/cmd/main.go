// Command gateway runs the WebSocket gateway, Phoenix's one long-lived service.
package main

import (
	"github.com/phoenixotel/phoenix/functions/gateway"
	"github.com/phoenixotel/phoenix/shared/bootstrap"
)

func main() { bootstrap.Main("gateway", gateway.Needs(), gateway.Service) }
