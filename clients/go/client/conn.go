package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/ankurah/ankurah-go/internal/wire"
	"github.com/ankurah/ankurah-go/protocol"
)

// The connection loop: dialling with backoff, one connection's setup
// (schemas, resubscriptions) and end, and what the server pushes.

func (c *Client) dial(ctx context.Context) (transport, error) {
	if c.opts.dial != nil {
		return c.opts.dial(ctx, pushes{c})
	}
	if c.url == "" {
		return nil, errors.New("ankurah client: no server url")
	}
	token, err := c.token(ctx)
	if err != nil {
		return nil, err
	}
	t, err := wire.Dial(ctx, c.url, wire.Options{Token: token, Client: c.opts.ClientName, Handler: pushes{c}})
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
			if err := c.syncSub(c.ctx, t, gen, s); err != nil && !IsDisconnected(err) && c.ctx.Err() == nil {
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
	c.settle(false) // watches see synced turn off
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
	if schemaEnded(perr) {
		c.log.Warn("ankurah client: a schema change ended a live query; subscribe again with the new names", "sub", name, "err", perr)
		return
	}
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
		if err := c.syncSub(c.ctx, t, gen, s); err != nil && !IsDisconnected(err) && c.ctx.Err() == nil {
			c.log.Warn("ankurah client: resubscribing failed", "sub", name, "err", err)
		}
	}()
}
