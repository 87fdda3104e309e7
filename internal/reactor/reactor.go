// Package reactor matches committed entity changes against live query
// subscriptions and says, per subscription, what entered, changed in or left
// its result set.
//
// Matching is indexed: a subscription is registered under one top-level
// conjunct of its query — equality, IN, IS NULL, LIKE 'prefix%' or a range
// (index.go says how each is looked up) — so a change only visits the
// subscriptions its values can satisfy (and those it was already a member
// of); queries without such a conjunct (LIKE '%x%', OR, NOT, JSON paths)
// are checked on every change of their collection. The index only
// preselects candidates: the compiled query decides. Each subscription
// keeps its members, so a removal is exact.
//
// A LIMIT window that loses members needs the rows that follow it, which
// the reactor does not hold. With a Refill source it reads them while
// applying (the tests, the client's simulation); without one (the server)
// it leaves such a window as it was before the transaction and reports it
// stale, and its owner reads it again outside any lock (see server/hub.go).
//
// Lock order: Reactor.mu is a leaf; a Refill runs under it, so a Refill
// must not call back into the reactor.
package reactor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/query"
)

// Change is one entity's transition in a committed transaction.
type Change struct {
	Collection string
	ID         event.ID
	Old        *entity.State // nil: the reactor has no earlier state (e.g. a creation)
	New        *entity.State // nil or Deleted: the entity is gone
}

// Kind is what happened to an entity in a subscription's result set.
type Kind uint8

// Kinds of items.
const (
	Add    Kind = iota + 1 // entered the result set
	Update                 // was and still is in it, with new values
	Remove                 // left it (edited out, deleted, or pushed out of a LIMIT window)
)

func (k Kind) String() string { return [...]string{"", "add", "update", "remove"}[k] }

// Item is one entry of a subscription's change set.
type Item struct {
	Kind  Kind
	ID    event.ID
	State *entity.State // the entity's state (its last known state for Remove)
}

// Refill returns up to n entities of the collection that match q and sort
// strictly after `after` in q's order (a tuple cursor on the sort keys, then
// id). It is called when a member leaves a full LIMIT window.
type Refill func(ctx context.Context, collection string, q *query.Query, m *query.Matcher, after *entity.State, n int) ([]*entity.State, error)

// ErrStale is returned by ApplyTo (and Apply) for a LIMIT window that lost
// members the reactor cannot replace because it has no Refill source: the
// window is left as it was before the transaction and must be read again.
var ErrStale = errors.New("reactor: the LIMIT window needs rows from storage")

// Reactor holds the subscriptions. It is safe for concurrent use; Apply
// calls are serialised so that change sets follow commit order.
type Reactor struct {
	mu     sync.Mutex
	colls  map[string]*collIndex
	refill Refill
	nextID uint64
	epoch  uint64 // see candidates
}

// New returns an empty reactor. With a nil refill, windows that need rows
// from storage are reported stale (Result.Stale) instead.
func New(refill Refill) *Reactor {
	return &Reactor{colls: map[string]*collIndex{}, refill: refill}
}

// Subscription is one live query and its current result set.
type Subscription struct {
	id         uint64
	collection string
	q          *query.Query
	m          *query.Matcher
	limit      int
	limited    bool
	members    map[event.ID]*entity.State
	index      choice // the conjunct it is registered under (see index.go)
	upos       int    // its position in unindexed, when index.kind is choiceNone
	seen       uint64 // the reactor's epoch when last visited (see candidates)
}

// ID returns the subscription's id (unique within the reactor).
func (s *Subscription) ID() uint64 { return s.id }

// Query returns the subscription's query.
func (s *Subscription) Query() *query.Query { return s.q }

type subSet map[*Subscription]struct{}

type collIndex struct {
	fields map[string]*fieldIndex
	// unindexed is visited by every change: a slice, so that the walk is
	// over contiguous pointers rather than a map's buckets.
	unindexed []*Subscription
	members   map[event.ID]subSet // entity → subscriptions it is a member of
	count     int
}

