package load

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/replication"
	"github.com/ankurah/ankurah-go/server"
)

// gatedBackend is the server's Postgres backend with a gate on its stream:
// while the gate is shut, the transaction the stream hands over waits (the
// consumer stops reading, and the slot keeps the rest), so that a backlog
// piles up and is then drained at full speed. Open, it counts the
// collection's changes it publishes.
type gatedBackend struct {
	*server.PostgresBackend

	mu        sync.Mutex
	gate      chan struct{} // nil: open
	published atomic.Int64  // changes of Collection handed to the fan-out
	target    int64         // with done: closed when published reaches target
	done      chan struct{}
	doneAt    time.Time
}

// Run streams through the gate.
func (g *gatedBackend) Run(ctx context.Context, publish func(context.Context, *server.Batch)) error {
	return g.PostgresBackend.Run(ctx, func(ctx context.Context, b *server.Batch) {
		g.mu.Lock()
		gate := g.gate
		g.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-ctx.Done():
				return
			}
		}
		publish(ctx, b)
		published := g.published.Add(int64(b.Changed(Collection)))
		g.mu.Lock()
		if g.done != nil && published >= g.target && g.doneAt.IsZero() {
			g.doneAt = time.Now()
			close(g.done)
		}
		g.mu.Unlock()
	})
}

// shut holds the stream back until open; done is closed once target changes
// have been published after that.
func (g *gatedBackend) shut(target int64) (open func(), done <-chan struct{}) {
	gate, d := make(chan struct{}), make(chan struct{})
	g.mu.Lock()
	g.gate, g.done, g.target = gate, d, g.published.Load()+target
	g.mu.Unlock()
	return func() { close(gate) }, d
}

// backlogRun is what drainBacklog needs from Run's set-up.
type backlogRun struct {
	cfg       Config
	rep       *Report
	plan      *plan
	rowIDs    []string
	writers   *pgxpool.Pool
	gate      *gatedBackend
	worker    *workerClient
	dbURL     string
	floorSlot string
	log       *slog.Logger
	logf      func(string, ...any)
}

// drainBacklog is the throughput mode: commit the backlog with the
// server's stream held back, release it and time the drain to the server's
// fan-out and to the clients, then let a bare consumer drain the same
// backlog from its own slot.
func drainBacklog(ctx context.Context, r backlogRun) error {
	cfg, rep, total := r.cfg, r.rep, r.cfg.Backlog
	var expected int64
	for seq := range total {
		expected += int64(r.plan.subsPerKey[r.plan.key[seq]])
	}
	open, published := r.gate.shut(int64(total))

	r.logf("committing a backlog of %d writes with %d writers (the stream held back)", total, cfg.Writers)
	began := time.Now()
	var next atomic.Int64
	errs := make(chan error, cfg.Writers)
	for range cfg.Writers {
		go func() {
			for {
				seq := int(next.Add(1) - 1)
				if seq >= total || ctx.Err() != nil {
					errs <- ctx.Err()
					return
				}
				if err := r.plan.write(ctx, r.writers, r.rowIDs, seq); err != nil {
					next.Store(int64(total)) // stop the others
					errs <- fmt.Errorf("backlog write %d: %w", seq, err)
					return
				}
			}
		}()
	}
	var werr error
	for range cfg.Writers {
		if err := <-errs; err != nil && werr == nil {
			werr = err
		}
	}
	if werr != nil {
		open()
		return werr
	}
	rep.WriteTime = time.Since(began)
	rep.Writes, rep.Changes, rep.ExpectedItems = total, total, expected

	r.logf("releasing the server's stream")
	if err := startProfile(cfg); err != nil {
		open()
		return err
	}
	released := time.Now()
	open()
	select {
	case <-published:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Minute):
		return fmt.Errorf("the server published %d of %d changes in 10 minutes", r.gate.published.Load(), total)
	}
	r.gate.mu.Lock()
	rep.ServerDrain = r.gate.doneAt.Sub(released)
	r.gate.mu.Unlock()
	if _, err := r.worker.do(command{Op: "wait", Items: expected, TimeoutMS: 120_000}); err != nil {
		return err
	}
	rr, err := r.worker.do(command{Op: "report"})
	if err != nil {
		return err
	}
	var last int64
	for _, t := range rr.Times {
		last = max(last, t)
	}
	if last > 0 {
		rep.ClientDrain = time.Unix(0, last).Sub(released)
	}
	rep.Items, rep.Frames, rep.BadItems, rep.Ended, rep.EndedReason = int64(len(rr.Seqs)), rr.Frames, rr.BadItems, rr.Ended, rr.EndedReason
	pprof.StopCPUProfile()

	// The floor: the same backlog through a bare consumer.
	r.logf("draining the backlog with a bare consumer")
	var seen atomic.Int64
	var first, lastTx atomic.Int64
	allSeen := make(chan struct{})
	floor, err := replication.New(replication.Config{DatabaseURL: r.dbURL, SlotName: r.floorSlot, Logger: r.log},
		func(_ context.Context, tx *replication.Transaction) error {
			now := time.Now().UnixNano()
			first.CompareAndSwap(0, now)
			n := int64(0)
			for _, row := range tx.Rows {
				if row.Table == Collection {
					n++
				}
			}
			if n > 0 && seen.Add(n) == int64(total) {
				lastTx.Store(now)
				close(allSeen)
			}
			return nil
		})
	if err != nil {
		return err
	}
	defer floor.Close()
	floorDone := make(chan error, 1)
	go func() { floorDone <- floor.Run(ctx) }()
	select {
	case <-allSeen:
	case err := <-floorDone:
		return fmt.Errorf("bare consumer stopped after %d of %d changes: %v", seen.Load(), total, err)
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Minute):
		return fmt.Errorf("the bare consumer decoded %d of %d changes in 10 minutes", seen.Load(), total)
	}
	rep.FloorDrain = time.Duration(lastTx.Load() - first.Load())
	return nil
}
