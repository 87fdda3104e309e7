package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/reactor"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/query"
)

// ringSize is how many recent batches the hub keeps. A subscription whose
// snapshot read takes longer than the stream needs to publish this many
// batches is read again; the ring also covers the instant in which Postgres
// can stream a commit that a snapshot taken just then still sees as running.
const ringSize = 4096

// ringSlack is how many batches before a subscription's registration are
// re-examined against its snapshot (see subscribe).
const ringSlack = 64

// hub is the fan-out: the reactor with every connection's subscriptions,
// fed one committed transaction at a time. One lock orders everything that
// must be ordered: a batch's frames are queued to every session before the
// next batch is looked at, and a subscription's result is queued before
// any change that follows it.
type hub struct {
	backend  Backend
	metrics  *metrics
	sessions func() []*session // every live session (schema changes go to all)

	mu      sync.Mutex
	reactor *reactor.Reactor
	subs    map[*reactor.Subscription]*subscription
	byQuery map[*query.Query]*reactor.Subscription
	filters map[*reactor.Subscription]Snapshot // snapshots still ahead of the stream
	// Entities a window refill read from a snapshot ahead of the stream:
	// the stream's changes that snapshot includes are older than what the
	// subscription holds, and are skipped for it.
	entityFilters map[*reactor.Subscription]map[event.ID]Snapshot
	refills       []refill // refills of the transaction being applied
	ring          [ringSize]*Batch
	seq           uint64 // batches published
}

type refill struct {
	q      *query.Query
	states []*entity.State
	snap   Snapshot
}

// subscription is one live query of one session.
type subscription struct {
	sess     *session
	name     string
	nameJSON []byte
	rs       *reactor.Subscription
}

func newHub(b Backend, m *metrics) *hub {
	h := &hub{backend: b, metrics: m, subs: map[*reactor.Subscription]*subscription{}, byQuery: map[*query.Query]*reactor.Subscription{},
		filters: map[*reactor.Subscription]Snapshot{}, entityFilters: map[*reactor.Subscription]map[event.ID]Snapshot{}}
	// The reactor refills under the hub's lock (it runs inside Apply).
	h.reactor = reactor.New(func(ctx context.Context, coll string, q *query.Query, m *query.Matcher, after *entity.State, n int) ([]*entity.State, error) {
		states, snap, err := b.Refill(ctx, coll, q, m, after, n)
		if err == nil && snap != nil && len(states) > 0 {
			h.refills = append(h.refills, refill{q, states, snap})
		}
		return states, err
	})
	return h
}

// skip says whether a change must not reach a subscription: the snapshot
// its result set was read from, or the one a refilled member was read
// from, already includes the change's transaction.
func (h *hub) skip(b *Batch) func(*reactor.Subscription, *reactor.Change) bool {
	return func(rs *reactor.Subscription, ch *reactor.Change) bool {
		if snap := h.filters[rs]; snap != nil && snap.Includes(b) {
			return true
		}
		snap := h.entityFilters[rs][ch.ID]
		return snap != nil && snap.Includes(b)
	}
}

// settle updates the entity filters after a transaction: members that just
// entered from a refill get their snapshot's filter; members that left
// lose theirs; filters the stream has passed go.
func (h *hub) settle(b *Batch, items map[*reactor.Subscription][]reactor.Item) {
	for _, r := range h.refills {
		rs := h.byQuery[r.q]
		if rs == nil {
			continue
		}
		// Only members that entered as the refill's copy were read ahead
		// of the stream: an entity that also changed in this transaction
		// entered with the stream's state, which the filter must not hide
		// later changes from.
		refilled := make(map[*entity.State]bool, len(r.states))
		for _, st := range r.states {
			refilled[st] = true
		}
		for _, it := range items[rs] {
			if it.Kind == reactor.Add && refilled[it.State] {
				if h.entityFilters[rs] == nil {
					h.entityFilters[rs] = map[event.ID]Snapshot{}
				}
				h.entityFilters[rs][it.ID] = r.snap
			}
		}
	}
	h.refills = h.refills[:0]
	for rs, its := range items {
		if f := h.entityFilters[rs]; f != nil {
			for _, it := range its {
				if it.Kind == reactor.Remove {
					delete(f, it.ID)
				}
			}
		}
	}
	if b == nil {
		return
	}
	for rs, f := range h.entityFilters {
		for id, snap := range f {
			if snap.Precedes(b) {
				delete(f, id)
			}
		}
		if len(f) == 0 {
			delete(h.entityFilters, rs)
		}
	}
}

