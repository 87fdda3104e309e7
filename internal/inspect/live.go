package inspect

import (
	"context"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Connection is one WebSocket session (/api/connections).
type Connection struct {
	Session string `json:"session"`
	// Client is what the client called itself in hello.
	Client string `json:"client"`
	// Subject is its token's subject ("" when anonymous).
	Subject     string    `json:"subject,omitempty"`
	Remote      string    `json:"remote"`
	ConnectedAt time.Time `json:"connected_at"`
	AgeSeconds  float64   `json:"age_seconds"`
	// Queue is how many frames wait in its outgoing queue, of QueueLimit:
	// a full queue disconnects it as a slow consumer.
	Queue      int   `json:"queue"`
	QueueLimit int   `json:"queue_limit"`
	FramesSent int64 `json:"frames_sent"`
	BytesSent  int64 `json:"bytes_sent"`
	// Rates over the time since the previous request of this endpoint.
	FramesPerSecond float64 `json:"frames_per_second"`
	BytesPerSecond  float64 `json:"bytes_per_second"`
	// Slow is set when its queue is at least half full: it is not reading
	// as fast as changes come, and is disconnected if the queue fills.
	Slow          bool           `json:"slow"`
	Subscriptions []Subscription `json:"subscriptions"`
}

// Subscription is one live query of a connection.
type Subscription struct {
	Name       string `json:"name"`
	Collection string `json:"collection"`
	// Query is the client's query; Effective is the query the server runs
	// when the read rule narrows it ("" when it is the same).
	Query     string `json:"query"`
	Effective string `json:"effective,omitempty"`
	Members   int    `json:"members"`
	// Frames counts the frames that carried its result or its changes;
	// Items the changes (add, update, remove); Bytes their encoded size.
	Frames int64 `json:"frames"`
	Items  int64 `json:"items"`
	Bytes  int64 `json:"bytes"`
	// Rates over the time since the previous request of this endpoint.
	FramesPerSecond float64 `json:"frames_per_second"`
	BytesPerSecond  float64 `json:"bytes_per_second"`
	// Queue is its connection's queue (queues are per connection).
	Queue int `json:"queue"`
	// Stale is set while a LIMIT window waits to be read again.
	Stale bool `json:"stale,omitempty"`
}

// SlowConsumer is a connection that was disconnected for falling behind.
type SlowConsumer struct {
	Session string    `json:"session"`
	Client  string    `json:"client"`
	Subject string    `json:"subject,omitempty"`
	Remote  string    `json:"remote"`
	At      time.Time `json:"at"`
	Reason  string    `json:"reason"`
}

// Connections is /api/connections.
type Connections struct {
	Connections   []Connection   `json:"connections"`
	Subscriptions int            `json:"subscriptions"`
	SlowConsumers []SlowConsumer `json:"slow_consumers"`
	// Truncated is set when more connections exist than were listed
	// (?limit=, default 500; the slowest and busiest first).
	Truncated bool `json:"truncated,omitempty"`
}

type subCounters struct{ frames, bytes int64 }

func (in *Inspector) connections(r *http.Request) (any, error) {
	limit, err := intParam(r, "limit", 500, 10000)
	if err != nil {
		return nil, err
	}
	var conns []Connection
	if in.o.Connections != nil {
		conns = in.o.Connections()
	}
	now := time.Now()
	in.mu.Lock()
	dt := now.Sub(in.prevAt).Seconds()
	prev := in.prev
	next := make(map[string]subCounters, len(prev))
	rate := func(key string, frames, bytes int64) (float64, float64) {
		next[key] = subCounters{frames, bytes}
		p, ok := prev[key]
		if !ok || dt <= 0 || frames < p.frames || bytes < p.bytes {
			return 0, 0
		}
		return float64(frames-p.frames) / dt, float64(bytes-p.bytes) / dt
	}
	out := Connections{Connections: make([]Connection, 0, len(conns))}
	for _, c := range conns {
		c.AgeSeconds = now.Sub(c.ConnectedAt).Seconds()
		c.ConnectedAt = c.ConnectedAt.UTC()
		c.FramesPerSecond, c.BytesPerSecond = rate(c.Session, c.FramesSent, c.BytesSent)
		c.Slow = c.QueueLimit > 0 && c.Queue*2 >= c.QueueLimit
		if c.Subscriptions == nil {
			c.Subscriptions = []Subscription{}
		}
		for i := range c.Subscriptions {
			s := &c.Subscriptions[i]
			s.FramesPerSecond, s.BytesPerSecond = rate(c.Session+"\x00"+s.Name, s.Frames, s.Bytes)
			s.Queue = c.Queue
		}
		slices.SortFunc(c.Subscriptions, func(a, b Subscription) int { return strings.Compare(a.Name, b.Name) })
		out.Subscriptions += len(c.Subscriptions)
		out.Connections = append(out.Connections, c)
	}
	in.prev, in.prevAt = next, now
	in.mu.Unlock()
	// The ones to look at first: slow, then busy, then old.
	slices.SortStableFunc(out.Connections, func(a, b Connection) int {
		switch {
		case a.Slow != b.Slow:
			if a.Slow {
				return -1
			}
			return 1
		case a.Queue != b.Queue:
			return b.Queue - a.Queue
		case a.BytesPerSecond != b.BytesPerSecond:
			if a.BytesPerSecond > b.BytesPerSecond {
				return -1
			}
			return 1
		}
		return a.ConnectedAt.Compare(b.ConnectedAt)
	})
	if len(out.Connections) > limit {
		out.Connections, out.Truncated = out.Connections[:limit], true
	}
	out.SlowConsumers = []SlowConsumer{}
	if in.o.SlowConsumers != nil {
		out.SlowConsumers = append(out.SlowConsumers, in.o.SlowConsumers()...)
	}
	return out, nil
}

// Counters are the change stream's cumulative counters since the server
// started.
type Counters struct {
	// Transactions and Changes fanned out (changes: entities changed).
	Transactions int64
	Changes      int64
	// ByCollection counts the changes per collection.
	ByCollection map[string]int64
	// FanoutSeconds and FanoutCount: the sum and count of the time from
	// receiving a transaction to its frames queued; FanoutMax the largest
	// since the previous call (only the sampler calls Counters).
	FanoutSeconds float64
	FanoutCount   uint64
	FanoutMax     float64
	// LagSeconds and LagCount: the sum and count of the time from the
	// source's commit to the frames queued.
	LagSeconds float64
	LagCount   uint64
	// LagBytes is how far the stream trails the source in WAL bytes (nil
	// when the backend has no such measure).
	LagBytes *int64
	// SlowConsumers disconnected.
	SlowConsumers int64
}

// Sample is the change stream over one interval (/api/replication).
type Sample struct {
	At time.Time `json:"at"`
	// TransactionsPerSecond and ChangesPerSecond over the interval.
	TransactionsPerSecond float64 `json:"transactions_per_second"`
	ChangesPerSecond      float64 `json:"changes_per_second"`
	// LagBytes at the end of the interval (Postgres: WAL not yet
	// acknowledged; null elsewhere).
	LagBytes *int64 `json:"lag_bytes"`
	// LagSeconds is the mean time from the source's commit to the frames
	// queued, of the interval's transactions (null without any).
	LagSeconds *float64 `json:"lag_seconds"`
	// FanoutMillis is the mean time from receiving a transaction to its
	// frames queued, FanoutMaxMillis the largest (null without any).
	FanoutMillis    *float64 `json:"fanout_ms"`
	FanoutMaxMillis *float64 `json:"fanout_max_ms"`
}

type collCount struct {
	at     time.Time
	counts map[string]int64
}

// sample takes one sample of the stream.
func (in *Inspector) sample(ctx context.Context, now time.Time) {
	if in.o.Counters == nil {
		return
	}
	c := in.o.Counters(ctx)
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.last != nil {
		p := in.last
		dt := now.Sub(in.lastAt).Seconds()
		if dt <= 0 {
			return
		}
		s := Sample{At: now.UTC(), LagBytes: c.LagBytes,
			TransactionsPerSecond: float64(c.Transactions-p.Transactions) / dt,
			ChangesPerSecond:      float64(c.Changes-p.Changes) / dt}
		if n := c.LagCount - p.LagCount; n > 0 {
			s.LagSeconds = ptr((c.LagSeconds - p.LagSeconds) / float64(n))
		}
		if n := c.FanoutCount - p.FanoutCount; n > 0 {
			s.FanoutMillis = ptr(round3(1000 * (c.FanoutSeconds - p.FanoutSeconds) / float64(n)))
			s.FanoutMaxMillis = ptr(round3(1000 * c.FanoutMax))
		}
		in.samples = append(in.samples, s)
		if len(in.samples) > in.o.Samples {
			in.samples = slices.Delete(in.samples, 0, len(in.samples)-in.o.Samples)
		}
	}
	in.last, in.lastAt = &c, now
	in.colls = append(in.colls, collCount{now, c.ByCollection})
	if keep := int(time.Minute/in.o.SampleInterval) + 1; len(in.colls) > keep {
		in.colls = slices.Delete(in.colls, 0, len(in.colls)-keep)
	}
}

func ptr[T any](v T) *T { return &v }

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// Replication is /api/replication.
type Replication struct {
	Backend string `json:"backend"`
	// Totals since the server started.
	Transactions  int64 `json:"transactions"`
	Changes       int64 `json:"changes"`
	SlowConsumers int64 `json:"slow_consumer_disconnects"`
	// Totals and LagBytes are as of the last sample (at most one interval
	// old). LagBytes is null when the backend has no such measure.
	LagBytes *int64 `json:"lag_bytes"`
	// IntervalSeconds is the spacing of the samples.
	IntervalSeconds float64 `json:"interval_seconds"`
	// Samples, oldest first: the last minutes.
	Samples []Sample `json:"samples"`
}

func (in *Inspector) replication(*http.Request) (any, error) {
	out := Replication{Backend: in.o.Backend, IntervalSeconds: in.o.SampleInterval.Seconds()}
	in.mu.Lock()
	if c := in.last; c != nil { // as of the last sample: Counters is the sampler's alone (FanoutMax)
		out.Transactions, out.Changes, out.SlowConsumers, out.LagBytes = c.Transactions, c.Changes, c.SlowConsumers, c.LagBytes
	}
	out.Samples = slices.Clone(in.samples)
	in.mu.Unlock()
	if out.Samples == nil {
		out.Samples = []Sample{}
	}
	return out, nil
}

// writeRate is a collection's changes per second over the last minute (or
// what of it has been sampled), and its changes since the server started.
func (in *Inspector) writeRate(coll string) (perSecond float64, total int64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.last != nil {
		total = in.last.ByCollection[coll]
	}
	if len(in.colls) < 2 {
		return 0, total
	}
	first, last := in.colls[0], in.colls[len(in.colls)-1]
	dt := last.at.Sub(first.at).Seconds()
	if dt <= 0 {
		return 0, total
	}
	return float64(last.counts[coll]-first.counts[coll]) / dt, total
}
