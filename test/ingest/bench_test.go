package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/phoenixotel/phoenix/functions/ingest"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/ingesttoken"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/bintest"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

// Shape of the benchmark's traffic: what a fleet of collectors running the process-baseline
// template sends. Each request is one batch (the templates' send_batch_size is 2048 datapoints):
// one scrape of 170 processes of one host, 12 datapoints per process, with the resource
// attributes the process scraper and Phoenix set. 50 hosts give 102 000 distinct series; every
// request carries new timestamps, as successive scrapes do.
const (
	benchHosts       = 50
	benchProcesses   = 170
	benchPointsPerPr = 12
	benchWorkers     = 8
)

// BenchmarkIngest drives the ingest function — its real binary, as its own process, with
// PostgreSQL and Redis — with gzip-compressed OTLP/protobuf batches over HTTP from this process,
// and reports datapoints per second and the function's peak resident memory.
//
//	go test -run '^$' -bench Ingest -benchtime 4000x ./test/ingest
func BenchmarkIngest(b *testing.B) {
	bin := buildIngest(b)
	db := pgtest.Migrated(b)
	st := db.AppStore(b, store.Options{})
	tenant := pgtest.Tenant(b, st, "bench")
	exp := runningExperiment(b, st, tenant, []string{"postgres"})
	token, err := ingesttoken.Issue(context.Background(), st, tenant, exp, experiment.Baseline, time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	bodies := benchBodies(b, exp, min(b.N, 4000))
	b.Cleanup(func() { // what the stopped function left open in its Redis database
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 11})
		defer c.Close()
		keys, _ := c.Keys(context.Background(), "phoenix:ingest:{"+exp.String()+"}:*").Result()
		keys = append(keys, "phoenix:ingest:pending:"+ingest.DeploymentID(db.AppURL))
		_ = c.Del(context.Background(), keys...).Err()
	})
	url, pid := startIngest(b, bin, db.AppURL) // stopped before the cleanup above runs
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchWorkers, MaxConnsPerHost: benchWorkers}}
	var next, failed atomic.Int64
	var firstFailure atomic.Value
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0, redis0 := processCPU(b, pid), redisCPU(b, rdb)
	start := time.Now()
	for range benchWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, url+"/v1/metrics", bytes.NewReader(bodies[i%int64(len(bodies))]))
				req.Header.Set("Content-Type", "application/x-protobuf")
				req.Header.Set("Content-Encoding", "gzip")
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				msg, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("status %d: %q", resp.StatusCode, msg))
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cpu, redisUsed := processCPU(b, pid)-cpu0, redisCPU(b, rdb)-redis0
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d requests failed; the first: %v", n, b.N, firstFailure.Load())
	}
	points := float64(b.N) * benchProcesses * benchPointsPerPr
	b.ReportMetric(points/elapsed.Seconds(), "datapoints/s")
	b.ReportMetric(float64(peakRSS(b, pid))/(1<<20), "peak-RSS-MiB")
	// CPU per datapoint does not depend on what else the machine runs: it says what the ingest
	// function (and Redis, which this machine's other users share) costs.
	b.ReportMetric(cpu.Seconds()*1e9/points, "ingest-CPU-ns/datapoint")
	b.ReportMetric(redisUsed.Seconds()*1e9/points, "redis-CPU-ns/datapoint")
	b.ReportMetric(0, "ns/op")
}

// buildIngest builds the function's binary once.
func buildIngest(b *testing.B) string {
	b.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	out := filepath.Join(b.TempDir(), "ingest")
	cmd := exec.Command("go", "build", "-o", out, "./functions/ingest/cmd")
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build the ingest function: %v\n%s", err, msg)
	}
	return out
}

// startIngest runs the binary on a free port with the database and its own Redis database
// (index 11: this machine's other users stay on 0) until the benchmark ends, and waits until it
// is ready.
func startIngest(b *testing.B, bin, dbURL string) (string, int) {
	b.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT=0", "PHOENIX_DATABASE_URL="+dbURL,
		"PHOENIX_REDIS_URL=redis://127.0.0.1:6379/11", "PHOENIX_KPI_WINDOW=15s", "GOGC="+os.Getenv("BENCH_GOGC"))
	addr, exited := bintest.Start(b, cmd, time.Minute)
	b.Cleanup(func() { // a graceful stop, waited for: the cleanup before it deletes what it left
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second): // Start's cleanup kills it after this one
		}
	})
	url := "http://" + addr
	// Listening comes before readiness (the first dependency checks); each poll answers at once,
	// and the process's exit ends the wait, so only a process that runs but never gets ready is
	// waited on — up to the benchmark's own timeout.
	for {
		if resp, err := http.Get(url + "/readyz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url, cmd.Process.Pid
			}
		}
		select {
		case err := <-exited:
			b.Fatalf("the ingest function exited before it was ready: %v", err)
		case <-time.After(50 * time.Millisecond): // polling readiness
		}
	}
}

