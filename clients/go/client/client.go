// Package client is Ankurah's Go client: an ephemeral node with the same API
// as a server-side node (node.Node — Begin, Create, Get, Edit, Delete,
// Commit, Rollback, Fetch, typed collections), plus live queries, over a
// WebSocket connection (protocol v1, docs/protocol.md) that it keeps open,
// reconnecting with backoff and jitter.
//
//	c, err := client.Dial(ctx, "ws://127.0.0.1:9797/ws", client.Options{})
//	albums, err := client.Register[Album](ctx, c)
//	lq, err := albums.Subscribe(ctx, func(cs client.ChangeSet[Album]) { fmt.Println(cs) },
//		"name = ?", "Origin of Symmetry")
//	tx := c.Begin()
//	albums.Create(tx, Album{Name: "Showbiz", Year: 1999})
//	tx.Commit(ctx)
//
// The client keeps the entities its live queries watch. A local commit is
// applied at once (optimistically: reads, transactions and the client's own
// live queries see it) and queued for the server, which confirms it or
// rejects it (the change is then rolled back). Commits made while
// disconnected stay queued and are sent in order after reconnecting; with
// Options.CacheFile the queue and the cache survive a restart. On reconnect
// every live query resubscribes with the heads it holds, so that only what
// changed comes back.
//
// See docs/go-client.md.
//
// This package is part of the module's public API: docs/api.md says what
// its compatibility promise covers.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/wire"
	"github.com/ankurah/ankurah-go/node"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
)

// Options configure a client. The zero value is usable.
type Options struct {
	// Token is sent in the handshake (a JWT once authorisation exists).
	Token string
	// ClientName names the program in the server's logs, e.g. "my-app/1.0".
	ClientName string
	// CacheFile, when set, keeps the cache and the queue of unconfirmed
	// commits in this file, so that they survive a restart. One client
	// at a time may use a file.
	CacheFile string
	// MinBackoff and MaxBackoff bound the wait between reconnection
	// attempts (doubling from min to max, with jitter). Defaults 100 ms and 10 s.
	MinBackoff, MaxBackoff time.Duration
	// DialTimeout bounds one connection attempt. Default 10 s.
	DialTimeout time.Duration
	// Logger receives the client's logs. Default slog.Default().
	Logger *slog.Logger
	// OnRejected, when set, is called (from an internal goroutine) for
	// every queued commit or schema registration the server refused; the
	// local change has been rolled back.
	OnRejected func(*RejectedError)

	// dial replaces the WebSocket transport (tests).
	dial func(ctx context.Context, h wire.Handler) (transport, error)
}

