package load

import (
	"fmt"
	"io"
	"time"
)

// Print writes the report for people.
func (r *Report) Print(w io.Writer) {
	c := r.Config
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	where := "a separate client process"
	if c.Clients == ClientsInProc {
		where = "the server's process"
	}
	p("ankurah bench: live queries over WebSocket, in-process server on PostgreSQL %s", r.Postgres)
	p("  %d connections × %d subscriptions (key = ?) over %d keys = %d subscriptions; clients in %s",
		c.Conns, c.Subs, c.Keys, c.Conns*c.Subs, where)
	p("  %d writers, plain SQL, one row per transaction (%.0f%% INSERT, %.0f%% UPDATE), %d/s for %s after %s warm-up; seed %d",
		c.Writers, c.Inserts*100, (1-c.Inserts)*100, c.Rate, c.Duration, c.Warmup, c.Seed)
	p("  %d CPUs, load average %s at the start", r.CPUs, r.LoadAvg)
	p("  setup: %d connections in %s, %d subscriptions in %s", c.Conns, r.ConnectTime.Round(time.Millisecond), c.Conns*c.Subs, r.SubscribeTime.Round(time.Millisecond))
	p("")
	p("writes: %d measured at %.0f/s (%d failed, %d warm-up); the writer's statement round trip p50 %s ms, p99 %s ms",
		r.Writes, r.WriteRate, r.FailedWrites, r.WarmupWrites, ms(r.WriteRTT.P50), ms(r.WriteRTT.P99))
	p("")
	p("latency from the writer's COMMIT returning, ms      %8s %8s %8s %8s %8s %8s", "n", "p50", "p90", "p99", "p99.9", "max")
	row := func(name string, s Summary) {
		p("  %-48s %8d %8s %8s %8s %8s %8s", name, s.N, ms(s.P50), ms(s.P90), ms(s.P99), ms(s.P999), ms(s.Max))
	}
	row("bare replication consumer: decoded (floor)", r.Floor)
	row("WebSocket client: frame read", r.Client)
	d := func(a, b time.Duration) string { return fmt.Sprintf("%+.3f", float64(a-b)/float64(time.Millisecond)) }
	p("  %-48s %8s %8s %8s %8s %8s %8s", "difference of the percentiles", "", d(r.Client.P50, r.Floor.P50), d(r.Client.P90, r.Floor.P90),
		d(r.Client.P99, r.Floor.P99), d(r.Client.P999, r.Floor.P999), d(r.Client.Max, r.Floor.Max))
	row("client − floor, per delivery of the same write", r.Added)
	p("")
	p("deliveries: %d of %d expected items (%d missing), %d frames in all; floor missed %d writes; bad items %d",
		r.Items, r.ExpectedItems, r.ExpectedItems-r.Items, r.Frames, r.FloorMissing, r.BadItems)
	p("  slow-consumer disconnects %d; client connections ended during the run %d %s", r.SlowConsumers, r.Ended, r.EndedReason)
	p("  server /metrics means: receiving a transaction → its frames queued %s ms; Postgres commit timestamp → queued %s ms",
		ms(r.FanoutMean), ms(r.CommitToQueuedMean))
	p("")
	what := "server process"
	if c.Clients == ClientsInProc {
		what = "server and clients (one process: the figures include the clients)"
	}
	p("memory, %s: live heap + goroutine stacks after GC", what)
	conns := r.ServerConns.Total() - r.ServerBase.Total()
	subs := r.ServerSubs.Total() - r.ServerConns.Total()
	p("  per idle connection  %s (heap %s, stacks %s; %.1f goroutines)", bytesPer(conns, c.Conns),
		bytesPer(r.ServerConns.HeapAlloc-r.ServerBase.HeapAlloc, c.Conns), bytesPer(r.ServerConns.StackInuse-r.ServerBase.StackInuse, c.Conns),
		float64(r.ServerConns.Goroutines-r.ServerBase.Goroutines)/float64(c.Conns))
	p("  per subscription     %s (heap %s, stacks %s; each holds its one initial member)", bytesPer(subs, c.Conns*c.Subs),
		bytesPer(r.ServerSubs.HeapAlloc-r.ServerConns.HeapAlloc, c.Conns*c.Subs), bytesPer(r.ServerSubs.StackInuse-r.ServerConns.StackInuse, c.Conns*c.Subs))
	if c.Clients == ClientsProcess {
		p("  client process: per connection %s, per subscription %s (the benchmark's own minimal client)",
			bytesPer(r.ClientConns.Total()-r.ClientBase.Total(), c.Conns), bytesPer(r.ClientSubs.Total()-r.ClientConns.Total(), c.Conns*c.Subs))
	}
}
