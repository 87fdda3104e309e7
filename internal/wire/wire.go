// Package wire is the one connection layer for Ankurah's protocol v1
// (docs/protocol.md): one WebSocket connection, the handshake, requests
// matched to their answers, and server-pushed frames. It does not reconnect
// or cache. The Go client (package client) and the CLI tools build on it.
//
// It delivers what the server sends in one of two ways:
//
//   - Do and DoSeq wait for an answer; pushes arrive on the Changes channel,
//     numbered (Push.Seq) so that a caller can place them relative to an
//     answer (DoSeq returns the answer's number). Simple, and enough for
//     tools and tests.
//   - With Options.Handler, everything is handed over on the connection's
//     one reader goroutine in exactly the order the server sent it: pushes
//     to the Handler, answers to the callbacks given to Send. A
//     subscription's result is then applied before the changes that follow
//     it, and an update_subscription's result after the changes that
//     preceded it, with no numbering needed. The Go client works this way.
//
// # Goroutines and locks
//
// Dial starts the reader goroutine; it ends when the connection closes, and
// Close (or CloseNow) waits for it. Conn.mu guards the pending requests
// and the close reason; no callback or Handler method is called with it
// held, and nothing else is locked under it.
package wire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/ankurah/ankurah-go/protocol"
)

// ErrClosed is returned (wrapped, with the reason) by requests on a
// connection that has closed, and given to the callbacks of requests the
// connection ended before their answer: their fate is unknown.
var ErrClosed = errors.New("wire: connection closed")

// ErrTooLarge is returned (wrapped) by a request larger than the server's
// max_frame_bytes: the server would close the connection, and sending it
// again would do the same.
var ErrTooLarge = errors.New("wire: frame too large for the server")

// Defaults of Options.
const (
	DefaultMaxFrameBytes = 64 << 20 // a subscription's initial result set arrives in one frame
	DefaultPushes        = 1024
	DefaultWriteTimeout  = 30 * time.Second
)

// Options configure Dial. The zero value of every field means its default.
type Options struct {
	// Token is sent in hello (a JWT once authorisation exists).
	Token string
	// Client is the client's name and version, for the server's logs.
	Client string
	// MaxFrameBytes bounds frames read from the server. Default
	// DefaultMaxFrameBytes (64 MiB).
	MaxFrameBytes int64
	// Pushes is the capacity of the Changes channel. Default DefaultPushes
	// (1024). When it is full the reader stops reading, and the server
	// eventually disconnects this client as a slow consumer — never a
	// silent drop. Unused with a Handler.
	Pushes int
	// WriteTimeout bounds writing one request. A write that does not
	// complete leaves the connection unusable, so it is closed; a caller's
	// context bounds its wait for the answer, never the write. Default
	// DefaultWriteTimeout (30 s).
	WriteTimeout time.Duration
	// Handler, when set, receives the pushes on the reader goroutine, in
	// order with the answers to Send (see the package doc); Changes is then
	// nil.
	Handler Handler
}

// Handler receives what the server sends unasked, on the connection's
// reader goroutine. Its methods hold up every later frame while they run.
type Handler interface {
	// Changes is one changes frame.
	Changes(items []protocol.Item)
	// Ended says that the server ended a subscription it could no longer
	// maintain (e.g. a LIMIT window it could not refill), and why.
	Ended(sub string, err *protocol.Error)
	// TokenExpiring says that the connection's token expires at the given
	// time: send a fresh one (auth) before then, or the server ends the
	// connection.
	TokenExpiring(at time.Time)
	// Schema is a schema frame: a collection's schema changed (with SQL).
	Schema(f *protocol.ServerFrame)
}

// Conn is an open protocol session. It is safe for concurrent use.
type Conn struct {
	ws           *websocket.Conn
	welcome      protocol.Welcome
	handler      Handler
	writeTimeout time.Duration
	nextID       atomic.Uint64

	mu      sync.Mutex
	pending map[uint64]callback // nil once the connection has ended
	reason  error               // why the connection ended (or is ending); set once

	changes chan Push     // nil with a Handler
	closing chan struct{} // closed by Close: the reader stops delivering
	closeMu sync.Once
	done    chan struct{} // closed when the connection has ended (reason set), before waiting requests are failed
	ended   chan struct{} // closed when the reader goroutine has returned
	seq     uint64        // frames read; owned by the reader goroutine
}

