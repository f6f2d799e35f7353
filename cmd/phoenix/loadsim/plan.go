// Package loadsim makes a host look like a real one to a collector's process scraper: it plans
// and runs real processes with varied executable names (web servers, databases, browser tabs,
// batch jobs …) and CPU and memory patterns (steady, spiky, growing), with churn.
//
// Every simulated process is this program's own binary run through a link named after the
// process, so the kernel reports that name (/proc/PID/comm, which the host-metrics receiver reads
// as process.executable.name): names vary as they do on a real host. Critical processes never
// churn. The plan is pure (seeded randomness, no I/O); Supervisor runs it and Work is what each
// child does.
//
// Only the CLI (phoenix loadsim, phoenix demo) and the end-to-end suite import it; no
// deployable may.
package loadsim

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Pattern is how a process uses CPU and memory over time.
type Pattern string

// Patterns of simulated processes.
const (
	Steady  Pattern = "steady"  // constant small CPU, constant memory: daemons
	Spiky   Pattern = "spiky"   // mostly idle with bursts of CPU: request-driven services
	Growing Pattern = "growing" // memory grows until a ceiling, then starts over: caches, leaks
)

// Profiles the simulator offers.
const (
	Realistic       = "realistic"        // a mixed application server
	HighCardinality = "high-cardinality" // many distinct executables
	ProcessChurn    = "process-churn"    // short-lived jobs replaced all the time
)

// Profiles lists the profile names, for flags and errors.
func Profiles() []string { return []string{Realistic, HighCardinality, ProcessChurn} }

// MaxNameLen is the longest executable name the kernel keeps whole in /proc/PID/comm.
const MaxNameLen = 15

// MaxProcesses bounds a plan: a simulator must not fork-bomb the host it measures.
const MaxProcesses = 2000

// Process is one simulated process.
type Process struct {
	Name     string        // executable name, at most MaxNameLen bytes
	Critical bool          // the experiment's pipelines must keep it; it never churns
	Pattern  Pattern       // CPU and memory over time
	CPU      float64       // average share of one core it keeps busy, 0–1
	MemMiB   int           // resident memory it holds (Growing: the ceiling)
	Lifetime time.Duration // how long it lives before a replacement takes over; 0 = until the end
	Seed     uint64        // seeds its own randomness (spike timing), so runs are reproducible
}

// Args are the worker flags that make a child behave as p (see Work).
func (p Process) Args() []string {
	return []string{"--pattern", string(p.Pattern), "--cpu", fmt.Sprintf("%g", p.CPU),
		"--mem-mib", fmt.Sprint(p.MemMiB), "--seed", fmt.Sprint(p.Seed)}
}

// Critical processes of every profile: what an experiment on a simulated host protects.
var critical = []Process{
	{Name: "nginx", Critical: true, Pattern: Spiky, CPU: 0.02, MemMiB: 24},
	{Name: "mysqld", Critical: true, Pattern: Steady, CPU: 0.01, MemMiB: 48},
	{Name: "payments-api", Critical: true, Pattern: Spiky, CPU: 0.02, MemMiB: 32},
}

// CriticalNames are the executable names of the critical processes every plan contains, in the
// form an experiment's critical_processes takes.
func CriticalNames() []string {
	out := make([]string, len(critical))
	for i, p := range critical {
		out[i] = p.Name
	}
	return out
}

// The realistic host: long-running services plus a browser with tabs (one name, many processes,
// as real browsers fork), and a few batch jobs.
var services = []Process{
	{Name: "redis-server", Pattern: Steady, CPU: 0.01, MemMiB: 16},
	{Name: "java", Pattern: Growing, CPU: 0.015, MemMiB: 96},
	{Name: "node", Pattern: Spiky, CPU: 0.01, MemMiB: 40},
	{Name: "python3", Pattern: Steady, CPU: 0.005, MemMiB: 20},
	{Name: "envoy", Pattern: Spiky, CPU: 0.01, MemMiB: 16},
	{Name: "memcached", Pattern: Steady, CPU: 0.005, MemMiB: 32},
	{Name: "rsyslogd", Pattern: Steady, CPU: 0.002, MemMiB: 4},
	{Name: "chrome", Pattern: Spiky, CPU: 0.005, MemMiB: 24},
	{Name: "containerd-shim", Pattern: Steady, CPU: 0.002, MemMiB: 6},
	{Name: "kafka", Pattern: Growing, CPU: 0.01, MemMiB: 64},
}

