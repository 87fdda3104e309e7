package replication

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
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

	mu      sync.Mutex
	running bool
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{}
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

// Run streams until ctx is done or Close is called (then it returns nil),
// the handler fails (a *HandlerError), or an error occurs that reconnecting
// cannot fix (bad credentials or privileges, wal_level not logical, a slot
// of the same name that is not ours). Connection loss and server restarts are
// retried with exponential backoff and jitter, resuming from the last
// acknowledged position. Run may be called again after it returns, but not
// concurrently.
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
	defer func() {
		cancel()
		c.mu.Lock()
		c.running = false
		c.mu.Unlock()
		close(done)
	}()

	attempt := 0
	for {
		started, err := c.runSession(ctx)
		if ctx.Err() != nil {
			c.log.Info("replication: stopped", "slot", c.cfg.SlotName, "acked_lsn", c.AckedLSN().String())
			return nil
		}
		var herr *HandlerError
		if errors.As(err, &herr) || isPermanent(err) {
			return err
		}
		if !started.IsZero() && time.Since(started) >= c.cfg.BackoffMax {
			attempt = 0 // it was healthy for a while: this is a fresh failure
		}
		delay := backoff(c.cfg.BackoffMin, c.cfg.BackoffMax, attempt)
		attempt++
		c.log.Warn("replication: connection lost; reconnecting", "slot", c.cfg.SlotName, "err", err,
			"retry_in", delay, "attempt", attempt)
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
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
