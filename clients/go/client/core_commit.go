package client

import (
	"maps"
	"slices"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
)

// The core's local transactions: optimistic commits, the outbox they wait
// in, and what the server's confirmation or rejection does to them.

// commit applies a local transaction optimistically and queues it for the
// server. It returns the visible states of the entities it touched.
func (c *core) commit(evs []event.Event) ([]*entity.State, uint64, error) {
	evs = slices.Clone(evs)
	for i := range evs {
		ev := &evs[i]
		ev.Ops = maps.Clone(ev.Ops)
		ev.Parents = slices.Clone(ev.Parents)
		sc, ok := c.schemas[ev.Collection]
		if !ok {
			return nil, 0, storage.Errorf(storage.CodeNoCollection, "no collection %q (register it first)", ev.Collection)
		}
		add, err := storage.Conform(sc, ev)
		if err != nil {
			return nil, 0, err
		}
		if len(add) > 0 {
			if _, err := c.mergeSchema(schema.FromMap(ev.Collection, add)); err != nil {
				return nil, 0, err
			}
		}
		e := c.entries[ev.Entity]
		if ev.IsCreation() {
			if e != nil && (e.base != nil || len(e.pending) > 0) {
				return nil, 0, storage.Errorf(storage.CodeInvalidEvent, "%s %s already exists", ev.Collection, ev.Entity)
			}
		} else if e == nil || e.visible == nil || e.coll != ev.Collection {
			return nil, 0, storage.Errorf(storage.CodeNotFound, "%s %s does not exist here", ev.Collection, ev.Entity)
		}
	}
	c.seq++
	item := &outItem{seq: c.seq, events: evs}
	c.outbox = append(c.outbox, item)
	if c.persist {
		c.record(record{T: recOut, Seq: item.seq, Events: wireEvents(evs)})
	}
	touched := map[event.ID]*entry{}
	var order []*entry
	for i := range evs {
		ev := &evs[i]
		e := c.entry(ev.Collection, ev.Entity)
		e.pending = append(e.pending, ev)
		c.learn(e, []event.Event{*ev})
		if touched[e.id] == nil {
			touched[e.id] = e
			order = append(order, e)
		}
	}
	out := make([]*entity.State, 0, len(order))
	for _, e := range order {
		var cause []event.Event
		var added []*event.Event
		for i := range evs {
			if evs[i].Entity == e.id {
				cause = append(cause, evs[i])
				added = append(added, &evs[i])
			}
		}
		c.extend(e, added, cause)
		if e.visible != nil {
			out = append(out, e.visible.Clone())
		}
	}
	c.evaluate()
	return out, item.seq, nil
}

func wireEvents(evs []event.Event) []protocol.Event {
	out := make([]protocol.Event, len(evs))
	for i := range evs {
		out[i] = protocol.EventToWire(&evs[i])
	}
	return out
}

// registerSchema adds a collection locally and queues its registration.
func (c *core) registerSchema(sc schema.Collection) (schema.Collection, uint64, error) {
	full, err := c.mergeSchema(sc)
	if err != nil {
		return schema.Collection{}, 0, err
	}
	c.seq++
	item := &outItem{seq: c.seq, schema: &sc}
	c.outbox = append(c.outbox, item)
	c.record(record{T: recOut, Seq: item.seq, Reg: ptr(protocol.CollectionToWire(sc))})
	return full, item.seq, nil
}

// next returns the first queued item (the only one in flight at a time).
func (c *core) next() *outItem {
	if len(c.outbox) == 0 {
		return nil
	}
	return c.outbox[0]
}

func (c *core) pop(seq uint64) *outItem {
	if len(c.outbox) == 0 || c.outbox[0].seq != seq {
		return nil
	}
	item := c.outbox[0]
	c.outbox[0] = nil
	c.outbox = c.outbox[1:]
	c.record(record{T: recDone, Seq: seq})
	return item
}

