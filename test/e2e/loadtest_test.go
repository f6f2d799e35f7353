package e2e

import (
	"strings"
	"testing"
)

// TestLoad_ThroughTheAPI runs `phoenix test load --through-api` against phoenix dev: every event
// is an experiment the logged-in user creates and stops through the API, and every connection
// must receive the controller's transition of each, in order and once.
func TestLoad_ThroughTheAPI(t *testing.T) {
	t.Parallel()
	p := startDev(t)
	c := cli{bin: p.bin, configHome: t.TempDir(), env: []string{"PHOENIX_DATABASE_URL=" + p.db.AppURL}}
	c.createAdmin(t, "loadco", "ops@loadco.example")
	if _, errOut, err := c.run(t, "", "test", "load", "--through-api", "--connections", "10"); err == nil ||
		!strings.Contains(errOut, "phoenix login") {
		t.Fatalf("through the API before login: %v %s", err, errOut)
	}
	if out, errOut, err := c.run(t, adminPassword, "login", "--api", p.addrs["api"], "--gateway", p.addrs["gateway"], "--tenant", "loadco",
		"--email", "ops@loadco.example", "--password-stdin"); err != nil {
		t.Fatalf("login: %v %s %s", err, out, errOut)
	}

	// The gateway comes from the session; --keys is the key set phoenix dev signs with.
	out, errOut, err := c.run(t, "", "test", "load", "--through-api", "--connections", "120", "--duration", "3s",
		"--events", "3", "--settle", "1s", "--source-addrs", "1", "--keys", p.keysFile)
	if err != nil {
		t.Fatalf("phoenix test load --through-api: %v\n%s\n%s", err, out, errOut)
	}
	t.Log("\n" + out)
	for _, want := range []string{"120 opened, 0 failed, 0 ended early (1 tenants", "360 of 360; lost 0, duplicates 0, gaps 0, error frames 0",
		"(stop request to receipt)"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "creating and stopping 3 events") {
		t.Errorf("progress: %s", errOut)
	}
	// The experiments are real: the tenant now has three cancelled ones.
	list, _, err := c.run(t, "", "experiment", "list", "--state", "cancelled")
	if err != nil || strings.Count(list, "loadtest-") != 3 {
		t.Fatalf("experiment list: %v\n%s", err, list)
	}
}
