package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/internal/wire"
	"github.com/ankurah/ankurah-go/protocol"
)

// waitTimeout bounds every wait; nothing should take nearly this long.
const waitTimeout = 30 * time.Second

// albumSchema is the collection most tests use.
var albumSchema = protocol.Collection{Name: "album", Fields: []protocol.Field{
	{Name: "name", Type: "text"}, {Name: "year", Type: "bigint"}, {Name: "notes", Type: "text"}}}

// tclient is a protocol client that keeps, per subscription, the result set
// the server's items describe — what a real client holds.
type tclient struct {
	t    testing.TB
	conn *wire.Conn
	gen  *event.Generator

	mu    sync.Mutex
	sets  map[string]*resultSet // by subscription
	log   []wire.Push           // every push received
	items []protocol.Item       // every item received
	cond  chan struct{}         // closed and replaced on every change
}

// resultSet is a subscription's result set as of frame base and the
// changes applied since.
type resultSet struct {
	base     uint64
	entities map[string]protocol.Entity
	// violations of the stream's promises: an add of a member, an update
	// or remove of a non-member, an update to an older state.
	violations []string
}

func (s *resultSet) apply(p wire.Push, sub string) {
	if p.Seq <= s.base {
		return
	}
	for _, it := range p.Items {
		if it.Sub != sub {
			continue
		}
		old, member := s.entities[it.Entity.ID]
		switch {
		case it.Kind == "add" && member:
			s.violations = append(s.violations, "add of a member "+it.Entity.ID)
		case it.Kind != "add" && !member:
			s.violations = append(s.violations, it.Kind+" of a non-member "+it.Entity.ID)
		case it.Kind == "update" && maxID(it.Entity.Head) <= maxID(old.Head):
			s.violations = append(s.violations, "stale update of "+it.Entity.ID)
		}
		switch it.Kind {
		case "add", "update":
			s.entities[it.Entity.ID] = it.Entity
		case "remove":
			delete(s.entities, it.Entity.ID)
		}
	}
}

// maxID is a head's newest event: ids grow along causality, so a later
// state of an entity always has a larger one.
func maxID(head []string) string {
	m := ""
	for _, id := range head {
		m = max(m, id)
	}
	return m
}

// violations returns what a subscription's stream got wrong.
func (c *tclient) violations(sub string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sets[sub] == nil {
		return nil
	}
	return slices.Clone(c.sets[sub].violations)
}

