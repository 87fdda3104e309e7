package client

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/ankurah/ankurah-go/internal/wire"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/storage"
)

// The outbox: queued commits and schema registrations, sent one at a
// time in order, retried, confirmed or rejected; and Confirmed, which lets a
// commit wait for its answer.

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
		case IsDisconnected(err):
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
