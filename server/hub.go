package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

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

// refillWorkers is how many stale LIMIT windows are read again at once.
const refillWorkers = 4

// hub is the fan-out: the reactor with every connection's subscriptions,
// fed one committed transaction at a time. One lock orders everything that
// must be ordered: a batch's frames are queued to every session before the
// next batch is looked at, and a subscription's result is queued before
// any change that follows it. No database I/O happens under it (see
// doc.go for the lock order, and refill for the LIMIT windows).
type hub struct {
	backend  Backend
	metrics  *metrics
	tracer   trace.Tracer
	sessions func() []*session // every live session (schema changes go to all)

	mu      sync.Mutex
	reactor *reactor.Reactor
	subs    map[*reactor.Subscription]*subscription
	filters map[*reactor.Subscription]Snapshot // snapshots still ahead of the stream
	// stale holds the LIMIT windows that lost members the reactor could
	// not replace, by the hub sequence number of the batch that found them
	// short. They are frozen as they were before that batch — no change
	// reaches them — until refill replaces them.
	stale   map[*reactor.Subscription]uint64
	refills []*subscription // stale windows for the refill workers, in order
	wake    chan struct{}   // a token while refills is not empty
	ring    [ringSize]*Batch
	seq     uint64 // batches published
}

// subscription is one live query of one session.
type subscription struct {
	sess     *session
	name     string
	nameJSON []byte
	rs       *reactor.Subscription // replaced when a stale window is read again
	// query is the client's query; rs runs it narrowed by the session's
	// read grant (authz.go), and hidden are the fields the client may not
	// see. When the grant changes, next and nextHidden wait for the
	// refill that reads the live query again with them.
	query      *query.Query
	hidden     []string
	next       *query.Query
	nextHidden []string
	viewKey    string // viewKey(hidden)

	// For the inspector: the frames that carried its result or changes,
	// the changes, and their bytes.
	frames, items, bytes int64
}

func newHub(b Backend, m *metrics) *hub {
	return &hub{backend: b, metrics: m, reactor: reactor.New(nil), subs: map[*reactor.Subscription]*subscription{},
		filters: map[*reactor.Subscription]Snapshot{}, stale: map[*reactor.Subscription]uint64{}, wake: make(chan struct{}, 1)}
}

// skip says whether a change must not reach a subscription: the snapshot
// its result set was read from already includes the change's transaction,
// or the subscription is a stale window waiting to be read again.
func (h *hub) skip(b *Batch) func(*reactor.Subscription, *reactor.Change) bool {
	return func(rs *reactor.Subscription, _ *reactor.Change) bool {
		if _, frozen := h.stale[rs]; frozen {
			return true
		}
		snap := h.filters[rs]
		return snap != nil && snap.Includes(b)
	}
}

// publish fans one committed transaction out to the sessions. Backends
// call it one transaction at a time, in commit order.
func (h *hub) publish(ctx context.Context, b *Batch) {
	if b.received.IsZero() {
		b.received = time.Now()
	}
	ctx, span := h.startChange(ctx, b)
	defer span.End()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	b.hubSeq = h.seq
	h.ring[h.seq%ringSize] = b
	if b.resync {
		h.resyncLocked()
		return
	}
	h.applySchemaLocked(b)

	_, match := h.tracer.Start(ctx, "ankurah.match")
	res := h.reactor.ApplyBatch(ctx, b.changes, h.skip(b))
	if match.IsRecording() {
		match.SetAttributes(attribute.Int("ankurah.subscriptions", len(res.Items)))
	}
	match.End()
	for rs, snap := range h.filters {
		if snap.Precedes(b) {
			delete(h.filters, rs)
		}
	}
	for rs, err := range res.Failed {
		h.endLocked(h.subs[rs], err)
	}
	for _, rs := range res.Stale {
		h.freezeLocked(rs, h.seq)
	}

	qctx, queue := h.tracer.Start(ctx, "ankurah.queue")
	enc := newBatchEncoder(b)
	frames := map[*session][]byte{}
	for rs, items := range res.Items {
		sub := h.subs[rs]
		if sub == nil || sub.sess.ended() {
			continue // an ended session's live queries wait for closeSession: nothing to encode for them
		}
		f := frames[sub.sess]
		n := len(f)
		for _, it := range items {
			if f == nil {
				f = append(make([]byte, 0, 256), `{"type":"changes","items":[`...)
			} else {
				f = append(f, ',')
			}
			f = enc.appendItem(f, sub, it)
		}
		frames[sub.sess] = f
		if len(items) > 0 {
			sub.frames++
			sub.items += int64(len(items))
			sub.bytes += int64(len(f) - n)
		}
	}
	writes := 0
	for sess, f := range frames {
		var w trace.Span
		if queue.IsRecording() && writes < maxWriteSpans {
			_, w = h.tracer.Start(qctx, "ankurah.write", trace.WithAttributes(attribute.String("ankurah.session", sess.id), attribute.Int("ankurah.bytes", len(f)+2)))
			writes++
		}
		sess.enqueueTraced(append(f, "]}"...), w)
	}
	if queue.IsRecording() {
		queue.SetAttributes(attribute.Int("ankurah.recipients", len(frames)))
	}
	queue.End()
	h.metrics.batch(b, len(b.changes), len(frames), time.Since(b.received))
}

