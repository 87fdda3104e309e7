package client

import (
	"context"
	"slices"
	"sync"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/node"
)

// Watches follow a value the client keeps current — a live query's result
// as a whole, or one entity — with the semantics of the TypeScript
// client's signals (clients/ts/src/signal.ts, LiveQuery.subscribe,
// useEntity): a watcher gets the current value at once, then the new value
// after each change, local or remote, and only when it differs from the
// last one delivered. Like a signal, a watch holds the latest value, not a
// history: a reader slower than the changes skips values in between, never
// the last one, and never holds the client back.
//
// Each watch has one delivery goroutine of the client's (Close waits for
// it, except while it runs the watcher's callback). The client's side of
// a change only wakes it (liveState.wakeWatches, a non-blocking send); the
// goroutine then reads the live query's result under the client's lock and
// makes the typed views outside it.

// Snapshot is a live query's result as a whole, as a watch delivers it
// (TypeScript: LiveQuerySnapshot, useLiveQuery).
type Snapshot[T any] struct {
	// Rows is the result set, in query order.
	Rows []*node.View[T]
	// Synced reports whether the live query follows the server (TS status
	// "live"). It is false while the rows come from the client's cache:
	// offline, or after a reconnection until the server has answered the
	// resubscription (TS "cached").
	Synced bool
	// Pending reports whether some row shows local changes the server has
	// not confirmed yet; IsPending says which.
	Pending bool
	pending map[event.ID]bool
}

// IsPending reports whether the row with this id shows local changes the
// server has not confirmed yet (TS: isPending(view)).
func (s Snapshot[T]) IsPending(id event.ID) bool { return s.pending[id] }

// EntitySnapshot is one entity as a watch delivers it (TS: useEntity, which
// returns the view, or null).
type EntitySnapshot[T any] struct {
	// View is the entity's state now, or nil when it does not exist here:
	// it was deleted (Deleted), it was never created, or the client does
	// not know it yet (offline, Synced is false).
	View *node.View[T]
	// Deleted reports that the entity was deleted (View is nil).
	Deleted bool
	// Synced reports whether the server has answered for the entity on the
	// current connection; false: from the cache.
	Synced bool
	// Pending reports whether View shows local changes the server has not
	// confirmed yet.
	Pending bool
}

// Watch follows a value — a Snapshot or an EntitySnapshot — and delivers it
// after each change: to a callback, or on a channel that holds the latest
// value (capacity 1; an undelivered value is replaced by the next one).
type Watch[V any] struct {
	c     *Client
	l     *liveState
	read  func() (shot, bool)
	typed func(shot) V
	owner func() error // closes the live query the watch started (nil: it watches another's)
	fn    func(V)
	ch    chan V
	wake  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
	last  shot // what was delivered last (the delivery goroutine's)
}

// watcher is a Watch of any type, as its live query sees it.
type watcher interface {
	poke()
	end()
}

// shot is what a watch reads of a live query under the client's lock: the
// result's states in query order (they are never modified, so the views
// are made outside the lock) and its flags.
type shot struct {
	states  []*entity.State
	pending []bool
	synced  bool
	deleted bool // for an entity watch: the entity is deleted here
}

func (a shot) same(b shot) bool {
	if a.synced != b.synced || a.deleted != b.deleted || len(a.states) != len(b.states) {
		return false
	}
	for i, st := range a.states {
		if a.pending[i] != b.pending[i] || (st != b.states[i] && !sameState(st, b.states[i])) {
			return false
		}
	}
	return true
}

// read returns the live query's result as a shot; alive is false once the
// live query or the client has ended. With a non-zero id (an entity
// watch), deleted says whether that entity is deleted here.
func (l *liveState) read(id event.ID) (sh shot, alive bool) {
	c, s := l.c, l.s
	type row struct {
		st      *entity.State
		pending bool
	}
	c.mu.Lock()
	alive = !s.closed && !c.closed
	select {
	case <-l.stop:
		alive = false
	default:
	}
	rows := make([]row, 0, len(s.results))
	for eid, st := range s.results {
		e := c.core.entries[eid]
		rows = append(rows, row{st, e != nil && len(e.pending) > 0})
	}
	sh.synced = s.synced
	if !id.IsZero() && len(rows) == 0 {
		if e := c.core.entries[id]; e != nil && e.visible != nil && e.visible.Deleted {
			sh.deleted = true
		}
	}
	m := s.m
	c.mu.Unlock()
	slices.SortFunc(rows, func(a, b row) int { return m.Compare(a.st, b.st) })
	sh.states = make([]*entity.State, len(rows))
	sh.pending = make([]bool, len(rows))
	for i, r := range rows {
		sh.states[i], sh.pending[i] = r.st, r.pending
	}
	return sh, alive
}