type callback func(seq uint64, result json.RawMessage, err error)

// Push is one changes frame, or the end of a subscription. Seq numbers
// every frame the connection reads, answers included (see DoSeq), so that
// a client can tell whether a push came before or after a given answer —
// e.g. the answer to a subscribe.
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
	// Expiring, when not zero, is a token_expiring push: the connection's
	// token expires then (Items is empty).
	Expiring time.Time
}

// Dial connects to a server's /ws endpoint and performs the handshake.
func Dial(ctx context.Context, url string, opts Options) (*Conn, error) {
	if opts.MaxFrameBytes <= 0 {
		opts.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if opts.Pushes <= 0 {
		opts.Pushes = DefaultPushes
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
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
		ws:           ws,
		welcome:      protocol.Welcome{Type: f.Type, Protocol: f.Protocol, Server: f.Server, Session: f.Session, Limits: f.Limits, Subject: f.Subject, ExpiresAt: f.ExpiresAt},
		handler:      opts.Handler,
		writeTimeout: opts.WriteTimeout,
		pending:      map[uint64]callback{},
		closing:      make(chan struct{}),
		done:         make(chan struct{}),
		ended:        make(chan struct{}),
	}
	if c.handler == nil {
		c.changes = make(chan Push, opts.Pushes)
	}
	go c.read()
	return c, nil
}

// Welcome returns the server's handshake answer (its limits, session id).
func (c *Conn) Welcome() protocol.Welcome { return c.welcome }

// Changes delivers each changes frame, in the order the server sent them.
// It is closed when the connection closes, and nil with a Handler.
func (c *Conn) Changes() <-chan Push { return c.changes }

// Done is closed when the connection has closed; Err then says why. A
// request that fails because the connection ended finds it closed already.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection closed (nil while open): a *CloseError
// with the server's status, the *protocol.Error it sent first
// (slow_consumer, shutting_down), or the I/O error.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// Close closes the connection normally and waits for its reader to end.
func (c *Conn) Close() error {
	c.closeMu.Do(func() { close(c.closing) })
	err := c.ws.Close(websocket.StatusNormalClosure, "")
	<-c.ended
	return err
}

// CloseNow cuts the connection without the closing handshake (as a network
// failure would) and waits for its reader to end.
func (c *Conn) CloseNow() error {
	c.closeMu.Do(func() { close(c.closing) })
	err := c.ws.CloseNow()
	<-c.ended
	return err
}

func (c *Conn) read() {
	defer close(c.ended)
	if c.changes != nil {
		defer close(c.changes)
	}
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
			if !c.push(Push{Seq: c.seq, Items: f.Items}) {
				c.ws.CloseNow()
			}
		case f.Type == protocol.TypeSchema:
			if !c.push(Push{Seq: c.seq, Schema: &f}) {
				c.ws.CloseNow()
			}
		case f.ID != 0:
			c.mu.Lock()
			fn := c.pending[f.ID]
			delete(c.pending, f.ID)
			c.mu.Unlock()
			switch {
			case fn == nil:
			case f.Type == protocol.TypeError && f.Error != nil:
				fn(c.seq, nil, f.Error)
			case f.Type == protocol.TypeError:
				fn(c.seq, nil, errors.New("wire: error frame without an error"))
			default:
				fn(c.seq, f.Result, nil)
			}
		case f.Type == protocol.TypeTokenExpiring && f.ExpiresAt != nil:
			if !c.push(Push{Seq: c.seq, Expiring: *f.ExpiresAt}) {
				c.ws.CloseNow()
			}
		case f.Type == protocol.TypeError && f.Error != nil && f.Sub != "":
			if !c.push(Push{Seq: c.seq, Ended: f.Sub, Err: f.Error}) {
				c.ws.CloseNow()
			}
		case f.Type == protocol.TypeError && f.Error != nil && answersUnreadable(data):
			// "id": null answers a frame without a valid id, which this
			// connection never sends: nothing waits for it.
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

// push hands a push over; it reports false when Close stopped the
// delivery (the caller no longer reads Changes).
func (c *Conn) push(p Push) bool {
	if c.handler != nil {
		switch {
		case p.Schema != nil:
			c.handler.Schema(p.Schema)
		case !p.Expiring.IsZero():
			c.handler.TokenExpiring(p.Expiring)
		case p.Ended != "":
			c.handler.Ended(p.Ended, p.Err)
		default:
			c.handler.Changes(p.Items)
		}
		return true
	}
	select {
	case c.changes <- p:
		return true
	case <-c.closing:
		return false
	}
}

// fail ends the connection (the first reason wins) and fails every request
// still waiting for its answer.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.reason == nil {
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			err = &CloseError{Status: int(ce.Code), Reason: ce.Reason}
		}
		c.reason = err
	}
	reason := c.reason
	waiting := c.pending
	c.pending = nil
	c.mu.Unlock()
	close(c.done) // fail runs once: it is called by the reader as it returns
	for _, fn := range waiting {
		fn(c.seq, nil, fmt.Errorf("%w: %w", ErrClosed, reason))
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

// Send sends a request (its ID is assigned here) without waiting for the
// answer. fn is called exactly once, on the reader goroutine and in the
// order of the frames the server sends, with the result or the server's
// error (a *protocol.Error) — or, when the connection ends first, with an
// error wrapping ErrClosed. It must not block for long: every later frame
// waits for it. When Send returns an error, fn is not called: the request
// was too large for the server (ErrTooLarge) or the connection is closed
// (ErrClosed); a write that fails closes the connection. No context: a
// write is bounded by Options.WriteTimeout, and a caller bounds its own wait
// for fn.
func (c *Conn) Send(req *protocol.Request, fn func(result json.RawMessage, err error)) error {
	return c.send(req, func(_ uint64, raw json.RawMessage, err error) { fn(raw, err) })
}

func (c *Conn) send(req *protocol.Request, fn callback) error {
	req.ID = c.nextID.Add(1)
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if max := c.welcome.Limits.MaxFrameBytes; max > 0 && len(data) > max {
		return fmt.Errorf("%w: %s request of %d bytes, the server accepts %d", ErrTooLarge, req.Type, len(data), max)
	}
	c.mu.Lock()
	if c.pending == nil {
		reason := c.reason
		c.mu.Unlock()
		return fmt.Errorf("%w: %w", ErrClosed, reason)
	}
	c.pending[req.ID] = fn
	c.mu.Unlock()
	// The caller's context bounds its wait, not the write: a write cut
	// short would end the connection for everyone.
	wctx, cancel := context.WithTimeout(context.Background(), c.writeTimeout)
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
		return fmt.Errorf("%w: send %s: %w", ErrClosed, req.Type, err)
	}
	return nil
}

