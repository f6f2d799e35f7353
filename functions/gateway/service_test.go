package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/shared/config"
)

func TestOptionsFrom_MapsTheGatewaySettings(t *testing.T) {
	env := map[string]string{
		"PHOENIX_WS_MAX_CONNECTIONS":            "12000",
		"PHOENIX_WS_MAX_CONNECTIONS_PER_TENANT": "3000",
		"PHOENIX_WS_MAX_CONNECTIONS_PER_USER":   "7",
		"PHOENIX_WS_CONNECT_RATE":               "120/m",
		"PHOENIX_WS_MESSAGE_RATE":               "off",
		"PHOENIX_WS_MAX_SUBSCRIPTIONS":          "9",
		"PHOENIX_WS_SEND_QUEUE":                 "32",
		"PHOENIX_WS_DRAIN_WINDOW":               "0s",
		"PHOENIX_WS_RECHECK_INTERVAL":           "2s",
		"PHOENIX_ALLOWED_ORIGINS":               "https://app.example",
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	o := optionsFrom(cfg)
	want := Options{
		ChannelPrefix: ChannelPrefix, AllowedOrigins: []string{"https://app.example"}, RecheckInterval: 2 * time.Second,
		MaxConnections: 12000, MaxConnectionsPerTenant: 3000, MaxConnectionsPerUser: 7,
		ConnectRate: 2, MessageRate: -1, MaxSubscriptions: 9, SendQueue: 32, DrainWindow: time.Nanosecond,
	}
	if o.ChannelPrefix != want.ChannelPrefix || len(o.AllowedOrigins) != 1 || o.RecheckInterval != want.RecheckInterval ||
		o.MaxConnections != want.MaxConnections || o.MaxConnectionsPerTenant != want.MaxConnectionsPerTenant ||
		o.MaxConnectionsPerUser != want.MaxConnectionsPerUser || o.ConnectRate != want.ConnectRate ||
		o.MessageRate != want.MessageRate || o.MaxSubscriptions != want.MaxSubscriptions ||
		o.SendQueue != want.SendQueue || o.DrainWindow != want.DrainWindow {
		t.Fatalf("options %+v, want %+v", o, want)
	}
}

func TestConfig_DefaultsAndBadGatewaySettings(t *testing.T) {
	cfg, err := config.Load(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	o := optionsFrom(cfg)
	if o.MaxConnections != DefaultMaxConnections || o.MaxConnectionsPerTenant != DefaultMaxConnectionsPerTenant ||
		o.MaxConnectionsPerUser != DefaultMaxConnectionsPerUser || o.ConnectRate != DefaultConnectRate ||
		o.MessageRate != DefaultMessageRate || o.MaxSubscriptions != DefaultMaxSubscriptions ||
		o.SendQueue != DefaultSendQueue || o.DrainWindow != DefaultDrainWindow || o.RecheckInterval != DefaultRecheckInterval {
		t.Fatalf("configuration defaults %+v differ from the gateway's", o)
	}
	bad := map[string]string{
		"PHOENIX_WS_MAX_CONNECTIONS":   "0",
		"PHOENIX_WS_SEND_QUEUE":        "1",
		"PHOENIX_WS_CONNECT_RATE":      "fast",
		"PHOENIX_WS_MESSAGE_RATE":      "10/week",
		"PHOENIX_WS_DRAIN_WINDOW":      "forever",
		"PHOENIX_WS_MAX_SUBSCRIPTIONS": "many",
	}
	_, err = config.Load(func(k string) (string, bool) { v, ok := bad[k]; return v, ok })
	if err == nil {
		t.Fatal("bad gateway settings accepted")
	}
	for name := range bad {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
}