// wakeWatches tells the live query's watches that its result may have
// changed. Lock held.
func (l *liveState) wakeWatches() {
	for _, w := range l.watches {
		w.poke()
	}
}

// viewCache keeps the views of a watch's last rows, so that an unchanged
// row keeps its *node.View (and is not decoded again).
type viewCache[T any] struct {
	col *Collection[T]
	mu  sync.Mutex
	m   map[*entity.State]*node.View[T]
}

func (vc *viewCache[T]) view(st *entity.State, next map[*entity.State]*node.View[T]) *node.View[T] {
	v := vc.m[st]
	if v == nil {
		var err error
		if v, err = vc.col.viewOf(st); err != nil {
			vc.col.client.log.Error("ankurah client: cannot decode an entity for a watch", "collection", vc.col.Name(), "id", st.ID, "err", err)
			return nil
		}
	}
	next[st] = v
	return v
}

func (vc *viewCache[T]) snapshot(sh shot) Snapshot[T] {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	next := make(map[*entity.State]*node.View[T], len(sh.states))
	s := Snapshot[T]{Rows: make([]*node.View[T], 0, len(sh.states)), Synced: sh.synced}
	for i, st := range sh.states {
		v := vc.view(st, next)
		if v == nil {
			continue
		}
		s.Rows = append(s.Rows, v)
		if sh.pending[i] {
			if s.pending == nil {
				s.pending = map[event.ID]bool{}
			}
			s.pending[st.ID] = true
			s.Pending = true
		}
	}
	vc.m = next
	return s
}

func (vc *viewCache[T]) entity(sh shot) EntitySnapshot[T] {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	next := make(map[*entity.State]*node.View[T], 1)
	es := EntitySnapshot[T]{Synced: sh.synced, Deleted: sh.deleted}
	if len(sh.states) > 0 {
		if es.View = vc.view(sh.states[0], next); es.View != nil {
			es.Pending = sh.pending[0]
		}
	}
	vc.m = next
	return es
}

// Watch follows the live query's result as a whole: fn receives a Snapshot
// at once and after each change set (a local commit, a server transaction,
// a rollback, the server's answer) and whenever Synced or a row's pending
// flag changes — the latest one, on a goroutine of the watch's own: values
// in between are skipped when fn is slower than the changes, and fn may
// call any method of the client. With a nil fn, snapshots are delivered on
// the watch's channel C (capacity 1, holding the latest). A live query may
// have any number of watches; they end with it. Watches and change sets
// are delivered independently of each other. TS: LiveQuery.subscribe.
func (lq *LiveQuery[T]) Watch(fn func(Snapshot[T])) (*Watch[Snapshot[T]], error) {
	vc := &viewCache[T]{col: lq.coll}
	return newWatch(lq.l, fn, func() (shot, bool) { return lq.l.read(event.Zero) }, vc.snapshot, nil)
}

// WatchQuery starts a live query that is watched as a whole instead of by
// change sets: Subscribe followed by Watch(fn), where the watch ends with
// the live query (Close) and, with a nil fn, its channel is Snapshots().
// It returns as Subscribe does: connected, once the server's result set is
// loaded, so the first snapshot is Synced; offline, at once, with a
// snapshot from the cache.
func (col *Collection[T]) WatchQuery(ctx context.Context, fn func(Snapshot[T]), q string, args ...any) (*LiveQuery[T], error) {
	lq, err := col.subscribe(ctx, false, nil, q, args...)
	if err != nil {
		return nil, err
	}
	w, err := lq.Watch(fn)
	if err != nil {
		lq.Close()
		return nil, err
	}
	lq.snaps = w.C()
	return lq, nil
}

