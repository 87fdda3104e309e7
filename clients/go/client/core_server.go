package client

import (
	"slices"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/protocol"
)

// The core's intake of server states: get and fetch results, and pushed
// changes frames.

// replies merges states from a get result; asked are the ids asked for:
// those the server left out do not exist there (any more).
func (c *core) replies(states []protocol.Entity, asked []event.ID) error {
	got := map[event.ID]bool{}
	for _, w := range states {
		st, err := c.stateFromWire(w)
		if err != nil {
			return err
		}
		got[st.ID] = true
		e := c.entry(st.Collection, st.ID)
		if c.offerBase(e, st, fromReply) {
			c.refresh(e, nil)
		}
	}
	for _, id := range asked {
		if e := c.entries[id]; e != nil && !got[id] && e.base != nil && !e.base.Deleted {
			// Entities are never un-created: it was deleted.
			e.base = e.base.Clone()
			e.base.Deleted = true
			e.stale = false
			c.saveBase(e)
			c.refresh(e, nil)
		}
	}
	c.evaluate()
	return nil
}

// pushed applies one changes frame (one server transaction).
func (c *core) pushed(items []protocol.Item) error {
	for _, it := range items {
		s := c.subs[it.Sub]
		if s == nil || s.closed {
			continue
		}
		st, err := c.stateFromWire(it.Entity)
		if err != nil {
			return err
		}
		evs := make([]event.Event, 0, len(it.Events))
		for _, w := range it.Events {
			ev, err := c.eventFromWire(w)
			if err != nil {
				return err
			}
			evs = append(evs, ev)
		}
		e := c.entry(s.coll, st.ID)
		c.learn(e, evs)
		switch it.Kind {
		case "add", "update":
			if !s.server[st.ID] {
				s.server[st.ID] = true
				e.members++
			}
			c.carryDocs(e, st, evs)
			c.offerBase(e, st, fromStream)
			c.show(e, st.Head)
		case "remove":
			if s.server[st.ID] {
				delete(s.server, st.ID)
				e.members--
			}
			c.advanceBase(e, evs, st.Deleted)
			shown := slices.Clone(st.Head)
			for _, ev := range evs {
				shown = append(shown, ev.ID)
			}
			c.show(e, event.NewHead(shown...))
		default:
			continue
		}
		c.refresh(e, evs)
	}
	c.evaluate()
	return nil
}
