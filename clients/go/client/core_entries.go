package client

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/ytext"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/value"
)

// The core's entries: per entity, the latest server state (base), the
// local events the server has not confirmed (pending), and the visible state
// they make; which of two server states is newer.

func (c *core) entry(coll string, id event.ID) *entry {
	e := c.entries[id]
	if e == nil {
		e = &entry{coll: coll, id: id, events: map[event.ID]*event.Event{}}
		c.entries[id] = e
		if c.byColl[coll] == nil {
			c.byColl[coll] = map[event.ID]*entry{}
		}
		c.byColl[coll][id] = e
	}
	return e
}

func (c *core) dropEntry(e *entry) {
	delete(c.entries, e.id)
	delete(c.byColl[e.coll], e.id)
	delete(c.local[e.coll], e.id)
}

func (c *core) updateLocal(e *entry) {
	if p := len(e.pending) > 0; p != e.wasPend {
		e.wasPend = p
		c.touchMember(e)
	}
	if e.isLocal() {
		if c.local[e.coll] == nil {
			c.local[e.coll] = map[event.ID]*entry{}
		}
		c.local[e.coll][e.id] = e
	} else {
		delete(c.local[e.coll], e.id)
	}
}

// learn records events of an entity for head comparisons.
func (c *core) learn(e *entry, evs []event.Event) {
	for i := range evs {
		ev := evs[i]
		if ev.Entity != e.id {
			continue
		}
		e.events[ev.ID] = &ev
	}
	// Prune in bulk, once there are maxEventsPerEntity events more than
	// the pruning keeps (pending events are always kept): amortised O(log n)
	// per event, even with many events pending.
	if len(e.events) > 2*maxEventsPerEntity+len(e.pending) {
		ids := slices.SortedFunc(maps.Keys(e.events), event.ID.Compare)
		keep := map[event.ID]bool{}
		for _, p := range e.pending {
			keep[p.ID] = true
		}
		for _, id := range ids[:len(ids)-maxEventsPerEntity] {
			if !keep[id] {
				delete(e.events, id)
			}
		}
	}
}

// contains reports whether every id of want is in the history of from, as
// far as the known events tell; decided is false when an unknown event
// stopped the walk.
func (c *core) contains(e *entry, from, want event.Head) (yes, decided bool) {
	if len(want) == 0 {
		return true, true
	}
	missing := make(map[event.ID]bool, len(want))
	for _, id := range want {
		missing[id] = true
	}
	floor := want[0]
	seen := map[event.ID]bool{}
	frontier := slices.Clone(from)
	unknown := false
	for len(frontier) > 0 && len(missing) > 0 {
		var next []event.ID
		for _, id := range frontier {
			if seen[id] || id.Compare(floor) < 0 {
				continue
			}
			seen[id] = true
			delete(missing, id)
			if ev := e.events[id]; ev != nil {
				next = append(next, ev.Parents...)
			} else if id != floor {
				unknown = true
			}
		}
		frontier = next
	}
	if len(missing) == 0 {
		return true, true
	}
	return false, !unknown
}

// newer reports whether server state st is newer than the entry's base.
func (c *core) newer(e *entry, st *entity.State, src source) bool {
	b := e.base
	if b == nil {
		return true
	}
	if b.Head.Equal(st.Head) {
		return false
	}
	switch st.Head.Max().Compare(b.Head.Max()) {
	case 1:
		return true
	case -1:
		return false
	}
	// The two are a chain: one contains the other.
	if yes, decided := c.contains(e, st.Head, b.Head); yes || decided {
		return yes
	}
	if yes, decided := c.contains(e, b.Head, st.Head); yes || decided {
		return !yes
	}
	// Undecided. The stream is in the server's order; a commit result
	// includes our own events; a get or fetch may be older.
	return src != fromReply
}