// batchEncoder encodes each entity state and each entity's events once per
// batch and view (the fields a recipient may see); every recipient's frame
// with that view shares those bytes.
type batchEncoder struct {
	b      *Batch
	now    map[event.ID]*entity.State       // each changed entity's state after the batch (nil: deleted without a state)
	states map[viewed[*entity.State]][]byte // with the documents of ytext fields
	values map[viewed[*entity.State]][]byte // without them
	events map[viewed[event.ID]][]byte
}

// viewed is a cache key: a thing as a view shows it.
type viewed[T comparable] struct {
	of   T
	view string
}

func newBatchEncoder(b *Batch) *batchEncoder {
	e := &batchEncoder{b: b, now: make(map[event.ID]*entity.State, len(b.changes)), states: map[viewed[*entity.State]][]byte{}, values: map[viewed[*entity.State]][]byte{}, events: map[viewed[event.ID]][]byte{}}
	for _, ch := range b.changes {
		e.now[ch.ID] = ch.New
	}
	return e
}

func (e *batchEncoder) appendItem(f []byte, sub *subscription, it reactor.Item) []byte {
	f = append(f, `{"sub":`...)
	f = append(f, sub.nameJSON...)
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
	// The Yjs documents of ytext fields go with an entity that enters the
	// result set, and with a change that has no events; otherwise the
	// events carry the updates, and a keystroke costs its update, not the
	// whole document (docs/protocol.md).
	evs := e.b.events[it.ID]
	light := it.Kind != reactor.Add && len(evs) > 0
	cache, encode := e.states, protocol.AppendEntity
	if light {
		cache, encode = e.values, protocol.AppendEntityValues
	}
	sk := viewed[*entity.State]{s, sub.viewKey}
	st := cache[sk]
	if st == nil {
		st = encode(nil, view(s, sub.hidden))
		cache[sk] = st
	}
	f = append(f, st...)
	if len(evs) > 0 {
		ek := viewed[event.ID]{it.ID, sub.viewKey}
		enc := e.events[ek]
		if enc == nil {
			enc = append(enc, '[')
			for i := range evs {
				if i > 0 {
					enc = append(enc, ',')
				}
				enc = protocol.AppendEvent(enc, viewEvent(&evs[i], sub.hidden))
			}
			enc = append(enc, ']')
			e.events[ek] = enc
		}
		f = append(f, `,"events":`...)
		f = append(f, enc...)
	}
	return append(f, '}')
}

// subscribe starts (or, with replace, changes) a session's live query and
// queues its result. The initial result set is read outside the lock, from a
// snapshot; then, under the lock, the subscription is brought up to the
// stream (catchUpLocked). So nothing is lost, applied twice, or stale.
func (h *hub) subscribe(ctx context.Context, sess *session, reqID uint64, name, collection string, userQ *query.Query, known map[event.ID]event.Head, replace bool) error {
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

		q, hidden, err := sess.authorizeQuery(collection, userQ)
		if err != nil {
			return err
		}
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
		err = h.activateLocked(ctx, sess, reqID, name, collection, userQ, q, hidden, states, snap, known, registered, replace)
		h.mu.Unlock()
		return err
	}
}

