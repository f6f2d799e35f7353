package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/logging"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/store"
)

// windowKPIs computes a closed window's KPIs from its totals (the names are shared/experiment's
// Metrics):
//
//	series                     distinct series in the window
//	datapoints_per_second      datapoints / window length
//	bytes_per_second           payload bytes / window length
//	cost_per_hour              series × SeriesMonth / 730.5 + datapoints_per_second × 3600 / 10⁶ × MillionDatapoints
//	critical_process_coverage  critical patterns seen / critical patterns (only when the spec lists any)
//	collector_cpu              Σ over collectors of CPU seconds / elapsed seconds between their readings (cores)
//	collector_memory           Σ over collectors of their mean resident bytes
//
// CPU and memory are left out when no collector's self-telemetry reached the window. The
// collectors' input — points their receivers accepted and refused, and their restarts — is
// carried as raw counts beside the KPIs, not as KPIs: it is the evidence that both variants saw
// the same input, which the pipelines are not compared on.
func windowKPIs(t totals, length time.Duration, critical []string, p experiment.Prices) (store.KPIWindow, error) {
	secs := length.Seconds()
	if secs <= 0 {
		return store.KPIWindow{}, errors.New("window length must be positive")
	}
	w := store.KPIWindow{Series: t.series, Datapoints: t.datapoints, PayloadBytes: t.bytes, Requests: t.requests, Rejected: t.rejected,
		ReceivedPoints: t.received, ReceivedSeconds: t.receivedT, RefusedPoints: t.refused, Restarts: t.restarts,
		CriticalCovered: []string{}, CriticalMissing: []string{}, KPIs: map[string]float64{}}
	dps := float64(t.datapoints) / secs
	w.KPIs["series"] = float64(t.series)
	w.KPIs["datapoints_per_second"] = dps
	w.KPIs["bytes_per_second"] = float64(t.bytes) / secs
	w.KPIs["cost_per_hour"] = p.CostPerHour(float64(t.series), dps)
	if len(critical) > 0 {
		seen := map[string]bool{}
		for _, c := range t.covered {
			seen[c] = true
		}
		for _, c := range critical {
			if seen[c] {
				w.CriticalCovered = append(w.CriticalCovered, c)
			} else {
				w.CriticalMissing = append(w.CriticalMissing, c)
			}
		}
		w.KPIs["critical_process_coverage"] = float64(len(w.CriticalCovered)) / float64(len(critical))
	}
	instances := map[string]bool{}
	if cpu, ok := sumOfRatios(t.cpu, instances); ok {
		w.CollectorCPU = &cpu
		w.KPIs["collector_cpu"] = cpu
	}
	if mem, ok := sumOfRatios(t.memory, instances); ok {
		w.CollectorMemory = &mem
		w.KPIs["collector_memory"] = mem
	}
	w.Collectors = len(instances)
	return w, nil
}

// partial says why a window's data is known to be partial, or "" when nothing says so:
//
//   - a collector restarted in it: its input across the restart is unknown (the interval that
//     spans the restart adds nothing), and its output stopped for the restart;
//   - the ingest store's epoch began after the window did, and a window of the experiment was
//     stored before it (lost): Redis lost its memory (a restart without persistence) and took
//     what had arrived before. Without such a window the epoch is the store's first, which the
//     experiment's first windows may well begin before;
//   - data for it came too late (beyond the lateness bound) while it waited to be stored — the
//     database was away — and was refused (a stored window is marked by incomplete instead);
//   - fewer scrapes arrived than the collection interval promises (see scrapesExpected).
func partial(t totals, x window, interval time.Duration, lost bool) string {
	switch {
	case t.restarts > 0:
		return fmt.Sprintf("a collector restarted during the window (%d restarts): its input across the restart is unknown", t.restarts)
	case lost && t.epoch > x.start.UnixMilli():
		return "the ingest store (Redis) lost its memory at " + time.UnixMilli(t.epoch).UTC().Format(time.TimeOnly) +
			" UTC, after the window began: what had arrived before was lost"
	case t.late > 0:
		return fmt.Sprintf("%d datapoints for it arrived after the lateness bound, before it could be stored: it lacks them", t.late)
	}
	if least := scrapesExpected(x.length, interval); t.scrapes > 0 && t.scrapes < least {
		return fmt.Sprintf("only %d scrapes arrived of the %d or more a %s window holds with a scrape every %s: the rest were lost on the way",
			t.scrapes, least, x.length, interval)
	}
	return ""
}