// offerBase makes st the entry's base if it is newer.
func (c *core) offerBase(e *entry, st *entity.State, src source) bool {
	if !c.newer(e, st, src) {
		if e.base != nil && e.base.Head.Equal(st.Head) && hasOtherDocs(st, e.base) {
			// The same state, with ytext documents the base lacks (a get
			// made to fetch them): keep them.
			b := e.base.Clone()
			for f, d := range st.Docs {
				if b.Docs[f] == nil {
					if b.Docs == nil {
						b.Docs = map[string][]byte{}
					}
					b.Docs[f] = d
				}
			}
			e.base = b
			c.saveBase(e)
			return true
		}
		if e.base != nil && e.base.Head.Equal(st.Head) {
			if st.Deleted && !e.base.Deleted {
				e.base = e.base.Clone()
				e.base.Deleted = true
				c.saveBase(e)
				return true
			}
			e.stale = false
		}
		return false
	}
	if e.base != nil && e.base.Deleted && !st.Deleted {
		// A tombstone wins: a newer state of a deleted entity is deleted.
		st = st.Clone()
		st.Deleted = true
	}
	e.base = st
	e.stale = false
	c.saveBase(e)
	return true
}

func (c *core) saveBase(e *entry) {
	if c.persist && e.base != nil {
		b := protocol.AppendEntity(nil, e.base)
		var w protocol.Entity
		if json.Unmarshal(b, &w) == nil {
			c.record(record{T: recBase, Ent: &w})
		}
	}
}

// advanceBase applies a remove item's events to the base when that is
// exact (they descend from it and are newer than all of it); otherwise the
// base is marked stale. A deletion is always kept.
func (c *core) advanceBase(e *entry, evs []event.Event, deleted bool) {
	if e.base == nil {
		e.stale = true
		return
	}
	st := e.base.Clone()
	changed, exact := false, true
	sorted := slices.Clone(evs)
	entity.SortForApply(sorted)
	for i := range sorted {
		ev := &sorted[i]
		if ev.Entity != e.id {
			continue
		}
		if yes, _ := c.contains(e, st.Head, event.Head{ev.ID}); yes {
			continue
		}
		if yes, _ := c.contains(e, st.Head, ev.Parents); !yes || ev.IsCreation() || ev.ID.Compare(st.Head.Max()) <= 0 {
			exact = false
			break
		}
		applyOps(st, ev)
		changed = true
	}
	if deleted && !st.Deleted {
		st.Deleted = true
		changed = true
	}
	if !exact {
		e.stale = true
		if deleted && !e.base.Deleted {
			b := e.base.Clone()
			b.Deleted = true
			e.base = b
			c.saveBase(e)
		}
		return
	}
	if changed {
		e.base = st
		c.saveBase(e)
	}
}

// applyOps applies an event to a state whose history holds its parents
// (or, for the optimistic layer, is assumed to).
// ytext fields' Yjs updates are merged into their documents
// (entity.State.ApplyUnchecked).
func applyOps(st *entity.State, ev *event.Event) {
	// An update that does not decode cannot come from this client's
	// edits nor from the server, which checks them: it is left out.
	_ = st.ApplyUnchecked(ev)
}

// included reports whether the base is known to hold event id.
func (c *core) included(e *entry, id event.ID) bool {
	if e.base == nil {
		return false
	}
	yes, _ := c.contains(e, e.base.Head, event.Head{id})
	return yes
}

// refresh recomputes the visible state and marks the entity dirty when it
// changed (with the events that caused it).
func (c *core) refresh(e *entry, cause []event.Event) {
	// Pending events the base already holds are no longer optimistic.
	kept := e.pending[:0]
	for _, p := range e.pending {
		if !c.included(e, p.ID) {
			kept = append(kept, p)
		}
	}
	clear(e.pending[len(kept):])
	e.pending = kept
	c.updateLocal(e)

	var st *entity.State
	if e.base != nil {
		st = e.base.Clone()
	}
	st = applyPending(e, st, e.pending)
	if !sameState(e.visible, st) || cause != nil {
		e.visible = st
		c.dirty[e.id] = append(c.dirty[e.id], cause...)
		if c.dirty[e.id] == nil {
			c.dirty[e.id] = []event.Event{}
		}
	}
}