// processCPU reads a process's CPU time (user and system) from /proc.
func processCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which is in parentheses and may hold spaces).
	fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // clock ticks (USER_HZ = 100)
}

// redisCPU reads the Redis server's CPU time (user and system).
func redisCPU(b *testing.B, rdb *redis.Client) time.Duration {
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		if k == "used_cpu_user" || k == "used_cpu_sys" {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// peakRSS reads a process's peak resident set size (VmHWM) in bytes.
func peakRSS(b *testing.B, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// benchBodies prepares n gzip-compressed requests, each a new scrape of one host.
func benchBodies(b *testing.B, exp uuid.UUID, n int) [][]byte {
	b.Helper()
	out := make([][]byte, n)
	base := time.Now()
	var wg sync.WaitGroup
	for w := range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += runtime.GOMAXPROCS(0) {
				out[i] = scrape(exp, i%benchHosts, base.Add(time.Duration(i/benchHosts)*10*time.Second))
			}
		}()
	}
	wg.Wait()
	return out
}

// scrape is one host's process scrape as the collector exports it.
func scrape(exp uuid.UUID, host int, at time.Time) []byte {
	md := pmetric.NewMetrics()
	ts := pcommon.NewTimestampFromTime(at)
	names := []string{"postgres", "nginx", "envoy", "java", "python3", "node", "redis-server", "containerd", "kubelet", "sshd"}
	for p := range benchProcesses {
		rm := md.ResourceMetrics().AppendEmpty()
		a := rm.Resource().Attributes()
		exe := names[p%len(names)]
		a.PutStr("host.name", fmt.Sprintf("node-%03d.cluster.example", host))
		a.PutInt("process.pid", int64(1000+p))
		a.PutInt("process.parent_pid", 1)
		a.PutStr("process.executable.name", exe)
		a.PutStr("process.executable.path", "/usr/bin/"+exe)
		a.PutStr("process.command", exe)
		a.PutStr("process.command_line", fmt.Sprintf("/usr/bin/%s --config /etc/%s/%d.conf", exe, exe, p))
		a.PutStr("process.owner", "app")
		a.PutStr("phoenix.experiment.id", exp.String())
		a.PutStr("phoenix.variant", "baseline")
		a.PutStr("phoenix.template", "process-baseline")
		sm := rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName("github.com/open-telemetry/opentelemetry-collector-contrib/receiver/hostmetricsreceiver/internal/scraper/processscraper")
		ms := sm.Metrics()
		sum := func(name string, attr string, values ...string) {
			m := ms.AppendEmpty()
			m.SetName(name)
			s := m.SetEmptySum()
			s.SetIsMonotonic(true)
			s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			for i, v := range values {
				dp := s.DataPoints().AppendEmpty()
				dp.SetStartTimestamp(ts - 3600e9)
				dp.SetTimestamp(ts)
				dp.SetDoubleValue(float64(p*10+i) + float64(at.Unix()%1000))
				if attr != "" {
					dp.Attributes().PutStr(attr, v)
				}
			}
		}
		gauge := func(name string, attr string, values ...string) {
			m := ms.AppendEmpty()
			m.SetName(name)
			g := m.SetEmptyGauge()
			for i, v := range values {
				dp := g.DataPoints().AppendEmpty()
				dp.SetTimestamp(ts)
				dp.SetIntValue(int64(p*1000 + i))
				if attr != "" {
					dp.Attributes().PutStr(attr, v)
				}
			}
		}
		sum("process.cpu.time", "state", "user", "system", "wait")
		gauge("process.cpu.utilization", "state", "user", "system", "wait")
		gauge("process.memory.usage", "", "")
		gauge("process.memory.virtual", "", "")
		gauge("process.memory.utilization", "", "")
		sum("process.disk.io", "direction", "read", "write")
		gauge("process.threads", "", "")
	}
	raw, _ := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	return buf.Bytes()
}
