package ingest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/phoenixotel/phoenix/shared/experiment"
)

// windows keeps the open KPI windows in Redis, where every replica adds to them and any replica
// closes them. A request's output is cut into parts by the window its datapoints' own times fall
// in (measure); each part is applied by one Lua script, atomically: either all of it counts or
// none. The window a part counts in is chosen inside the script, against Redis's own clock,
// whichever replica wrote and whatever its clock says:
//
//   - with a lateness bound (late > 0), by the data's own time — the scrape's — when that is
//     within late of Redis's clock: a batch a collector retries after an outage counts in the
//     window it was scraped in, not the one it arrived in (measured before: −34% and +34% in two
//     adjacent windows after a PostgreSQL restart), and a batch holding scrapes from both sides of
//     a window's end counts each scrape in its own window. Data older than that arrives after its
//     window closed: it is not counted, and the request says so. A window closes late after its
//     end, when nothing more can come for it. Data stamped ahead of Redis's clock by more than late
//     (a collector's clock off) counts by arrival;
//   - without one (late 0), by arrival: requests are kept whole, and a window closes as soon as
//     Redis's clock passes its end.
//
// Keys, for an experiment E and variant V (the hash tag keeps an experiment's keys together):
//
//	<prefix>:{E}:V:<start>:s    set of series hashes (8 bytes each) of the window starting at <start> (ms)
//	<prefix>:{E}:V:<start>:c    hash of counters: req, dp, bytes, rej; rcv, rcvt, rfs, rst (collectors'
//	                            input, the seconds it spans, and restarts); late (datapoints refused as too late);
//	                            ep (epoch); cpu:<i>, cput:<i>, mem:<i>, memn:<i> per collector i
//	<prefix>:{E}:V:<start>:v    set of critical patterns covered
//	<prefix>:{E}:V:<start>:t    sorted set of the scrapes its output came from, by their first point's time (ms)
//	<prefix>:{E}:V:collector:<i> the last reading of collector i: t (ms), cpu, up, st, acc, ref ("" when absent)
//	<prefix>:{E}:V:dup:<hash>   a request already counted (a collector's retry of it counts nothing)
//	<prefix>:pending:<d>        sorted set of deployment d's windows to close: "tenant|E|V|start|length", scored by end
//	<prefix>:epoch              when this Redis began holding windows (ms); a window's hash keeps the epoch it opened in (ep)
//	<prefix>:lease:<window>     a replica is closing the window
//
// Window keys, and the pending set once no window was opened for that long, expire after keep, so
// a window nobody closes (every replica gone for that long) costs memory only for that long.
type windows struct {
	rdb    *redis.Client // shared by every replica
	prefix string        // key prefix
	length time.Duration // window length
	late   time.Duration // lateness bound: data counts by its own time up to this late; 0 counts by arrival
	keep   time.Duration // how long an unclosed window's keys live
	dedupe time.Duration // how long a request is remembered for retries
	// deployment names the Phoenix deployment (its database) whose pending windows these are.
	deployment string
}