func (r *Reactor) coll(name string) *collIndex {
	c := r.colls[name]
	if c == nil {
		c = &collIndex{fields: map[string]*fieldIndex{}, members: map[event.ID]subSet{}}
		r.colls[name] = c
	}
	return c
}

// Subscribe registers a live query whose initial result set (as read from
// storage, in order and within the LIMIT) is initial.
func (r *Reactor) Subscribe(collection string, q *query.Query, initial []*entity.State) (*Subscription, error) {
	m, err := q.Compile()
	if err != nil {
		return nil, err
	}
	s := &Subscription{collection: collection, q: q, m: m, members: map[event.ID]*entity.State{}}
	if l, ok := m.Limit(); ok {
		s.limit, s.limited = int(l), true
	}
	for _, st := range initial {
		s.members[st.ID] = st
	}
	s.index = choose(q)

	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextID++
	s.id = r.nextID
	c := r.coll(collection)
	c.count++
	if s.index.kind == choiceNone {
		s.upos = len(c.unindexed)
		c.unindexed = append(c.unindexed, s)
	} else {
		fi := c.fields[s.index.field]
		if fi == nil {
			fi = newFieldIndex()
			c.fields[s.index.field] = fi
		}
		fi.add(&s.index, s)
	}
	for id := range s.members {
		c.addMember(id, s)
	}
	return s, nil
}

// Unsubscribe removes a subscription.
func (r *Reactor) Unsubscribe(s *Subscription) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.colls[s.collection]
	if c == nil {
		return
	}
	if s.index.kind == choiceNone {
		if s.upos < len(c.unindexed) && c.unindexed[s.upos] == s {
			last := c.unindexed[len(c.unindexed)-1]
			c.unindexed[s.upos], last.upos = last, s.upos
			c.unindexed[len(c.unindexed)-1] = nil
			c.unindexed = c.unindexed[:len(c.unindexed)-1]
		}
	} else if fi := c.fields[s.index.field]; fi != nil {
		fi.remove(&s.index, s)
		if fi.subs == 0 {
			delete(c.fields, s.index.field)
		}
	}
	for id := range s.members {
		c.removeMember(id, s)
	}
	c.count--
	if c.count == 0 {
		delete(r.colls, s.collection)
	}
}

func (c *collIndex) addMember(id event.ID, s *Subscription) {
	if c.members[id] == nil {
		c.members[id] = subSet{}
	}
	c.members[id][s] = struct{}{}
}

func (c *collIndex) removeMember(id event.ID, s *Subscription) {
	delete(c.members[id], s)
	if len(c.members[id]) == 0 {
		delete(c.members, id)
	}
}

// candidates calls visit once for each subscription the change may affect.
// A subscription reachable several ways (its key, its membership) is
// visited once: each change gets a fresh epoch and a visited subscription
// carries it, so no per-change set is allocated.
func (r *Reactor) candidates(c *collIndex, ch *Change, visit func(*Subscription)) {
	r.epoch++
	once := func(s *Subscription) {
		if s.seen != r.epoch {
			s.seen = r.epoch
			visit(s)
		}
	}
	for _, s := range c.unindexed {
		once(s)
	}
	for s := range c.members[ch.ID] {
		once(s)
	}
	if ch.New == nil || ch.New.Deleted {
		return // only members can lose a deleted entity
	}
	for field, fi := range c.fields {
		fi.visit(ch.New.Get(field), once)
	}
}

// Apply processes the changes of one committed transaction and returns each
// affected subscription's change set. Subscriptions without LIMIT are
// updated change by change; LIMIT windows see all their changes at once,
// so that a window is refilled at most once per transaction. It fails when
// any window could not be refilled; ApplyBatch reports such failures per
// subscription instead.
func (r *Reactor) Apply(ctx context.Context, changes []Change) (map[*Subscription][]Item, error) {
	res := r.ApplyBatch(ctx, changes, nil)
	for s, err := range res.Failed {
		return nil, fmt.Errorf("subscription %d: %w", s.id, err)
	}
	for _, s := range res.Stale {
		return nil, fmt.Errorf("subscription %d: %w", s.id, ErrStale)
	}
	return res.Items, nil
}

