package client

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/wire"
	"github.com/ankurah/ankurah-go/node"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// Collection is a typed collection on a client: everything a
// node.Collection has (Create, Get, Edit, Delete, Fetch), plus Subscribe.
type Collection[T any] struct {
	*node.Collection[T]
	client *Client
}

// Register derives T's collection from the struct, registers it (locally at
// once; with the server now when connected, else when the client connects)
// and returns a typed handle on it.
func Register[T any](ctx context.Context, c *Client) (*Collection[T], error) {
	nc, err := node.Register[T](ctx, c.node)
	if err != nil {
		return nil, err
	}
	return &Collection[T]{Collection: nc, client: c}, nil
}

// ChangeSet is what one notification of a live query carries: the items of
// one server transaction, one local commit, or one answer of the server.
type ChangeSet[T any] struct {
	// Initial marks the first change set: Items are the initial result set
	// (kind Initial), in query order.
	Initial bool
	// Synced reports whether the live query follows the server. It is
	// false for a result set computed from the local cache (offline).
	Synced bool
	Items  []Item[T]
}

// Item is one entity's change in a live query's result set.
type Item[T any] struct {
	Kind Kind
	// Entity is the entity's state: for Remove, its last state (marked
	// deleted when it was deleted — see Entity.Field and Deleted).
	Entity *node.View[T]
	// Deleted reports that the entity was deleted (Remove only).
	Deleted bool
	// Events are the events that caused the change, when known: the
	// server transaction's, or the local commit's.
	Events []event.Event
}

// String prints a change set for logs and examples.
func (cs ChangeSet[T]) String() string {
	var b strings.Builder
	if cs.Initial {
		b.WriteString("initial ")
	}
	b.WriteByte('[')
	for i, it := range cs.Items {
		if i > 0 {
			b.WriteString(", ")
		}
		if it.Kind != Initial {
			fmt.Fprintf(&b, "%s ", it.Kind)
		}
		fmt.Fprintf(&b, "%s %+v", it.Entity.ID(), it.Entity.Value())
		if it.Deleted {
			b.WriteString(" (deleted)")
		}
		if n := len(it.Events); n > 0 {
			fmt.Fprintf(&b, " (%d event", n)
			if n > 1 {
				b.WriteByte('s')
			}
			b.WriteByte(')')
		}
	}
	b.WriteByte(']')
	return b.String()
}

// LiveQuery is a subscription: a query whose result set the client keeps
// current, evaluated locally (with the shared evaluator) over the entities
// the server reports and the client's own unconfirmed changes.
type LiveQuery[T any] struct {
	coll *Collection[T]
	l    *liveState
	fn   func(ChangeSet[T])
	ch   chan ChangeSet[T]
	// snaps is the channel of the watch WatchQuery started with a nil fn.
	snaps <-chan Snapshot[T]
}

// liveState is the client's side of a live query.
type liveState struct {
	c    *Client
	s    *sub
	conn uint64 // the connection it is subscribed on (0: none)
	// The selection wanted: sent on every (re)subscription.
	text  string
	args  []json.RawMessage
	ready chan struct{}
	isRdy bool
	q     *queue[rawChangeSet] // nil: no change sets are delivered (a live query of WatchQuery, WatchEntity)
	stop  chan struct{}
	once  sync.Once
	// watches follow the result as a whole (watch.go). Guarded by the
	// client's lock; s.watched says whether there are any.
	watches []watcher
}

func (l *liveState) notify(cs rawChangeSet) {
	if l.q != nil {
		l.q.push(cs)
	}
}

// markReady: the server's result set is applied. Lock held.
func (l *liveState) markReady() {
	if !l.isRdy {
		l.isRdy = true
		close(l.ready)
	}
}

func (l *liveState) end(error) {
	l.once.Do(func() {
		close(l.stop)
		if l.q != nil {
			l.q.close()
		}
		l.c.mu.Lock()
		ws := l.watches
		l.watches = nil
		l.s.watched = false
		l.c.mu.Unlock()
		for _, w := range ws {
			w.end()
		}
	})
}