// recordScript adds one request to its variant's window; see windows. It returns the window's
// start (ms) and 1 if the request was a retry of one already counted, 2 if it came after its
// window closed (nothing counted).
var recordScript = redis.NewScript(`
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local w = tonumber(ARGV[1])
-- The data's own time when it is within the lateness bound; see windows.
local at, late = tonumber(ARGV[9]), tonumber(ARGV[10])
local t = now
if late > 0 and at > 0 then
  if at < now - late then
    -- Too late. A window not yet stored (closing waits for the database) learns it lacks this.
    local ls = at - (at % w)
    local lc = KEYS[1] .. ':' .. ls .. ':c'
    if redis.call('EXISTS', lc) == 1 then
      redis.call('HINCRBY', lc, 'late', ARGV[6])
    end
    return {ls, 2}
  end
  if at <= now + late then
    t = at
  end
end
local start = t - (t % w)
if ARGV[4] ~= '' then
  if not redis.call('SET', KEYS[1] .. ':dup:' .. ARGV[4], '1', 'NX', 'PX', ARGV[5]) then
    return {start, 1}
  end
end
local wk = KEYS[1] .. ':' .. start
local keep = ARGV[3]
if redis.call('ZADD', KEYS[2], 'NX', start + w + late, ARGV[2] .. '|' .. start .. '|' .. w) == 1 then
  redis.call('PEXPIRE', KEYS[2], keep)
end
local c = wk .. ':c'
-- The store's epoch: when this Redis began holding windows. Missing means a Redis that lost its
-- memory (or a new one): it starts now. A window records the epoch it was opened in; one opened
-- in an epoch that began after the window did lost what arrived before (see closeWindow).
local ep = redis.call('GET', KEYS[3])
if not ep then
  ep = string.format('%d', now)
  redis.call('SET', KEYS[3], ep)
end
redis.call('HSETNX', c, 'ep', ep)
redis.call('HINCRBY', c, 'req', 1)
redis.call('HINCRBY', c, 'dp', ARGV[6])
redis.call('HINCRBY', c, 'bytes', ARGV[7])
redis.call('HINCRBY', c, 'rej', ARGV[8])
redis.call('PEXPIRE', c, keep)
local i = 11
local n = tonumber(ARGV[i])
i = i + 1
if n > 0 then
  local v = wk .. ':v'
  redis.call('SADD', v, unpack(ARGV, i, i + n - 1))
  redis.call('PEXPIRE', v, keep)
  i = i + n
end
-- Collector readings (instance, ms, cpu, uptime, start, accepted, refused; "" when absent): a
-- reading later than the collector's last adds the differences to this window. When a
-- cumulative counter fell or the process started later, the collector restarted: one restart,
-- and nothing added (the interval spans two processes). Either way the reading becomes the last.
n = tonumber(ARGV[i])
i = i + 1
for _ = 1, n do
  local inst, ts = ARGV[i], tonumber(ARGV[i + 1])
  local cpu, up, st = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4])
  local acc, ref = tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6])
  local lk = KEYS[1] .. ':collector:' .. inst
  local p = redis.call('HMGET', lk, 't', 'cpu', 'up', 'st', 'acc', 'ref')
  local pt = tonumber(p[1])
  if pt == nil or ts > pt then
    if pt ~= nil then
      local pcpu, pup, pst = tonumber(p[2]), tonumber(p[3]), tonumber(p[4])
      local pacc, pref = tonumber(p[5]), tonumber(p[6])
      if (cpu and pcpu and cpu < pcpu) or (up and pup and up < pup) or (acc and pacc and acc < pacc)
        or (st and pst and st > pst) then
        redis.call('HINCRBY', c, 'rst', 1)
      else
        if cpu and pcpu then
          redis.call('HINCRBYFLOAT', c, 'cpu:' .. inst, cpu - pcpu)
          redis.call('HINCRBYFLOAT', c, 'cput:' .. inst, (ts - pt) / 1000)
        end
        if acc and pacc then
          redis.call('HINCRBY', c, 'rcv', string.format('%d', acc - pacc))
          redis.call('HINCRBYFLOAT', c, 'rcvt', (ts - pt) / 1000)
        end
        if ref and pref and ref >= pref then
          redis.call('HINCRBY', c, 'rfs', string.format('%d', ref - pref))
        end
      end
    end
    redis.call('HSET', lk, 't', ARGV[i + 1], 'cpu', ARGV[i + 2], 'up', ARGV[i + 3], 'st', ARGV[i + 4],
      'acc', ARGV[i + 5], 'ref', ARGV[i + 6])
    redis.call('PEXPIRE', lk, keep)
  end
  i = i + 7
end
n = tonumber(ARGV[i])
i = i + 1
for _ = 1, n do
  redis.call('HINCRBYFLOAT', c, 'mem:' .. ARGV[i], ARGV[i + 1])
  redis.call('HINCRBY', c, 'memn:' .. ARGV[i], 1)
  i = i + 2
end
-- Scrapes, by their first point's time (ms): one less than half an interval from a scrape
-- already held is that scrape (its points came in two requests).
n = tonumber(ARGV[i])
local half = tonumber(ARGV[i + 1])
i = i + 2
if n > 0 then
  local sc = wk .. ':t'
  for _ = 1, n do
    local at = tonumber(ARGV[i])
    if redis.call('ZCOUNT', sc, '(' .. (at - half), '(' .. (at + half)) == 0 then
      redis.call('ZADD', sc, at, ARGV[i])
    end
    i = i + 1
  end
  redis.call('PEXPIRE', sc, keep)
end
-- The series hashes come as one string of 8-byte members (one argument instead of thousands).
local blob = ARGV[i]
if blob ~= nil and #blob >= 8 then
  local s = wk .. ':s'
  local members = {}
  for off = 1, #blob - 7, 8 do
    members[#members + 1] = string.sub(blob, off, off + 7)
    if #members == 4000 then
      redis.call('SADD', s, unpack(members))
      members = {}
    end
  end
  if #members > 0 then
    redis.call('SADD', s, unpack(members))
  end
  redis.call('PEXPIRE', s, keep)
end
return {start, 0}
`)

