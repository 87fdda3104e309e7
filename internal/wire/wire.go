// Package wire is the smallest complete client of Ankurah's protocol v1
// (docs/protocol.md): one WebSocket connection, the handshake, requests
// matched to their responses, and server-pushed change frames delivered in
// order. It does not reconnect or cache; the Go client (package client) and
// the CLI tools build on it.
package wire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"

	"github.com/ankurah/ankurah-go/protocol"
)

// ErrClosed is returned by requests on a connection that has closed.
var ErrClosed = errors.New("wire: connection closed")

// Options configure Dial.
type Options struct {
	Token  string // sent in hello (a JWT once authorisation exists)
	Client string // the client's name and version, for the server's logs
	// MaxFrameBytes bounds frames read from the server. Default 64 MiB:
	// a subscription's initial result set arrives in one frame.
	MaxFrameBytes int64
	// Pushes is the capacity of the Changes channel. Default 1024. When it
	// is full the reader stops reading, and the server eventually
	// disconnects this client as a slow consumer — never a silent drop.
	Pushes int
}

// Conn is an open protocol session.
type Conn struct {
	ws      *websocket.Conn
	welcome protocol.Welcome
	nextID  atomic.Uint64

	mu      sync.Mutex
	pending map[uint64]chan answer
	err     error // why the connection closed; set once

	changes chan Push
	done    chan struct{}
	seq     uint64 // frames read; owned by the reader goroutine
}

// Push is one changes frame. Seq numbers every frame the connection reads,
// results included (see DoSeq), so that a client can tell whether a push
// came before or after a given answer — e.g. the answer to a subscribe.
type Push struct {
	Seq   uint64
	Items []protocol.Item
	// Ended names a subscription the server ended (e.g. a LIMIT window it
	// could not refill), and Err says why; Items is empty then.
	Ended string
	Err   *protocol.Error
	// Schema is a schema frame (a collection's schema changed, made with
	// SQL); Items is empty then. Schema.Collection is the collection's
	// schema after the change, nil when it was dropped.
	Schema *protocol.ServerFrame
}

type answer struct {
	seq   uint64
	frame protocol.ServerFrame
}

// Dial connects to a server's /ws endpoint and performs the handshake.
func Dial(ctx context.Context, url string, opts Options) (*Conn, error) {
	if opts.MaxFrameBytes == 0 {
		opts.MaxFrameBytes = 64 << 20
	}
	if opts.Pushes == 0 {
		opts.Pushes = 1024
	}
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("wire: dial %s: %w", url, err)
	}
	ws.SetReadLimit(opts.MaxFrameBytes)
	hello, _ := json.Marshal(protocol.Request{Type: protocol.TypeHello, Protocol: protocol.Version, Token: opts.Token, Client: opts.Client})
	if err := ws.Write(ctx, websocket.MessageText, hello); err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("wire: handshake: %w", err)
	}
	_, data, err := ws.Read(ctx)
	if err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("wire: handshake: %w", err)
	}
	var f protocol.ServerFrame
	if err := json.Unmarshal(data, &f); err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("wire: handshake: undecodable answer: %w", err)
	}
	if f.Type == protocol.TypeError && f.Error != nil {
		ws.CloseNow()
		return nil, f.Error
	}
	if f.Type != protocol.TypeWelcome || f.Protocol != protocol.Version {
		ws.CloseNow()
		return nil, fmt.Errorf("wire: handshake: expected welcome for protocol %d, got %q (protocol %d)", protocol.Version, f.Type, f.Protocol)
	}
	c := &Conn{
		ws:      ws,
		welcome: protocol.Welcome{Type: f.Type, Protocol: f.Protocol, Server: f.Server, Session: f.Session, Limits: f.Limits},
		pending: map[uint64]chan answer{},
		changes: make(chan Push, opts.Pushes),
		done:    make(chan struct{}),
	}
	go c.read()
	return c, nil
}

// Welcome returns the server's handshake answer (its limits, session id).
func (c *Conn) Welcome() protocol.Welcome { return c.welcome }

