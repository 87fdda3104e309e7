package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/protocol"
)

// session is one WebSocket connection. It has one reader (this goroutine
// reads and handles requests in order) and one writer (which drains the
// bounded queue). Nothing else writes to the socket.
type session struct {
	srv *Server
	ws  *websocket.Conn
	// conn is the TCP connection under ws (kept when Accept hijacked it):
	// its deadline bounds the end of a session, whatever a write is
	// blocked on (see bound).
	conn net.Conn
	id   string
	log  *slog.Logger

	// For the inspector: where it connects from, since when, and what its
	// writer has written.
	remote     string
	connected  time.Time
	framesSent atomic.Int64
	bytesSent  atomic.Int64

	out  frameQueue    // the bounded outgoing queue
	quit chan struct{} // closed when the session must end
	once sync.Once
	// why the session ends: the close status, reason and the error frame
	// to send first (nil for none). Set once, before quit closes.
	status websocket.StatusCode
	reason string
	last   []byte
	drain  bool   // write what is queued before closing (graceful shutdown)
	why    string // for the log, when the client was a slow consumer

	cutMu sync.Mutex
	cutAt time.Time // the connection's deadline once set by bound (zero: none)

	auth    sessionAuth   // who it acts for (authz.go)
	limiter *rate.Limiter // requests per second

	// Guarded by the hub's lock.
	subs   map[string]*subscription
	closed bool
}

// enqueue queues a frame without ever blocking: the hub calls it with its
// lock held. A session whose queue is full, or whose oldest frame has
// waited longer than MaxLag, is a slow consumer: it is ended (which only
// closes a channel and sets a deadline: no I/O), told why by its writer,
// and counted. Frames for a session that has ended are dropped.
func (s *session) enqueue(f []byte) { s.enqueueTraced(f, nil) }

// enqueueTraced is enqueue with the span of the frame's write (nil when
// not traced): the writer ends it once the frame is written.
func (s *session) enqueueTraced(f []byte, span trace.Span) {
	if s.ended() {
		endSpan(span, "session ended")
		return
	}
	switch s.out.push(queued{f, span}, sinceEpoch(), s.srv.cfg.MaxLag) {
	case queueFull:
		endSpan(span, protocol.CodeSlowConsumer)
		s.slow(fmt.Sprintf("its queue holds %d frames it has not read", s.out.limit))
	case queueLagging:
		endSpan(span, protocol.CodeSlowConsumer)
		s.slow(fmt.Sprintf("the oldest frame queued for it has waited more than %s", s.srv.cfg.MaxLag))
	}
}

// endSpan ends the span of a frame that will not be written (nil: none).
func endSpan(span trace.Span, why string) {
	if span != nil {
		span.SetStatus(codes.Error, why)
		span.End()
	}
}

// ended reports whether the session has been ended (quit is closed).
func (s *session) ended() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
	}
}

// slow ends the session as a slow consumer (error slow_consumer, close
// 4001) and counts it. It takes no lock but the session's own, does no I/O
// and never blocks, so the hub may call it under its lock.
func (s *session) slow(why string) {
	perr := protocol.Errorf(protocol.CodeSlowConsumer, "the client fell behind: %s; reconnect and resubscribe with known heads", why)
	if s.endWhy(protocol.CloseSlowConsumer, protocol.CodeSlowConsumer, perr, false, why) {
		s.srv.slowConsumer(s, why) // counted, and listed for the inspector
	}
}

// epoch is where frame times count from (monotonic).
var epoch = time.Now()

func sinceEpoch() time.Duration { return time.Since(epoch) }

// Why push refused a frame.
const (
	queueOK = iota
	queueFull
	queueLagging
)

