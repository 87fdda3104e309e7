package server

import (
	"context"
	"strconv"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/ankurah/ankurah-go/protocol"
)

// Tracing (docs/inspector.md, Tracing). Spans, when Config.TracerProvider
// (or otel's global provider) records them:
//
//   - "ankurah.<request type>" for each client request (commit, subscribe,
//     fetch, …), a server span with the session, request id and collection;
//     a coded error sets its status.
//   - "ankurah.change" for each committed transaction the fan-out handles:
//     from the start of its WAL decode (Postgres) or as a child of the commit
//     request's span (the embedded store), with children "ankurah.decode"
//     (Postgres), "ankurah.match" (the reactor), "ankurah.queue" (frames
//     encoded and queued) and, for up to maxWriteSpans recipients,
//     "ankurah.write" from the frame queued to the frame written to the
//     socket (it may end after its parent).
//
// With no provider installed every span is otel's no-op: a few
// nanoseconds per request and per transaction.

// tracerName is the instrumentation scope of the server's spans.
const tracerName = "github.com/ankurah/ankurah-go/server"

// maxWriteSpans bounds the "ankurah.write" spans of one transaction: a
// change to a popular query would otherwise make one span per connection.
const maxWriteSpans = 32

func newTracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return tp.Tracer(tracerName, trace.WithInstrumentationVersion(ServerName))
}

// startRequest starts a request's span. Attributes are built only for a
// span that records: with tracing off a request costs no allocation more.
func (s *Server) startRequest(ctx context.Context, sess *session, req *protocol.Request) (context.Context, trace.Span) {
	ctx, span := s.tracer.Start(ctx, "ankurah."+req.Type, trace.WithSpanKind(trace.SpanKindServer))
	if !span.IsRecording() {
		return ctx, span
	}
	span.SetAttributes(attribute.String("ankurah.session", sess.id), attribute.Int64("ankurah.request_id", int64(req.ID)))
	coll := req.Collection
	if req.Type == protocol.TypeCommit {
		span.SetAttributes(attribute.Int("ankurah.events", len(req.Events)))
		if len(req.Events) > 0 {
			coll = req.Events[0].Collection // the first event's, as a hint
		}
	}
	if coll != "" {
		span.SetAttributes(attribute.String("ankurah.collection", coll))
	}
	return ctx, span
}

// endRequest ends a request's span with its outcome.
func endRequest(span trace.Span, perr *protocol.Error) {
	if perr != nil {
		span.SetAttributes(attribute.String("ankurah.error_code", perr.Code))
		span.SetStatus(codes.Error, perr.Code)
	}
	span.End()
}

// startChange starts a transaction's span in the fan-out, and its decode
// span when the batch came from the WAL.
func (h *hub) startChange(ctx context.Context, b *Batch) (context.Context, trace.Span) {
	start := b.received
	kind := trace.SpanKindInternal
	if !b.decoding.IsZero() {
		start, kind = b.decoding, trace.SpanKindConsumer
	}
	ctx, span := h.tracer.Start(ctx, "ankurah.change", trace.WithSpanKind(kind), trace.WithTimestamp(start))
	if !span.IsRecording() {
		return ctx, span
	}
	span.SetAttributes(attribute.Int("ankurah.changes", len(b.changes)))
	if b.lsn != 0 {
		span.SetAttributes(attribute.String("ankurah.source", "wal"), attribute.Int64("ankurah.xid", int64(b.xid)), attribute.String("ankurah.commit_lsn", lsnString(b.lsn)))
	} else {
		span.SetAttributes(attribute.String("ankurah.source", "commit"))
	}
	if !b.commitTime.IsZero() {
		span.SetAttributes(attribute.String("ankurah.commit_time", b.commitTime.UTC().Format(time.RFC3339Nano)))
	}
	if !b.decoding.IsZero() {
		_, d := h.tracer.Start(ctx, "ankurah.decode", trace.WithTimestamp(b.decoding))
		d.End(trace.WithTimestamp(b.received))
	}
	return ctx, span
}

func lsnString(lsn uint64) string {
	return strconv.FormatUint(lsn>>32, 16) + "/" + strconv.FormatUint(lsn&0xFFFFFFFF, 16)
}