// variantKey is the key prefix of one variant of one experiment.
func (w *windows) variantKey(experimentID uuid.UUID, v experiment.Variant) string {
	return w.prefix + ":{" + experimentID.String() + "}:" + string(v)
}

// pendingKey is this deployment's set of windows to close. Window keys are named by experiment
// ids, unique everywhere; the pending set is per deployment, so Phoenix deployments (or test
// instances) sharing one Redis never close — or drop as unknown — each other's windows.
func (w *windows) pendingKey() string {
	if w.deployment == "" {
		return w.prefix + ":pending"
	}
	return w.prefix + ":pending:" + w.deployment
}

// outcome is what became of a recorded part of a request.
type outcome int64

const (
	counted  outcome = iota // added to its window
	repeated                // a retry of a request already counted: nothing added
	tooLate                 // its window had closed: nothing added (see windows)
)

// recorded is what became of one part of a request: the window it belongs to and its outcome.
type recorded struct {
	part
	window time.Time // the start of the window it counted in, or would have
	outcome
}

// record adds m (from a request of size bytes, identified by request for retries; 0 means never
// deduplicate) to the variant's windows, each part to the window of its own time (see windows),
// and says what became of each part. The parts share the request's bytes by their datapoints;
// the telemetry and the refused count go with the newest part. Each part is recorded on its own
// (a request rarely has two): a replica that fails between two leaves the rest to the
// collector's retry, which counts only what was not counted yet.
func (w *windows) record(ctx context.Context, tenant, experimentID uuid.UUID, v experiment.Variant, m measurement, bytes int64, request uint64) ([]recorded, error) {
	interval := m.interval
	if !m.output {
		bytes = 0
	}
	parts := m.parts
	out := make([]recorded, 0, len(parts))
	left := bytes
	for i, p := range parts {
		newest := i == len(parts)-1
		p.bytes = left
		if !newest && m.datapoints > 0 {
			p.bytes = bytes * p.datapoints / m.datapoints
		}
		left -= p.bytes
		dup := ""
		if request != 0 {
			dup = strconv.FormatUint(request, 16)
			if len(parts) > 1 {
				dup += ":" + strconv.FormatInt(p.start, 10)
			}
		}
		start, what, err := w.recordPart(ctx, tenant, experimentID, v, m, p, newest, dup, interval)
		if err != nil {
			return out, err
		}
		out = append(out, recorded{part: p, window: start, outcome: what})
	}
	return out, nil
}