// Subscribe starts a live query, e.g.
//
//	albums.Subscribe(ctx, func(cs client.ChangeSet[Album]) { … }, "year >= ? ORDER BY year LIMIT 20", 2000)
//
// fn receives every change set, in order, from one goroutine, starting with
// the initial result set; it may call any method of the client. With a nil
// fn, change sets are delivered on Changes() instead. Connected, Subscribe
// returns once the server's initial result set is loaded; offline, the
// initial set comes from the cache and the server's follows on reconnect
// (see Ready).
func (col *Collection[T]) Subscribe(ctx context.Context, fn func(ChangeSet[T]), q string, args ...any) (*LiveQuery[T], error) {
	return col.subscribe(ctx, true, fn, q, args...)
}

// subscribe starts a live query; with changes, its change sets are
// delivered (to fn, or on Changes() when fn is nil).
func (col *Collection[T]) subscribe(ctx context.Context, changes bool, fn func(ChangeSet[T]), q string, args ...any) (*LiveQuery[T], error) {
	c := col.client
	wargs, err := EncodeArgs(args...)
	if err != nil {
		return nil, err
	}
	parsed, m, err := compileSub(q, wargs)
	if err != nil {
		return nil, err
	}
	if err := col.check(parsed); err != nil {
		return nil, err
	}
	lq := &LiveQuery[T]{coll: col, fn: fn}
	if changes && fn == nil {
		lq.ch = make(chan ChangeSet[T], 16)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if _, ok := c.core.schemas[col.Name()]; !ok {
		c.mu.Unlock()
		return nil, storage.Errorf(storage.CodeNoCollection, "no collection %q", col.Name())
	}
	c.subSeq++
	s := c.core.addSub(fmt.Sprintf("q%d", c.subSeq), col.Name(), q, wargs, parsed, m)
	l := &liveState{c: c, s: s, text: q, args: wargs, ready: make(chan struct{}), stop: make(chan struct{})}
	if changes {
		var exit func()
		if lq.ch != nil {
			exit = func() { close(lq.ch) }
		}
		l.q = newQueue(c.deliv, lq.deliver, exit)
	}
	s.owner = l
	lq.l = l
	t, gen := c.conn, c.gen
	if t == nil {
		c.core.startFromCache(s)
		c.settle(false)
	}
	c.mu.Unlock()
	if t == nil {
		return lq, nil
	}
	switch err := c.syncSub(ctx, t, gen, s); {
	case err == nil:
	case IsDisconnected(err):
		// The server will answer after the reconnection; the cache now.
		c.mu.Lock()
		c.core.startFromCache(s)
		c.settle(false)
		c.mu.Unlock()
	default:
		lq.Close()
		return nil, err
	}
	return lq, nil
}

// syncSub subscribes a live query on connection t (generation gen) with the
// heads it holds, unless it already is.
func (c *Client) syncSub(ctx context.Context, t transport, gen uint64, s *sub) error {
	if err := c.schemaSent(ctx, t, s.coll); err != nil {
		return err
	}
	c.mu.Lock()
	l, _ := s.owner.(*liveState)
	if s.closed || l == nil || l.conn == gen {
		c.mu.Unlock()
		return nil
	}
	l.conn = gen
	text, args := l.text, l.args
	req := &protocol.Request{Type: protocol.TypeSubscribe, Sub: s.name, Collection: s.coll, Query: text, Args: args, Known: c.core.known(s)}
	c.mu.Unlock()
	q, m, err := compileSub(text, args)
	if err != nil {
		return err
	}
	return call(ctx, t, req, func(raw json.RawMessage) error {
		var res protocol.SubscribeResult
		if err := json.Unmarshal(raw, &res); err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if err := c.core.subscribed(s, res, text, args, q, m); err != nil {
			return err
		}
		l.markReady()
		c.settle(false)
		return nil
	})
}

// schemaSent waits until no registration of the collection is queued (so
// that the server knows it), or connection t ends.
func (c *Client) schemaSent(ctx context.Context, t transport, coll string) error {
	err := c.waitFor(ctx, func() bool { return !c.core.schemaQueued(coll) || c.conn != t })
	if err == nil && t != nil {
		c.mu.Lock()
		if c.conn != t {
			err = fmt.Errorf("%w: the connection ended", wire.ErrClosed)
		}
		c.mu.Unlock()
	}
	return err
}

func (lq *LiveQuery[T]) deliver(raw rawChangeSet) {
	cs := ChangeSet[T]{Initial: raw.initial, Synced: raw.synced, Items: make([]Item[T], 0, len(raw.items))}
	for _, it := range raw.items {
		v, err := lq.coll.viewOf(it.state)
		if err != nil {
			lq.l.c.log.Error("ankurah client: cannot decode an entity for a live query", "collection", lq.coll.Name(), "id", it.state.ID, "err", err)
			continue
		}
		cs.Items = append(cs.Items, Item[T]{Kind: it.kind, Entity: v, Deleted: it.state.Deleted, Events: it.events})
	}
	if lq.fn != nil {
		select {
		case <-lq.l.stop:
		default:
			lq.l.c.deliv.call(func() { lq.fn(cs) })
		}
		return
	}
	select {
	case lq.ch <- cs:
	case <-lq.l.stop:
	}
}

// viewOf makes a typed view of a state the client holds. (node has no
// exported constructor for views; the store's Get hands this state back.)
func (col *Collection[T]) viewOf(st *entity.State) (*node.View[T], error) {
	return col.Collection.Get(context.WithValue(context.Background(), stateKey{}, st), st.ID)
}

// Changes delivers the change sets of a live query started with a nil fn,
// from the initial result set on. It is closed when the live query closes.
// Not reading it only delays this live query's deliveries. It is nil for a
// live query started with a fn, or by WatchQuery.
func (lq *LiveQuery[T]) Changes() <-chan ChangeSet[T] { return lq.ch }

// Results returns the current result set, in query order.
func (lq *LiveQuery[T]) Results() []*node.View[T] {
	c := lq.l.c
	c.mu.Lock()
	states := c.core.results(lq.l.s)
	c.mu.Unlock()
	out := make([]*node.View[T], 0, len(states))
	for _, st := range states {
		if v, err := lq.coll.viewOf(st); err == nil {
			out = append(out, v)
		}
	}
	return out
}

// Ready waits until the server's result set for the current selection has
// been loaded (at once when it already is).
func (lq *LiveQuery[T]) Ready(ctx context.Context) error {
	c := lq.l.c
	c.mu.Lock()
	ch := lq.l.ready
	c.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-lq.l.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Synced reports whether the live query currently follows the server.
func (lq *LiveQuery[T]) Synced() bool {
	c := lq.l.c
	c.mu.Lock()
	defer c.mu.Unlock()
	return lq.l.s.synced
}

// Update changes the live query's selection (a new predicate, a cursor, a
// new LIMIT). The entities that enter and leave the result set are
// reported like any change. Connected, it returns once the server has
// answered; offline, the cache answers and the server follows on reconnect.
// Update must not be called concurrently with itself on one live query.
func (lq *LiveQuery[T]) Update(ctx context.Context, q string, args ...any) error {
	wargs, err := EncodeArgs(args...)
	if err != nil {
		return err
	}
	parsed, m, err := compileSub(q, wargs)
	if err != nil {
		return err
	}
	if err := lq.coll.check(parsed); err != nil {
		return err
	}
	l := lq.l
	c, s := l.c, l.s
	c.mu.Lock()
	if s.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	oldText, oldArgs := l.text, l.args
	l.text, l.args = q, wargs
	if l.isRdy {
		l.isRdy = false
		l.ready = make(chan struct{})
	}
	t, gen := c.conn, c.gen
	if t == nil || l.conn != gen {
		c.core.updateOffline(s, q, wargs, parsed, m)
		c.settle(false)
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	err = call(ctx, t, &protocol.Request{Type: protocol.TypeUpdateSubscription, Sub: s.name, Query: q, Args: wargs}, func(raw json.RawMessage) error {
		var res protocol.SubscribeResult
		if err := json.Unmarshal(raw, &res); err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if err := c.core.subscribed(s, res, q, wargs, parsed, m); err != nil {
			return err
		}
		l.markReady()
		c.settle(false)
		return nil
	})
	switch {
	case err == nil:
		return nil
	case IsDisconnected(err):
		c.mu.Lock()
		if l.text == q && !s.synced {
			c.core.updateOffline(s, q, wargs, parsed, m)
			c.settle(false)
		}
		c.mu.Unlock()
		return nil
	default:
		c.mu.Lock()
		if l.text == q {
			l.text, l.args = oldText, oldArgs
		}
		c.mu.Unlock()
		return err
	}
}

// Close ends the live query. No change set is delivered after Close
// returns, except one being delivered (Close may be called from fn).
func (lq *LiveQuery[T]) Close() error {
	l := lq.l
	c, s := l.c, l.s
	c.mu.Lock()
	if s.closed {
		c.mu.Unlock()
		l.end(nil)
		return nil
	}
	c.core.removeSub(s)
	t, gen := c.conn, c.gen
	subscribed := t != nil && l.conn == gen
	c.mu.Unlock()
	l.end(nil)
	if subscribed {
		ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
		defer cancel()
		_ = call(ctx, t, &protocol.Request{Type: protocol.TypeUnsubscribe, Sub: s.name}, nil)
	}
	return nil
}

// EncodeArgs converts query arguments to their wire (JSON) form, the form
// both the server and the client's local evaluation bind. Accepted: nil,
// strings, integers, floats (finite), bools, time.Time (sent as RFC 3339
// text, which compares with timestamptz), value.Value of those types and
// of the others (a numeric as an exact JSON number, a uuid, date, time,
// timestamp, interval or enum value as its text, an array as its text),
// pointers to them, and a slice or array of them for IN (?). bytea values
// cannot travel as arguments in protocol v1.
func EncodeArgs(args ...any) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(args))
	for i, a := range args {
		v, err := argJSON(a, true)
		if err != nil {
			return nil, protocol.Errorf("bad_argument", "argument %d: %s", i+1, err.Error())
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, protocol.Errorf("bad_argument", "argument %d: %s", i+1, err.Error())
		}
		out[i] = raw
	}
	return out, nil
}

var timeType = reflect.TypeFor[time.Time]()

func argJSON(a any, top bool) (any, error) {
	switch x := a.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return x, nil
	case string, bool, int, int64:
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v cannot travel as a JSON number", x)
		}
		return x, nil
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case []byte:
		if x == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("bytea arguments cannot travel in protocol v1")
	case value.Value:
		switch x.Type() {
		case value.Null:
			return nil, nil
		case value.Text, value.Ref:
			return x.Text(), nil
		case value.Int:
			return x.Int(), nil
		case value.Float:
			return argJSON(x.Float(), top)
		case value.Bool:
			return x.Bool(), nil
		case value.Time:
			return x.Time().Format(time.RFC3339Nano), nil
		case value.Real:
			return argJSON(x.Float(), top)
		case value.Numeric:
			if strings.ContainsAny(x.Text(), "NI") {
				return x.Text(), nil // NaN, Infinity: text in numeric form
			}
			return json.RawMessage(x.Text()), nil // a JSON number, read exactly by the server
		}
		switch x.Type().Kind() {
		case value.UUID, value.Date, value.TimeOfDay, value.Timestamp, value.Interval, value.Enum, value.Char:
			// Their text, which compares with fields of their type.
			var s string
			if err := json.Unmarshal(x.AppendJSON(nil), &s); err != nil {
				return nil, err
			}
			return s, nil
		case value.Array:
			return x.PGText(), nil // an array's text ('{1,2}'): a JSON array is an IN list
		}
		return nil, fmt.Errorf("a %s value cannot be a query argument", x.Type())
	}
	rv := reflect.ValueOf(a)
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			return nil, nil
		}
		return argJSON(rv.Elem().Interface(), top)
	case reflect.String:
		return rv.String(), nil
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if rv.Uint() > math.MaxInt64 {
			return nil, fmt.Errorf("%d does not fit in bigint", rv.Uint())
		}
		return int64(rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return argJSON(rv.Float(), top)
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return nil, fmt.Errorf("bytea arguments cannot travel in protocol v1")
		}
		if !top {
			return nil, fmt.Errorf("arrays may not nest")
		}
		list := make([]any, rv.Len())
		for i := range list {
			v, err := argJSON(rv.Index(i).Interface(), false)
			if err != nil {
				return nil, err
			}
			list[i] = v
		}
		return list, nil
	case reflect.Struct:
		if rv.Type().ConvertibleTo(timeType) {
			return argJSON(rv.Convert(timeType).Interface(), top)
		}
	}
	return nil, fmt.Errorf("unsupported type %T", a)
}
