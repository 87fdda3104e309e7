package server

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/server/auth"
	"github.com/ankurah/ankurah-go/value"
)

// Authorisation in the server.
//
// A session acts for one principal (its token's, or the anonymous one) and
// asks the policy in force for a grant per collection: package auth binds
// the principal's roles' rules to its claims. The server never looks at a
// rule itself; it narrows every query it runs for the session with the
// grant (Grant.Narrow: the client's query AND the read rule, in memory and
// in SQL alike, so snapshots, live changes, LIMIT refills and fetches all
// obey it), filters what it reads by id (Grant.Readable), strips hidden
// fields from everything it sends, and hands the store a write check that
// runs inside the commit on every event (storage.WriteCheck).
//
// Grants are cached per session and computed again when the policy changes
// (a reload of its file) or the session's token is replaced. Then every
// live query of the session is narrowed again; one whose effective query
// changed is frozen and read again by a refill worker, exactly as a LIMIT
// window is (refill.go), and its client receives the difference — removes
// of what it may no longer read, adds of what it now may — in one frame.
// A live query the principal may no longer read at all is ended with
// permission_denied.

// sessionAuth is who a session acts for, and the grants it was given.
type sessionAuth struct {
	mu        sync.Mutex
	principal *auth.Principal
	client    string // what hello's client said (for the inspector)
	version   uint64 // the policy version the grants come from
	grants    map[string]*auth.Grant
	timers    []*time.Timer // token_expiring and the expiry itself
}

// policy returns the policy in force and its version.
func (s *Server) policy() (*auth.Policy, uint64) {
	return s.policies.Policy(), s.policies.Version()
}

// authenticate turns hello's (or auth's) token into a principal. Without a
// verifier the token is not looked at: the connection is anonymous.
func (s *Server) authenticate(ctx context.Context, token string, refresh bool) (*auth.Principal, error) {
	if s.cfg.Tokens == nil {
		if refresh {
			return nil, protocol.Errorf(protocol.CodeBadRequest, "this server does not check tokens; there is nothing to refresh")
		}
		return &auth.Principal{}, nil
	}
	if token == "" {
		if p, _ := s.policy(); p.AllowsAnonymous() || p.IsAllowAll() {
			return &auth.Principal{}, nil
		}
		return nil, protocol.Errorf(protocol.CodeUnauthenticated, "this server needs a token: send one in hello")
	}
	return s.cfg.Tokens.Verify(ctx, token)
}

// principal returns who the session acts for.
func (s *session) principal() *auth.Principal {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	return s.auth.principal
}

// grant returns the session's grant for a collection under the policy in
// force.
func (s *session) grant(collection string) (*auth.Grant, error) {
	p, version := s.srv.policy()
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	if s.auth.version != version || s.auth.grants == nil {
		s.auth.grants = map[string]*auth.Grant{}
		s.auth.version = version
	}
	if g := s.auth.grants[collection]; g != nil {
		return g, nil
	}
	g, err := p.Grant(s.auth.principal, collection)
	if err != nil {
		// A rule that cannot be bound to this principal's claims (say an
		// array where a rule compares one value) denies; the operator
		// learns why from the log.
		s.log.Warn("auth: a rule cannot be bound to this principal; access denied", "collection", collection, "err", err)
		return nil, protocol.Errorf(protocol.CodePermissionDenied, "your token's claims do not fit the policy's rules for collection %q", collection)
	}
	s.auth.grants[collection] = g
	return g, nil
}

// authorizeQuery narrows a client's query for a collection: the query the
// server runs, and the fields the client may not see.
func (s *session) authorizeQuery(collection string, q *query.Query) (*query.Query, []string, error) {
	g, err := s.grant(collection)
	if err != nil {
		return nil, nil, err
	}
	eff, err := g.Narrow(q)
	if err != nil {
		return nil, nil, err
	}
	return eff, g.HiddenFields(), nil
}

// setPrincipal makes the session act for p from now on: its grants are
// computed again, and its token's expiry is watched (token_expiring, then
// the end of the session with token_expired).
func (s *session) setPrincipal(p *auth.Principal) {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	s.auth.principal = p
	s.auth.grants = nil
	for _, t := range s.auth.timers {
		t.Stop()
	}
	s.auth.timers = nil
	if p.Expires.IsZero() {
		return
	}
	life := time.Until(p.Expires)
	lead := min(s.srv.cfg.TokenRefreshLead, life/5)
	s.auth.timers = append(s.auth.timers,
		time.AfterFunc(life-lead, func() {
			s.enqueue(appendJSON(nil, protocol.TokenExpiring{Type: protocol.TypeTokenExpiring, ExpiresAt: p.Expires.UTC()}))
		}),
		time.AfterFunc(life, func() {
			s.end(protocol.CloseTokenExpired, protocol.CodeTokenExpired,
				protocol.Errorf(protocol.CodeTokenExpired, "the connection's token expired without a refresh; reconnect with a fresh token"), false)
		}))
}

