package client

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// store is the storage.Store under the client's node: reads come from the
// cache (or the server, for entities no live query keeps fresh), commits go
// to the optimistic layer and the outbox.
type store struct{ c *Client }

var (
	_ storage.Store   = (*store)(nil)
	_ storage.Fetcher = (*store)(nil)
)

// EnsureCollection registers a schema locally at once and with the server
// through the outbox (in order with queued commits). While connected it
// waits for the server's answer; offline it returns after queuing.
func (s *store) EnsureCollection(ctx context.Context, sc schema.Collection) (schema.Collection, error) {
	if err := sc.Validate(); err != nil {
		return schema.Collection{}, storage.Errorf(storage.CodeBadName, "%v", err)
	}
	c := s.c
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return schema.Collection{}, ErrClosed
	}
	full, seq, err := c.core.registerSchema(sc)
	if err != nil {
		c.mu.Unlock()
		return schema.Collection{}, err
	}
	if c.local() {
		c.core.pop(seq)
	}
	var w chan error
	if !c.local() && (c.conn != nil || wantsConfirmation(ctx)) {
		w = make(chan error, 1)
		c.waiters[seq] = w
	}
	c.settle(true)
	c.broadcast()
	c.mu.Unlock()
	if w != nil {
		if err := c.waitAnswer(ctx, seq, w); err != nil {
			return schema.Collection{}, err
		}
		c.mu.Lock()
		full = c.core.schemas[sc.Name]
		c.mu.Unlock()
	}
	return full, nil
}

// Collection implements storage.Store from the local schemas (fetched from
// the server on every connection).
func (s *store) Collection(_ context.Context, name string) (schema.Collection, error) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	sc, ok := s.c.core.schemas[name]
	if !ok {
		return schema.Collection{}, storage.Errorf(storage.CodeNoCollection, "no collection %q", name)
	}
	return sc, nil
}

// Collections implements storage.Store.
func (s *store) Collections(_ context.Context) ([]schema.Collection, error) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	out := make([]schema.Collection, 0, len(s.c.core.schemas))
	for _, name := range slices.Sorted(maps.Keys(s.c.core.schemas)) {
		out = append(out, s.c.core.schemas[name])
	}
	return out, nil
}

type stateKey struct{}