// Changes delivers each changes frame, in the order the server sent them.
// It is closed when the connection closes.
func (c *Conn) Changes() <-chan Push { return c.changes }

// Done is closed when the connection has closed; Err then says why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection closed (nil while open).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection normally.
func (c *Conn) Close() error {
	err := c.ws.Close(websocket.StatusNormalClosure, "")
	<-c.done
	return err
}

func (c *Conn) read() {
	defer close(c.changes)
	for {
		_, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.fail(err)
			return
		}
		c.seq++
		var f protocol.ServerFrame
		if err := json.Unmarshal(data, &f); err != nil {
			c.fail(fmt.Errorf("wire: undecodable frame from server: %w", err))
			c.ws.Close(websocket.StatusProtocolError, "undecodable frame")
			return
		}
		switch {
		case f.Type == protocol.TypeChanges:
			select {
			case c.changes <- Push{Seq: c.seq, Items: f.Items}:
			case <-c.done:
				return
			}
		case f.Type == protocol.TypeSchema:
			select {
			case c.changes <- Push{Seq: c.seq, Schema: &f}:
			case <-c.done:
				return
			}
		case f.ID != 0:
			c.mu.Lock()
			ch := c.pending[f.ID]
			delete(c.pending, f.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- answer{c.seq, f}
			}
		case f.Type == protocol.TypeError && f.Sub != "":
			select {
			case c.changes <- Push{Seq: c.seq, Ended: f.Sub, Err: f.Error}:
			case <-c.done:
				return
			}
		case f.Type == protocol.TypeError && f.Error != nil:
			// A connection-level error (slow_consumer, shutting_down):
			// the close that follows ends the session; keep the reason.
			c.fail(f.Error)
		}
	}
}

// fail records why the connection ended (the first reason wins) and
// releases every waiting request.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			err = &CloseError{Status: int(ce.Code), Reason: ce.Reason}
		}
		c.err = err
		close(c.done)
	}
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
}

// CloseError is the server closing the connection, with its status and reason.
type CloseError struct {
	Status int
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("wire: connection closed by server: status %d %s", e.Status, e.Reason)
}

// Do sends a request (its ID is assigned here) and decodes the result into
// out (which may be nil). A server error comes back as *protocol.Error.
func (c *Conn) Do(ctx context.Context, req protocol.Request, out any) error {
	_, err := c.DoSeq(ctx, req, out)
	return err
}

// DoSeq is Do that also returns the answer's frame number (see Push.Seq).
func (c *Conn) DoSeq(ctx context.Context, req protocol.Request, out any) (uint64, error) {
	req.ID = c.nextID.Add(1)
	ch := make(chan answer, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return 0, fmt.Errorf("%w: %w", ErrClosed, c.err)
	}
	c.pending[req.ID] = ch
	c.mu.Unlock()
	data, err := json.Marshal(req)
	if err != nil {
		c.forget(req.ID)
		return 0, err
	}
	if err := c.ws.Write(ctx, websocket.MessageText, data); err != nil {
		c.forget(req.ID)
		return 0, fmt.Errorf("wire: send %s: %w", req.Type, err)
	}
	select {
	case a, ok := <-ch:
		if !ok {
			return 0, fmt.Errorf("%w: %w", ErrClosed, c.Err())
		}
		if a.frame.Type == protocol.TypeError {
			if a.frame.Error == nil {
				return a.seq, errors.New("wire: error frame without an error")
			}
			return a.seq, a.frame.Error
		}
		if out != nil {
			return a.seq, json.Unmarshal(a.frame.Result, out)
		}
		return a.seq, nil
	case <-ctx.Done():
		c.forget(req.ID)
		return 0, ctx.Err()
	}
}

func (c *Conn) forget(id uint64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// WriteRaw sends a frame as is, for tests and tools that speak the protocol
// by hand. The answer to a raw request with an id is not routed to Do.
func (c *Conn) WriteRaw(ctx context.Context, frame []byte) error {
	return c.ws.Write(ctx, websocket.MessageText, frame)
}