func dial(t testing.TB, env *servertest.Env) *tclient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	conn, err := wire.Dial(ctx, env.URL, wire.Options{Client: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	return newTClient(t, conn)
}

// newTClient wraps an open connection, and closes it when the test ends.
func newTClient(t testing.TB, conn *wire.Conn) *tclient {
	c := &tclient{t: t, conn: conn, gen: event.NewGenerator(), sets: map[string]*resultSet{}, cond: make(chan struct{})}
	go c.pump()
	t.Cleanup(func() { conn.Close() })
	return c
}

func (c *tclient) pump() {
	for p := range c.conn.Changes() {
		c.mu.Lock()
		c.log = append(c.log, p)
		c.items = append(c.items, p.Items...)
		for sub, set := range c.sets {
			set.apply(p, sub)
		}
		c.signal()
		c.mu.Unlock()
	}
	c.mu.Lock()
	c.signal()
	c.mu.Unlock()
}

func (c *tclient) signal() {
	close(c.cond)
	c.cond = make(chan struct{})
}

func (c *tclient) do(req protocol.Request, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	return c.conn.Do(ctx, req, out)
}

func (c *tclient) must(req protocol.Request, out any) {
	c.t.Helper()
	if err := c.do(req, out); err != nil {
		c.t.Fatalf("%s: %v", req.Type, err)
	}
}

func (c *tclient) register(cs ...protocol.Collection) {
	c.t.Helper()
	c.must(protocol.Request{Type: protocol.TypeRegisterSchema, Collections: cs}, nil)
}

// subscribe starts a live query and records its initial set (resolving
// unchanged entities from the client's previous copy of the set; the
// returned result is as the server sent it).
func (c *tclient) subscribe(sub, coll, q string, args ...any) []protocol.Entity {
	c.t.Helper()
	res, err := c.trySubscribe(sub, coll, q, nil, args...)
	if err != nil {
		c.t.Fatalf("subscribe %s: %v", q, err)
	}
	return res.Entities
}

func (c *tclient) trySubscribe(sub, coll, q string, known map[string][]string, args ...any) (protocol.SubscribeResult, error) {
	var raw []json.RawMessage
	for _, a := range args {
		b, _ := json.Marshal(a)
		raw = append(raw, b)
	}
	var res protocol.SubscribeResult
	c.mu.Lock()
	var prev map[string]protocol.Entity
	if old := c.sets[sub]; old != nil {
		prev = old.entities
	}
	c.mu.Unlock()
	seq, err := c.conn.DoSeq(context.Background(), protocol.Request{Type: protocol.TypeSubscribe, Sub: sub, Collection: coll, Query: q, Args: raw, Known: known}, &res)
	if err != nil {
		return res, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	set := &resultSet{base: seq, entities: map[string]protocol.Entity{}}
	for _, e := range res.Entities {
		if e.Unchanged {
			e = prev[e.ID]
		}
		set.entities[e.ID] = e
	}
	// Pushes that followed the answer may have been pumped already.
	for _, p := range c.log {
		set.apply(p, sub)
	}
	c.sets[sub] = set
	return res, nil
}

// set returns a copy of a subscription's current result set.
func (c *tclient) set(sub string) map[string]protocol.Entity {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sets[sub] == nil {
		return nil
	}
	return maps.Clone(c.sets[sub].entities)
}

// waitFor waits until cond holds for the client's state.
func (c *tclient) waitFor(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		c.mu.Lock()
		ch := c.cond
		c.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			c.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// waitItems waits until n items have arrived (in total) and returns them.
func (c *tclient) waitItems(n int) []protocol.Item {
	c.t.Helper()
	c.waitFor(fmt.Sprintf("%d items", n), func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.items) >= n
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.items)
}

// create commits a creation and returns the entity id.
func (c *tclient) create(coll string, values map[string]any) string {
	c.t.Helper()
	id := c.gen.New()
	c.commit(protocol.Event{ID: id.String(), Collection: coll, EntityID: id.String(), Parents: []string{}, Operations: raw(values)})
	return id.String()
}

// edit commits an edit on top of the entity's current head (read with get).
func (c *tclient) edit(coll, id string, values map[string]any) {
	c.t.Helper()
	head := c.head(coll, id)
	c.commit(protocol.Event{ID: c.next(head).String(), Collection: coll, EntityID: id, Parents: head, Operations: raw(values)})
}

// remove commits a tombstone.
func (c *tclient) remove(coll, id string) {
	c.t.Helper()
	head := c.head(coll, id)
	c.commit(protocol.Event{ID: c.next(head).String(), Collection: coll, EntityID: id, Parents: head, Operations: map[string]json.RawMessage{}, Delete: true})
}

func (c *tclient) next(head []string) event.ID {
	h, err := event.ParseHead(head)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.gen.New(h...)
}

func (c *tclient) head(coll, id string) []string {
	c.t.Helper()
	var res protocol.EntitiesResult
	c.must(protocol.Request{Type: protocol.TypeGet, Collection: coll, IDs: []string{id}}, &res)
	if len(res.Entities) != 1 {
		c.t.Fatalf("get %s: %d entities", id, len(res.Entities))
	}
	return res.Entities[0].Head
}

func (c *tclient) commit(evs ...protocol.Event) protocol.EntitiesResult {
	c.t.Helper()
	var res protocol.EntitiesResult
	c.must(protocol.Request{Type: protocol.TypeCommit, Events: evs}, &res)
	return res
}

func raw(values map[string]any) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for k, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		out[k] = b
	}
	return out
}

// val decodes a value of an entity for comparisons.
func val(e protocol.Entity, field string) any {
	r, ok := e.Values[field]
	if !ok {
		return nil
	}
	var v any
	if err := json.Unmarshal(r, &v); err != nil {
		panic(err)
	}
	return v
}

// forEachKind runs a test against every backend kind.
func forEachKind(t *testing.T, kinds []string, f func(t *testing.T, env *servertest.Env)) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			f(t, servertest.Start(t, kind, servertest.Options{}))
		})
	}
}
