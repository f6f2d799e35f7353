package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/test/pgtest"
)

// BenchmarkColdStart measures exec-to-ready of a function binary: from fork/exec until it has
// listened, verified its database role (one real connection) and logged "ready". Knative counts
// this time on every scale from zero.
//
//	go test -run '^$' -bench ColdStart ./test/e2e
func BenchmarkColdStart(b *testing.B) {
	for _, fn := range []string{"analyzer", "api"} {
		b.Run(fn, func(b *testing.B) {
			dir := b.TempDir()
			bin := build(b, dir, "functions/"+fn+"/cmd")
			db := pgtest.Migrated(b)
			keys := writeDevKeys(b, dir)
			b.ResetTimer()
			for b.Loop() {
				cmd := exec.Command(bin)
				cmd.Env = append(os.Environ(), "PORT=0", "PHOENIX_DATABASE_URL="+db.AppURL, "PHOENIX_JWT_KEYS_FILE="+keys)
				stderr, _ := cmd.StderrPipe()
				start := time.Now()
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				sc := bufio.NewScanner(stderr)
				ready := false
				for sc.Scan() {
					if strings.Contains(sc.Text(), `"msg":"ready"`) {
						ready = true
						break
					}
				}
				elapsed := time.Since(start)
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				if !ready {
					b.Fatal("function never became ready")
				}
				b.ReportMetric(float64(elapsed.Microseconds())/1000, "ms-to-ready")
			}
		})
	}
}