// Result is what one transaction did to the subscriptions.
type Result struct {
	Items map[*Subscription][]Item
	// Failed holds the subscriptions whose LIMIT window could not be
	// refilled. They are left as they were before the transaction and
	// must be ended (their result sets can no longer be trusted).
	Failed map[*Subscription]error
	// Stale holds, in subscription order, the LIMIT windows that need rows
	// from storage when the reactor has no Refill source. They are left as
	// they were before the transaction; their owner must stop applying
	// changes to them and read them again (see ErrStale).
	Stale []*Subscription
}

// ApplyBatch is Apply for a server: skip (when not nil) names the changes a
// subscription must not see — e.g. ones a snapshot its result set was read
// from already includes — and a subscription whose window cannot be
// refilled fails alone.
func (r *Reactor) ApplyBatch(ctx context.Context, changes []Change, skip func(*Subscription, *Change) bool) Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.apply(ctx, changes, func(c *collIndex, ch *Change, visit func(*Subscription)) {
		r.candidates(c, ch, func(s *Subscription) {
			if skip == nil || !skip(s, ch) {
				visit(s)
			}
		})
	})
}

// ApplyTo applies a transaction to one subscription only: a server uses it
// to bring a new subscription from its snapshot up to the transactions the
// other subscriptions have already seen. skip is as for ApplyBatch. It
// returns ErrStale, leaving s as it was, when s is a window that needs rows
// from storage and the reactor has no Refill source.
func (r *Reactor) ApplyTo(ctx context.Context, s *Subscription, changes []Change, skip func(*Subscription, *Change) bool) ([]Item, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := r.apply(ctx, changes, func(c *collIndex, ch *Change, visit func(*Subscription)) {
		if ch.Collection == s.collection && (skip == nil || !skip(s, ch)) {
			visit(s)
		}
	})
	if err := res.Failed[s]; err != nil {
		return nil, err
	}
	if len(res.Stale) > 0 {
		return nil, ErrStale
	}
	return res.Items[s], nil
}

func (r *Reactor) apply(ctx context.Context, changes []Change, candidates func(*collIndex, *Change, func(*Subscription))) Result {
	res := Result{Items: map[*Subscription][]Item{}}
	windows := map[*Subscription][]*Change{}
	for i := range changes {
		ch := &changes[i]
		c := r.colls[ch.Collection]
		if c == nil {
			continue
		}
		candidates(c, ch, func(s *Subscription) {
			if s.limited {
				windows[s] = append(windows[s], ch)
				return
			}
			if it, ok := applyOne(c, s, ch); ok {
				res.Items[s] = append(res.Items[s], it)
			}
		})
	}
	for s, chs := range windows {
		items, err := r.applyWindow(ctx, s, chs)
		if errors.Is(err, ErrStale) {
			res.Stale = append(res.Stale, s)
			continue
		}
		if err != nil {
			if res.Failed == nil {
				res.Failed = map[*Subscription]error{}
			}
			res.Failed[s] = err
			continue
		}
		if len(items) > 0 {
			res.Items[s] = items
		}
	}
	slices.SortFunc(res.Stale, func(a, b *Subscription) int { return cmpID(a.id, b.id) })
	return res
}