// frameQueue is a session's outgoing queue: at most limit frames, held in a
// slice that grows as frames wait and is given back once they are written,
// so that an idle connection does not carry a buffer for limit frames (a
// channel of that capacity cost 24 kB per connection). Each frame's time of
// queueing is kept beside it, so that the age of the oldest frame not yet
// written — how far behind the client is — can be told.
type frameQueue struct {
	limit int
	ready chan struct{} // a token when frames are waiting
	// head is the queueing time (+1, 0: none) of the frame the writer is
	// writing or will write next from the batch it took: the oldest frame
	// not yet written while a batch is out.
	head atomic.Int64

	mu      sync.Mutex
	frames  []queued
	at      []time.Duration // when each of frames was queued (sinceEpoch)
	pending int             // frames queued or taken and not yet written: at most limit
	spare   []queued        // a small written batch's array, reused for the next frames
	spareAt []time.Duration
}

// queued is a frame, and the span of its write when it is traced.
type queued struct {
	b    []byte
	span trace.Span
}

func (q queued) String() string { return string(q.b) }

func newFrameQueue(limit int) frameQueue {
	return frameQueue{limit: limit, ready: make(chan struct{}, 1)}
}

// push queues f, queued at now, never blocking. It refuses it (queueFull)
// when limit frames are not yet written, and (queueLagging) when the
// oldest of them was queued more than maxLag before now.
func (q *frameQueue) push(f queued, now, maxLag time.Duration) int {
	q.mu.Lock()
	if q.pending >= q.limit {
		q.mu.Unlock()
		return queueFull
	}
	if oldest, ok := q.oldestLocked(); ok && now-oldest > maxLag {
		q.mu.Unlock()
		return queueLagging
	}
	q.frames = append(q.frames, f)
	q.at = append(q.at, now)
	q.pending++
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return queueOK
}

// oldestLocked returns when the oldest frame not yet written was queued.
func (q *frameQueue) oldestLocked() (time.Duration, bool) {
	if h := q.head.Load(); h != 0 {
		return time.Duration(h - 1), true
	}
	if len(q.at) > 0 {
		return q.at[0], true
	}
	return 0, false
}

// take returns every queued frame and when each was queued, in order, and
// empties the queue; the writer reports its progress with writing and
// hands the batch back with release once it is written.
func (q *frameQueue) take() ([]queued, []time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	batch, at := q.frames, q.at
	q.frames, q.spare = q.spare, nil
	q.at, q.spareAt = q.spareAt, nil
	if len(at) > 0 {
		q.head.Store(int64(at[0]) + 1)
	}
	return batch, at
}

// writing says that the writer is at a frame queued at t: every frame
// queued before it has been written.
func (q *frameQueue) writing(t time.Duration) { q.head.Store(int64(t) + 1) }

// release returns a written batch: its frames are let go at once, and a
// small array is kept for the next frames (a burst's goes back to the heap).
func (q *frameQueue) release(batch []queued, at []time.Duration) {
	n := len(batch)
	clear(batch)
	q.mu.Lock()
	q.pending -= n
	q.head.Store(0)
	if q.spare == nil && cap(batch) <= 64 {
		q.spare, q.spareAt = batch[:0], at[:0]
	}
	q.mu.Unlock()
}

// end ends the session with a close status and reason and, when perr is
// not nil, an error frame saying why first. With drain, what is queued is
// written before; without, what is queued is dropped and the whole end —
// a write the writer is blocked on, the error frame, the close frame and
// the closing handshake — is bounded by CloseTimeout (bound). It reports
// whether this call ended the session. It never blocks.
func (s *session) end(status websocket.StatusCode, reason string, perr *protocol.Error, drain bool) bool {
	return s.endWhy(status, reason, perr, drain, "")
}

// endWhy is end, with why for the log.
func (s *session) endWhy(status websocket.StatusCode, reason string, perr *protocol.Error, drain bool, why string) bool {
	ended := false
	s.once.Do(func() {
		s.status, s.reason, s.drain, s.why = status, reason, drain, why
		if perr != nil {
			s.last = appendJSON([]byte(`{"type":"error","error":`), perr)
			s.last = append(s.last, '}')
		}
		close(s.quit)
		ended = true
	})
	if ended && !drain {
		s.bound()
	}
	return ended
}

