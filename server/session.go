package server

import (
	"context"
	"log/slog"
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
	id  string
	log *slog.Logger

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
	drain  bool // write what is queued before closing (graceful shutdown)

	auth    sessionAuth   // who it acts for (authz.go)
	limiter *rate.Limiter // requests per second

	// Guarded by the hub's lock.
	subs   map[string]*subscription
	closed bool
}

// enqueue queues a frame without ever blocking: the hub calls it with its
// lock held. A session whose queue is full is a slow consumer: it is ended,
// told why, and counted.
func (s *session) enqueue(f []byte) { s.enqueueTraced(f, nil) }

// enqueueTraced is enqueue with the span of the frame's write (nil when
// not traced): the writer ends it once the frame is written.
func (s *session) enqueueTraced(f []byte, span trace.Span) {
	if !s.out.pushTraced(f, span) {
		if span != nil {
			span.SetStatus(codes.Error, protocol.CodeSlowConsumer)
			span.End()
		}
		if s.end(protocol.CloseSlowConsumer, protocol.CodeSlowConsumer, protocol.Errorf(protocol.CodeSlowConsumer, "the client did not read its frames fast enough; reconnect and resubscribe with known heads"), false) {
			s.srv.slowConsumer(s, "queue full")
			s.log.Warn("slow consumer disconnected", "queue", s.out.limit)
		}
	}
}

// frameQueue is a session's outgoing queue: at most limit frames, held in a
// slice that grows as frames wait and is given back once they are written,
// so that an idle connection does not carry a buffer for limit frames (a
// channel of that capacity cost 24 kB per connection).
type frameQueue struct {
	limit int
	ready chan struct{} // a token when frames are waiting

	mu      sync.Mutex
	frames  []queued
	pending int      // frames queued or taken and not yet written: at most limit
	spare   []queued // a small written batch's array, reused for the next frames
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

// push queues f, never blocking; it reports false when the queue is full.
func (q *frameQueue) push(f []byte) bool { return q.pushTraced(f, nil) }

func (q *frameQueue) pushTraced(f []byte, span trace.Span) bool {
	q.mu.Lock()
	if q.pending >= q.limit {
		q.mu.Unlock()
		return false
	}
	q.frames = append(q.frames, queued{f, span})
	q.pending++
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// take returns every queued frame, in order, and empties the queue; the
// writer hands the batch back with release once it is written.
func (q *frameQueue) take() []queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	batch := q.frames
	q.frames, q.spare = q.spare, nil
	return batch
}

// release returns a written batch: its frames are let go at once, and a
// small array is kept for the next frames (a burst's goes back to the heap).
func (q *frameQueue) release(batch []queued) {
	n := len(batch)
	clear(batch)
	q.mu.Lock()
	q.pending -= n
	if q.spare == nil && cap(batch) <= 64 {
		q.spare = batch[:0]
	}
	q.mu.Unlock()
}

// end ends the session with a close status and reason and, when perr is
// not nil, an error frame saying why first. With drain, what is queued is
// written before. It reports whether this call ended the session.
func (s *session) end(status websocket.StatusCode, reason string, perr *protocol.Error, drain bool) bool {
	ended := false
	s.once.Do(func() {
		s.status, s.reason, s.drain = status, reason, drain
		if perr != nil {
			s.last = appendJSON([]byte(`{"type":"error","error":`), perr)
			s.last = append(s.last, '}')
		}
		close(s.quit)
		ended = true
	})
	return ended
}

// write is the session's only writer.
//
// A frame's write may take WriteTimeout. The deadline is one timer per
// session, armed around each write, that closes the connection when it
// fires (which is what the library does when a write's context ends):
// a context with a timeout per frame cost as much CPU as the write's
// system call.
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
	var timedOut atomic.Bool
	deadline := time.AfterFunc(time.Hour, func() {
		timedOut.Store(true)
		// Say why before cutting: once the connection is cut, the reader
		// fails too and would end the session first, as a plain close.
		if s.end(protocol.CloseSlowConsumer, protocol.CodeSlowConsumer, protocol.Errorf(protocol.CodeSlowConsumer, "writing to the client timed out"), false) {
			s.srv.slowConsumer(s, "write timed out")
		}
		s.ws.CloseNow()
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
		if err != nil || timedOut.Load() { // a timer that fired has ended the session and cut the connection
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
			batch := s.out.take()
			for _, f := range batch {
				if !send(f) {
					return
				}
			}
			s.out.release(batch)
		case <-ping.C:
			if pinging.Load() {
				continue // the last ping still waits for its pong
			}
			pinging.Store(true)
			pings.Go(func() {
				defer pinging.Store(false)
				pctx, cancel := context.WithTimeout(ctx, s.srv.cfg.WriteTimeout)
				defer cancel()
				if err := s.ws.Ping(pctx); err != nil {
					s.end(websocket.StatusGoingAway, "", nil, false)
				}
			})
		case <-s.quit:
			if s.drain {
				for _, f := range s.out.take() {
					if !send(f) {
						return
					}
				}
			}
			if s.last != nil {
				wctx, cancel := context.WithTimeout(ctx, time.Second)
				_ = s.ws.Write(wctx, websocket.MessageText, s.last) // best effort: the client may not be reading
				cancel()
			}
			_ = s.ws.Close(s.status, s.reason)
			return
		}
	}
}

// read is the session's reader: the handshake, then requests in order.
func (s *session) read(ctx context.Context) {
	if !s.handshake(ctx) {
		return
	}
	for {
		typ, data, err := s.ws.Read(ctx)
		if err != nil {
			switch websocket.CloseStatus(err) {
			case websocket.StatusMessageTooBig:
				s.srv.metrics.badFrames.Add(1)
				s.end(websocket.StatusMessageTooBig, "frame_too_large", nil, false)
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

func (s *session) handshake(ctx context.Context) bool {
	hctx, cancel := context.WithTimeout(ctx, s.srv.cfg.HandshakeTimeout)
	defer cancel()
	typ, data, err := s.ws.Read(hctx)
	if err != nil {
		s.end(protocol.CloseHandshakeFailed, "handshake_failed", protocol.Errorf(protocol.CodeHandshakeRequired, "no hello within the handshake timeout"), false)
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

// reply queues an error answer (id 0: a connection-level error).
func (s *session) reply(id uint64, perr *protocol.Error) {
	f := []byte(`{"type":"error"`)
	if id != 0 {
		f = append(f, `,"id":`...)
		f = appendUint(f, id)
	}
	f = append(f, `,"error":`...)
	f = appendJSON(f, perr)
	s.enqueue(append(f, '}'))
}

func sortIDs(ids []event.ID) {
	slices.SortFunc(ids, func(a, b event.ID) int { return a.Compare(b) })
}