// Snapshots delivers the snapshots of a live query started by WatchQuery
// with a nil fn: the current one, then the latest after each change (see
// Watch). It is closed when the live query closes, and nil for other live
// queries.
func (lq *LiveQuery[T]) Snapshots() <-chan Snapshot[T] { return lq.snaps }

// WatchEntity watches one entity: fn receives an EntitySnapshot — the
// entity's typed view, or nil with Deleted once it is deleted — at once and
// after each change of the entity, local (an optimistic commit, a
// rollback, a confirmation) or remote (another client, SQL), with the
// delivery of Watch; with a nil fn they arrive on the watch's channel C.
// It subscribes to the entity on the server (a live query "id = ?", as
// the TypeScript client's useEntity does), so it returns as Subscribe
// does; Close ends the subscription.
func (col *Collection[T]) WatchEntity(ctx context.Context, id event.ID, fn func(EntitySnapshot[T])) (*Watch[EntitySnapshot[T]], error) {
	lq, err := col.subscribe(ctx, false, nil, "id = ?", id.String())
	if err != nil {
		return nil, err
	}
	vc := &viewCache[T]{col: col}
	w, err := newWatch(lq.l, fn, func() (shot, bool) { return lq.l.read(id) }, vc.entity, lq.Close)
	if err != nil {
		lq.Close()
		return nil, err
	}
	return w, nil
}

func newWatch[V any](l *liveState, fn func(V), read func() (shot, bool), typed func(shot) V, owner func() error) (*Watch[V], error) {
	c := l.c
	w := &Watch[V]{c: c, l: l, read: read, typed: typed, owner: owner, fn: fn, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	if fn == nil {
		w.ch = make(chan V, 1)
	}
	c.mu.Lock()
	stopped := c.closed || l.s.closed
	select {
	case <-l.stop:
		stopped = true
	default:
	}
	if stopped {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	l.watches = append(l.watches, w)
	l.s.watched = true
	c.deliv.add() // under the lock: Close, which takes it to begin, waits for this goroutine
	c.mu.Unlock()
	// A change from here on wakes the goroutine, which compares it with this.
	sh, _ := read()
	w.last = sh
	first := typed(sh)
	if w.ch != nil {
		w.ch <- first
	}
	go w.run(first)
	return w, nil
}

func (w *Watch[V]) run(first V) {
	defer w.c.deliv.done()
	defer close(w.done)
	if w.ch != nil {
		defer close(w.ch)
	} else {
		w.deliver(first)
	}
	for {
		select {
		case <-w.stop:
			return
		case <-w.wake:
		}
		sh, alive := w.read()
		if !alive {
			return
		}
		if sh.same(w.last) {
			continue
		}
		w.last = sh
		w.deliver(w.typed(sh))
	}
}

func (w *Watch[V]) deliver(v V) {
	if w.ch != nil {
		// The only sender: after taking an undelivered value out, the send
		// cannot block.
		select {
		case <-w.ch:
		default:
		}
		w.ch <- v
		return
	}
	select {
	case <-w.stop:
	default:
		w.c.deliv.call(func() { w.fn(v) })
	}
}

// poke wakes the delivery goroutine (never blocks). Client lock held.
func (w *Watch[V]) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *Watch[V]) end() { w.once.Do(func() { close(w.stop) }) }

// C returns the channel of a watch made with a nil fn (nil otherwise): it
// holds the latest value not yet received, and is closed when the watch
// ends (Close, or the end of its live query or client).
func (w *Watch[V]) C() <-chan V { return w.ch }

// Value returns the current value (TS: a signal's peek), read now: it
// includes a change whose delivery is still on its way.
func (w *Watch[V]) Value() V {
	sh, _ := w.read()
	return w.typed(sh)
}

// Close ends the watch (and the subscription of WatchEntity). With a
// channel, C is closed when Close returns; with a callback, no value is
// delivered after Close returns except one being delivered (Close may be
// called from the callback).
func (w *Watch[V]) Close() error {
	var err error
	if w.owner != nil {
		err = w.owner()
	} else {
		c := w.c
		c.mu.Lock()
		w.l.watches = slices.DeleteFunc(w.l.watches, func(x watcher) bool { return x == watcher(w) })
		w.l.s.watched = len(w.l.watches) > 0
		c.mu.Unlock()
	}
	w.end()
	if w.ch != nil {
		<-w.done
	}
	return err
}
