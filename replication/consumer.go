package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Consumer streams committed transactions from a logical replication slot
// to a Handler and acknowledges them once handled. It owns the slot: on
// start it creates the publication (the default one) and the slot when they
// are missing, and it survives connection loss by reconnecting and resuming
// from the last acknowledged position.
type Consumer struct {
	cfg        Config
	handler    Handler
	log        *slog.Logger
	connConfig *pgconn.Config
	progress   progress

	readyOnce sync.Once
	ready     chan struct{}

	mu       sync.Mutex
	running  bool
	closed   bool
	cancel   context.CancelFunc
	done     chan struct{}
	streamed bool // a session of this consumer has started streaming from the slot
}

// New returns a consumer for cfg (defaults applied) that hands transactions
// to h. It does not connect: Run does.
func New(cfg Config, h Handler) (*Consumer, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("replication: nil handler")
	}
	cc, err := replicationConnConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	return &Consumer{
		cfg:        cfg,
		handler:    h,
		log:        cfg.Logger,
		connConfig: cc,
		ready:      make(chan struct{}),
	}, nil
}

// Config returns the configuration in use, defaults applied.
func (c *Consumer) Config() Config { return c.cfg }

// AckedLSN returns the position acknowledged so far: the end of the last
// transaction the handler accepted, or a later WAL position confirmed while
// idle. It is reported to Postgres (as the slot's confirmed_flush_lsn) at
// the next status update, at most StandbyTimeout later, and when Run stops.
func (c *Consumer) AckedLSN() LSN { return c.progress.position() }

// Ready is closed once the slot exists and streaming has started for the
// first time. Every transaction that commits after that is delivered;
// callers that take a snapshot to combine with the stream wait for it first.
func (c *Consumer) Ready() <-chan struct{} { return c.ready }

func (c *Consumer) markReady() { c.readyOnce.Do(func() { close(c.ready) }) }

// Run streams until ctx is done or Close is called (then it returns nil,
// having dropped the slot unless Config.KeepSlot), the handler or OnGap
// fails (a *HandlerError), or an error occurs that reconnecting cannot fix
// (bad credentials or privileges, wal_level not logical, a slot of the same
// name that is not ours or that another process keeps using: a
// *SlotInUseError). Connection loss and server restarts are retried with
// exponential backoff and jitter, resuming from the last acknowledged
// position. While it runs it also sweeps slots left behind by others
// (Config.SlotMaxInactive). Run may be called again after it returns, but
// not concurrently.
func (c *Consumer) Run(ctx context.Context) error {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return ErrClosed
	case c.running:
		c.mu.Unlock()
		return ErrRunning
	}
	ctx, cancel := context.WithCancel(ctx)
	c.running, c.cancel, c.done = true, cancel, make(chan struct{})
	done := c.done
	c.mu.Unlock()
	var sweeper sync.WaitGroup
	defer func() {
		cancel()
		sweeper.Wait()
		c.mu.Lock()
		c.running = false
		c.mu.Unlock()
		close(done)
	}()
	if c.cfg.SlotMaxInactive > 0 || c.cfg.SlotMaxRetained > 0 {
		sweeper.Go(func() { c.sweep(ctx) })
	}

	attempt := 0
	var busySince time.Time
	for {
		started, err := c.runSession(ctx)
		if ctx.Err() != nil {
			c.log.Info("replication: stopped", "slot", c.cfg.SlotName, "acked_lsn", c.AckedLSN().String())
			c.dropOwnSlot()
			return nil
		}
		var herr *HandlerError
		if errors.As(err, &herr) || isPermanent(err) {
			return err
		}
		pid, busy := slotBusy(err)
		switch {
		case !busy:
			busySince = time.Time{}
		case busySince.IsZero():
			busySince = time.Now()
		case time.Since(busySince) > c.cfg.SlotWait:
			return &SlotInUseError{Slot: c.cfg.SlotName, PID: pid}
		}
		if !started.IsZero() && time.Since(started) >= c.cfg.BackoffMax {
			attempt = 0 // it was healthy for a while: this is a fresh failure
		}
		delay := backoff(c.cfg.BackoffMin, c.cfg.BackoffMax, attempt)
		attempt++
		if busy {
			delay = min(delay, time.Second) // waiting for a holder to let go, not for a server to come back
			c.log.Warn("replication: the slot is in use by another process; waiting for it (each server needs a slot of its own: another server with the same slot name?)",
				"slot", c.cfg.SlotName, "pid", pid, "gives_up_in", (c.cfg.SlotWait - time.Since(busySince)).Round(time.Second))
		} else {
			c.log.Warn("replication: connection lost; reconnecting", "slot", c.cfg.SlotName, "err", err,
				"retry_in", delay, "attempt", attempt)
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			c.dropOwnSlot()
			return nil
		case <-timer.C:
		}
	}
}

