package ingest

import (
	"context"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/phoenixotel/phoenix/shared/logging"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/store"
)

// capture keeps the pipeline output of an accepted baseline request in the experiment's open
// capture (a sample for previews and recommendations, docs/pipelines.md): the request without
// its self-telemetry resources, as protobuf. A capture is a sample, never the measurement: a
// request that does not fit under its bound is counted as dropped by the store, and one that
// cannot be stored now is logged and left out — the request itself has been measured already.
func (in *Ingest) capture(ctx context.Context, g grant, req pmetricotlp.ExportRequest) {
	if g.scope.Capture == nil || !in.o.Now().Before(g.scope.CaptureEnds) {
		return
	}
	md := req.Metrics()
	md.ResourceMetrics().RemoveIf(func(rm pmetric.ResourceMetrics) bool {
		v, ok := rm.Resource().Attributes().Get(pipeline.StreamAttribute)
		return ok && v.Str() == pipeline.SelfTelemetry
	})
	n := md.DataPointCount()
	if n == 0 {
		return
	}
	body, err := req.MarshalProto()
	if err == nil {
		err = in.store.WithTenant(ctx, g.tenant, func(tx *store.Tx) error {
			_, err := tx.AppendCaptureChunk(ctx, *g.scope.Capture, body, n)
			return err
		})
	}
	if err != nil {
		logging.FromContext(ctx).Warn("a request was left out of its capture", "capture", g.scope.Capture.String(), "err", err)
	}
}