func (o Options) withDefaults() Options {
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(10*time.Second, o.MinBackoff)
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// RejectedError is a queued commit (or schema registration) the server
// refused. Its local effects have been rolled back.
type RejectedError struct {
	Events []event.Event      // the transaction's events (nil for a schema)
	Schema *schema.Collection // the schema registration (nil for a commit)
	Err    error              // the server's answer, usually a *protocol.Error
}

func (e *RejectedError) Error() string {
	if e.Schema != nil {
		return fmt.Sprintf("ankurah client: the server refused to register collection %s: %v", e.Schema.Name, e.Err)
	}
	return fmt.Sprintf("ankurah client: the server rejected a transaction of %d event(s): %v", len(e.Events), e.Err)
}

func (e *RejectedError) Unwrap() error { return e.Err }

// ErrClosed is returned by a client that has been closed.
var ErrClosed = errors.New("ankurah client: closed")

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
	rejq   *queue[*RejectedError]
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
	opts = opts.withDefaults()
	c := &Client{url: url, opts: opts, log: opts.Logger, core: newCore(), stateCh: make(chan struct{}), waiters: map[uint64]chan error{}}
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
	c.rejq = newQueue(func(r *RejectedError) {
		if c.opts.OnRejected != nil {
			c.opts.OnRejected(r)
		}
	})
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

// Close ends the connection and the live queries, and closes the cache
// file. Unconfirmed commits stay in the cache file, if there is one.
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

// settle hands what the core produced to the live queries and the cache
// file. Lock held.
func (c *Client) settle(sync bool) {
	for _, n := range c.core.takeNotes() {
		if l, ok := n.sub.owner.(*liveState); ok {
			l.notify(n.cs)
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

// ---- connection ----

func (c *Client) dial(ctx context.Context) (transport, error) {
	if c.opts.dial != nil {
		return c.opts.dial(ctx, pushes{c})
	}
	if c.url == "" {
		return nil, errors.New("ankurah client: no server url")
	}
	t, err := wire.Dial(ctx, c.url, wire.Options{Token: c.opts.Token, Client: c.opts.ClientName, Handler: pushes{c}})
	if err != nil {
		return nil, fmt.Errorf("ankurah client: %w", err)
	}
	return t, nil
}

// run keeps a connection open until the client closes.
func (c *Client) run(first transport) {
	defer c.wg.Done()
	if c.url == "" && first == nil && c.opts.dial == nil {
		<-c.ctx.Done()
		return
	}
	backoff := c.opts.MinBackoff
	t := first
	for c.ctx.Err() == nil {
		if t == nil {
			dctx, cancel := context.WithTimeout(c.ctx, c.opts.DialTimeout)
			var err error
			t, err = c.dial(dctx)
			cancel()
			if err != nil {
				if c.ctx.Err() != nil {
					return
				}
				c.mu.Lock()
				c.lastErr = err
				c.mu.Unlock()
				c.log.Debug("ankurah client: connection attempt failed", "url", c.url, "err", err, "retry_in", backoff)
				wait := backoff/2 + rand.N(backoff/2+1)
				timer := time.NewTimer(wait)
				select {
				case <-timer.C:
				case <-c.ctx.Done():
					timer.Stop()
					return
				}
				backoff = min(2*backoff, c.opts.MaxBackoff)
				continue
			}
		}
		backoff = c.opts.MinBackoff
		c.serve(t)
		t = nil
	}
}

// serve runs one connection until it ends.
func (c *Client) serve(t transport) {
	defer t.Close()
	// Schemas first: pushed values are decoded with them.
	err := call(c.ctx, t, &protocol.Request{Type: protocol.TypeCollections}, func(raw json.RawMessage) error {
		var res protocol.CollectionsResult
		if err := json.Unmarshal(raw, &res); err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, w := range res.Collections {
			sc, perr := protocol.CollectionFromWire(w)
			if perr != nil {
				return perr
			}
			c.core.adoptSchema(sc)
		}
		c.settle(false)
		return nil
	})
	if err != nil {
		c.mu.Lock()
		c.lastErr = err
		c.broadcast()
		c.mu.Unlock()
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.conn = t
	c.gen++
	c.lastErr = nil
	gen := c.gen
	var subs []*sub
	for _, name := range slices.Sorted(maps.Keys(c.core.subs)) {
		subs = append(subs, c.core.subs[name])
	}
	c.broadcast()
	c.mu.Unlock()

	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.syncSub(c.ctx, t, gen, s); err != nil && !isConnErr(err) && c.ctx.Err() == nil {
				c.log.Warn("ankurah client: resubscribing failed", "sub", s.name, "err", err)
			}
		}()
	}
	select {
	case <-t.Done():
	case <-c.ctx.Done():
	}
	wg.Wait()
	c.mu.Lock()
	c.conn = nil
	c.lastErr = t.Err()
	c.core.disconnected()
	for _, s := range c.core.subs {
		if l, ok := s.owner.(*liveState); ok && l.isRdy {
			// Ready again once the resubscription has been answered.
			l.isRdy = false
			l.ready = make(chan struct{})
		}
	}
	c.broadcast()
	c.mu.Unlock()
}

// current returns the open connection and its generation (nil if none).
func (c *Client) current() (transport, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn, c.gen
}

// isConnErr reports whether err means the connection ended (the request's
// fate is unknown; it is safe to send again after reconnecting).
func isConnErr(err error) bool {
	return errors.Is(err, wire.ErrClosed)
}

// pushed applies one changes frame, in order (from pushes).
func (c *Client) pushed(items []protocol.Item) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.core.pushed(items); err != nil {
		c.log.Error("ankurah client: could not apply pushed changes", "err", err)
	}
	c.settle(false)
}

// subEnded: the server ended a subscription it could no longer maintain
// (from pushes). The client subscribes again.
func (c *Client) subEnded(name string, perr *protocol.Error) {
	c.mu.Lock()
	s := c.core.subs[name]
	var l *liveState
	if s != nil {
		l, _ = s.owner.(*liveState)
	}
	if l != nil {
		l.conn = 0
	}
	t, gen := c.conn, c.gen
	c.mu.Unlock()
	if s == nil || t == nil {
		return
	}
	c.log.Warn("ankurah client: the server ended a subscription; subscribing again", "sub", name, "err", perr)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if err := c.syncSub(c.ctx, t, gen, s); err != nil && !isConnErr(err) && c.ctx.Err() == nil {
			c.log.Warn("ankurah client: resubscribing failed", "sub", name, "err", err)
		}
	}()
}

// ---- the outbox ----

// sendLoop sends queued commits and schema registrations one at a time, in
// order, whenever a connection is open.
func (c *Client) sendLoop() {
	defer c.wg.Done()
	retry := c.opts.MinBackoff
	attempts := 0
	for {
		c.mu.Lock()
		for !c.closed && (c.conn == nil || c.core.next() == nil) {
			ch := c.stateCh
			c.mu.Unlock()
			<-ch
			c.mu.Lock()
		}
		if c.closed {
			c.mu.Unlock()
			return
		}
		item, t := c.core.next(), c.conn
		c.mu.Unlock()

		req := &protocol.Request{Type: protocol.TypeCommit, Events: wireEvents(item.events)}
		if item.schema != nil {
			req = &protocol.Request{Type: protocol.TypeRegisterSchema, Collections: []protocol.Collection{protocol.CollectionToWire(*item.schema)}}
		}
		err := call(c.ctx, t, req, func(raw json.RawMessage) error {
			var res struct {
				protocol.EntitiesResult
				protocol.CollectionsResult
			}
			if err := json.Unmarshal(raw, &res); err != nil {
				return err
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			err := c.core.confirmed(item.seq, res.Entities, res.Collections)
			c.answer(item.seq, nil)
			c.settle(false) // a lost "done" record only means a resend, which the server skips
			c.broadcast()
			return err
		})
		switch {
		case err == nil:
			attempts, retry = 0, c.opts.MinBackoff
			continue
		case c.ctx.Err() != nil:
			return
		case isConnErr(err):
			// Unknown fate: send it again on the next connection (the
			// server skips events it already has).
			c.waitFor(c.ctx, func() bool { return c.conn != t })
			continue
		}
		var perr *protocol.Error
		retryable := errors.As(err, &perr) && (perr.Code == storage.CodeConflict || perr.Code == protocol.CodeShuttingDown ||
			perr.Code == protocol.CodeInternal && attempts < 5)
		if retryable {
			attempts++
			c.log.Warn("ankurah client: commit failed, retrying", "err", err, "attempt", attempts)
			timer := time.NewTimer(retry/2 + rand.N(retry/2+1))
			select {
			case <-timer.C:
			case <-c.ctx.Done():
				timer.Stop()
				return
			}
			retry = min(2*retry, c.opts.MaxBackoff)
			continue
		}
		if errors.Is(err, wire.ErrTooLarge) {
			err = protocol.Errorf(protocol.CodeBadRequest, "%s", err.Error())
		}
		attempts, retry = 0, c.opts.MinBackoff
		c.mu.Lock()
		if it := c.core.rejected(item.seq); it != nil {
			rej := &RejectedError{Events: it.events, Schema: it.schema, Err: err}
			c.log.Warn("ankurah client: the server rejected a queued change; rolled back", "err", err)
			c.answer(item.seq, rej)
			c.rejq.push(rej)
		}
		c.settle(false)
		c.broadcast()
		c.mu.Unlock()
	}
}

// answer wakes a caller waiting for a queued item. Lock held.
func (c *Client) answer(seq uint64, err error) {
	if w := c.waiters[seq]; w != nil {
		w <- err
		delete(c.waiters, seq)
	}
}

// waitAnswer waits for the server's answer to queued item seq.
func (c *Client) waitAnswer(ctx context.Context, seq uint64, w chan error) error {
	select {
	case err := <-w:
		return err
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.waiters, seq)
		c.mu.Unlock()
		return &NotConfirmedError{Err: ctx.Err()}
	}
}

// NotConfirmedError: a commit made with Confirmed(ctx) whose context ended
// before the server answered. The commit is applied locally and still
// queued; it is sent when the client can.
type NotConfirmedError struct{ Err error }

func (e *NotConfirmedError) Error() string {
	return "ankurah client: committed locally and queued, but not yet confirmed by the server: " + e.Err.Error()
}

func (e *NotConfirmedError) Unwrap() error { return e.Err }

type confirmKey struct{}

// Confirmed returns a context that makes a commit wait for the server's
// answer: tx.Commit(client.Confirmed(ctx)) returns nil once the server has
// stored the transaction, a *RejectedError if it refused it (the local
// change is rolled back), or a *NotConfirmedError if ctx ended first (the
// commit stays queued). Without it, Commit returns as soon as the change is
// applied locally and queued.
func Confirmed(ctx context.Context) context.Context {
	return context.WithValue(ctx, confirmKey{}, true)
}

func wantsConfirmation(ctx context.Context) bool {
	v, _ := ctx.Value(confirmKey{}).(bool)
	return v
}

// queue delivers values to fn from one goroutine, in order, never blocking
// the producer.
type queue[T any] struct {
	mu     sync.Mutex
	items  []T
	wake   chan struct{}
	done   chan struct{}
	closed bool
	fn     func(T)
}

func newQueue[T any](fn func(T)) *queue[T] {
	q := &queue[T]{wake: make(chan struct{}, 1), done: make(chan struct{}), fn: fn}
	go q.run()
	return q
}

func (q *queue[T]) push(v T) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, v)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue[T]) run() {
	defer close(q.done)
	for {
		q.mu.Lock()
		for len(q.items) == 0 {
			if q.closed {
				q.mu.Unlock()
				return
			}
			q.mu.Unlock()
			<-q.wake
			q.mu.Lock()
		}
		v := q.items[0]
		var zero T
		q.items[0] = zero
		q.items = q.items[1:]
		q.mu.Unlock()
		q.fn(v)
	}
}

// close stops the queue: items not yet delivered are dropped. It does not
// wait for a delivery in progress (which may be the caller).
func (q *queue[T]) close() {
	q.mu.Lock()
	q.closed = true
	q.items = nil
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}