// bound gives the connection CloseTimeout from now to end: past that
// deadline every read and write on it fails, whatever it was blocked on,
// and the writer cuts it. A frame that is half written cannot be
// interrupted by another (WebSocket frames do not interleave), so this
// deadline — not a context, which coder/websocket would only honour by
// closing the connection — is what lets a blocked write finish, and the
// error and close frames follow it, when the client reads again in time.
// A deadline is only ever brought forward.
func (s *session) bound() {
	if s.conn == nil {
		return
	}
	t := time.Now().Add(s.srv.cfg.CloseTimeout)
	s.cutMu.Lock()
	defer s.cutMu.Unlock()
	if !s.cutAt.IsZero() && !t.Before(s.cutAt) {
		return
	}
	s.cutAt = t
	_ = s.conn.SetDeadline(t)
}

// write is the session's only writer.
//
// A frame's write may take WriteTimeout. The deadline is one timer per
// session, armed around each write, that ends the session as a slow
// consumer when it fires (and so bounds the blocked write by CloseTimeout):
// a context with a timeout per frame cost as much CPU as the write's
// system call.
//
// Before each frame the writer checks that the session goes on, and how
// long the frame has waited: one that waited longer than MaxLag makes the
// client a slow consumer (so does enqueue, when it finds the oldest frame
// that old), so a client that reads, but too slowly, is cut too.
//
// Pings run on a goroutine of their own, since a ping waits for its pong
// (which the reader receives); write owns it: at most one is in flight, and
// write returns only after it has ended (closing the connection ends it).
func (s *session) write(ctx context.Context) {
	var pings sync.WaitGroup
	var pinging atomic.Bool
	defer pings.Wait() // deferred first, so it runs after CloseNow
	defer s.ws.CloseNow()
	ping := time.NewTicker(s.srv.cfg.PingInterval)
	defer ping.Stop()
	deadline := time.AfterFunc(time.Hour, func() {
		s.slow(fmt.Sprintf("writing one frame to it took more than %s", s.srv.cfg.WriteTimeout))
		s.bound() // also when the session was already ending (a drain)
	})
	deadline.Stop()
	defer deadline.Stop()
	send := func(q queued) bool {
		f := q.b
		deadline.Reset(s.srv.cfg.WriteTimeout)
		err := s.ws.Write(context.Background(), websocket.MessageText, f)
		deadline.Stop()
		if q.span != nil {
			if err != nil {
				q.span.SetStatus(codes.Error, "write failed")
			}
			q.span.End()
		}
		if err != nil { // the connection failed, or its deadline passed in the middle of a frame: nothing more can be written
			s.end(websocket.StatusGoingAway, "", nil, false)
			return false
		}
		s.srv.metrics.framesSent.Add(1)
		s.framesSent.Add(1)
		s.bytesSent.Add(int64(len(f)))
		return true
	}
	for {
		select {
		case <-s.out.ready:
			batch, at := s.out.take()
			sent := 0
			for i, f := range batch {
				if s.ended() && !s.drain {
					break // what is queued is dropped: the error and the close come next
				}
				s.out.writing(at[i])
				if lag := sinceEpoch() - at[i]; lag > s.srv.cfg.MaxLag && !s.ended() {
					s.slow(fmt.Sprintf("a frame waited %s in its queue, more than %s", lag.Round(time.Millisecond), s.srv.cfg.MaxLag))
					break
				}
				sent++
				if !send(f) {
					for _, q := range batch[sent:] {
						endSpan(q.span, "not written")
					}
					return
				}
			}
			for _, q := range batch[sent:] {
				endSpan(q.span, "dropped")
			}
			s.out.release(batch, at)
		case <-ping.C:
			if pinging.Load() {
				continue // the last ping still waits for its pong
			}
			pinging.Store(true)
			pings.Go(func() {
				defer pinging.Store(false)
				pctx, cancel := context.WithTimeout(ctx, s.srv.cfg.WriteTimeout)
				defer cancel()
				err := s.ws.Ping(pctx)
				switch {
				case err == nil:
				case errors.Is(err, context.DeadlineExceeded):
					// No pong in time: the client does not read (or cannot
					// be reached); to the server both look alike.
					s.slow(fmt.Sprintf("it did not answer a ping within %s", s.srv.cfg.WriteTimeout))
				default:
					s.end(websocket.StatusGoingAway, "", nil, false)
				}
			})
		case <-s.quit:
			s.finish(send)
			return
		}
	}
}