// Do sends a request (its ID is assigned here) and decodes the result into
// out (which may be nil). A server error comes back as *protocol.Error.
func (c *Conn) Do(ctx context.Context, req protocol.Request, out any) error {
	_, err := c.DoSeq(ctx, req, out)
	return err
}

// DoSeq is Do that also returns the answer's frame number (see Push.Seq).
func (c *Conn) DoSeq(ctx context.Context, req protocol.Request, out any) (uint64, error) {
	type answer struct {
		seq uint64
		raw json.RawMessage
		err error
	}
	ch := make(chan answer, 1) // the reader never blocks on a caller that gave up
	if err := c.send(&req, func(seq uint64, raw json.RawMessage, err error) { ch <- answer{seq, raw, err} }); err != nil {
		return 0, err
	}
	select {
	case a := <-ch:
		if a.err == nil && out != nil {
			a.err = json.Unmarshal(a.raw, out)
		}
		return a.seq, a.err
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, req.ID)
		c.mu.Unlock()
		return 0, ctx.Err()
	}
}

// WriteRaw sends a frame as is, for tests and tools that speak the protocol
// by hand. The answer to a raw request with an id is not routed to Do.
func (c *Conn) WriteRaw(ctx context.Context, frame []byte) error {
	return c.ws.Write(ctx, websocket.MessageText, frame)
}

// answersUnreadable reports whether an error frame without an id has the
// member "id" (null): the answer to a frame the server could not read an
// id from, not an error about the session. Only error frames without an id
// are looked at, so this second decoding is rare.
func answersUnreadable(frame []byte) bool {
	var f struct {
		ID json.RawMessage `json:"id"`
	}
	return json.Unmarshal(frame, &f) == nil && f.ID != nil
}