// dropOwnSlot drops the slot after a clean stop (unless KeepSlot), when
// this consumer streamed from it: the last session's CopyDone released it,
// or, if that session ended by losing its connection, DROP_REPLICATION_SLOT
// WAIT waits for the walsender to go. A slot that cannot be dropped (the
// server is gone) is left for SweepSlots.
func (c *Consumer) dropOwnSlot() {
	c.mu.Lock()
	streamed := c.streamed
	c.mu.Unlock()
	if c.cfg.KeepSlot || !streamed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgconn.ConnectConfig(ctx, c.connConfig)
	if err == nil {
		defer conn.Close(context.Background())
		err = pglogrepl.DropReplicationSlot(ctx, conn, c.cfg.SlotName, pglogrepl.DropReplicationSlotOptions{Wait: true})
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42704" {
			err = nil // already gone
		}
		if err == nil {
			_, _ = conn.Exec(ctx, fmt.Sprintf("delete from ankurah.slots where slot_name = '%s'", c.cfg.SlotName)).ReadAll()
		}
	}
	if err != nil {
		c.log.Warn("replication: could not drop the slot; it will be dropped once it has been inactive for the sweep's limit", "slot", c.cfg.SlotName, "err", err)
		return
	}
	c.log.Info("replication: dropped the slot", "slot", c.cfg.SlotName)
}

// sweep runs SweepSlots now and then until ctx ends, on a connection of its
// own each time.
func (c *Consumer) sweep(ctx context.Context) {
	every := c.cfg.SlotCheckInterval
	select {
	case <-c.ready:
	case <-ctx.Done():
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	cc, err := pgxpool.ParseConfig(c.cfg.DatabaseURL)
	if err != nil {
		return // Validate checked it
	}
	cc.ConnConfig.RuntimeParams["application_name"] = "ankurah-slot-sweep"
	for {
		if conn, err := pgx.ConnectConfig(ctx, cc.ConnConfig); err == nil {
			dropped, err := SweepSlots(ctx, conn, SweepPolicy{MaxInactive: c.cfg.SlotMaxInactive, MaxRetained: c.cfg.SlotMaxRetained, Keep: c.cfg.SlotName})
			for _, s := range dropped {
				c.log.Info("replication: dropped a slot left behind", "slot", s.Name, "inactive_for", s.InactiveFor.Round(time.Second),
					"retained_bytes", s.RetainedBytes, "created_by", s.CreatedBy)
			}
			if err != nil && ctx.Err() == nil {
				c.log.Warn("replication: sweeping slots", "err", err)
			}
			_ = conn.Close(context.Background())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close stops Run, waits for it to return, and makes later calls of Run
// fail. It is safe to call more than once and without Run.
func (c *Consumer) Close() error {
	c.mu.Lock()
	c.closed = true
	cancel, done, running := c.cancel, c.done, c.running
	c.mu.Unlock()
	if running {
		cancel()
		<-done
	}
	return nil
}

// backoff returns the delay before reconnect attempt n (0-based): min·2ⁿ
// capped at max, then jittered down by up to half so that servers that lost
// Postgres together do not come back in lockstep.
func backoff(minD, maxD time.Duration, n int) time.Duration {
	d := maxD
	if n < 62 && minD<<n > 0 && minD<<n < maxD {
		d = minD << n
	}
	return d/2 + rand.N(d/2+1)
}
