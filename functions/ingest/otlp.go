package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/logging"
)

// OTLP/HTTP content types (OTLP specification, "OTLP/HTTP Request").
const (
	contentProto = "application/x-protobuf"
	contentJSON  = "application/json"
)

// encoding is how a request's body and therefore its response are encoded.
type encoding int

const (
	encProto encoding = iota
	encJSON
)

// serveMetrics is POST /v1/metrics: OTLP/HTTP metrics, protobuf or JSON, optionally gzip, from a
// collector holding an ingest token. Statuses follow the OTLP specification, so collectors retry
// exactly what may succeed later: 200 (with partial success when some datapoints were refused),
// 400 malformed, 401 bad token, 408 too slow, 409 experiment not running, 413 too large, 415
// unsupported type or encoding — none retried — and 503 with Retry-After when Phoenix itself
// cannot take the request now (retried).
func (in *Ingest) serveMetrics(w http.ResponseWriter, r *http.Request) {
	enc, ok := contentEncoding(r.Header.Get("Content-Type"))
	if !ok {
		in.fail(w, r, enc, http.StatusUnsupportedMediaType, codes.InvalidArgument,
			"Content-Type must be application/x-protobuf or application/json", nil)
		return
	}
	token, err := auth.BearerToken(r)
	if err != nil {
		in.fail(w, r, enc, http.StatusUnauthorized, codes.Unauthenticated, "send the variant's ingest token as Authorization: Bearer <token>", err)
		return
	}
	g, err := in.scopes.authorize(r.Context(), token)
	switch {
	case errors.Is(err, errUnauthenticated):
		in.fail(w, r, enc, http.StatusUnauthorized, codes.Unauthenticated, "the ingest token is unknown, expired or revoked", err)
		return
	case errors.Is(err, errNotRunning):
		in.fail(w, r, enc, http.StatusConflict, codes.FailedPrecondition,
			fmt.Sprintf("experiment %s is %s, not running: Phoenix measures only running experiments", g.scope.ExperimentID, g.scope.State), err)
		return
	case err != nil:
		in.unavailable(w, r, enc, "cannot check the ingest token right now", err)
		return
	}
	ctx := logging.With(r.Context(), "tenant", g.tenant.String(), "experiment", g.scope.ExperimentID.String(), "variant", string(g.variant))
	r = r.WithContext(ctx)

	// Bounded concurrency bounds memory: at most MaxInFlight bodies are held and decoded at once.
	wait, cancel := context.WithTimeout(ctx, in.o.QueueWait)
	select {
	case in.slots <- struct{}{}:
		cancel()
		defer func() { <-in.slots }()
	case <-wait.Done():
		cancel()
		in.unavailable(w, r, enc, "too many requests in flight", wait.Err())
		return
	}

	raw := in.buffer()
	defer in.bufs.Put(raw)
	decoded := in.buffer()
	defer in.bufs.Put(decoded)
	body, status, err := in.readBody(w, r, raw, decoded)
	if err != nil {
		in.fail(w, r, enc, status, codes.InvalidArgument, err.Error(), err)
		return
	}
	req, err := decode(enc, body)
	if err != nil {
		in.fail(w, r, enc, http.StatusBadRequest, codes.InvalidArgument, "the body is not an OTLP ExportMetricsServiceRequest", err)
		return
	}
	sc := in.scratch.Get().(*scratch)
	defer in.scratch.Put(sc)
	t := g.target
	if in.o.Lateness > 0 {
		t.window = in.o.Window.Milliseconds()
	}
	m := measure(req.Metrics(), t, sc)
	kept := false         // some of the request counted: not a retry, not too late
	if len(m.parts) > 0 { // something to record: output, telemetry or refused datapoints
		parts, err := in.windows.record(ctx, g.tenant, g.scope.ExperimentID, g.variant, m, int64(raw.Len()), xxhash.Sum64(body))
		if err != nil {
			in.unavailable(w, r, enc, "cannot record the data right now", err)
			return
		}
		foreign := m.rejected > 0
		for i, p := range parts {
			switch p.outcome {
			case counted:
				kept = true
				in.metrics.recorded(g.variant, p.datapoints, p.bytes, foreign && i == len(parts)-1)
			case tooLate:
				// Its window closed before it came: counted nowhere, and said — as a partial
				// success, which collectors do not retry — and the window it belonged to, if it
				// was stored, no longer passes for complete.
				in.metrics.late(g.variant)
				m.rejected += p.datapoints
				m.reason = fmt.Sprintf("data (taken at %s) arrived after its KPI window closed, more than %s after its own time: it is not counted, and its window is marked incomplete",
					time.UnixMilli(p.at).UTC().Format(time.RFC3339), in.o.Lateness)
				if err := in.incomplete(ctx, g.tenant, g.scope.ExperimentID, g.variant, p.window); err != nil {
					in.unavailable(w, r, enc, "cannot record the data right now", err)
					return
				}
			}
		}
	}
	if kept {
		in.capture(ctx, g, req) // after measuring: it drops the request's self-telemetry
	}
	resp := pmetricotlp.NewExportResponse()
	if m.rejected > 0 {
		resp.PartialSuccess().SetRejectedDataPoints(m.rejected)
		resp.PartialSuccess().SetErrorMessage(m.reason)
		logging.FromContext(ctx).Info("datapoints refused", "rejected", m.rejected, "reason", m.reason)
	}
	var out []byte
	if enc == encJSON {
		out, err = resp.MarshalJSON()
	} else {
		out, err = resp.MarshalProto()
	}
	if err != nil {
		in.fail(w, r, enc, http.StatusInternalServerError, codes.Internal, "cannot encode the response", err)
		return
	}
	writeBody(w, enc, http.StatusOK, out)
}

