package client

import (
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// The core is the client's whole state and logic, without I/O, clocks or
// goroutines, so that the deterministic simulation drives exactly the code
// the real client runs. Its callers hold the client's lock.
//
// Per entity it keeps the latest server state it has seen (the base) and
// the local events the server has not confirmed yet (pending). What the
// application sees — reads, transactions, live queries — is the visible
// state: the base with the pending events applied on top (optimistic). The
// server is the authority: a confirmed event is dropped from pending once
// the base includes it, a rejected one is dropped outright (rolled back).
//
// Server states reach the client from several places (pushed changes,
// subscription results, commit, get and fetch results) whose relative order
// is not the order in which the server made them. Since the server's states
// of one entity form a chain, the client keeps the newer of two states:
// the larger largest head id is newer (it never decreases along a history),
// and for equal ones the events the client knows decide.

// farFuture is the "now" used when converting events the server already
// accepted: their clock was checked there.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// maxEventsPerEntity bounds the events kept per entity for comparing heads.
const maxEventsPerEntity = 256

// source says where a server state came from.
type source uint8

const (
	fromStream source = iota + 1 // a changes frame or a subscription result, in stream order
	fromCommit                   // a commit result
	fromReply                    // a get or fetch result
)

type entry struct {
	coll    string
	id      event.ID
	base    *entity.State // the latest server state seen; nil: unknown (created here, unconfirmed)
	stale   bool          // the server is known to have moved past base
	pending []*event.Event
	held    []event.ID // confirmed local events the stream has not shown yet
	heldAt  event.Head // the commit result's head: a stream state covering it releases the holds
	shown   event.Head // what the stream last showed of the entity (ids whose history it has sent)
	visible *entity.State
	members int // live queries whose server result set holds the entity
	events  map[event.ID]*event.Event
}

func (e *entry) exists() bool { return e.visible != nil && e.visible.Exists() }

// isLocal: the entity has local events the live queries must consider even
// though the server has not reported it as a member.
func (e *entry) isLocal() bool { return len(e.pending) > 0 || len(e.held) > 0 }

type outItem struct {
	seq    uint64
	events []event.Event      // a transaction, or
	schema *schema.Collection // a schema registration
}

// Kind is what happened to an entity in a live query's result set.
type Kind uint8

// Kinds of items.
const (
	Initial Kind = iota + 1 // a member of the initial result set
	Add                     // entered the result set
	Update                  // was and still is in it, with new values
	Remove                  // left it: edited out, deleted, out of a LIMIT window, or rolled back
)

func (k Kind) String() string {
	if k > Remove {
		return "unknown"
	}
	return [...]string{"none", "initial", "add", "update", "remove"}[k]
}

type rawItem struct {
	kind   Kind
	state  *entity.State
	events []event.Event
}

type rawChangeSet struct {
	initial bool
	synced  bool
	items   []rawItem
}

type note struct {
	sub *sub
	cs  rawChangeSet
}

// sub is a live query as the core sees it.
type sub struct {
	name    string
	coll    string
	text    string
	args    []json.RawMessage
	q       *query.Query
	m       *query.Matcher
	limit   int
	limited bool

	server    map[event.ID]bool // the result set according to the server
	cacheMode bool              // no server result yet: every cached entity is a candidate
	synced    bool              // the server result for the current query and connection is applied
	started   bool              // the initial change set was produced
	closed    bool
	results   map[event.ID]*entity.State // the result set as last reported

	owner any // the client's live query
}

// compileSub parses a query with wire arguments, exactly as the server will.
func compileSub(text string, args []json.RawMessage) (*query.Query, *query.Matcher, error) {
	parsed, perr := protocol.ParseArgs(args)
	if perr != nil {
		return nil, nil, perr
	}
	q, err := query.Parse(text, parsed...)
	if err != nil {
		return nil, nil, err
	}
	m, err := q.Compile()
	if err != nil {
		return nil, nil, err
	}
	return q, m, nil
}

func (s *sub) setQuery(text string, args []json.RawMessage, q *query.Query, m *query.Matcher) {
	s.text, s.args, s.q, s.m = text, args, q, m
	l, ok := m.Limit()
	s.limit, s.limited = int(l), ok
}

type core struct {
	schemas map[string]schema.Collection
	entries map[event.ID]*entry
	byColl  map[string]map[event.ID]*entry
	local   map[string]map[event.ID]*entry
	outbox  []*outItem
	seq     uint64
	subs    map[string]*sub
	dirty   map[event.ID][]event.Event
	notes   []note
	records []record // for the durable cache; nil when not kept
	persist bool
}

func newCore() *core {
	return &core{
		schemas: map[string]schema.Collection{},
		entries: map[event.ID]*entry{},
		byColl:  map[string]map[event.ID]*entry{},
		local:   map[string]map[event.ID]*entry{},
		subs:    map[string]*sub{},
		dirty:   map[event.ID][]event.Event{},
	}
}

// takeNotes returns the change sets produced since the last call.
func (c *core) takeNotes() []note {
	n := c.notes
	c.notes = nil
	return n
}

func (c *core) takeRecords() []record {
	r := c.records
	c.records = nil
	return r
}

func (c *core) record(r record) {
	if c.persist {
		c.records = append(c.records, r)
	}
}

// ---- schemas ----

func (c *core) types(coll, field string) (value.Type, bool) {
	sc, ok := c.schemas[coll]
	if !ok {
		return 0, false
	}
	f, ok := sc.Field(field)
	return f.Type, ok
}

// mergeSchema adds a collection's fields to the local schema. A field known
// with another type is a type_mismatch.
func (c *core) mergeSchema(sc schema.Collection) (schema.Collection, error) {
	cur, ok := c.schemas[sc.Name]
	m := cur.Map()
	changed := !ok
	for _, f := range sc.Fields {
		if t, ok := m[f.Name]; ok {
			if t != f.Type {
				return schema.Collection{}, storage.Errorf(storage.CodeTypeMismatch, "field %s.%s is %s, not %s", sc.Name, f.Name, t, f.Type)
			}
			continue
		}
		m[f.Name] = f.Type
		changed = true
	}
	if changed {
		full := schema.FromMap(sc.Name, m)
		c.schemas[sc.Name] = full
		c.record(record{T: recSchema, Coll: ptr(protocol.CollectionToWire(full))})
	}
	return c.schemas[sc.Name], nil
}

// adoptSchema takes a collection's schema from the server, which decides
// the type of every field it has; fields only this client knows stay.
func (c *core) adoptSchema(sc schema.Collection) {
	cur := c.schemas[sc.Name]
	m := cur.Map()
	changed := false
	for _, f := range sc.Fields {
		if t, ok := m[f.Name]; !ok || t != f.Type {
			m[f.Name] = f.Type
			changed = true
		}
	}
	if _, ok := c.schemas[sc.Name]; !ok || changed {
		full := schema.FromMap(sc.Name, m)
		c.schemas[sc.Name] = full
		c.record(record{T: recSchema, Coll: ptr(protocol.CollectionToWire(full))})
	}
}

// schemaQueued reports whether a registration of the collection waits in
// the outbox (the server may not know the collection yet).
func (c *core) schemaQueued(coll string) bool {
	for _, it := range c.outbox {
		if it.schema != nil && it.schema.Name == coll {
			return true
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }

// ---- conversions ----

func (c *core) stateFromWire(w protocol.Entity) (*entity.State, error) {
	return protocol.StateFromWire(w, c.types)
}

func (c *core) eventFromWire(w protocol.Event) (event.Event, error) {
	e, perr := protocol.EventFromWire(w, c.types, farFuture)
	if perr != nil {
		return event.Event{}, perr
	}
	return e, nil
}

// ---- entries ----

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
func applyOps(st *entity.State, ev *event.Event) {
	st.Head = st.Head.Advance(ev.ID, ev.Parents)
	if ev.Delete {
		st.Deleted = true
	}
	for f, v := range ev.Ops {
		if cur, ok := st.Versions[f]; ok && cur.Compare(ev.ID) > 0 {
			continue
		}
		st.Versions[f] = ev.ID
		if v.IsNull() {
			delete(st.Values, f)
		} else {
			st.Values[f] = v
		}
	}
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

// ---- local transactions ----

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
		c.offerBase(c.entry(st.Collection, st.ID), st, fromCommit)
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

// ---- server states ----

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

// ---- live queries ----

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

// ---- reads ----

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
