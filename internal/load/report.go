package load

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Print writes the report for people.
func (r *Report) Print(w io.Writer) {
	c := r.Config
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	where := r.clientsWhere()
	if c.Mode == ModeThroughput {
		r.printThroughput(w)
		return
	}
	p("ankurah bench: live queries over WebSocket, in-process server on PostgreSQL %s", r.Postgres)
	p("  %d connections × %d subscriptions (%s) over %d keys = %d subscriptions; clients in %s",
		c.Conns, c.Subs, predicateText(c.Predicate), c.Keys, c.Conns*c.Subs, where)
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
	r.printMemory(w)
}

// printThroughput writes the report of a throughput run.
func (r *Report) printThroughput(w io.Writer) {
	c := r.Config
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("ankurah bench --mode throughput: a backlog through the fan-out, in-process server on PostgreSQL %s", r.Postgres)
	p("  %d connections × %d subscriptions (%s) over %d keys = %d subscriptions; clients in %s",
		c.Conns, c.Subs, predicateText(c.Predicate), c.Keys, c.Conns*c.Subs, r.clientsWhere())
	p("  backlog: %d plain SQL writes, one row per transaction (%.0f%% INSERT, %.0f%% UPDATE), committed by %d writers in %s with the server's stream held back; seed %d",
		c.Backlog, c.Inserts*100, (1-c.Inserts)*100, c.Writers, r.WriteTime.Round(time.Millisecond), c.Seed)
	if c.Policy {
		p("  policy: tokens checked (HS256), read rule owner = $jwt.sub on every subscription (each connection its own user)")
	} else {
		p("  policy: none (the baseline for --policy)")
	}
	p("  %d CPUs, load average %s at the start", r.CPUs, r.LoadAvg)
	p("  setup: %d connections in %s, %d subscriptions in %s", c.Conns, r.ConnectTime.Round(time.Millisecond), c.Conns*c.Subs, r.SubscribeTime.Round(time.Millisecond))
	p("")
	rate := func(d time.Duration) string {
		if d <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f", float64(r.Changes)/d.Seconds())
	}
	per := func(d time.Duration) string {
		if r.Changes == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f", float64(d)/float64(r.Changes)/1000)
	}
	p("drain of %d row changes (each a transaction with its event)   %10s %12s %10s", r.Changes, "time", "changes/s", "µs/change")
	p("  server: decoded, matched, frames queued to the sessions     %10s %12s %10s", r.ServerDrain.Round(time.Millisecond), rate(r.ServerDrain), per(r.ServerDrain))
	p("  clients: every item read from the WebSocket                 %10s %12s %10s", r.ClientDrain.Round(time.Millisecond), rate(r.ClientDrain), per(r.ClientDrain))
	p("  bare replication consumer: decoded (floor, same backlog)    %10s %12s %10s", r.FloorDrain.Round(time.Millisecond), rate(r.FloorDrain), per(r.FloorDrain))
	if r.FloorDrain > 0 && r.ServerDrain > 0 {
		p("  server rate ÷ bare consumer rate: %.2f", float64(r.FloorDrain)/float64(r.ServerDrain))
	}
	p("")
	p("deliveries: %d of %d expected items (%d missing), %d frames; bad items %d; client connections ended %d %s",
		r.Items, r.ExpectedItems, r.ExpectedItems-r.Items, r.Frames, r.BadItems, r.Ended, r.EndedReason)
	p("")
	r.printMemory(w)
}

func (r *Report) clientsWhere() string {
	if r.Config.Clients == ClientsInProc {
		return "the server's process"
	}
	return "a separate client process"
}

// printMemory writes the memory figures.
func (r *Report) printMemory(w io.Writer) {
	c := r.Config
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
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

// predicateText shows a predicate shape as its query.
func predicateText(p string) string {
	if p == PredicateMixed {
		return "mixed: " + strings.Join(Predicates, ", ") + " in turn"
	}
	q, _ := SubQuery(p, 0, 0)
	return p + ": " + q
}