// finish ends a session whose quit has closed: what is queued (only with
// drain), then the error frame saying why, then the close frame and the
// closing handshake — all within the connection's deadline (bound), after
// which the deferred CloseNow cuts it.
func (s *session) finish(send func(queued) bool) {
	if s.status == protocol.CloseSlowConsumer {
		s.log.Warn("slow consumer disconnected", "why", s.why)
	}
	if s.drain {
		for {
			batch, at := s.out.take()
			if len(batch) == 0 {
				break
			}
			for _, f := range batch {
				if !send(f) {
					return
				}
			}
			s.out.release(batch, at)
		}
		s.bound()
	}
	if s.last != nil {
		if err := s.ws.Write(context.Background(), websocket.MessageText, s.last); err != nil {
			return
		}
	}
	_ = s.ws.Close(s.status, s.reason)
}

// read is the session's reader: the handshake, then requests in order.
func (s *session) read(ctx context.Context) {
	if !s.handshake(ctx) {
		return
	}
	for {
		typ, data, err := s.ws.Read(ctx)
		if err != nil {
			switch {
			case websocket.CloseStatus(err) == websocket.StatusMessageTooBig:
				s.srv.metrics.badFrames.Add(1)
				s.end(websocket.StatusMessageTooBig, "frame_too_large", nil, false)
			case protocolViolation(err):
				s.srv.metrics.badFrames.Add(1)
				s.end(websocket.StatusProtocolError, "protocol_error", nil, false)
			default:
				s.end(websocket.StatusNormalClosure, "", nil, false)
			}
			return
		}
		if typ != websocket.MessageText {
			s.srv.metrics.badFrames.Add(1)
			s.reply(0, protocol.Errorf(protocol.CodeUnsupportedFrame, "binary frames are not supported; send JSON text frames"))
			continue
		}
		req, id, perr := protocol.Decode(data)
		if perr != nil {
			s.srv.metrics.badFrames.Add(1)
			s.reply(id, perr)
			continue
		}
		if req.Type == protocol.TypeHello {
			s.reply(req.ID, protocol.Errorf(protocol.CodeBadRequest, "the session is already open; send auth to replace the token"))
			continue
		}
		if !s.limiter.Allow() {
			s.srv.metrics.rateLimited.Add(1)
			s.reply(req.ID, protocol.Errorf(protocol.CodeRateLimited, "more than %d requests per second; slow down", s.srv.cfg.RequestsPerSecond))
			continue
		}
		if req.Type == protocol.TypeAuth {
			if err := s.refreshToken(ctx, req.ID, req.Token); err != nil {
				s.reply(req.ID, s.srv.wireError(ctx, s, err))
			}
			continue
		}
		s.request(ctx, req)
	}
}

// request handles one request, in a span of its own (pings excepted), and
// answers its error.
func (s *session) request(ctx context.Context, req *protocol.Request) {
	if req.Type == protocol.TypePing {
		if err := s.srv.handle(ctx, s, req); err != nil {
			s.reply(req.ID, s.srv.wireError(ctx, s, err))
		}
		return
	}
	ctx, span := s.srv.startRequest(ctx, s, req)
	start := time.Now()
	var perr *protocol.Error
	if err := s.srv.handle(ctx, s, req); err != nil {
		perr = s.srv.wireError(ctx, s, err)
		s.reply(req.ID, perr)
	}
	if s.log.Enabled(ctx, slog.LevelDebug) {
		code := ""
		if perr != nil {
			code = perr.Code
		}
		s.log.DebugContext(ctx, "request", "type", req.Type, "id", req.ID, "collection", req.Collection, "took", time.Since(start), "error", code)
	}
	endRequest(span, perr)
}