func cmpID(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// applyOne applies one change to a subscription without LIMIT, updating its
// members in place.
func applyOne(c *collIndex, s *Subscription, ch *Change) (Item, bool) {
	old, was := s.members[ch.ID]
	now := ch.New != nil && !ch.New.Deleted && s.m.Match(ch.New)
	switch {
	case now && !was:
		s.members[ch.ID] = ch.New
		c.addMember(ch.ID, s)
		return Item{Kind: Add, ID: ch.ID, State: ch.New}, true
	case now && was:
		s.members[ch.ID] = ch.New
		return Item{Kind: Update, ID: ch.ID, State: ch.New}, true
	case !now && was:
		delete(s.members, ch.ID)
		c.removeMember(ch.ID, s)
		return Item{Kind: Remove, ID: ch.ID, State: old}, true
	}
	return Item{}, false
}

// applyWindow computes a LIMIT subscription's new result set and the items
// that take the old one to it.
func (r *Reactor) applyWindow(ctx context.Context, s *Subscription, chs []*Change) ([]Item, error) {
	c := r.colls[s.collection]
	// The result set after the changes, before the LIMIT.
	next := make(map[event.ID]*entity.State, len(s.members)+len(chs))
	for id, st := range s.members {
		next[id] = st
	}
	changed := map[event.ID]bool{}
	for _, ch := range chs {
		changed[ch.ID] = true
		if ch.New != nil && !ch.New.Deleted && s.m.Match(ch.New) {
			next[ch.ID] = ch.New
		} else {
			delete(next, ch.ID)
		}
	}
	next, err := r.window(ctx, s, next, changed)
	if err != nil {
		return nil, err
	}
	var items []Item
	for id, old := range s.members {
		if _, ok := next[id]; !ok {
			items = append(items, Item{Kind: Remove, ID: id, State: old})
			c.removeMember(id, s)
		}
	}
	for id, st := range next {
		old, was := s.members[id]
		switch {
		case !was:
			items = append(items, Item{Kind: Add, ID: id, State: st})
			c.addMember(id, s)
		case old != st && changed[id]:
			items = append(items, Item{Kind: Update, ID: id, State: st})
		}
	}
	s.members = next
	slices.SortFunc(items, func(a, b Item) int {
		if a.Kind != b.Kind {
			return int(b.Kind) - int(a.Kind) // removes first, then updates, then adds
		}
		return s.m.Compare(a.State, b.State)
	})
	return items, nil
}

// window keeps the first `limit` entities of next in query order. When the
// window was full and members left it, the entities that sort after its old
// last member come from storage (refill), since the reactor never held them.
func (r *Reactor) window(ctx context.Context, s *Subscription, next map[event.ID]*entity.State, changed map[event.ID]bool) (map[event.ID]*entity.State, error) {
	old := sorted(s.m, s.members)
	full := len(old) >= s.limit && s.limit > 0
	list := sorted(s.m, next)
	if full {
		last := old[len(old)-1]
		// Entities that sort after the old window's end are only known to
		// the reactor when they changed now; storage may hold others before
		// them. Keep the ones within the old bounds, then refill.
		var within []*entity.State
		var after []*entity.State
		for _, st := range list {
			if s.m.Compare(st, last) <= 0 {
				within = append(within, st)
			} else {
				after = append(after, st)
			}
		}
		if len(within) < s.limit {
			if r.refill == nil {
				return nil, ErrStale
			}
			// Storage may be ahead of the changes applied so far (Postgres
			// refills read the database, not the stream): a member that
			// sorts within the window here can sort after its end there and
			// come back from the refill. Ask for enough rows to skip every
			// member and every changed entity and still fill the window.
			more, err := r.refill(ctx, s.collection, s.q, s.m, last, s.limit+len(changed))
			if err != nil {
				return nil, fmt.Errorf("refilling LIMIT window: %w", err)
			}
			for _, st := range more {
				// Changed entities are known from the change itself, members
				// from the stream: the refill only brings newcomers.
				if _, known := next[st.ID]; !known && !changed[st.ID] {
					after = append(after, st)
				}
			}
			slices.SortFunc(after, func(a, b *entity.State) int { return s.m.Compare(a, b) })
			list = append(within, after...)
		} else {
			list = within
		}
	}
	if len(list) > s.limit {
		list = list[:s.limit]
	}
	out := make(map[event.ID]*entity.State, len(list))
	for _, st := range list {
		out[st.ID] = st
	}
	return out, nil
}

func sorted(m *query.Matcher, set map[event.ID]*entity.State) []*entity.State {
	out := make([]*entity.State, 0, len(set))
	for _, st := range set {
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b *entity.State) int { return m.Compare(a, b) })
	return out
}

// Members returns the subscription's current result set in query order.
func (r *Reactor) Members(s *Subscription) []*entity.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return sorted(s.m, s.members)
}

// Count returns how many entities the subscription's result set holds
// (Members without the copy and the sort).
func (r *Reactor) Count(s *Subscription) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(s.members)
}

// Collection returns the subscription's collection.
func (s *Subscription) Collection() string { return s.collection }
