// Package tracing sets up OpenTelemetry tracing for ankurah serve: an
// OTLP/HTTP exporter behind a batching tracer provider (the official Go
// SDK), and a log handler that puts each record's trace and span ids
// beside it. It is off unless an endpoint is given.
//
// # Goroutines
//
// The SDK's batch processor runs one goroutine from Setup until the
// returned shutdown function, which flushes what is buffered.
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Options say where spans go.
type Options struct {
	// Endpoint is the OTLP/HTTP collector's base URL, as
	// OTEL_EXPORTER_OTLP_ENDPOINT gives it (http://127.0.0.1:4318): spans are
	// sent to its /v1/traces, unless the URL's path already ends so.
	// http:// sends in the clear, https:// over TLS.
	Endpoint string
	// ServiceName is the resource's service.name (OTEL_SERVICE_NAME
	// overrides it); Version its service.version.
	ServiceName, Version string
	// BatchTimeout is how long spans wait to be sent at most. Default 5 s
	// (the SDK's).
	BatchTimeout time.Duration
}

// TracesURL is the URL spans are sent to for a base endpoint.
func TracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http:// or https:// URL", endpoint)
	}
	if !strings.HasSuffix(u.Path, "/v1/traces") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	}
	return u.String(), nil
}

// Setup starts exporting spans to o.Endpoint and installs the provider as
// otel's global one (with W3C trace context propagation). shutdown sends
// what is buffered and stops; call it once, last.
func Setup(ctx context.Context, o Options) (tp trace.TracerProvider, shutdown func(context.Context) error, err error) {
	target, err := TracesURL(o.Endpoint)
	if err != nil {
		return nil, nil, err
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(target))
	if err != nil {
		return nil, nil, err
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", o.ServiceName), attribute.String("service.version", o.Version)),
		resource.WithFromEnv(), resource.WithHost(), resource.WithProcessPID())
	if err != nil {
		return nil, nil, err
	}
	var bopts []sdktrace.BatchSpanProcessorOption
	if o.BatchTimeout > 0 {
		bopts = append(bopts, sdktrace.WithBatchTimeout(o.BatchTimeout))
	}
	p := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, bopts...), sdktrace.WithResource(res))
	otel.SetTracerProvider(p)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return p, p.Shutdown, nil
}

// LogHandler wraps h: a record logged with a context that carries a span
// gets trace_id and span_id attributes, so that a log line leads to its
// trace.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return l.Handler.Handle(ctx, r)
}

func (l logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{l.Handler.WithAttrs(as)}
}
func (l logHandler) WithGroup(name string) slog.Handler { return logHandler{l.Handler.WithGroup(name)} }