// recordPart runs the record script for one part (with m's telemetry and refused count when it
// is the newest).
func (w *windows) recordPart(ctx context.Context, tenant, experimentID uuid.UUID, v experiment.Variant, m measurement, p part, newest bool, dup string, interval int64) (time.Time, outcome, error) {
	rejected, readings, memory := int64(0), []reading(nil), []memPoint(nil)
	if newest {
		rejected, readings, memory = m.rejected, m.readings, m.memory
	}
	args := make([]any, 0, 16+len(p.covered)+7*len(readings)+2*len(memory)+len(p.scrapes))
	args = append(args, w.length.Milliseconds(), tenant.String()+"|"+experimentID.String()+"|"+string(v),
		w.keep.Milliseconds(), dup, w.dedupe.Milliseconds(), p.datapoints, p.bytes, rejected, p.at, w.late.Milliseconds(), len(p.covered))
	for _, c := range p.covered {
		args = append(args, c)
	}
	args = append(args, len(readings))
	for _, r := range readings {
		started := ""
		if r.has&hasUptime != 0 && r.started > 0 {
			started = strconv.FormatInt(r.started, 10)
		}
		args = append(args, r.instance, r.millis, counterArg(r, hasCPU, r.cpu), counterArg(r, hasUptime, r.uptime), started,
			counterArg(r, hasAccepted, r.accepted), counterArg(r, hasRefused, r.refused))
	}
	args = append(args, len(memory))
	for _, mp := range memory {
		args = append(args, mp.instance, strconv.FormatFloat(mp.bytes, 'g', -1, 64))
	}
	args = append(args, len(p.scrapes), interval/2)
	for _, ts := range p.scrapes {
		args = append(args, ts)
	}
	// One argument holding every hash, cut into 8-byte members by the script.
	packed := make([]byte, 8*len(p.series))
	for i, h := range p.series {
		binary.LittleEndian.PutUint64(packed[8*i:], h)
	}
	args = append(args, packed)
	res, err := recordScript.Run(ctx, w.rdb, []string{w.variantKey(experimentID, v), w.pendingKey(), w.prefix + ":epoch"}, args...).Int64Slice()
	if err != nil {
		return time.Time{}, counted, fmt.Errorf("record in KPI window: %w", err)
	}
	if len(res) != 2 || res[1] < int64(counted) || res[1] > int64(tooLate) {
		return time.Time{}, counted, errors.New("record in KPI window: unexpected script result")
	}
	return time.UnixMilli(res[0]).UTC(), outcome(res[1]), nil
}

// counterArg is a reading's counter as the record script takes it: "" when the reading lacks it.
func counterArg(r reading, bit uint8, v float64) string {
	if r.has&bit == 0 {
		return ""
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// window names one pending window.
type window struct {
	member     string             // its entry in the pending set
	tenant     uuid.UUID          // owner
	experiment uuid.UUID          // experiment
	variant    experiment.Variant // variant
	start      time.Time          // inclusive
	length     time.Duration      // window length when it was opened
}

func (x window) end() time.Time { return x.start.Add(x.length) }

func parseWindow(member string) (window, error) {
	parts := strings.Split(member, "|")
	if len(parts) != 5 {
		return window{}, fmt.Errorf("pending window %q: want 5 fields", member)
	}
	tenant, err1 := uuid.Parse(parts[0])
	exp, err2 := uuid.Parse(parts[1])
	start, err3 := strconv.ParseInt(parts[3], 10, 64)
	length, err4 := strconv.ParseInt(parts[4], 10, 64)
	v := experiment.Variant(parts[2])
	if err := errors.Join(err1, err2, err3, err4); err != nil || !v.Valid() || length <= 0 {
		return window{}, fmt.Errorf("pending window %q is malformed", member)
	}
	return window{member: member, tenant: tenant, experiment: exp, variant: v,
		start: time.UnixMilli(start).UTC(), length: time.Duration(length) * time.Millisecond}, nil
}

// due lists up to limit windows whose end Redis time has passed: nothing can be added to them
// any more.
func (w *windows) due(ctx context.Context, limit int64) ([]window, error) {
	now, err := w.rdb.Time(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("read redis time: %w", err)
	}
	members, err := w.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: w.pendingKey(), ByScore: true,
		Start: "-inf", Stop: strconv.FormatInt(now.UnixMilli(), 10), Count: limit}).Result()
	if err != nil {
		return nil, fmt.Errorf("list due KPI windows: %w", err)
	}
	out := make([]window, 0, len(members))
	for _, m := range members {
		x, err := parseWindow(m)
		if err != nil {
			// Not written by this code: drop it rather than trip over it on every tick.
			_ = w.rdb.ZRem(ctx, w.pendingKey(), m).Err()
			continue
		}
		out = append(out, x)
	}
	return out, nil
}

