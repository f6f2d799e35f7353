package loadsim

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"time"
)

// period is the scheduling quantum of a worker: each period it is busy for its duty share and
// sleeps the rest, which is how a CPU share shows up in /proc/PID/stat.
const period = 100 * time.Millisecond

// Work makes the calling process behave as p until ctx ends or the process that started it
// goes away (it is then reparented, and a simulated process must never outlive its simulator).
func Work(ctx context.Context, p Process) error {
	if p.CPU < 0 || p.CPU > 1 || p.MemMiB < 0 || p.MemMiB > 4096 {
		return errors.New("cpu must be within 0–1 and memory within 0–4096 MiB")
	}
	parent := os.Getppid()
	rng := rand.New(rand.NewPCG(p.Seed, p.Seed+1)) // #nosec G404 -- simulated load, reproducible by seed; nothing secret
	var (
		mem       [][]byte  // resident chunks of 1 MiB, each page touched
		burstEnds time.Time // end of the current CPU burst (Spiky)
		nextBurst = time.Now().Add(time.Duration(2+rng.IntN(10)) * time.Second)
		grownAt   = time.Now() // start of the current growth cycle (Growing)
	)
	hold := func(mib int) {
		for len(mem) < mib {
			chunk := make([]byte, 1<<20)
			for i := 0; i < len(chunk); i += 4096 {
				chunk[i] = 1
			}
			mem = append(mem, chunk)
		}
		if len(mem) > mib {
			clear(mem[mib:])
			mem = mem[:mib]
		}
	}
	tick := time.NewTicker(period)
	defer tick.Stop()
	for checked := 0; ; checked++ {
		now := time.Now()
		duty := p.CPU
		switch p.Pattern {
		case Steady:
			hold(p.MemMiB)
		case Spiky:
			// Idle at a quarter of the average, with bursts at four times it (capped at half a
			// core) for 1–4 s every 5–20 s.
			if now.After(nextBurst) {
				burstEnds = now.Add(time.Duration(1+rng.IntN(4)) * time.Second)
				nextBurst = burstEnds.Add(time.Duration(5+rng.IntN(16)) * time.Second)
			}
			duty = p.CPU / 4
			if now.Before(burstEnds) {
				duty = min(4*p.CPU, 0.5)
			}
			hold(p.MemMiB)
		case Growing:
			// From an eighth of the ceiling to all of it over a minute, then start over, as a
			// cache that is flushed or a leaking process that is restarted.
			frac := float64(now.Sub(grownAt)) / float64(time.Minute)
			if frac >= 1 {
				grownAt, frac = now, 0
			}
			hold(p.MemMiB/8 + int(frac*float64(p.MemMiB-p.MemMiB/8)))
		default:
			return errors.New("unknown pattern " + string(p.Pattern))
		}
		spin(time.Duration(duty * float64(period)))
		if checked%10 == 0 && os.Getppid() != parent {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// spin keeps one core busy for d.
func spin(d time.Duration) {
	end := time.Now().Add(d)
	x := 1.0
	for time.Now().Before(end) {
		for i := 0; i < 1000; i++ {
			x = x*1.0000001 + 1e-9
		}
	}
	_ = x
}