// scrapesExpected is the fewest scrapes of a variant's output a window of length holds when
// nothing is lost: a collector scrapes every interval, so a window holds ⌊length/interval⌋ of
// its scrapes or one more — one fewer when a scrape's time wavers across the window's edge (the
// scraper's start is not exact). 0 when that bound says nothing (windows of under three
// intervals, or an unknown interval). Several collectors' scrapes are counted together (less than
// half an interval apart is one scrape), so the rule sees a gap in the variant's whole output,
// not one collector's among many: parity and the collectors' own telemetry see that. A window
// with no output at all is left to the silence rule: a pipeline may keep nothing.
func scrapesExpected(length, interval time.Duration) int64 {
	if interval <= 0 {
		return 0
	}
	return max(0, int64(length/interval)-1)
}

// incomplete marks variant v's stored window starting at start, if there is one, as incomplete:
// data for it came after it closed (see windows).
func (in *Ingest) incomplete(ctx context.Context, tenant, exp uuid.UUID, v experiment.Variant, start time.Time) error {
	err := in.store.WithTenant(ctx, tenant, func(tx *store.Tx) error {
		return tx.MarkWindowIncomplete(ctx, exp, v, start, "data for it arrived after it closed, beyond the lateness bound: it lacks that data")
	})
	if err != nil {
		return fmt.Errorf("mark the KPI window %s of %s/%s incomplete: %w", start.Format(time.RFC3339), exp, v, err)
	}
	return nil
}

// closeDue closes every window that is over: it stores each in its tenant's transaction (the
// window and, when complete, its KPI samples), publishes it for the gateway, then forgets it in
// Redis. It returns how many windows it closed. A replica may die at any step: the window stays
// pending until another replica's lease is granted, storing is idempotent, and only the replica
// whose insert stored the window publishes it.
func (in *Ingest) closeDue(ctx context.Context) (int, error) {
	closed := 0
	var errs []error
	for {
		due, err := in.windows.due(ctx, 100)
		if err != nil {
			return closed, errors.Join(append(errs, err)...)
		}
		progressed := false
		for _, x := range due {
			ok, err := in.windows.lease(ctx, x, in.o.CloseLease)
			if err != nil {
				return closed, errors.Join(append(errs, err)...)
			}
			if !ok {
				continue // another replica is closing it, or an attempt failed and its lease runs
			}
			progressed = true
			// One window failing (its tenant's database unreachable, say) must not hold back the
			// others; it keeps its lease until it expires and is retried after.
			if err := in.closeWindow(ctx, x); err != nil {
				errs = append(errs, err)
				continue
			}
			closed++
		}
		if len(due) < 100 || !progressed {
			return closed, errors.Join(errs...)
		}
	}
}