// stopAuth stops the expiry timers of a session that has ended.
func (s *session) stopAuth() {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	for _, t := range s.auth.timers {
		t.Stop()
	}
	s.auth.timers = nil
}

// refreshToken replaces the session's token. It must be for the same
// subject: a connection acts for one user; changing user is a new
// connection.
func (s *session) refreshToken(ctx context.Context, reqID uint64, token string) error {
	p, err := s.srv.authenticate(ctx, token, true)
	if err != nil {
		return err
	}
	if old := s.principal(); p.Subject != old.Subject {
		return protocol.Errorf(protocol.CodeUnauthenticated, "a refreshed token must be for the same subject (%q); reconnect to act for another", old.Subject)
	}
	s.setPrincipal(p)
	res := protocol.AuthResult{Subject: p.Subject}
	if !p.Expires.IsZero() {
		t := p.Expires.UTC()
		res.ExpiresAt = &t
	}
	f := appendResultHead(nil, reqID)
	f = appendJSON(f, res)
	s.srv.hub.reauthorize(s, append(f, '}'))
	return nil
}

// watchPolicy narrows every session's live queries again whenever the
// policy changes, until ctx ends.
func (s *Server) watchPolicy(ctx context.Context) {
	if w, ok := s.policies.(interface{ Watch(context.Context) }); ok {
		done := make(chan struct{})
		go func() { w.Watch(ctx); close(done) }()
		defer func() { <-done }()
	}
	for {
		changed := s.policies.Changed()
		if changed == nil {
			<-ctx.Done()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		s.mu.Lock()
		sessions := make([]*session, 0, len(s.sessions))
		for sess := range s.sessions {
			sessions = append(sessions, sess)
		}
		s.mu.Unlock()
		for _, sess := range sessions {
			s.hub.reauthorize(sess, nil)
		}
		s.log.Info("auth: the new policy applies to every connection", "connections", len(sessions))
	}
}

// reauthorize narrows a session's live queries again with its current
// grants, and queues first (before any change the new grants cause) the
// frame answer, when not nil. A live query whose effective query or hidden
// fields changed is read again (see the package comment above); one the
// principal may no longer read ends.
func (h *hub) reauthorize(sess *session, answer []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if answer != nil {
		sess.enqueue(answer)
	}
	for _, sub := range sess.subs {
		eff, hidden, err := sess.authorizeQuery(sub.rs.Collection(), sub.query)
		if err != nil {
			h.endLocked(sub, err)
			continue
		}
		cur := sub.rs.Query()
		if sub.next != nil {
			cur = sub.next
		}
		if eff.String() == cur.String() && slices.Equal(hidden, sub.hidden) {
			continue
		}
		sub.next, sub.nextHidden = eff, hidden
		h.freezeLocked(sub.rs, h.seq+1)
	}
}

// views strips hidden fields from what a session is sent. A key names a
// set of hidden fields, so that encodings can be shared by the sessions
// that see the same fields.
func viewKey(hidden []string) string { return strings.Join(hidden, "\x00") }

// view returns st without the hidden fields (st itself when it has none).
func view(st *entity.State, hidden []string) *entity.State {
	if len(hidden) == 0 || st == nil {
		return st
	}
	has := false
	for _, f := range hidden {
		_, inValues := st.Values[f]
		_, inDocs := st.Docs[f]
		if inValues || inDocs {
			has = true
			break
		}
	}
	if !has {
		return st
	}
	c := st.Clone()
	for _, f := range hidden {
		delete(c.Values, f)
		delete(c.Versions, f)
		delete(c.Docs, f) // a hidden ytext field's document holds its text
	}
	return c
}

// viewEvent returns e without operations on hidden fields.
func viewEvent(e *event.Event, hidden []string) *event.Event {
	if len(hidden) == 0 {
		return e
	}
	c := *e
	c.Ops = make(map[string]value.Value, len(e.Ops))
	for k, v := range e.Ops {
		if !slices.Contains(hidden, k) {
			c.Ops[k] = v
		}
	}
	return &c
}

// writeCheck is the commit's check of every event against the session's
// write grants (run by the store inside the commit: storage.WriteCheck).
func (s *session) writeCheck(e *event.Event, before, after *entity.State) error {
	g, err := s.grant(e.Collection)
	if err != nil {
		return err
	}
	fields := make([]string, 0, len(e.Ops))
	for f := range e.Ops {
		fields = append(fields, f)
	}
	var b, a query.Record
	if before != nil {
		b = before
	}
	if after != nil {
		a = after
	}
	return g.CheckWrite(b, a, fields)
}