// catchUpLocked registers a live query whose result set was read from
// snap, and brings it up to the stream: every batch published since
// (registered, the hub's position before the read, minus a slack) that the
// snapshot does not include is applied to it, in order; batches still to
// come that it includes will be skipped for it (filters). If a batch
// leaves it a short LIMIT window, it stops there and reports that batch
// (staleAt, 0 when none): the subscription is then exactly as of before it.
// A resync batch published after registered is reported the same way.
func (h *hub) catchUpLocked(ctx context.Context, collection string, q *query.Query, states []*entity.State, snap Snapshot, registered uint64) (rs *reactor.Subscription, staleAt uint64, err error) {
	rs, err = h.reactor.Subscribe(collection, q, states)
	if err != nil {
		return nil, 0, err
	}
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
		if b != nil && b.resync && seq > registered {
			// The stream lost transactions while the read ran; the read
			// may not have seen them either. Read it again.
			staleAt = seq
			break
		}
		if b == nil || b.resync || snap.Includes(b) {
			continue
		}
		_, err := h.reactor.ApplyTo(ctx, rs, b.changes, nil)
		if errors.Is(err, reactor.ErrStale) {
			staleAt = seq
			break
		}
		if err != nil {
			h.reactor.Unsubscribe(rs)
			return nil, 0, fmt.Errorf("bringing the subscription up to date: %w", err)
		}
	}
	if last == nil || !snap.Precedes(last) {
		h.filters[rs] = snap
	}
	return rs, staleAt, nil
}

func (h *hub) activateLocked(ctx context.Context, sess *session, reqID uint64, name, collection string, userQ, q *query.Query, hidden []string, states []*entity.State, snap Snapshot, known map[event.ID]event.Head, registered uint64, replace bool) error {
	if sess.closed {
		return nil // the session ended while reading; nothing to answer
	}
	rs, staleAt, err := h.catchUpLocked(ctx, collection, q, states, snap, registered)
	if err != nil {
		return err
	}

	sub := &subscription{sess: sess, name: name, nameJSON: strconv.AppendQuote(nil, name), rs: rs,
		query: userQ, hidden: hidden, viewKey: viewKey(hidden)}
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
			f = protocol.AppendEntity(f, view(st, hidden))
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
	sub.frames, sub.bytes = 1, int64(len(f))
	sess.enqueue(f)
	if staleAt != 0 {
		h.freezeLocked(rs, staleAt) // the answer is as of before a batch that emptied part of the window: read it again
	}
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
	perr := sub.sess.srv.wireError(context.Background(), sub.sess, cause)
	f := append([]byte(`{"type":"error","sub":`), sub.nameJSON...)
	f = append(f, `,"error":`...)
	f = appendJSON(f, perr)
	sub.sess.enqueue(append(f, '}'))
}

func (h *hub) dropLocked(sub *subscription) {
	h.reactor.Unsubscribe(sub.rs)
	delete(h.subs, sub.rs)
	delete(h.filters, sub.rs)
	delete(h.stale, sub.rs)
	if sub.sess.subs[sub.name] == sub {
		delete(sub.sess.subs, sub.name)
	}
	h.metrics.subscriptions.Add(-1)
}

// closeSession drops every subscription of a session that has ended, one
// per hold of the lock: dropping a subscription costs its members, and a
// session with many large subscriptions (a slow consumer with 300 live
// queries over 10,000 rows) would otherwise hold every other session's
// changes back for all of them at once. Between two holds the others'
// changes go on; the ended session's remaining subscriptions may still
// match, but enqueue drops what reaches a session that has ended.
func (h *hub) closeSession(sess *session) {
	h.mu.Lock()
	sess.closed = true
	subs := make([]*subscription, 0, len(sess.subs))
	for _, sub := range sess.subs {
		subs = append(subs, sub)
	}
	h.mu.Unlock()
	for _, sub := range subs {
		h.mu.Lock()
		if sess.subs[sub.name] == sub { // not ended meanwhile (endLocked)
			h.dropLocked(sub)
		}
		h.mu.Unlock()
	}
}

var errNotStarted = errors.New("the change stream has not started")