// decode reads an ExportMetricsServiceRequest with the OpenTelemetry pdata library.
func decode(enc encoding, body []byte) (pmetricotlp.ExportRequest, error) {
	req := pmetricotlp.NewExportRequest()
	if enc == encJSON {
		return req, req.UnmarshalJSON(body)
	}
	return req, req.UnmarshalProto(body)
}

// contentEncoding maps a Content-Type to an encoding.
func contentEncoding(ct string) (encoding, bool) {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return encProto, false
	}
	switch mt {
	case contentProto:
		return encProto, true
	case contentJSON:
		return encJSON, true
	}
	return encProto, false
}

// readBody reads the request body into raw and, when gzip-encoded, inflates it into decoded. Both
// are bounded (MaxBody on the wire, MaxDecoded inflated, so a small gzip bomb cannot expand
// without limit), and the whole body must arrive within ReadTimeout. It returns the payload, or
// the status to answer and why.
func (in *Ingest) readBody(w http.ResponseWriter, r *http.Request, raw, decoded *bytes.Buffer) ([]byte, int, error) {
	// A slow client holds a slot and memory: cut it off. (The runtime's server-wide limit is
	// longer, made for the API.)
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(in.o.ReadTimeout))
	var gz bool
	switch ce := r.Header.Get("Content-Encoding"); ce {
	case "", "identity":
	case "gzip":
		gz = true
	default:
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("Content-Encoding %.32q is not supported: use gzip or none", ce)
	}
	if r.ContentLength > in.o.MaxBody {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("the body is %d bytes, over the %d-byte limit", r.ContentLength, in.o.MaxBody)
	}
	if r.ContentLength > 0 {
		raw.Grow(int(r.ContentLength))
	}
	if _, err := raw.ReadFrom(http.MaxBytesReader(w, r.Body, in.o.MaxBody)); err != nil {
		status, why := readStatus(err, in.o.MaxBody)
		return nil, status, why
	}
	if !gz {
		return raw.Bytes(), 0, nil
	}
	zr, _ := in.gzips.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(raw.Bytes()))
	} else {
		err = zr.Reset(bytes.NewReader(raw.Bytes()))
	}
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("the body is not gzip: %w", err)
	}
	defer in.gzips.Put(zr)
	n, err := decoded.ReadFrom(io.LimitReader(zr, in.o.MaxDecoded+1))
	switch {
	case err != nil:
		return nil, http.StatusBadRequest, fmt.Errorf("the gzip body is corrupt: %w", err)
	case n > in.o.MaxDecoded:
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("the body inflates to more than %d bytes", in.o.MaxDecoded)
	}
	return decoded.Bytes(), 0, nil
}

// readStatus maps a failure to read the body to a status and a reason.
func readStatus(err error, limit int64) (int, error) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, fmt.Errorf("the body is over the %d-byte limit", limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return http.StatusRequestTimeout, errors.New("the body did not arrive in time")
	}
	return http.StatusBadRequest, fmt.Errorf("reading the body: %w", err)
}

// buffer takes an empty buffer from the pool.
func (in *Ingest) buffer() *bytes.Buffer {
	b := in.bufs.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

// fail answers with an OTLP error: a google.rpc.Status in the request's encoding. The message is
// for the collector's log; cause, logged here, never reaches it.
func (in *Ingest) fail(w http.ResponseWriter, r *http.Request, enc encoding, status int, code codes.Code, msg string, cause error) {
	in.metrics.refused(status)
	log := logging.FromContext(r.Context())
	if status >= 500 {
		log.Error("ingest failed", "status", status, "err", cause)
	} else {
		log.Info("ingest refused", "status", status, "reason", msg, "err", cause)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="phoenix-ingest"`)
	}
	if status == http.StatusRequestTimeout || status == http.StatusRequestEntityTooLarge {
		// The rest of the body is not worth reading: close the connection after answering.
		w.Header().Set("Connection", "close")
	}
	st := &spb.Status{Code: int32(code), Message: msg} // #nosec G115 -- gRPC status codes are 0–16
	var b []byte
	if enc == encJSON {
		b, _ = protojson.Marshal(st)
	} else {
		b, _ = proto.Marshal(st)
	}
	writeBody(w, enc, status, b)
}

// unavailable answers 503 with Retry-After: the collector keeps the data and tries again.
func (in *Ingest) unavailable(w http.ResponseWriter, r *http.Request, enc encoding, msg string, cause error) {
	w.Header().Set("Retry-After", strconv.Itoa(int(in.o.RetryAfter.Seconds())))
	in.fail(w, r, enc, http.StatusServiceUnavailable, codes.Unavailable, msg, cause)
}

func writeBody(w http.ResponseWriter, enc encoding, status int, b []byte) {
	ct := contentProto
	if enc == encJSON {
		ct = contentJSON
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
