package server

import (
	"context"
	"maps"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/ankurah/ankurah-go/internal/inspect"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/postgres"
)

// The inspector (/inspect, docs/inspector.md) is package internal/inspect;
// this file hands it the server's state. Its snapshots take the hub's
// lock once per request (the connections) or per sample (the counters:
// metrics.mu only), and read each session's queue and auth under it — the
// lock order of doc.go.

// slowConsumers keeps the last connections disconnected as slow
// consumers, for the inspector. mu is a leaf: it is taken under hub.mu
// (enqueue) and under nothing else.
type slowConsumers struct {
	mu   sync.Mutex
	last []inspect.SlowConsumer // newest first
}

const keepSlowConsumers = 20

// slowConsumer counts a session disconnected for falling behind, and
// remembers it.
func (s *Server) slowConsumer(sess *session, reason string) {
	s.metrics.slowConsumers.Add(1)
	subject, client := sess.who()
	sc := inspect.SlowConsumer{Session: sess.id, Client: client, Subject: subject, Remote: sess.remote, At: time.Now().UTC(), Reason: reason}
	s.slow.mu.Lock()
	s.slow.last = append([]inspect.SlowConsumer{sc}, s.slow.last[:min(len(s.slow.last), keepSlowConsumers-1)]...)
	s.slow.mu.Unlock()
}

func (s *Server) lastSlowConsumers() []inspect.SlowConsumer {
	s.slow.mu.Lock()
	defer s.slow.mu.Unlock()
	return append([]inspect.SlowConsumer(nil), s.slow.last...)
}

// who returns the session's subject and the client name it gave in hello.
func (sess *session) who() (subject, client string) {
	sess.auth.mu.Lock()
	defer sess.auth.mu.Unlock()
	if sess.auth.principal != nil {
		subject = sess.auth.principal.Subject
	}
	return subject, sess.auth.client
}

func (sess *session) setClient(name string) {
	sess.auth.mu.Lock()
	sess.auth.client = name
	sess.auth.mu.Unlock()
}

// depth is how many frames wait to be written.
func (q *frameQueue) depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending
}

// newInspector builds the inspector over the server's state.
func (s *Server) newInspector() *inspect.Inspector {
	var store storage.Store
	if s.backend != nil { // nil in tests of New alone
		store = s.backend.Store()
	}
	pg, _ := store.(*postgres.Store)
	access := inspect.AccessLoopback
	if s.cfg.Policy != nil {
		access = inspect.AccessAdmin
	}
	return inspect.New(inspect.Options{
		Store:         store,
		Postgres:      pg,
		Backend:       backendName(s.backend),
		Server:        ServerName,
		Started:       s.started,
		Connections:   s.inspectConnections,
		SlowConsumers: s.lastSlowConsumers,
		Counters:      s.inspectCounters,
		Access:        s.inspectAccess,
		Auth:          access,
		Logger:        s.log,
	})
}

// backendName names the store for people.
func backendName(b Backend) string {
	var st storage.Store
	switch x := b.(type) {
	case nil:
		return "none"
	case *PostgresBackend:
		return "postgres"
	case *LocalBackend:
		st = x.store
	default:
		st = b.Store()
	}
	if _, ok := st.(*postgres.Store); ok {
		return "postgres"
	}
	t := reflect.TypeOf(st)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "unknown"
	}
	switch path := t.PkgPath(); {
	case strings.HasSuffix(path, "/storage/sqlite"):
		return "embedded"
	case strings.HasSuffix(path, "/storage/memory"):
		return "memory"
	}
	return t.String()
}

// inspectConnections is every session and its live queries, now.
func (s *Server) inspectConnections() []inspect.Connection {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	sessions := s.liveSessions()
	out := make([]inspect.Connection, 0, len(sessions))
	for _, sess := range sessions {
		if sess.closed {
			continue
		}
		subject, client := sess.who()
		c := inspect.Connection{Session: sess.id, Client: client, Subject: subject, Remote: sess.remote, ConnectedAt: sess.connected,
			Queue: sess.out.depth(), QueueLimit: sess.out.limit, FramesSent: sess.framesSent.Load(), BytesSent: sess.bytesSent.Load(),
			Subscriptions: make([]inspect.Subscription, 0, len(sess.subs))}
		for name, sub := range sess.subs {
			is := inspect.Subscription{Name: name, Collection: sub.rs.Collection(), Members: h.reactor.Count(sub.rs),
				Frames: sub.frames, Items: sub.items, Bytes: sub.bytes}
			if sub.query != nil {
				is.Query = sub.query.String()
			}
			if eff := sub.rs.Query().String(); eff != is.Query {
				is.Effective = eff
			}
			_, is.Stale = h.stale[sub.rs]
			c.Subscriptions = append(c.Subscriptions, is)
		}
		out = append(out, c)
	}
	return out
}

// inspectCounters are the stream's counters for the inspector's sampler
// (which alone calls it: it takes the fan-out maximum).
func (s *Server) inspectCounters(ctx context.Context) inspect.Counters {
	m := s.metrics
	c := inspect.Counters{Transactions: m.batches.Load(), Changes: m.changes.Load(), SlowConsumers: m.slowConsumers.Load()}
	m.mu.Lock()
	c.ByCollection = maps.Clone(m.byCollection)
	c.FanoutSeconds, c.FanoutCount, c.FanoutMax = m.fanout.sum, m.fanout.n, m.fanoutMax
	m.fanoutMax = 0
	c.LagSeconds, c.LagCount = m.e2e.sum, m.e2e.n
	m.mu.Unlock()
	if lr, ok := s.backend.(lagReporter); ok {
		lctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if lag, _, err := lr.Lag(lctx); err == nil {
			c.LagBytes = &lag
		}
	}
	return c
}

// inspectAccess is the inspector's access rule: with a policy, an
// administrator's token (a role marked admin); without one, loopback only.
func (s *Server) inspectAccess(r *http.Request) error {
	if s.cfg.Policy == nil {
		local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		if loopbackAddr(r.RemoteAddr) && (local == nil || loopbackAddr(local.String())) {
			return nil
		}
		return &inspect.AccessError{Status: http.StatusForbidden, Message: "this server has no policy, so its inspector is served on loopback only (docs/inspector.md)"}
	}
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p, err := s.authenticate(r.Context(), strings.TrimSpace(token), false)
	if err != nil {
		return &inspect.AccessError{Status: http.StatusUnauthorized, Message: "the inspector needs an administrator's token (Authorization: Bearer …): " + protocol.ErrorFrom(err).Message}
	}
	if pol, _ := s.policy(); !pol.IsAdmin(p) {
		who := "an anonymous connection"
		if p.Subject != "" {
			who = "subject " + p.Subject
		}
		return &inspect.AccessError{Status: http.StatusForbidden, Message: "the inspector needs a role marked \"admin\": true in the policy; " + who + " has none (docs/inspector.md)"}
	}
	return nil
}

// AdminOnly wraps h (the pprof handlers, say) in the inspector's access
// rule: with a policy, only a request with an administrator's token
// (Authorization: Bearer, a role marked admin) passes; without one, only
// a request over loopback.
func (s *Server) AdminOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.inspectAccess(r); err != nil {
			ae := err.(*inspect.AccessError)
			if ae.Status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="ankurah"`)
			}
			http.Error(w, ae.Message, ae.Status)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func loopbackAddr(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