// publish fans one committed transaction out to the sessions.
func (h *hub) publish(ctx context.Context, b *Batch) {
	if b.received.IsZero() {
		b.received = time.Now()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	b.hubSeq = h.seq
	h.ring[h.seq%ringSize] = b
	h.applySchemaLocked(b)

	res := h.reactor.ApplyBatch(ctx, b.changes, h.skip(b))
	h.settle(b, res.Items)
	for rs, snap := range h.filters {
		if snap.Precedes(b) {
			delete(h.filters, rs)
		}
	}
	for rs, err := range res.Failed {
		h.endLocked(h.subs[rs], err)
	}

	enc := newBatchEncoder(b)
	frames := map[*session][]byte{}
	for rs, items := range res.Items {
		sub := h.subs[rs]
		if sub == nil {
			continue
		}
		f := frames[sub.sess]
		for _, it := range items {
			if f == nil {
				f = append(make([]byte, 0, 256), `{"type":"changes","items":[`...)
			} else {
				f = append(f, ',')
			}
			f = enc.appendItem(f, sub.nameJSON, it)
		}
		frames[sub.sess] = f
	}
	for sess, f := range frames {
		sess.enqueue(append(f, "]}"...))
	}
	h.metrics.batch(b, len(b.changes), len(frames), time.Since(b.received))
}

// batchEncoder encodes each entity state and each entity's events once per
// batch; every recipient's frame shares those bytes.
type batchEncoder struct {
	b      *Batch
	now    map[event.ID]*entity.State // each changed entity's state after the batch (nil: deleted without a state)
	states map[*entity.State][]byte
	events map[event.ID][]byte
}

func newBatchEncoder(b *Batch) *batchEncoder {
	e := &batchEncoder{b: b, now: make(map[event.ID]*entity.State, len(b.changes)), states: map[*entity.State][]byte{}, events: map[event.ID][]byte{}}
	for _, ch := range b.changes {
		e.now[ch.ID] = ch.New
	}
	return e
}

func (e *batchEncoder) appendItem(f, sub []byte, it reactor.Item) []byte {
	f = append(f, `{"sub":`...)
	f = append(f, sub...)
	f = append(f, `,"kind":"`...)
	f = append(f, it.Kind.String()...)
	f = append(f, `","entity":`...)
	// A removed entity that changed in this batch is shown as it is now
	// (the values that made it leave, or deleted); one pushed out of a
	// window without changing, as it was.
	s := it.State
	if now, changed := e.now[it.ID]; it.Kind == reactor.Remove && changed {
		if now == nil {
			c := *s
			c.Deleted = true
			now = &c
		}
		s = now
	}
	st := e.states[s]
	if st == nil {
		st = protocol.AppendEntity(nil, s)
		e.states[s] = st
	}
	f = append(f, st...)
	if evs := e.b.events[it.ID]; len(evs) > 0 {
		enc := e.events[it.ID]
		if enc == nil {
			enc = append(enc, '[')
			for i := range evs {
				if i > 0 {
					enc = append(enc, ',')
				}
				enc = protocol.AppendEvent(enc, &evs[i])
			}
			enc = append(enc, ']')
			e.events[it.ID] = enc
		}
		f = append(f, `,"events":`...)
		f = append(f, enc...)
	}
	return append(f, '}')
}

// subscribe starts (or, with replace, changes) a session's live query and
// queues its result. The initial result set is read outside the lock, from a
// snapshot; then, under the lock, the subscription is brought up to the
// stream: batches the hub has published that the snapshot does not include
// are applied to it, and batches still to come that it does include will be
// skipped for it (filters). So nothing is lost, applied twice, or stale.
func (h *hub) subscribe(ctx context.Context, sess *session, reqID uint64, name, collection string, q *query.Query, known map[event.ID]event.Head, replace bool) error {
	select {
	case <-h.backend.Ready():
	case <-ctx.Done():
		return ctx.Err()
	}
	for attempt := 0; ; attempt++ {
		h.mu.Lock()
		old := sess.subs[name]
		switch {
		case replace && old == nil:
			h.mu.Unlock()
			return protocol.Errorf(protocol.CodeUnknownSubscription, "no active subscription %q", name)
		case !replace && old != nil:
			h.mu.Unlock()
			return protocol.Errorf(protocol.CodeDuplicateSubscription, "subscription %q is already active", name)
		case !replace && len(sess.subs) >= sess.srv.cfg.MaxSubscriptions:
			h.mu.Unlock()
			return protocol.Errorf(protocol.CodeTooManySubscriptions, "this connection already has %d subscriptions", len(sess.subs))
		}
		if replace {
			collection = old.rs.Collection()
		}
		registered := h.seq
		h.mu.Unlock()

		states, snap, err := h.backend.Read(ctx, collection, q)
		if err != nil {
			return err
		}

		h.mu.Lock()
		if h.seq-registered > ringSize-ringSlack { // the ring no longer holds every batch since
			h.mu.Unlock()
			if attempt < 3 {
				continue
			}
			return protocol.Errorf(protocol.CodeInternal, "the change stream moved too fast to start the subscription; retry")
		}
		err = h.activateLocked(ctx, sess, reqID, name, collection, q, states, snap, known, registered, replace)
		h.mu.Unlock()
		return err
	}
}

func (h *hub) activateLocked(ctx context.Context, sess *session, reqID uint64, name, collection string, q *query.Query, states []*entity.State, snap Snapshot, known map[event.ID]event.Head, registered uint64, replace bool) error {
	if sess.closed {
		return nil // the session ended while reading; nothing to answer
	}
	rs, err := h.reactor.Subscribe(collection, q, states)
	if err != nil {
		return err
	}
	h.byQuery[q] = rs
	// Catch up with the stream: every recent batch the snapshot does not
	// include, in order.
	from := uint64(1)
	if registered > ringSlack {
		from = registered - ringSlack
	}
	if h.seq >= ringSize && from <= h.seq-ringSize {
		from = h.seq - ringSize + 1
	}
	var last *Batch
	for seq := from; seq <= h.seq; seq++ {
		b := h.ring[seq%ringSize]
		last = b
		if b == nil || snap.Includes(b) {
			continue
		}
		items, err := h.reactor.ApplyTo(ctx, rs, b.changes, h.skip(b))
		h.settle(nil, map[*reactor.Subscription][]reactor.Item{rs: items})
		if err != nil {
			h.reactor.Unsubscribe(rs)
			delete(h.entityFilters, rs)
			delete(h.byQuery, q)
			return fmt.Errorf("bringing the subscription up to date: %w", err)
		}
	}
	if last == nil || !snap.Precedes(last) {
		h.filters[rs] = snap
	}

	sub := &subscription{sess: sess, name: name, nameJSON: strconv.AppendQuote(nil, name), rs: rs}
	var removed []event.ID
	if replace {
		old := sess.subs[name]
		if known == nil {
			known = map[event.ID]event.Head{}
		}
		for _, st := range h.reactor.Members(old.rs) {
			known[st.ID] = st.Head
		}
		h.dropLocked(old)
	}
	members := h.reactor.Members(rs)
	in := make(map[event.ID]bool, len(members))
	for _, st := range members {
		in[st.ID] = true
	}
	for id := range known {
		if !in[id] {
			removed = append(removed, id)
		}
	}
	sortIDs(removed)
	h.subs[rs] = sub
	sess.subs[name] = sub
	h.metrics.subscriptions.Add(1)

	f := appendResultHead(nil, reqID)
	f = append(f, `{"sub":`...)
	f = append(f, sub.nameJSON...)
	f = append(f, `,"entities":[`...)
	for i, st := range members {
		if i > 0 {
			f = append(f, ',')
		}
		if h, ok := known[st.ID]; ok && h.Equal(st.Head) {
			f = protocol.AppendUnchanged(f, st)
		} else {
			f = protocol.AppendEntity(f, st)
		}
	}
	f = append(f, `],"removed":[`...)
	for i, id := range removed {
		if i > 0 {
			f = append(f, ',')
		}
		f = append(f, '"')
		f = append(f, id.String()...)
		f = append(f, '"')
	}
	f = append(f, "]}}"...)
	sess.enqueue(f)
	return nil
}

// unsubscribe ends a live query and queues the answer: no change for it
// follows.
func (h *hub) unsubscribe(sess *session, reqID uint64, name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	sub := sess.subs[name]
	if sub == nil {
		return protocol.Errorf(protocol.CodeUnknownSubscription, "no active subscription %q", name)
	}
	h.dropLocked(sub)
	sess.enqueue(append(appendResultHead(nil, reqID), "{}}"...))
	return nil
}

// endLocked ends a subscription the server can no longer maintain and tells
// its client.
func (h *hub) endLocked(sub *subscription, cause error) {
	if sub == nil {
		return
	}
	h.dropLocked(sub)
	perr := sub.sess.srv.wireError(sub.sess, cause)
	f := append([]byte(`{"type":"error","sub":`), sub.nameJSON...)
	f = append(f, `,"error":`...)
	f = appendJSON(f, perr)
	sub.sess.enqueue(append(f, '}'))
}

func (h *hub) dropLocked(sub *subscription) {
	h.reactor.Unsubscribe(sub.rs)
	delete(h.subs, sub.rs)
	delete(h.byQuery, sub.rs.Query())
	delete(h.filters, sub.rs)
	delete(h.entityFilters, sub.rs)
	if sub.sess.subs[sub.name] == sub {
		delete(sub.sess.subs, sub.name)
	}
	h.metrics.subscriptions.Add(-1)
}

// closeSession drops every subscription of a session that has ended.
func (h *hub) closeSession(sess *session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sess.closed = true
	for _, sub := range sess.subs {
		h.dropLocked(sub)
	}
}

var errNotStarted = errors.New("the change stream has not started")
