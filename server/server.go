package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/inspect"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/server/auth"
)

// ServerName is what the server calls itself in welcome.
const ServerName = "ankurah-go/0.1"

// Server serves one Backend over WebSocket.
type Server struct {
	cfg     Config
	backend Backend
	hub     *hub
	metrics *metrics
	log     *slog.Logger
	tracer  trace.Tracer
	ids     *event.Generator

	policies auth.Source // the policy in force (auth.AllowAll without one)
	started  time.Time
	insp     *inspect.Inspector // nil when Config.NoInspector
	slow     slowConsumers

	mu       sync.Mutex
	sessions map[*session]struct{}
	closing  bool
	wg       sync.WaitGroup
}

// New returns a server for backend. It serves nothing until Run runs (the
// change stream) and Handler is mounted (or ListenAndServe is called).
func New(cfg Config, backend Backend) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("server config: %w", err)
	}
	s := &Server{cfg: cfg, backend: backend, log: cfg.Logger, ids: event.NewGenerator(), sessions: map[*session]struct{}{}, policies: cfg.Policy, started: time.Now()}
	if s.policies == nil {
		s.policies = auth.Static(auth.AllowAll())
	}
	s.metrics = newMetrics()
	s.tracer = newTracer(cfg.TracerProvider)
	s.hub = newHub(backend, s.metrics)
	s.hub.tracer = s.tracer
	s.hub.sessions = s.liveSessions
	if !cfg.NoInspector {
		s.insp = s.newInspector()
	}
	return s, nil
}

// liveSessions returns every session (for frames that go to all of them).
// The hub calls it with its lock held: the hub's lock comes before s.mu.
func (s *Server) liveSessions() []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		out = append(out, sess)
	}
	return out
}

// Run streams the backend's committed transactions into the live queries
// until ctx ends or the stream fails for good. It also runs the workers
// that refill LIMIT windows and the inspector's sampler, and returns once
// they and the stream have ended.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	refills, policy, sampler := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() { s.hub.runRefills(ctx); close(refills) }()
	go func() { s.watchPolicy(ctx); close(policy) }()
	go func() {
		if s.insp != nil {
			s.insp.Run(ctx)
		}
		close(sampler)
	}()
	err := s.backend.Run(ctx, s.hub.publish)
	cancel()
	<-refills
	<-policy
	<-sampler
	return err
}

// Handler returns the HTTP routes: /ws, /healthz, /readyz, /metrics, and
// the inspector at /inspect/ (unless Config.NoInspector).
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Get("/ws", s.serveWS)
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	r.Get("/readyz", s.serveReady)
	r.Get("/metrics", s.serveMetrics)
	if s.insp != nil {
		r.Get("/inspect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/inspect/", http.StatusFound) })
		r.Handle("/inspect/*", http.StripPrefix("/inspect", s.insp.Handler()))
	}
	return r
}

// ListenAndServe listens on cfg.Listen, runs the change stream and serves
// until ctx ends; then it shuts down gracefully, giving sessions up to
// drainTimeout to receive what is queued for them.
func (s *Server) ListenAndServe(ctx context.Context, drainTimeout time.Duration) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln, drainTimeout)
}

// Serve is ListenAndServe on a listener. It owns the goroutines it starts
// and returns only after both have finished: the HTTP server's, and the
// change stream's (Run) — so when Serve returns, the replication consumer
// has sent its final acknowledgement and released its slot.
func (s *Server) Serve(ctx context.Context, ln net.Listener, drainTimeout time.Duration) error {
	if err := s.cfg.checkExposure(ln.Addr().String()); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	runDone := make(chan error, 1)
	httpDone := make(chan error, 1)
	go func() { runDone <- s.Run(ctx) }()
	go func() { httpDone <- hs.Serve(ln) }()
	if s.insp != nil {
		s.log.Info("ankurah serving", "ws", "ws://"+ln.Addr().String()+"/ws", "inspect", "http://"+ln.Addr().String()+"/inspect/")
	} else {
		s.log.Info("ankurah serving", "ws", "ws://"+ln.Addr().String()+"/ws")
	}
	var runErr, httpErr error
	ran, served := false, false
	select {
	case <-ctx.Done():
	case runErr = <-runDone:
		ran = true
	case httpErr = <-httpDone:
		served = true
	}
	sctx, scancel := context.WithTimeout(context.Background(), drainTimeout)
	defer scancel()
	_ = hs.Shutdown(sctx)
	s.Shutdown(sctx)
	cancel()
	if !served {
		httpErr = <-httpDone
	}
	if !ran {
		runErr = <-runDone
	}
	if errors.Is(httpErr, http.ErrServerClosed) {
		httpErr = nil
	}
	if runErr != nil {
		return runErr
	}
	return httpErr
}

