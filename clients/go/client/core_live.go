package client

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/storage"
)

// The core's live queries: their server result sets, local evaluation over
// the entities they may hold, and the change sets they report.

func (c *core) addSub(name, coll, text string, args []json.RawMessage, q *query.Query, m *query.Matcher) *sub {
	s := &sub{name: name, coll: coll, server: map[event.ID]bool{}, results: map[event.ID]*entity.State{}}
	s.setQuery(text, args, q, m)
	c.subs[name] = s
	return s
}

func (c *core) removeSub(s *sub) {
	s.closed = true
	for id := range s.server {
		if e := c.entries[id]; e != nil {
			e.members--
		}
	}
	s.server = map[event.ID]bool{}
	delete(c.subs, s.name)
}

// startFromCache produces a live query's initial result set from the
// cache, for a client that cannot reach the server yet.
func (c *core) startFromCache(s *sub) {
	if s.started || s.closed {
		return
	}
	s.cacheMode = true
	c.recompute(s)
}

// updateOffline changes a live query's selection while disconnected: the
// cache answers now, the server when the client reconnects.
func (c *core) updateOffline(s *sub, text string, args []json.RawMessage, q *query.Query, m *query.Matcher) {
	s.setQuery(text, args, q, m)
	s.cacheMode = true
	s.synced = false
	c.touch(s)
	c.recompute(s)
}

// subscribed applies a subscribe or update_subscription result; q is the
// new query of an update (nil for a subscribe).
func (c *core) subscribed(s *sub, res protocol.SubscribeResult, text string, args []json.RawMessage, q *query.Query, m *query.Matcher) error {
	if s.closed {
		return nil
	}
	server := make(map[event.ID]bool, len(res.Entities))
	for _, w := range res.Entities {
		id, err := event.ParseID(w.ID)
		if err != nil {
			return err
		}
		server[id] = true
		if w.Unchanged {
			if e := c.entries[id]; e == nil || e.base == nil {
				return storage.Errorf(storage.CodeInternal, "the server reported %s unchanged, but this client does not hold it", id)
			}
			continue
		}
		if w.Collection == "" {
			w.Collection = s.coll
		}
		st, err := c.stateFromWire(w)
		if err != nil {
			return err
		}
		e := c.entry(s.coll, id)
		if c.offerBase(e, st, fromStream) {
			c.refresh(e, nil)
		}
		e.shown = st.Head
	}
	for id := range s.server {
		if e := c.entries[id]; e != nil {
			e.members--
		}
	}
	for id := range server {
		c.entries[id].members++
	}
	for _, r := range res.Removed {
		// Deleted, or no longer matching: the server does not say which.
		if id, err := event.ParseID(r); err == nil {
			if e := c.entries[id]; e != nil && !server[id] {
				e.stale = true
			}
		}
	}
	s.server = server
	if q != nil {
		s.setQuery(text, args, q, m)
	}
	s.cacheMode = false
	s.synced = true
	c.touch(s)
	// The result is a snapshot taken after every commit this client has
	// had confirmed: holds in this collection are settled.
	for _, e := range sortedEntries(c.local[s.coll]) {
		if len(e.held) > 0 {
			e.held, e.heldAt = nil, nil
			c.updateLocal(e)
			c.markDirty(e)
		}
	}
	c.recompute(s)
	c.evaluate()
	return nil
}

// disconnected marks every live query as no longer following the server.
func (c *core) disconnected() {
	for _, s := range c.subs {
		s.synced = false
		c.touch(s)
	}
}

// known returns the heads of a live query's entities, for resubscribing.
func (c *core) known(s *sub) map[string][]string {
	out := map[string][]string{}
	add := func(id event.ID) {
		if e := c.entries[id]; e != nil && e.base != nil && !e.stale {
			out[id.String()] = e.base.Head.Strings()
		}
	}
	for id := range s.server {
		add(id)
	}
	for id := range s.results {
		add(id)
	}
	if len(out) > protocol.MaxKnown {
		return nil
	}
	return out
}

func (c *core) inUniverse(s *sub, e *entry) bool {
	return s.cacheMode || s.server[e.id] || e.isLocal()
}

// candidates are the entities a live query's result is drawn from: what
// the server reported, and what this client changed locally.
func (c *core) candidates(s *sub) []*entry {
	var out []*entry
	if s.cacheMode {
		for _, e := range c.byColl[s.coll] {
			out = append(out, e)
		}
		return out
	}
	for id := range s.server {
		if e := c.entries[id]; e != nil {
			out = append(out, e)
		}
	}
	for id, e := range c.local[s.coll] {
		if !s.server[id] {
			out = append(out, e)
		}
	}
	return out
}