// confirmed applies the server's acceptance of the first queued item.
func (c *core) confirmed(seq uint64, states []protocol.Entity, schemas []protocol.Collection) error {
	item := c.pop(seq)
	if item == nil {
		return nil // answered before (a redelivered answer)
	}
	for _, w := range schemas {
		if sc, perr := protocol.CollectionFromWire(w); perr == nil {
			if _, err := c.mergeSchema(sc); err != nil {
				return err
			}
		}
	}
	heads := map[event.ID]event.Head{}
	for _, w := range states {
		st, err := c.stateFromWire(w)
		if err != nil {
			return err
		}
		e := c.entry(st.Collection, st.ID)
		c.carryDocs(e, st, item.events) // a result without the documents its events made
		c.offerBase(e, st, fromCommit)
		heads[st.ID] = st.Head
	}
	c.settle(item, heads)
	c.evaluate()
	return nil
}

// confirmLocally makes a queued transaction part of the base at once: a
// client without a server is its own authority.
func (c *core) confirmLocally(seq uint64) {
	item := c.pop(seq)
	if item == nil {
		return
	}
	for _, ev := range item.events {
		e := c.entries[ev.Entity]
		if e == nil || e.visible == nil {
			continue
		}
		e.pending = slices.DeleteFunc(e.pending, func(p *event.Event) bool { return p.ID == ev.ID })
		if len(e.pending) == 0 {
			e.base = e.visible.Clone()
			c.saveBase(e)
		}
		c.updateLocal(e)
	}
}

// rejected rolls back a queued item the server refused.
func (c *core) rejected(seq uint64) *outItem {
	item := c.pop(seq)
	if item == nil {
		return nil
	}
	c.settle(item, nil)
	c.evaluate()
	return item
}

// settle takes an answered transaction's events out of the optimistic layer.
// A confirmed event the stream has not shown yet stays held: the entity
// remains a candidate of the live queries until the stream (or a new
// subscription result) reports it, so that nothing flickers in between.
func (c *core) settle(item *outItem, results map[event.ID]event.Head) {
	rejected := results == nil
	byEntity := map[event.ID][]event.ID{}
	var order []event.ID
	for _, ev := range item.events {
		if byEntity[ev.Entity] == nil {
			order = append(order, ev.Entity)
		}
		byEntity[ev.Entity] = append(byEntity[ev.Entity], ev.ID)
	}
	for _, id := range order {
		e := c.entries[id]
		if e == nil {
			continue
		}
		for _, evID := range byEntity[id] {
			e.pending = slices.DeleteFunc(e.pending, func(p *event.Event) bool { return p.ID == evID })
			if rejected {
				delete(e.events, evID)
			} else if !c.covers(e, e.shown, results[id]) && !c.covers(e, e.shown, event.Head{evID}) {
				e.held = append(e.held, evID)
				e.heldAt = event.NewHead(append(e.heldAt, results[id]...)...)
			}
		}
		c.refresh(e, nil)
		if e.base == nil && len(e.pending) == 0 {
			// A creation the server refused: the entity never existed.
			e.held, e.heldAt = nil, nil
			c.markDirty(e)
			c.dropEntry(e)
		}
	}
}

// covers reports whether server state head shown is known to include
// target: equal, a larger largest id (server states of one entity form a
// chain, along which the largest id never decreases), or the known events
// lead from one to the other.
func (c *core) covers(e *entry, shown, target event.Head) bool {
	if len(shown) == 0 || len(target) == 0 {
		return false
	}
	if shown.Equal(target) || shown.Max().Compare(target.Max()) > 0 {
		return true
	}
	yes, _ := c.contains(e, shown, target)
	return yes
}

// show records what the stream reported of an entity and releases the
// holds it covers.
func (c *core) show(e *entry, head event.Head) {
	e.shown = head
	if len(e.held) == 0 {
		return
	}
	if c.covers(e, head, e.heldAt) {
		e.held = e.held[:0]
	} else {
		kept := e.held[:0]
		for _, id := range e.held {
			if !c.covers(e, head, event.Head{id}) {
				kept = append(kept, id)
			}
		}
		e.held = kept
	}
	if len(e.held) == 0 {
		e.held, e.heldAt = nil, nil
		c.updateLocal(e)
		c.markDirty(e)
	}
}

func (c *core) markDirty(e *entry) {
	if _, ok := c.dirty[e.id]; !ok {
		c.dirty[e.id] = []event.Event{}
	}
}