// Job names for short-lived processes.
var jobs = []string{"backup", "logrotate", "etl-batch", "report-gen", "cron", "tar", "gzip",
	"rsync", "pg_dump", "ffmpeg", "make", "cc1", "ld", "git", "curl", "awk", "sort", "du"}

// Words from which high-cardinality names are composed ("billing-worker").
var (
	domains = []string{"billing", "search", "auth", "cart", "ledger", "media", "geo", "fraud",
		"notify", "pricing", "orders", "users", "stock", "promo", "ship", "quote"}
	roles = []string{"worker", "api", "cron", "sync", "index", "proxy", "cache", "agent"}
)

// Plan returns the processes of profile for a host of n simulated processes (critical ones
// included; n below their number is raised to it). seed makes the plan reproducible.
func Plan(profile string, n int, seed uint64) ([]Process, error) {
	if n > MaxProcesses {
		return nil, fmt.Errorf("at most %d processes, not %d", MaxProcesses, n)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) // #nosec G404 -- simulated load, reproducible by seed
	plan := make([]Process, 0, max(n, len(critical)))
	for _, p := range critical {
		p.Seed = rng.Uint64()
		plan = append(plan, p)
	}
	switch profile {
	case Realistic:
		// Services once each, then browser tabs and the odd job fill the rest, as on a desktop
		// that also serves.
		for i := 0; len(plan) < n; i++ {
			var p Process
			switch {
			case i < len(services):
				p = services[i]
			case i%4 == 3:
				p = Job(rng, 30*time.Second)
				p.Lifetime = 0 // a long batch job: lives for the run
			default:
				p = services[7] // another chrome tab
			}
			p.Seed = rng.Uint64()
			plan = append(plan, p)
		}
	case HighCardinality:
		for i := 0; len(plan) < n; i++ {
			name := fmt.Sprintf("%s-%s", domains[i%len(domains)], roles[(i/len(domains))%len(roles)])
			if round := i / (len(domains) * len(roles)); round > 0 {
				name = fmt.Sprintf("%s%d", name, round)
			}
			p := Process{Name: truncate(name), Pattern: []Pattern{Steady, Spiky, Growing}[i%3],
				CPU: 0.002, MemMiB: 4 + rng.IntN(12), Seed: rng.Uint64()}
			plan = append(plan, p)
		}
	case ProcessChurn:
		for len(plan) < n {
			plan = append(plan, Job(rng, 20*time.Second))
		}
	default:
		return nil, fmt.Errorf("unknown profile %q (want one of %s)", profile, strings.Join(Profiles(), ", "))
	}
	return plan, nil
}

// Job returns a short-lived batch process that lives between meanLife/2 and 3·meanLife/2.
// The supervisor calls it again for each replacement, so names and pids keep changing.
func Job(rng *rand.Rand, meanLife time.Duration) Process {
	life := meanLife/2 + time.Duration(rng.Int64N(int64(meanLife)))
	return Process{Name: jobs[rng.IntN(len(jobs))], Pattern: []Pattern{Spiky, Growing}[rng.IntN(2)],
		CPU: 0.005 + 0.01*rng.Float64(), MemMiB: 4 + rng.IntN(28), Lifetime: life, Seed: rng.Uint64()}
}

func truncate(name string) string {
	if len(name) > MaxNameLen {
		return name[:MaxNameLen]
	}
	return name
}