// Get implements storage.Store: entities a live query keeps up to date come
// from the cache; others are read from the server when connected (and
// cached), from the cache when not. Local unconfirmed changes are applied.
func (s *store) Get(ctx context.Context, collection string, ids []event.ID) ([]*entity.State, error) {
	if st, ok := ctx.Value(stateKey{}).(*entity.State); ok && len(ids) == 1 && st.ID == ids[0] {
		return []*entity.State{st}, nil // viewOf: a view of a state the client already has
	}
	c := s.c
	c.mu.Lock()
	if _, ok := c.core.schemas[collection]; !ok {
		c.mu.Unlock()
		return nil, storage.Errorf(storage.CodeNoCollection, "no collection %q", collection)
	}
	var need []event.ID
	for _, id := range ids {
		// An entity held with a ytext text but not its document is read
		// from the server too: an edit needs the document.
		if !c.core.watched(id) || c.core.lacksDocs(id) {
			need = append(need, id)
		}
	}
	t := c.conn
	c.mu.Unlock()
	if len(need) > 0 && t != nil && c.schemaSent(ctx, t, collection) != nil {
		t = nil
	}
	for len(need) > 0 && t != nil {
		chunk := need[:min(len(need), protocol.MaxIDs)]
		need = need[len(chunk):]
		strs := make([]string, len(chunk))
		for i, id := range chunk {
			strs[i] = id.String()
		}
		err := call(ctx, t, &protocol.Request{Type: protocol.TypeGet, Collection: collection, IDs: strs}, func(raw json.RawMessage) error {
			var res protocol.EntitiesResult
			if err := json.Unmarshal(raw, &res); err != nil {
				return err
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			err := c.core.replies(res.Entities, chunk)
			c.settle(false)
			return err
		})
		if err != nil && !IsDisconnected(err) {
			return nil, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.core.get(collection, ids), nil
}

// Fetch implements storage.Fetcher: connected, the server runs the query
// (asked for as many more rows as there are entities with local changes,
// so that applying them locally still fills the LIMIT); offline, the cache
// answers.
func (s *store) Fetch(ctx context.Context, collection string, q *query.Query) ([]*entity.State, error) {
	m, err := q.Compile()
	if err != nil {
		return nil, err
	}
	c := s.c
	c.mu.Lock()
	if _, ok := c.core.schemas[collection]; !ok {
		c.mu.Unlock()
		return nil, storage.Errorf(storage.CodeNoCollection, "no collection %q", collection)
	}
	t, extra := c.conn, len(c.core.local[collection])
	c.mu.Unlock()
	if t != nil && c.schemaSent(ctx, t, collection) != nil {
		t = nil
	}
	if t != nil {
		text, err := wireQuery(q, extra)
		if err != nil {
			return nil, err
		}
		var out []*entity.State
		err = call(ctx, t, &protocol.Request{Type: protocol.TypeFetch, Collection: collection, Query: text}, func(raw json.RawMessage) error {
			var res protocol.EntitiesResult
			if err := json.Unmarshal(raw, &res); err != nil {
				return err
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			var err error
			out, err = c.core.fetch(collection, m, res.Entities, true)
			c.settle(false)
			return err
		})
		if err == nil || !IsDisconnected(err) {
			return out, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.core.fetch(collection, m, nil, false)
}

// wireQuery prints a bound query for the server, its LIMIT raised by extra.
func wireQuery(q *query.Query, extra int) (string, error) {
	cp := *q
	if cp.Limit != nil && extra > 0 {
		l := *cp.Limit
		l.Value = value.IntOf(l.Value.Int() + int64(extra))
		cp.Limit = &l
	}
	text := cp.String()
	if _, err := query.Parse(text); err != nil {
		return "", fmt.Errorf("ankurah client: this query cannot be sent to the server as text (%v); NaN, infinite and bytea values cannot be compared in a fetch — use a live query or Get", err)
	}
	return text, nil
}

// Events implements storage.Store: the events this client knows, then the
// server's.
func (s *store) Events(ctx context.Context, ids []event.ID) ([]event.Event, error) {
	c := s.c
	c.mu.Lock()
	have := c.core.events(ids)
	t := c.conn
	c.mu.Unlock()
	if len(have) == len(ids) || t == nil {
		return have, nil
	}
	got := map[event.ID]bool{}
	for _, e := range have {
		got[e.ID] = true
	}
	var need []string
	for _, id := range ids {
		if !got[id] {
			need = append(need, id.String())
		}
	}
	for len(need) > 0 {
		chunk := need[:min(len(need), protocol.MaxIDs)]
		need = need[len(chunk):]
		evs, err := c.getEvents(ctx, t, &protocol.Request{Type: protocol.TypeGetEvents, IDs: chunk})
		if err != nil {
			if IsDisconnected(err) {
				break
			}
			return nil, err
		}
		have = append(have, evs...)
	}
	byID := map[event.ID]event.Event{}
	for _, e := range have {
		byID[e.ID] = e
	}
	out := make([]event.Event, 0, len(byID))
	for _, id := range ids {
		if e, ok := byID[id]; ok {
			out = append(out, e)
		}
	}
	return out, nil
}

func (c *Client) getEvents(ctx context.Context, t transport, req *protocol.Request) ([]event.Event, error) {
	var out []event.Event
	err := call(ctx, t, req, func(raw json.RawMessage) error {
		var res protocol.EventsResult
		if err := json.Unmarshal(raw, &res); err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, w := range res.Events {
			e, err := c.core.eventFromWire(w)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// History implements storage.Store: the server's history of the entity
// with this client's unconfirmed events (connected), or the events this
// client knows (offline).
func (s *store) History(ctx context.Context, collection string, id event.ID) ([]event.Event, error) {
	c := s.c
	t, _ := c.current()
	if t != nil {
		evs, err := c.getEvents(ctx, t, &protocol.Request{Type: protocol.TypeGetEvents, Collection: collection, EntityID: id.String()})
		if err == nil {
			c.mu.Lock()
			if e := c.core.entries[id]; e != nil {
				for _, p := range e.pending {
					if !slices.ContainsFunc(evs, func(x event.Event) bool { return x.ID == p.ID }) {
						evs = append(evs, *p)
					}
				}
			}
			c.mu.Unlock()
			entity.SortForApply(evs)
			return evs, nil
		}
		if !IsDisconnected(err) {
			return nil, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.core.history(collection, id), nil
}

// Scan implements storage.Store over the cache.
func (s *store) Scan(_ context.Context, collection string, fn func(*entity.State) bool) error {
	s.c.mu.Lock()
	list := s.c.core.scan(collection)
	s.c.mu.Unlock()
	for _, st := range list {
		if !fn(st) {
			break
		}
	}
	return nil
}

// Commit implements storage.Store: the transaction is applied locally at
// once (the client's live queries see it) and queued for the server. With
// a Confirmed context it also waits for the server's answer.
func (s *store) Commit(ctx context.Context, events []event.Event) ([]*entity.State, error) {
	c := s.c
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	states, seq, err := c.core.commit(events)
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	if c.local() {
		c.core.confirmLocally(seq)
	}
	var w chan error
	if wantsConfirmation(ctx) && !c.local() {
		w = make(chan error, 1)
		c.waiters[seq] = w
	}
	c.settle(true)
	c.broadcast()
	c.mu.Unlock()
	if w != nil {
		if err := c.waitAnswer(ctx, seq, w); err != nil {
			return states, err
		}
	}
	return states, nil
}

// Close implements storage.Store; the client's Close closes everything.
func (s *store) Close() error { return nil }
