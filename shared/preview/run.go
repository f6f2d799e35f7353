package preview

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/phoenixotel/phoenix/shared/distribution"
	"github.com/phoenixotel/phoenix/shared/pipeline"
)

// maxOutput bounds what one replay may send back: a pipeline's output is at most its input (64
// MiB of capture) plus the identity attributes it adds.
const maxOutput = 256 << 20

// Run replays bodies (OTLP requests, protobuf) through cfg — a configuration rendered for the
// pipeline under preview — with the real collector, and returns what the pipeline sent out.
func Run(ctx context.Context, bin *distribution.Binary, cfg []byte, bodies [][]byte) ([]pmetric.Metrics, error) {
	sink := &sink{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("preview: listen for the output: %w", err)
	}
	srv := &http.Server{Handler: sink, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	listen, err := freeAddr()
	if err != nil {
		return nil, fmt.Errorf("preview: %w", err)
	}
	replay, err := pipeline.ReplayConfig(cfg, listen, "http://"+ln.Addr().String())
	if err != nil {
		return nil, err
	}
	if err := bin.Replay(ctx, replay, listen, bodies); err != nil {
		return nil, err
	}
	return sink.take()
}

// freeAddr is a loopback address no one listens on now, for the collector's receiver: the
// collector cannot report a port it picked itself.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// sink is the OTLP/HTTP endpoint the replaying collector exports to.
type sink struct {
	mu    sync.Mutex        // guards the fields below
	got   []pmetric.Metrics // the requests received, in order
	bytes int64             // their size
	err   error             // the first request that could not be read
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOutput))
	req := pmetricotlp.NewExportRequest()
	if err == nil {
		err = req.UnmarshalProto(body)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bytes += int64(len(body))
	switch {
	case err != nil && s.err == nil:
		s.err = fmt.Errorf("preview: the collector's output: %w", err)
	case s.bytes > maxOutput && s.err == nil:
		s.err = errors.New("preview: the pipeline's output exceeds 256 MiB")
	case err == nil:
		s.got = append(s.got, req.Metrics())
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := pmetricotlp.NewExportResponse().MarshalProto()
	_, _ = w.Write(out)
}

func (s *sink) take() ([]pmetric.Metrics, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got, s.err
}
