package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ankurah/ankurah-go/internal/procmetrics"
	"github.com/ankurah/ankurah-go/replication"
)

// metrics are the server's Prometheus metrics, written in the text
// exposition format by hand: a handful of counters and one histogram do not
// justify a client library.
type metrics struct {
	connections   atomic.Int64
	subscriptions atomic.Int64
	slowConsumers atomic.Int64
	framesSent    atomic.Int64
	badFrames     atomic.Int64
	refills       atomic.Int64
	resyncs       atomic.Int64
	authFailures  atomic.Int64
	denied        atomic.Int64
	rateLimited   atomic.Int64
	batches       atomic.Int64
	changes       atomic.Int64
	lastCommit    atomic.Int64 // unix µs of the last batch's commit time
	lastLag       atomic.Int64 // µs from commit to fan-out, last batch

	mu     sync.Mutex
	fanout histogram // seconds from receiving a batch to its frames queued
	e2e    histogram // seconds from the source's commit to frames queued
	// For the inspector: changes per collection, and the longest fan-out
	// since the inspector last sampled.
	byCollection map[string]int64
	fanoutMax    float64
}

var latencyBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}

type histogram struct {
	counts []uint64
	sum    float64
	n      uint64
}

func (h *histogram) observe(v float64) {
	if h.counts == nil {
		h.counts = make([]uint64, len(latencyBuckets))
	}
	for i, le := range latencyBuckets {
		if v <= le {
			h.counts[i]++
		}
	}
	h.sum += v
	h.n++
}

func newMetrics() *metrics { return &metrics{byCollection: map[string]int64{}} }

func (m *metrics) batch(b *Batch, changes, recipients int, took time.Duration) {
	m.batches.Add(1)
	m.changes.Add(int64(changes))
	m.mu.Lock()
	m.fanout.observe(took.Seconds())
	m.fanoutMax = max(m.fanoutMax, took.Seconds())
	for i := range b.changes {
		m.byCollection[b.changes[i].Collection]++
	}
	if !b.commitTime.IsZero() {
		lag := time.Since(b.commitTime)
		m.e2e.observe(lag.Seconds())
		m.lastCommit.Store(b.commitTime.UnixMicro())
		m.lastLag.Store(lag.Microseconds())
	}
	m.mu.Unlock()
}

// lagReporter is a backend that can say how far its stream trails the
// source (Postgres: WAL not yet acknowledged, in bytes and in time).
type lagReporter interface {
	Lag(ctx context.Context) (bytes int64, behind time.Duration, err error)
}

// slotReporter is a backend that can list the source's replication slots.
type slotReporter interface {
	Slots(ctx context.Context) ([]replication.SlotInfo, int64, error)
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	m := s.metrics
	gauge := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help, name, name, v)
	}
	counter := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	gauge("ankurah_connections", "Open WebSocket sessions.", m.connections.Load())
	gauge("ankurah_subscriptions", "Active live queries.", m.subscriptions.Load())
	counter("ankurah_slow_consumer_disconnects_total", "Sessions closed because the client fell behind.", m.slowConsumers.Load())
	counter("ankurah_frames_sent_total", "Frames written to clients.", m.framesSent.Load())
	counter("ankurah_bad_frames_total", "Frames refused as malformed, unknown, binary or too large.", m.badFrames.Load())
	counter("ankurah_auth_failures_total", "Connections refused at the handshake: no token, or one that does not verify.", m.authFailures.Load())
	counter("ankurah_permission_denied_total", "Requests refused by the policy.", m.denied.Load())
	counter("ankurah_rate_limited_total", "Requests refused because their connection went over its rate.", m.rateLimited.Load())
	counter("ankurah_window_refills_total", "LIMIT windows read again after losing members the fan-out could not replace.", m.refills.Load())
	counter("ankurah_resyncs_total", "Times the change stream lost transactions (its replication slot dropped or invalidated) and every live query was read again.", m.resyncs.Load())
	counter("ankurah_transactions_total", "Committed transactions fanned out.", m.batches.Load())
	counter("ankurah_changes_total", "Entity changes fanned out.", m.changes.Load())
	if lr, ok := s.backend.(lagReporter); ok {
		if lag, behind, err := lr.Lag(r.Context()); err == nil {
			gauge("ankurah_replication_lag_bytes", "WAL bytes the change stream has not yet acknowledged (0 when caught up, also when idle).", lag)
			fmt.Fprintf(w, "# HELP ankurah_replication_lag_seconds How long ago the oldest WAL not yet acknowledged by the change stream was written (0 when caught up; since start-up while the stream has never started; resolution 1s).\n# TYPE ankurah_replication_lag_seconds gauge\nankurah_replication_lag_seconds %g\n", behind.Seconds())
		}
	} else {
		fmt.Fprintf(w, "# HELP ankurah_replication_lag_seconds Commit to fan-out delay of the last transaction.\n# TYPE ankurah_replication_lag_seconds gauge\nankurah_replication_lag_seconds %g\n", float64(m.lastLag.Load())/1e6)
	}
	if sr, ok := s.backend.(slotReporter); ok {
		if slots, keep, err := sr.Slots(r.Context()); err == nil {
			gauge("ankurah_max_slot_wal_keep_size_bytes", "Postgres's max_slot_wal_keep_size: how much WAL a slot may retain before it is invalidated (-1: no limit).", keep)
			fmt.Fprintf(w, "# HELP ankurah_replication_slot_retained_bytes WAL retained by each of Ankurah's replication slots in the database.\n# TYPE ankurah_replication_slot_retained_bytes gauge\n")
			for _, sl := range slots {
				fmt.Fprintf(w, "ankurah_replication_slot_retained_bytes{slot=%q,active=\"%t\",wal_status=%q} %d\n", sl.Name, sl.Active, sl.WALStatus, sl.RetainedBytes)
			}
		}
	}
	fmt.Fprintf(w, "# HELP ankurah_last_commit_timestamp_seconds Commit time of the last transaction streamed.\n# TYPE ankurah_last_commit_timestamp_seconds gauge\nankurah_last_commit_timestamp_seconds %g\n", float64(m.lastCommit.Load())/1e6)
	procmetrics.Write(w)
	m.mu.Lock()
	defer m.mu.Unlock()
	writeHistogram(w, "ankurah_fanout_seconds", "Time from receiving a committed transaction to its frames queued for every recipient.", &m.fanout)
	writeHistogram(w, "ankurah_commit_to_fanout_seconds", "Time from the source's commit to the transaction's frames queued.", &m.e2e)
}

func writeHistogram(w io.Writer, name, help string, h *histogram) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	for i, le := range latencyBuckets {
		var c uint64
		if h.counts != nil {
			c = h.counts[i]
		}
		fmt.Fprintf(w, "%s_bucket{le=\"%g\"} %d\n", name, le, c)
	}
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %g\n%s_count %d\n", name, h.n, name, h.sum, name, h.n)
}
