package replication_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/replication"
)

// BenchmarkDecodeThroughput measures how fast a consumer works through a
// backlog: b.N single-row SQL commits (each one row change plus the event
// its trigger records) are written while the consumer is stopped, then a
// consumer is started and timed until a no-op handler has seen all of them.
// ns/op is the time per commit; commits/s is the same figure inverted.
// Starting the consumer (connect, START_REPLICATION) is inside the timing.
// cpu-µs/commit is the CPU time this process (the consumer: the writes are
// done by then) spent per commit — a figure that, unlike the wall-clock ones,
// hardly moves when other work competes for the machine. The walsender's
// CPU time is not in it.
//
//	./test/with-postgres.sh go test -run '^$' -bench DecodeThroughput -benchtime 50000x -benchmem ./replication/
func BenchmarkDecodeThroughput(b *testing.B) {
	url, pool := newDB(b)
	exec(b, pool, `select ankurah.create_collection('item', '{"n":"bigint","name":"text","score":"double precision","at":"timestamptz"}')`)
	cfg := testConfig(b, url, nil)
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.StandbyTimeout = time.Second

	// Create the slot first so that the backlog is in it.
	first := start(b, cfg, func(context.Context, *replication.Transaction) error { return nil })
	if err := first.stop(); err != nil {
		b.Fatal(err)
	}
	// One DO block, one commit per row: no client round trip per commit.
	exec(b, pool, fmt.Sprintf(`do $$ begin
		for i in 1..%d loop
			insert into item (n, name, score, at) values (i, 'item ' || i, i * 0.5, now());
			commit;
		end loop;
	end $$`, b.N))

	var rows, events atomic.Int64
	done := make(chan struct{})
	want := int64(b.N)
	handler := func(_ context.Context, tx *replication.Transaction) error {
		events.Add(int64(len(tx.Events)))
		if rows.Add(int64(len(tx.Rows))) == want {
			close(done)
		}
		return nil
	}
	b.ResetTimer()
	cpuBefore := cpuTime(b)
	began := time.Now()
	c := start(b, cfg, handler)
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d rows after 5 minutes", rows.Load(), want)
	}
	elapsed := time.Since(began)
	cpu := cpuTime(b) - cpuBefore
	b.StopTimer()
	if err := c.stop(); err != nil {
		b.Fatal(err)
	}
	if events.Load() != want {
		b.Fatalf("%d events, want %d", events.Load(), want)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "commits/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/commit")
}

// cpuTime is the user and system CPU time of this process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
