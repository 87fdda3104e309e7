package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/server"
)

// TestTracing: with a tracer provider, a commit's request span, the
// change's way through the fan-out (decode from the WAL on Postgres, match,
// queue, and the write of the subscriber's frame) and a refused request's
// error status are recorded, in one trace where the change comes from the
// commit itself (the embedded stores) and from the WAL on Postgres — a
// plain SQL update included.
func TestTracing(t *testing.T) {
	for _, kind := range servertest.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			env := servertest.Start(t, kind, servertest.Options{Config: server.Config{TracerProvider: tp}})
			a, b := dial(t, env), dial(t, env)
			a.register(inspectAlbum)
			b.subscribe("all", "album", "")
			id := a.create("album", map[string]any{"name": "Showbiz", "year": 1999})
			b.waitFor("the new album", func() bool { _, ok := b.set("all")[id]; return ok })

			ended := func() map[string][]sdktrace.ReadOnlySpan {
				out := map[string][]sdktrace.ReadOnlySpan{}
				for _, s := range rec.Ended() {
					out[s.Name()] = append(out[s.Name()], s)
				}
				return out
			}
			attr := func(s sdktrace.ReadOnlySpan, key string) attribute.Value {
				for _, kv := range s.Attributes() {
					if string(kv.Key) == key {
						return kv.Value
					}
				}
				return attribute.Value{}
			}
			// The change whose write reached b: its trace has every stage.
			var commit, change sdktrace.ReadOnlySpan
			until(t, "the change's spans", func() (bool, string) {
				spans := ended()
				for _, c := range spans["ankurah.commit"] {
					if attr(c, "ankurah.collection").AsString() == "album" && c.Status().Code != codes.Error {
						commit = c
					}
				}
				for _, w := range spans["ankurah.write"] {
					for _, c := range spans["ankurah.change"] {
						if c.SpanContext().TraceID() == w.SpanContext().TraceID() && attr(c, "ankurah.changes").AsInt64() == 1 {
							change = c
						}
					}
				}
				return commit != nil && change != nil, fmt.Sprint(names(spans), commit != nil)
			})
			spans := ended()
			inTrace := func(name string) bool {
				for _, s := range spans[name] {
					if s.SpanContext().TraceID() == change.SpanContext().TraceID() && s.Parent().SpanID() == change.SpanContext().SpanID() {
						return true
					}
				}
				return false
			}
			if !inTrace("ankurah.match") || !inTrace("ankurah.queue") {
				t.Errorf("the change has no match or queue span: %v", names(spans))
			}
			if kind == servertest.Postgres {
				if attr(change, "ankurah.source").AsString() != "wal" || !strings.Contains(attr(change, "ankurah.commit_lsn").AsString(), "/") || !inTrace("ankurah.decode") {
					t.Errorf("the change from the WAL: %v", change.Attributes())
				}
			} else if attr(change, "ankurah.source").AsString() != "commit" || change.Parent().SpanID() != commit.SpanContext().SpanID() {
				t.Errorf("the change of an embedded commit is not the commit's child: %v", change.Attributes())
			}

			// A refused request: its span says why.
			if _, err := b.trySubscribe("bad", "album", "year >", nil); err == nil {
				t.Fatal("a query that does not parse was accepted")
			}
			until(t, "the refused subscribe's span", func() (bool, string) {
				for _, s := range rec.Ended() {
					if s.Name() == "ankurah.subscribe" && s.Status().Code == codes.Error && attr(s, "ankurah.error_code").AsString() != "" {
						return true, ""
					}
				}
				return false, fmt.Sprint(names(ended()))
			})

			if kind == servertest.Postgres {
				if _, err := env.DB.Exec(context.Background(), "update album set year = 2000 where id = $1", id); err != nil {
					t.Fatal(err)
				}
				until(t, "the SQL update's change from the WAL", func() (bool, string) {
					for _, s := range rec.Ended() {
						if s.Name() == "ankurah.change" && attr(s, "ankurah.source").AsString() == "wal" && !s.Parent().IsValid() && s.SpanContext().TraceID() != change.SpanContext().TraceID() {
							return true, ""
						}
					}
					return false, ""
				})
			}
		})
	}
}

func names(spans map[string][]sdktrace.ReadOnlySpan) map[string]int {
	out := map[string]int{}
	for n, s := range spans {
		out[n] = len(s)
	}
	return out
}
