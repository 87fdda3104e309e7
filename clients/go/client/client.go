package client

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ankurah/ankurah-go/node"
)

// Client is a connection to an Ankurah server and the local node over it.
// It is safe for concurrent use.
type Client struct {
	url  string
	opts Options
	log  *slog.Logger
	node *node.Node

	mu      sync.Mutex
	core    *core
	conn    transport // nil while disconnected
	gen     uint64    // connections made so far
	stateCh chan struct{}
	waiters map[uint64]chan error // outbox seq → its answer, for callers waiting
	subSeq  uint64
	file    *cacheFile
	fileErr error
	closed  bool
	lastErr error // why the last connection attempt or connection failed

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	deliv  *group // the delivery goroutines: live queries', watches', rejq's
	rejq   *queue[*RejectedError]

	schemaFns []func(SchemaChange) // see schema_change.go; guarded by mu
}

// Dial connects to a server (e.g. "ws://127.0.0.1:9797/ws") and returns
// once the first connection is open; it fails if that first attempt does.
// From then on the client reconnects by itself until Close.
func Dial(ctx context.Context, url string, opts Options) (*Client, error) {
	c, err := newClient(url, opts)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	t, err := c.dial(dctx)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.start(t)
	// Open once the session is set up (schemas loaded).
	if err := c.waitFor(dctx, func() bool { return c.conn != nil || c.gen > 0 || c.lastErr != nil }); err != nil {
		c.Close()
		return nil, err
	}
	c.mu.Lock()
	err = c.lastErr
	c.mu.Unlock()
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Open returns a client that connects in the background and keeps trying
// until it succeeds: an offline-first program works from its cache (see
// Options.CacheFile) meanwhile. An empty url makes a purely local node that
// never connects.
func Open(url string, opts Options) (*Client, error) {
	c, err := newClient(url, opts)
	if err != nil {
		return nil, err
	}
	c.start(nil)
	return c, nil
}

func newClient(url string, opts Options) (*Client, error) {
	opts = opts.WithDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	c := &Client{url: url, opts: opts, log: opts.Logger, core: newCore(), stateCh: make(chan struct{}), waiters: map[uint64]chan error{}, deliv: newGroup()}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if opts.CacheFile != "" {
		f, recs, err := openCache(opts.CacheFile)
		if err != nil {
			return nil, err
		}
		if err := c.core.restore(recs); err != nil {
			return nil, fmt.Errorf("client cache %s: %w", opts.CacheFile, err)
		}
		if err := f.rewrite(c.core.snapshotRecords()); err != nil {
			return nil, err
		}
		c.file = f
		c.core.persist = true
	}
	c.node = node.New(&store{c: c})
	c.rejq = newQueue(c.deliv, func(r *RejectedError) {
		if c.opts.OnRejected != nil {
			c.deliv.call(func() { c.opts.OnRejected(r) })
		}
	}, nil)
	return c, nil
}

func (c *Client) start(first transport) {
	c.wg.Add(1)
	go c.run(first)
	if c.url != "" || c.opts.dial != nil {
		c.wg.Add(1)
		go c.sendLoop()
	}
}

// local reports whether the client has no server: a purely local node
// whose commits are final at once.
func (c *Client) local() bool { return c.url == "" && c.opts.dial == nil }

// Node returns the client's node: the same API as a server-side node.
func (c *Client) Node() *node.Node { return c.node }

// Begin starts a transaction (c.Node().Begin()).
func (c *Client) Begin() *node.Tx { return c.node.Begin() }

// Close ends the connection, the live queries and the watches, and closes
// the cache file. Unconfirmed commits stay in the cache file, if there is
// one. It returns once every goroutine the client started has ended, except
// those running a callback of the application (which may be the caller):
// they end when it returns.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	var subs []*sub
	for _, s := range c.core.subs {
		subs = append(subs, s)
	}
	c.broadcast()
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	for _, s := range subs {
		if l, ok := s.owner.(*liveState); ok {
			l.end(ErrClosed)
		}
	}
	c.rejq.close()
	c.deliv.wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for seq, w := range c.waiters {
		w <- ErrClosed
		delete(c.waiters, seq)
	}
	if c.file != nil {
		return c.file.close()
	}
	return nil
}

// Connected reports whether the client has an open connection.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn != nil
}

// WaitConnected waits until the client has an open connection.
func (c *Client) WaitConnected(ctx context.Context) error {
	return c.waitFor(ctx, func() bool { return c.conn != nil })
}

// Pending returns how many commits (and schema registrations) wait for the
// server's answer.
func (c *Client) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.core.outbox)
}

// Sync waits until every commit made so far has been answered by the
// server (confirmed or rejected).
func (c *Client) Sync(ctx context.Context) error {
	c.mu.Lock()
	last := c.core.seq
	c.mu.Unlock()
	return c.waitFor(ctx, func() bool {
		n := c.core.next()
		return n == nil || n.seq > last
	})
}

// LastError returns why the last connection attempt or connection failed.
func (c *Client) LastError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// waitFor waits until cond (checked under the lock) holds.
func (c *Client) waitFor(ctx context.Context, cond func() bool) error {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return ErrClosed
		}
		if cond() {
			c.mu.Unlock()
			return nil
		}
		ch := c.stateCh
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// broadcast wakes everyone waiting for a change of state. Lock held.
func (c *Client) broadcast() {
	close(c.stateCh)
	c.stateCh = make(chan struct{})
}

// settle hands what the core produced to the live queries, their watches
// and the cache file. Lock held.
func (c *Client) settle(sync bool) {
	for _, n := range c.core.takeNotes() {
		if l, ok := n.sub.owner.(*liveState); ok {
			l.notify(n.cs)
			l.wakeWatches()
		}
	}
	for _, s := range c.core.takeTouched() {
		if l, ok := s.owner.(*liveState); ok {
			l.wakeWatches()
		}
	}
	if c.file == nil || c.fileErr != nil {
		return
	}
	recs := c.core.takeRecords()
	if len(recs) == 0 && !sync {
		return
	}
	err := c.file.append(recs, sync)
	if err == nil && c.file.wantsCompaction() {
		err = c.file.rewrite(c.core.snapshotRecords())
	}
	if err != nil {
		c.fileErr = err
		c.log.Error("ankurah client: writing the cache file failed; the cache is no longer durable", "file", c.opts.CacheFile, "err", err)
	}
}
