package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/ankurah/ankurah-go/internal/wire"
	"github.com/ankurah/ankurah-go/protocol"
)

// transport is one protocol session. Unlike wire.Conn, it hands answers
// and pushed changes to the client in exactly the order the server sent
// them, from its one reader goroutine: a subscription's result is applied
// before the changes that follow it, and an update_subscription's result
// after the changes that preceded it.
type transport interface {
	// send sends a request (its id is assigned here). fn is called once,
	// from the reader goroutine, with the result or the error — or with
	// an error wrapping wire.ErrClosed when the connection ends first.
	send(ctx context.Context, req *protocol.Request, fn func(json.RawMessage, error)) error
	welcome() protocol.Welcome
	done() <-chan struct{}
	err() error
	close() error
}

// pushHandler receives what the server sends unasked, in order.
type pushHandler interface {
	pushed(items []protocol.Item)
	subEnded(sub string, err *protocol.Error)
}

// errTooLarge: a request would exceed the server's max_frame_bytes (the
// server would close the connection, and a resend would do it again).
var errTooLarge = errors.New("frame too large for the server")

// writeTimeout bounds writing one frame; a connection that cannot take a
// frame in that time is dead.
const writeTimeout = 30 * time.Second

type wsConn struct {
	ws     *websocket.Conn
	hello  protocol.Welcome
	h      pushHandler
	nextID atomic.Uint64

	mu      sync.Mutex
	pending map[uint64]func(json.RawMessage, error)
	reason  error // why the connection ended; set once
	doneCh  chan struct{}
}

// serverFrame is protocol.ServerFrame plus the sub member of an error
// frame that ends one subscription (the server cannot maintain it).
type serverFrame struct {
	protocol.ServerFrame
	Sub string `json:"sub,omitempty"`
}

func dialWS(ctx context.Context, url string, opts *Options, h pushHandler) (*wsConn, error) {
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	ws.SetReadLimit(64 << 20) // an initial result set arrives in one frame
	hello, _ := json.Marshal(protocol.Request{Type: protocol.TypeHello, Protocol: protocol.Version, Token: opts.Token, Client: opts.ClientName})
	if err := ws.Write(ctx, websocket.MessageText, hello); err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	_, data, err := ws.Read(ctx)
	if err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	var f serverFrame
	if err := json.Unmarshal(data, &f); err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("handshake: undecodable answer: %w", err)
	}
	if f.Type == protocol.TypeError && f.Error != nil {
		ws.CloseNow()
		return nil, f.Error
	}
	if f.Type != protocol.TypeWelcome || f.Protocol != protocol.Version {
		ws.CloseNow()
		return nil, fmt.Errorf("handshake: expected welcome for protocol %d, got %q (protocol %d)", protocol.Version, f.Type, f.Protocol)
	}
	c := &wsConn{ws: ws, h: h, pending: map[uint64]func(json.RawMessage, error){}, doneCh: make(chan struct{}),
		hello: protocol.Welcome{Type: f.Type, Protocol: f.Protocol, Server: f.Server, Session: f.Session, Limits: f.Limits}}
	go c.read()
	return c, nil
}

func (c *wsConn) welcome() protocol.Welcome { return c.hello }
func (c *wsConn) done() <-chan struct{}     { return c.doneCh }

func (c *wsConn) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

func (c *wsConn) close() error {
	err := c.ws.Close(websocket.StatusNormalClosure, "")
	<-c.doneCh
	return err
}

func (c *wsConn) read() {
	for {
		_, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.fail(err)
			return
		}
		var f serverFrame
		if err := json.Unmarshal(data, &f); err != nil {
			c.fail(fmt.Errorf("undecodable frame from the server: %w", err))
			c.ws.Close(websocket.StatusProtocolError, "undecodable frame")
			return
		}
		switch {
		case f.Type == protocol.TypeChanges:
			c.h.pushed(f.Items)
		case f.Type == protocol.TypeSchema:
			if sh, ok := c.h.(schemaPushHandler); ok && f.Change != nil {
				sh.schemaChanged(*f.Change, f.Collection)
			}
		case f.ID != 0:
			c.mu.Lock()
			fn := c.pending[f.ID]
			delete(c.pending, f.ID)
			c.mu.Unlock()
			if fn == nil {
				continue
			}
			switch {
			case f.Type == protocol.TypeError && f.Error != nil:
				fn(nil, f.Error)
			case f.Type == protocol.TypeError:
				fn(nil, errors.New("error frame without an error"))
			default:
				fn(f.Result, nil)
			}
		case f.Type == protocol.TypeError && f.Error != nil && f.Sub != "":
			c.h.subEnded(f.Sub, f.Error)
		case f.Type == protocol.TypeError && f.Error != nil:
			// A connection-level error (slow_consumer, shutting_down):
			// the close that follows ends the session; keep the reason.
			c.mu.Lock()
			if c.reason == nil {
				c.reason = f.Error
			}
			c.mu.Unlock()
		}
	}
}

// fail ends the connection (the first reason wins) and fails every request
// still waiting for its answer.
func (c *wsConn) fail(err error) {
	c.mu.Lock()
	if c.reason == nil {
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			err = &wire.CloseError{Status: int(ce.Code), Reason: ce.Reason}
		}
		c.reason = err
	}
	reason := c.reason
	waiting := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, fn := range waiting {
		fn(nil, fmt.Errorf("%w: %w", wire.ErrClosed, reason))
	}
	close(c.doneCh)
}

func (c *wsConn) send(_ context.Context, req *protocol.Request, fn func(json.RawMessage, error)) error {
	req.ID = c.nextID.Add(1)
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if max := c.hello.Limits.MaxFrameBytes; max > 0 && len(data) > max {
		return fmt.Errorf("%w: %s request of %d bytes, the server accepts %d", errTooLarge, req.Type, len(data), max)
	}
	c.mu.Lock()
	if c.pending == nil {
		reason := c.reason
		c.mu.Unlock()
		return fmt.Errorf("%w: %w", wire.ErrClosed, reason)
	}
	c.pending[req.ID] = fn
	c.mu.Unlock()
	// The caller's context bounds its wait, not the write: a write cut
	// short would end the connection for everyone.
	wctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := c.ws.Write(wctx, websocket.MessageText, data); err != nil {
		c.mu.Lock()
		_, still := c.pending[req.ID]
		delete(c.pending, req.ID)
		c.mu.Unlock()
		if !still {
			return nil // answered (or failed) meanwhile: fn has run
		}
		// A write that did not complete leaves the stream unusable.
		c.ws.CloseNow()
		return fmt.Errorf("%w: send %s: %w", wire.ErrClosed, req.Type, err)
	}
	return nil
}

// call sends a request and waits for its answer; fn (may be nil) runs on
// the reader goroutine with the result, before any later frame is handled.
// When ctx ends first, call returns and fn still runs when the answer
// arrives.
func call(ctx context.Context, t transport, req *protocol.Request, fn func(json.RawMessage) error) error {
	done := make(chan error, 1)
	err := t.send(ctx, req, func(raw json.RawMessage, err error) {
		if err == nil && fn != nil {
			err = fn(raw)
		}
		done <- err
	})
	if err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