// Shutdown ends every session gracefully — each receives what is already
// queued for it, then a close with status 1001 — and waits for them until
// ctx ends, after which the rest are cut.
func (s *Server) Shutdown(ctx context.Context) {
	s.mu.Lock()
	s.closing = true
	for sess := range s.sessions {
		sess.end(websocket.StatusGoingAway, "shutdown", protocol.Errorf(protocol.CodeShuttingDown, "the server is stopping; reconnect and resubscribe with known heads"), true)
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		for sess := range s.sessions {
			sess.ws.CloseNow()
		}
		s.mu.Unlock()
		<-done
	}
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	opts := &websocket.AcceptOptions{OriginPatterns: s.cfg.OriginPatterns, InsecureSkipVerify: len(s.cfg.OriginPatterns) == 0}
	hj := &keepConn{ResponseWriter: w}
	ws, err := websocket.Accept(hj, r, opts)
	if err != nil {
		return // Accept has answered the request
	}
	ws.SetReadLimit(int64(s.cfg.MaxFrameBytes))
	sess := &session{srv: s, ws: ws, conn: hj.conn, id: s.ids.New().String(), out: newFrameQueue(s.cfg.QueueFrames),
		quit: make(chan struct{}), subs: map[string]*subscription{},
		limiter: rate.NewLimiter(rate.Limit(s.cfg.RequestsPerSecond), s.cfg.RequestBurst)}
	sess.log = s.log.With("session", sess.id, "remote", r.RemoteAddr)
	sess.remote, sess.connected = r.RemoteAddr, time.Now()

	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ws.Close(websocket.StatusGoingAway, "shutdown")
		return
	}
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	s.metrics.connections.Add(1)
	defer func() {
		sess.stopAuth()
		s.hub.closeSession(sess)
		s.mu.Lock()
		delete(s.sessions, sess)
		s.mu.Unlock()
		s.metrics.connections.Add(-1)
		s.wg.Done()
	}()

	// The request's context ends when the handler returns; the session
	// lives on its own context, cancelled when either side ends it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	writerDone := make(chan struct{})
	go func() { sess.write(ctx); close(writerDone) }()
	readerDone := make(chan struct{})
	go func() { sess.read(ctx); close(readerDone) }()
	select {
	case <-sess.quit:
	case <-readerDone:
	}
	sess.end(websocket.StatusNormalClosure, "", nil, false)
	<-writerDone
	cancel()
	<-readerDone
}

// keepConn keeps the connection websocket.Accept hijacks, so that the
// session can set its deadline (session.bound).
type keepConn struct {
	http.ResponseWriter
	conn net.Conn
}

func (k *keepConn) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(k.ResponseWriter).Hijack()
	k.conn = c
	return c, rw, err
}

func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.backend.CaughtUp(ctx); err != nil {
		http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// wireError turns a handler's error into a coded wire error; faults that
// are not the client's are logged and reported without their Go text.
func (s *Server) wireError(ctx context.Context, sess *session, err error) *protocol.Error {
	if errors.Is(err, context.Canceled) {
		return protocol.Errorf(protocol.CodeShuttingDown, "the session is closing")
	}
	perr := protocol.ErrorFrom(err)
	if perr.Code == protocol.CodePermissionDenied {
		s.metrics.denied.Add(1)
	}
	if perr.Code == protocol.CodeInternal {
		sess.log.ErrorContext(ctx, "request failed", "err", err)
		return protocol.Errorf(protocol.CodeInternal, "internal server error (session %s); the server log has the details", sess.id)
	}
	return perr
}

func appendJSON(b []byte, v any) []byte {
	enc, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own wire types are encoded here
	}
	return append(b, enc...)
}

func appendUint(b []byte, n uint64) []byte { return strconv.AppendUint(b, n, 10) }

func appendResultHead(b []byte, id uint64) []byte {
	b = append(b, `{"type":"result","id":`...)
	b = appendUint(b, id)
	return append(b, `,"result":`...)
}