// applyPending applies local events to st (nil: the entity is unknown here
// until a creation among them).
func applyPending(e *entry, st *entity.State, pending []*event.Event) *entity.State {
	for _, p := range pending {
		switch {
		case st == nil && p.IsCreation():
			st = entity.New(e.coll, e.id)
		case st == nil || p.IsCreation():
			continue
		}
		applyOps(st, p)
	}
	return st
}

// extend is refresh for new local events appended to pending: the visible
// state is the base with the earlier pending events applied, so applying
// the new ones to it gives what refresh would, without replaying every
// pending event (a burst of commits to one entity stays linear).
func (c *core) extend(e *entry, added []*event.Event, cause []event.Event) {
	c.updateLocal(e)
	var st *entity.State
	if e.visible != nil {
		st = e.visible.Clone()
	}
	e.visible = applyPending(e, st, added)
	c.dirty[e.id] = append(c.dirty[e.id], cause...)
	if c.dirty[e.id] == nil {
		c.dirty[e.id] = []event.Event{}
	}
}

// replayed is the visible state computed from scratch (tests compare it
// with the one kept).
func (c *core) replayed(e *entry) *entity.State {
	var st *entity.State
	if e.base != nil {
		st = e.base.Clone()
	}
	return applyPending(e, st, e.pending)
}

func sameState(a, b *entity.State) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Deleted != b.Deleted || !a.Head.Equal(b.Head) || len(a.Values) != len(b.Values) {
		return false
	}
	for k, v := range a.Values {
		if w, ok := b.Values[k]; !ok || !value.Equal(v, w) {
			return false
		}
	}
	return true
}

// hasOtherDocs reports whether st holds a ytext document that b lacks.
func hasOtherDocs(st, b *entity.State) bool {
	for f := range st.Docs {
		if b.Docs[f] == nil {
			return true
		}
	}
	return false
}

// carryDocs gives a server state that came without the Yjs documents of its
// ytext fields (a change whose events carry the updates) the documents the
// entry's base holds, brought up to date by those events' updates — when
// that gives exactly the server's text. A field it cannot give a document
// stays without one: its text is read as sent, and an edit fetches the
// document first (store.Get).
func (c *core) carryDocs(e *entry, st *entity.State, evs []event.Event) {
	fields := map[string]bool{}
	if e.base != nil {
		for f := range e.base.Docs {
			fields[f] = true
		}
	}
	for i := range evs {
		for f, v := range evs[i].Ops {
			if v.Type() == value.YUpdate {
				fields[f] = true
			}
		}
	}
	for f := range fields {
		if st.Docs[f] != nil || st.Values[f].IsNull() {
			continue
		}
		var base []byte
		if e.base != nil {
			base = e.base.Docs[f]
		}
		var updates [][]byte
		for i := range evs {
			if evs[i].Entity == st.ID {
				if u := evs[i].Ops[f].YUpdate(); u != nil {
					updates = append(updates, u)
				}
			}
		}
		d, err := ytext.Merge(base, updates...)
		if err != nil || d.Pending || d.Text != st.Values[f].Text() {
			continue
		}
		if st.Docs == nil {
			st.Docs = map[string][]byte{}
		}
		st.Docs[f] = d.State
	}
}

// lacksDocs reports whether an entity's visible state has a ytext text
// without its document.
func (c *core) lacksDocs(id event.ID) bool {
	e := c.entries[id]
	if e == nil || e.visible == nil {
		return false
	}
	for f, v := range e.visible.Values {
		if e.visible.Docs[f] == nil && c.isText(e.coll, f) && !v.IsNull() {
			return true
		}
	}
	return false
}

// isText reports a ytext field of the client's schema.
func (c *core) isText(coll, field string) bool {
	t, ok := c.types(coll, field)
	return ok && t.IsYText()
}
