package client

import (
	"maps"
	"slices"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/query"
)

// The core's reads: get, fetch, scan, events and history over the cache.

// get returns the visible states of existing entities, in the order asked.
func (c *core) get(coll string, ids []event.ID) []*entity.State {
	var out []*entity.State
	for _, id := range ids {
		if e := c.entries[id]; e != nil && e.coll == coll && e.exists() {
			out = append(out, e.visible.Clone())
		}
	}
	return out
}

// watched reports whether the server keeps the entity up to date for this
// client (a live query following the server has it).
func (c *core) watched(id event.ID) bool {
	e := c.entries[id]
	if e == nil || e.stale || e.members == 0 {
		return false
	}
	for _, s := range c.subs {
		if s.synced && s.server[id] {
			return true
		}
	}
	return false
}

// fetch answers a one-shot query: from the server's answer (online, with
// the local changes applied) or from the cache (offline).
func (c *core) fetch(coll string, m *query.Matcher, server []protocol.Entity, online bool) ([]*entity.State, error) {
	var cands []*entry
	if online {
		for _, w := range server {
			st, err := c.stateFromWire(w)
			if err != nil {
				return nil, err
			}
			e := c.entry(coll, st.ID)
			if c.offerBase(e, st, fromReply) {
				c.refresh(e, nil)
			}
			cands = append(cands, e)
		}
		for _, e := range c.local[coll] {
			cands = append(cands, e)
		}
		c.evaluate()
	} else {
		for _, e := range c.byColl[coll] {
			cands = append(cands, e)
		}
	}
	seen := map[event.ID]bool{}
	var list []*entity.State
	for _, e := range cands {
		if seen[e.id] || !e.exists() {
			continue
		}
		seen[e.id] = true
		list = append(list, e.visible.Clone())
	}
	return query.Apply(m, list), nil
}

// scan returns every existing entity of a collection, in id order.
func (c *core) scan(coll string) []*entity.State {
	var out []*entity.State
	for _, e := range sortedEntries(c.byColl[coll]) {
		if e.exists() {
			out = append(out, e.visible.Clone())
		}
	}
	return out
}

func sortedEntries(m map[event.ID]*entry) []*entry {
	out := slices.Collect(maps.Values(m))
	slices.SortFunc(out, func(a, b *entry) int { return a.id.Compare(b.id) })
	return out
}

// events returns the events this client knows, by id.
func (c *core) events(ids []event.ID) []event.Event {
	want := map[event.ID]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var out []event.Event
	for _, id := range ids {
		for _, e := range c.entries {
			if ev := e.events[id]; ev != nil && want[id] {
				out = append(out, *ev)
				delete(want, id)
				break
			}
		}
	}
	return out
}

// history returns the events of one entity this client knows, oldest first.
func (c *core) history(coll string, id event.ID) []event.Event {
	e := c.entries[id]
	if e == nil || e.coll != coll {
		return nil
	}
	out := make([]event.Event, 0, len(e.events))
	for _, ev := range e.events {
		out = append(out, *ev)
	}
	entity.SortForApply(out)
	return out
}
