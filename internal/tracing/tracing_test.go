package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/ankurah/ankurah-go/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestTracesURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:4318":           "http://127.0.0.1:4318/v1/traces",
		"http://collector:4318/":          "http://collector:4318/v1/traces",
		"https://otel.example/prefix":     "https://otel.example/prefix/v1/traces",
		"http://127.0.0.1:4318/v1/traces": "http://127.0.0.1:4318/v1/traces",
		"grpc://127.0.0.1:4317":           "",
		"127.0.0.1:4318":                  "",
		"http://":                         "",
	} {
		got, err := TracesURL(in)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("TracesURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestLogHandler: a record logged with a span's context carries its ids;
// one without, nothing.
func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil))).With("session", "s1")
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	log.InfoContext(ctx, "traced")
	span.End()
	log.Info("plain")
	dec := json.NewDecoder(&buf)
	var traced, plain map[string]any
	if err := dec.Decode(&traced); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&plain); err != nil {
		t.Fatal(err)
	}
	if traced["trace_id"] != span.SpanContext().TraceID().String() || traced["span_id"] != span.SpanContext().SpanID().String() || traced["session"] != "s1" {
		t.Errorf("traced record: %v", traced)
	}
	if _, ok := plain["trace_id"]; ok {
		t.Errorf("a record without a span has a trace id: %v", plain)
	}
}
