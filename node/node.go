// Package node is Ankurah's application API: a Node over a storage adapter,
// transactions that create, edit and delete entities, and typed collections
// of Go model structs with views (read) and mutables (edit).
//
// The same API serves a server program and a client program; only the store
// behind the node differs.
//
// This package is part of the module's public API: docs/api.md says what
// its compatibility promise covers.
package node

import (
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
)

// Node is one participant in the system: it owns a store and makes events.
type Node struct {
	store storage.Store
	ids   *event.Generator

	mu       sync.Mutex
	commitFn []func([]*entity.State)
}

// New returns a node over store.
func New(store storage.Store) *Node {
	return &Node{store: store, ids: event.NewGenerator()}
}

// Store returns the node's store.
func (n *Node) Store() storage.Store { return n.store }

// OnCommit registers fn to run after every successful commit made through
// this node, with the resulting states (in the committing goroutine).
func (n *Node) OnCommit(fn func([]*entity.State)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.commitFn = append(n.commitFn, fn)
}

// Get reads the latest committed state of an entity; storage.ErrNotFound
// when it does not exist (or was deleted).
func (n *Node) Get(ctx context.Context, collection string, id event.ID) (*entity.State, error) {
	got, err := n.store.Get(ctx, collection, []event.ID{id})
	if err != nil {
		return nil, err
	}
	if len(got) == 0 {
		return nil, storage.Errorf(storage.CodeNotFound, "%s %s does not exist", collection, id)
	}
	return got[0], nil
}

// History returns every event of an entity, oldest first.
func (n *Node) History(ctx context.Context, collection string, id event.ID) ([]event.Event, error) {
	return n.store.History(ctx, collection, id)
}

// Collection is a typed handle on the collection of model T.
type Collection[T any] struct {
	node  *Node
	model *schema.Model
}

// Register derives T's collection from the struct, makes sure it exists in
// the store (creating the table or adding missing columns), and returns a
// typed handle on it.
func Register[T any](ctx context.Context, n *Node) (*Collection[T], error) {
	m, err := schema.ModelOf(reflect.TypeFor[T]())
	if err != nil {
		return nil, err
	}
	if _, err := n.store.EnsureCollection(ctx, m.Collection); err != nil {
		return nil, fmt.Errorf("register %s: %w", m.Collection.Name, err)
	}
	return &Collection[T]{node: n, model: m}, nil
}

// Name returns the collection's name.
func (c *Collection[T]) Name() string { return c.model.Collection.Name }

// Schema returns the collection's schema as derived from T.
func (c *Collection[T]) Schema() schema.Collection { return c.model.Collection }

// Get reads the latest committed state of an entity as a view.
func (c *Collection[T]) Get(ctx context.Context, id event.ID) (*View[T], error) {
	st, err := c.node.Get(ctx, c.Name(), id)
	if err != nil {
		return nil, err
	}
	return c.view(st)
}

func (c *Collection[T]) view(st *entity.State) (*View[T], error) {
	v := &View[T]{state: st}
	if err := c.model.Decode(st.ID, st.Values, reflect.ValueOf(&v.value)); err != nil {
		return nil, err
	}
	return v, nil
}

// Create adds a new entity holding v to tx. Its id is known at once; the
// entity exists for others when tx commits.
func (c *Collection[T]) Create(tx *Tx, v T) (*Mutable[T], error) {
	vals, err := c.model.Encode(reflect.ValueOf(&v))
	if err != nil {
		return nil, err
	}
	e, err := tx.create(c.Name(), c.model.Collection.Map(), vals)
	if err != nil {
		return nil, err
	}
	return c.mutable(e)
}

// Edit returns a mutable for an existing entity, bound to tx. It reads the
// entity's state once (tx's snapshot); edits become one event at commit.
func (c *Collection[T]) Edit(ctx context.Context, tx *Tx, id event.ID) (*Mutable[T], error) {
	e, err := tx.Edit(ctx, c.Name(), id)
	if err != nil {
		return nil, err
	}
	return c.mutable(e)
}

// Delete deletes an entity in tx.
func (c *Collection[T]) Delete(ctx context.Context, tx *Tx, id event.ID) error {
	return tx.Delete(ctx, c.Name(), id)
}

func (c *Collection[T]) mutable(e *Entity) (*Mutable[T], error) {
	if m, ok := e.te.typed.(*Mutable[T]); ok {
		return m, nil // one working copy per entity per transaction
	}
	m := &Mutable[T]{entity: e, model: c.model}
	if err := c.model.Decode(e.ID(), e.te.cur.Values, reflect.ValueOf(&m.value)); err != nil {
		return nil, err
	}
	var err error
	if m.base, err = c.model.Encode(reflect.ValueOf(&m.value)); err != nil {
		return nil, err
	}
	e.te.typed = m
	return m, nil
}