// lease claims a window for closing for d; false if another replica holds it. A replica that
// dies while closing loses the lease when it expires and another one closes the window.
func (w *windows) lease(ctx context.Context, x window, d time.Duration) (bool, error) {
	ok, err := w.rdb.SetNX(ctx, w.prefix+":lease:"+x.member, "1", d).Result()
	if err != nil {
		return false, fmt.Errorf("lease KPI window: %w", err)
	}
	return ok, nil
}

// totals are a window's raw counts as Redis holds them.
type totals struct {
	series     int64                 // distinct series
	scrapes    int64                 // distinct scrape times of the output
	datapoints int64                 // output datapoints
	bytes      int64                 // bytes of requests carrying output
	requests   int64                 // requests, self-telemetry included
	rejected   int64                 // datapoints refused
	covered    []string              // critical patterns seen
	cpu        map[string][2]float64 // per collector instance: CPU seconds, over interval seconds
	memory     map[string][2]float64 // per collector instance: sum of RSS readings, number of readings
	received   *int64                // points the collectors' receivers accepted; nil when no interval of theirs ended in the window
	receivedT  *float64              // collector-seconds the intervals of received span; nil likewise
	refused    *int64                // points refused to the collectors' receivers; nil likewise
	restarts   int                   // collector restarts seen
	late       int64                 // datapoints for it refused as too late while it waited to be stored
	epoch      int64                 // when the store's epoch began (ms): the window's data before it was lost
}

// read returns a due window's totals.
func (w *windows) read(ctx context.Context, x window) (totals, error) {
	base := w.variantKey(x.experiment, x.variant) + ":" + strconv.FormatInt(x.start.UnixMilli(), 10)
	pipe := w.rdb.Pipeline()
	card := pipe.SCard(ctx, base+":s")
	scrapes := pipe.ZCard(ctx, base+":t")
	counters := pipe.HGetAll(ctx, base+":c")
	covered := pipe.SMembers(ctx, base+":v")
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return totals{}, fmt.Errorf("read KPI window: %w", err)
	}
	t := totals{series: card.Val(), scrapes: scrapes.Val(), covered: covered.Val(), cpu: map[string][2]float64{}, memory: map[string][2]float64{}}
	for k, v := range counters.Val() {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			continue
		}
		name, instance, _ := strings.Cut(k, ":")
		switch name {
		case "req":
			t.requests = int64(f)
		case "dp":
			t.datapoints = int64(f)
		case "bytes":
			t.bytes = int64(f)
		case "rej":
			t.rejected = int64(f)
		case "rcv":
			n := int64(f)
			t.received = &n
		case "rcvt":
			t.receivedT = &f
		case "rfs":
			n := int64(f)
			t.refused = &n
		case "rst":
			t.restarts = int(f)
		case "late":
			t.late = int64(f)
		case "ep":
			t.epoch = int64(f)
		case "cpu":
			c := t.cpu[instance]
			c[0] = f
			t.cpu[instance] = c
		case "cput":
			c := t.cpu[instance]
			c[1] = f
			t.cpu[instance] = c
		case "mem":
			m := t.memory[instance]
			m[0] = f
			t.memory[instance] = m
		case "memn":
			m := t.memory[instance]
			m[1] = f
			t.memory[instance] = m
		}
	}
	return t, nil
}

// done forgets a closed window: its keys, its pending entry and its lease.
func (w *windows) done(ctx context.Context, x window) error {
	base := w.variantKey(x.experiment, x.variant) + ":" + strconv.FormatInt(x.start.UnixMilli(), 10)
	pipe := w.rdb.TxPipeline()
	pipe.Del(ctx, base+":s", base+":c", base+":v", base+":t")
	pipe.ZRem(ctx, w.pendingKey(), x.member)
	pipe.Del(ctx, w.prefix+":lease:"+x.member)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("forget closed KPI window: %w", err)
	}
	return nil
}