// recompute evaluates a live query from scratch and reports the difference
// from what it last reported (or its initial result set).
func (c *core) recompute(s *sub) {
	var list []*entity.State
	for _, e := range c.candidates(s) {
		if e.exists() && s.m.Match(e.visible) {
			list = append(list, e.visible)
		}
	}
	slices.SortFunc(list, func(a, b *entity.State) int { return s.m.Compare(a, b) })
	if s.limited && len(list) > s.limit {
		list = list[:s.limit]
	}
	next := make(map[event.ID]*entity.State, len(list))
	for _, st := range list {
		next[st.ID] = st
	}
	if !s.started {
		s.started = true
		s.results = next
		items := make([]rawItem, len(list))
		for i, st := range list {
			items[i] = rawItem{kind: Initial, state: st}
		}
		c.notes = append(c.notes, note{sub: s, cs: rawChangeSet{initial: true, synced: s.synced, items: items}})
		return
	}
	c.diff(s, next)
}

// diff reports the change from s.results to next and makes next current.
func (c *core) diff(s *sub, next map[event.ID]*entity.State) {
	var items []rawItem
	for id, old := range s.results {
		if _, ok := next[id]; !ok {
			st := old
			if e := c.entries[id]; e != nil && e.visible != nil {
				st = e.visible
			}
			items = append(items, rawItem{kind: Remove, state: st, events: c.dirty[id]})
		}
	}
	for id, st := range next {
		old, was := s.results[id]
		switch {
		case !was:
			items = append(items, rawItem{kind: Add, state: st, events: c.dirty[id]})
		case !sameState(old, st):
			items = append(items, rawItem{kind: Update, state: st, events: c.dirty[id]})
		}
	}
	s.results = next
	if len(items) == 0 {
		return
	}
	slices.SortFunc(items, func(a, b rawItem) int {
		ra, rb := a.kind == Remove, b.kind == Remove
		if ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		return s.m.Compare(a.state, b.state)
	})
	for i := range items {
		if len(items[i].events) == 0 {
			items[i].events = nil
		}
	}
	c.notes = append(c.notes, note{sub: s, cs: rawChangeSet{synced: s.synced, items: items}})
}

// evaluate brings every started live query up to date with the entities
// marked dirty, and clears the marks.
func (c *core) evaluate() {
	defer c.dropNeedlessHolds()
	if len(c.dirty) == 0 {
		return
	}
	names := slices.Sorted(maps.Keys(c.subs))
	for _, name := range names {
		s := c.subs[name]
		if !s.started || s.closed {
			continue
		}
		if s.limited {
			touched := false
			for id := range c.dirty {
				if e := c.entries[id]; e != nil && e.coll == s.coll {
					touched = true
					break
				}
				if _, ok := s.results[id]; ok {
					touched = true
					break
				}
			}
			if touched {
				c.recompute(s)
			}
			continue
		}
		next := maps.Clone(s.results)
		changed := false
		for id := range c.dirty {
			e := c.entries[id]
			_, was := s.results[id]
			if e == nil {
				if was {
					delete(next, id)
					changed = true
				}
				continue
			}
			if e.coll != s.coll {
				continue
			}
			if c.inUniverse(s, e) && e.exists() && s.m.Match(e.visible) {
				if !was || s.results[id] != e.visible {
					next[id] = e.visible
					changed = true
				}
			} else if was {
				delete(next, id)
				changed = true
			}
		}
		if changed {
			c.diff(s, next)
		}
	}
	clear(c.dirty)
}

// needsHold: a live query shows the entity only because of the hold (the
// server has not reported it as a member yet).
func (c *core) needsHold(e *entry) bool {
	if e.visible == nil || e.visible.Deleted {
		return false
	}
	for _, s := range c.subs {
		if s.coll == e.coll && !s.closed && !s.server[e.id] && s.results[e.id] != nil {
			return true
		}
	}
	return false
}

// dropNeedlessHolds releases holds no live query depends on.
func (c *core) dropNeedlessHolds() {
	for _, m := range c.local {
		for _, e := range m {
			if len(e.held) > 0 && !c.needsHold(e) {
				e.held, e.heldAt = nil, nil
				c.updateLocal(e)
			}
		}
	}
}

// results returns a live query's current result set in query order.
func (c *core) results(s *sub) []*entity.State {
	out := slices.Collect(maps.Values(s.results))
	slices.SortFunc(out, func(a, b *entity.State) int { return s.m.Compare(a, b) })
	return out
}