// closeWindow closes one leased window.
func (in *Ingest) closeWindow(ctx context.Context, x window) error {
	t, err := in.windows.read(ctx, x)
	if err != nil {
		return err
	}
	var stored bool
	var w store.KPIWindow
	err = in.store.WithTenant(ctx, x.tenant, func(tx *store.Tx) error {
		run, err := tx.ExperimentRun(ctx, x.experiment)
		if err != nil {
			return err
		}
		w, err = windowKPIs(t, x.length, run.CriticalProcesses, in.o.Prices)
		if err != nil {
			return err
		}
		w.Variant, w.WindowStart, w.WindowEnd = x.variant, x.start, x.end()
		lost := false
		if t.epoch > x.start.UnixMilli() { // opened after the store's epoch began: was there one before?
			if lost, err = tx.StoredBefore(ctx, x.experiment, time.UnixMilli(t.epoch)); err != nil {
				return err
			}
		}
		choice := run.Pipelines[x.variant]
		w.IncompleteReason = partial(t, x, pipeline.ScrapeInterval(choice.Template, choice.Parameters), lost)
		w.Complete = run.Complete(x.start, x.end()) && w.IncompleteReason == ""
		stored, err = tx.SaveKPIWindow(ctx, x.experiment, w)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || store.IsForeignKey(err) {
		// The experiment (or its tenant) was deleted: nothing to keep.
		logging.FromContext(ctx).Info("dropping the KPI window of a deleted experiment", "experiment", x.experiment)
		return in.windows.done(ctx, x)
	}
	if err != nil {
		return fmt.Errorf("close KPI window %s of %s/%s: %w", x.start.Format(time.RFC3339), x.experiment, x.variant, err)
	}
	if stored {
		in.announce(ctx, x, w)
		in.metrics.stored(x.variant, w)
	}
	return in.windows.done(ctx, x)
}

// windowNamespace derives the CloudEvent id of a closed window: one window, one id.
var windowNamespace = uuid.MustParse("5d1f2b8e-0c4a-4f7e-9a63-7b2e8d4c1f90")

// announce publishes a closed window for the gateway and sends it to the broker for the
// analyzer's live look, both best effort: the window is stored; pub/sub is at-most-once anyway (a
// client that misses it reads GET /v1/experiments/{id}/kpis), and a look that is not taken is
// taken with the next window, which reads every window stored.
func (in *Ingest) announce(ctx context.Context, x window, w store.KPIWindow) {
	if in.publisher == nil && in.sender == nil {
		return
	}
	id := uuid.NewSHA1(windowNamespace, []byte(x.member))
	payload := events.KPIWindow{ExperimentID: x.experiment, Variant: string(x.variant), WindowStart: w.WindowStart,
		WindowEnd: w.WindowEnd, Complete: w.Complete, KPIs: w.KPIs, Series: w.Series, Datapoints: w.Datapoints,
		PayloadBytes: w.PayloadBytes, CriticalCovered: slices.Clone(w.CriticalCovered), CriticalMissing: slices.Clone(w.CriticalMissing)}
	e, err := events.New(id.String(), events.KPIWindowClosed, events.SourceIngest, x.tenant, x.experiment, payload)
	if err != nil {
		logging.FromContext(ctx).Error("build KPI window event", "experiment", x.experiment, "err", err)
		return
	}
	if in.publisher != nil {
		b, err := e.MarshalJSON()
		if err == nil {
			err = in.publisher.Publish(ctx, x.tenant, x.experiment, b)
		}
		if err != nil {
			logging.FromContext(ctx).Error("publish KPI window for the gateway", "experiment", x.experiment, "err", err)
		}
	}
	if in.sender != nil {
		if err := in.sender.Send(ctx, e); err != nil {
			logging.FromContext(ctx).Warn("send KPI window to the broker; the next window's look covers it", "experiment", x.experiment, "err", err)
		}
	}
}

// sumOfRatios sums, over the collector instances of per, each instance's first number over its
// second (CPU seconds over seconds: cores; RSS sum over readings: mean RSS), skipping instances
// without a denominator; ok says some instance had one. Every instance is added to instances.
func sumOfRatios(per map[string][2]float64, instances map[string]bool) (sum float64, ok bool) {
	for inst, v := range per {
		instances[inst] = true
		if v[1] > 0 {
			sum += v[0] / v[1]
			ok = true
		}
	}
	return sum, ok
}