// protocolViolation reports whether a read failed because the client sent
// bytes that break RFC 6455 (an unmasked frame, reserved bits or opcodes, a
// bad control frame), rather than because the connection ended or closed.
// coder/websocket answers most violations with close 1002 itself, but not
// all (an unmasked frame); the session closes with 1002 for every one.
func protocolViolation(err error) bool {
	var ne net.Error
	switch {
	case websocket.CloseStatus(err) != -1, errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return false
	}
	return true
}

func (s *session) handshake(ctx context.Context) bool {
	hctx, cancel := context.WithTimeout(ctx, s.srv.cfg.HandshakeTimeout)
	defer cancel()
	// The wait for hello is bounded by a timer that ends the session, not
	// by the read's context: coder/websocket closes the connection when a
	// read's context ends, and the client would get neither the error nor
	// 4002. Ending the session bounds the read (session.bound).
	silent := time.AfterFunc(s.srv.cfg.HandshakeTimeout, func() {
		s.end(protocol.CloseHandshakeFailed, "handshake_failed", protocol.Errorf(protocol.CodeHandshakeRequired, "no hello within %s", s.srv.cfg.HandshakeTimeout), false)
	})
	typ, data, err := s.ws.Read(ctx)
	if !silent.Stop() {
		return false // the timer has ended the session
	}
	if err != nil && protocolViolation(err) {
		s.srv.metrics.badFrames.Add(1)
		s.end(websocket.StatusProtocolError, "protocol_error", nil, false)
		return false
	}
	if err != nil {
		s.end(websocket.StatusNormalClosure, "", nil, false)
		return false
	}
	req, _, perr := protocol.Decode(data)
	switch {
	case typ != websocket.MessageText || perr != nil || req.Type != protocol.TypeHello:
		s.end(protocol.CloseHandshakeFailed, "handshake_failed", protocol.Errorf(protocol.CodeHandshakeRequired, `the first frame must be {"type":"hello","protocol":1}`), false)
		return false
	case req.Protocol != protocol.Version:
		s.end(protocol.CloseHandshakeFailed, "handshake_failed", protocol.Errorf(protocol.CodeUnsupportedProtocol, "this server speaks protocol 1"), false)
		return false
	}
	p, err := s.srv.authenticate(hctx, req.Token, false)
	if err != nil {
		s.srv.metrics.authFailures.Add(1)
		s.end(protocol.CloseHandshakeFailed, "unauthenticated", s.srv.wireError(ctx, s, err), false)
		return false
	}
	s.setPrincipal(p)
	s.setClient(req.Client)
	w := protocol.Welcome{Type: protocol.TypeWelcome, Protocol: protocol.Version, Server: ServerName, Session: s.id, Limits: protocol.Limits{
		MaxFrameBytes: s.srv.cfg.MaxFrameBytes, MaxSubscriptions: s.srv.cfg.MaxSubscriptions, MaxCommitEvents: s.srv.cfg.MaxCommitEvents},
		Subject: p.Subject}
	if !p.Expires.IsZero() {
		t := p.Expires.UTC()
		w.ExpiresAt = &t
	}
	s.enqueue(appendJSON(nil, w))
	if p.Subject != "" {
		s.log = s.log.With("subject", p.Subject)
	}
	if req.Client != "" {
		s.log = s.log.With("client", req.Client)
	}
	return true
}

// reply queues the error that answers a client's frame. Id 0 stands for a
// frame without a valid id (not JSON, binary, an id missing or not an
// integer from 1 to 2^53-1, a hello without one): its answer carries
// "id": null, so that every frame a client sends is answered by exactly one
// frame, and an error without "id" is always about the session itself
// (slow_consumer, token_expired, shutting_down).
func (s *session) reply(id uint64, perr *protocol.Error) {
	f := []byte(`{"type":"error","id":`)
	if id != 0 {
		f = appendUint(f, id)
	} else {
		f = append(f, "null"...)
	}
	f = append(f, `,"error":`...)
	f = appendJSON(f, perr)
	s.enqueue(append(f, '}'))
}

func sortIDs(ids []event.ID) {
	slices.SortFunc(ids, func(a, b event.ID) int { return a.Compare(b) })
}
