package node

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/ytext"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// ErrTxDone is returned by a transaction used after Commit or Rollback.
var ErrTxDone = errors.New("transaction already committed or rolled back")

// Tx is a transaction: a set of entity creations, edits and deletions that
// commit together or not at all. It reads each entity it touches once, so it
// works on a stable snapshot; its edits are made on that snapshot's head, and
// commit merges them with whatever was committed in between.
//
// A Tx is not safe for concurrent use.
type Tx struct {
	node     *Node
	entities map[event.ID]*txEntity
	order    []event.ID
	done     bool
}

type txEntity struct {
	coll    string
	id      event.ID
	base    *entity.State // the snapshot; nil for an entity created in this tx
	cur     *entity.State // snapshot plus this tx's edits, for reads
	ops     map[string]value.Value
	deleted bool
	typed   interface{ flush() error } // the typed mutable, if any
	types   map[string]value.Type      // field types, where known (the schema, a model)
	texts   map[string]*ytext.Editor   // edits of ytext fields (text.go)
}

// Begin starts a transaction.
func (n *Node) Begin() *Tx {
	return &Tx{node: n, entities: map[event.ID]*txEntity{}}
}

// Create adds a new entity with the given field values. Fields the
// collection's schema lacks are added when the transaction commits.
func (tx *Tx) Create(collection string, values map[string]value.Value) (*Entity, error) {
	return tx.create(collection, nil, values)
}

// create is Create with the field types a model declares (nil: the
// collection's schema, if the store has it).
func (tx *Tx) create(collection string, types map[string]value.Type, values map[string]value.Value) (*Entity, error) {
	if tx.done {
		return nil, ErrTxDone
	}
	if err := event.ValidCollectionName(collection); err != nil {
		return nil, storage.Errorf(storage.CodeBadName, "%v", err)
	}
	id := tx.node.ids.New()
	te := &txEntity{coll: collection, id: id, cur: entity.New(collection, id), ops: map[string]value.Value{}, types: types}
	if te.types == nil {
		te.types = tx.node.fieldTypes(collection)
	}
	tx.entities[id] = te
	tx.order = append(tx.order, id)
	e := &Entity{te: te, tx: tx}
	for k, v := range values {
		if err := e.Set(k, v); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Get returns an entity as this transaction sees it: its snapshot (read on
// first use) with this transaction's edits.
func (tx *Tx) Get(ctx context.Context, collection string, id event.ID) (*Entity, error) {
	if tx.done {
		return nil, ErrTxDone
	}
	if te, ok := tx.entities[id]; ok {
		if te.coll != collection {
			return nil, storage.Errorf(storage.CodeNotFound, "%s %s does not exist", collection, id)
		}
		if te.deleted {
			return nil, storage.Errorf(storage.CodeNotFound, "%s %s was deleted in this transaction", collection, id)
		}
		return &Entity{te: te, tx: tx}, nil
	}
	st, err := tx.node.Get(ctx, collection, id)
	if err != nil {
		return nil, err
	}
	te := &txEntity{coll: collection, id: id, base: st, cur: st.Clone(), ops: map[string]value.Value{}, types: tx.node.fieldTypes(collection)}
	tx.entities[id] = te
	tx.order = append(tx.order, id)
	return &Entity{te: te, tx: tx}, nil
}

// Edit is Get, for the reader's benefit: the returned entity accepts Set.
func (tx *Tx) Edit(ctx context.Context, collection string, id event.ID) (*Entity, error) {
	return tx.Get(ctx, collection, id)
}

// Delete deletes an entity. Its row leaves the collection; its history stays.
func (tx *Tx) Delete(ctx context.Context, collection string, id event.ID) error {
	e, err := tx.Get(ctx, collection, id)
	if err != nil {
		return err
	}
	e.te.deleted = true
	return nil
}

// Rollback discards the transaction. It is safe to call after Commit.
func (tx *Tx) Rollback() {
	tx.done = true
	tx.entities = nil
}

// Events returns the events the transaction would commit now (one per
// entity that changed), without committing.
func (tx *Tx) Events() ([]event.Event, error) {
	if tx.done {
		return nil, ErrTxDone
	}
	var evs []event.Event
	for _, id := range tx.order {
		te := tx.entities[id]
		if te.typed != nil && !te.deleted {
			if err := te.typed.flush(); err != nil {
				return nil, err
			}
		}
		if !te.deleted {
			if err := te.flushTexts(); err != nil {
				return nil, err
			}
		}
		switch {
		case te.base == nil && te.deleted:
			continue // created and deleted in the same transaction
		case te.base == nil:
			ops := map[string]value.Value{}
			for k, v := range te.ops {
				if !v.IsNull() {
					ops[k] = v
				}
			}
			evs = append(evs, event.Event{ID: te.id, Collection: te.coll, Entity: te.id, Ops: ops})
		case te.deleted:
			evs = append(evs, event.Event{ID: tx.node.ids.New(te.base.Head...), Collection: te.coll,
				Entity: te.id, Parents: slices.Clone(te.base.Head), Delete: true})
		case len(te.ops) > 0:
			evs = append(evs, event.Event{ID: tx.node.ids.New(te.base.Head...), Collection: te.coll,
				Entity: te.id, Parents: slices.Clone(te.base.Head), Ops: maps.Clone(te.ops)})
		}
	}
	return evs, nil
}

// Commit stores the transaction's events atomically and returns the
// resulting entity states. After Commit the transaction is done, whether it
// succeeded or not.
func (tx *Tx) Commit(ctx context.Context) ([]*entity.State, error) {
	evs, err := tx.Events()
	if err != nil {
		return nil, err
	}
	tx.done = true
	if len(evs) == 0 {
		return nil, nil
	}
	states, err := tx.node.store.Commit(ctx, evs)
	if err != nil {
		return nil, err
	}
	tx.node.mu.Lock()
	fns := slices.Clone(tx.node.commitFn)
	tx.node.mu.Unlock()
	for _, fn := range fns {
		fn(states)
	}
	return states, nil
}

// Entity is the dynamic view of an entity inside a transaction: any field,
// typed by its value.
type Entity struct {
	te *txEntity
	tx *Tx
}

// ID returns the entity's id.
func (e *Entity) ID() event.ID { return e.te.id }

// Collection returns the entity's collection.
func (e *Entity) Collection() string { return e.te.coll }

// Head returns the head of the snapshot the transaction works on (empty for
// an entity created in it).
func (e *Entity) Head() event.Head {
	if e.te.base == nil {
		return nil
	}
	return slices.Clone(e.te.base.Head)
}

// Get returns a field's value as the transaction sees it.
func (e *Entity) Get(field string) value.Value { return e.te.cur.Get(field) }

// Values returns a copy of all field values as the transaction sees them.
func (e *Entity) Values() map[string]value.Value { return maps.Clone(e.te.cur.Values) }

// Set writes a field (NULL unsets it). Fields not in the collection's schema
// are allowed: they get a column of the value's type on commit.
func (e *Entity) Set(field string, v value.Value) error {
	if e.tx.done {
		return ErrTxDone
	}
	if err := event.ValidFieldName(field); err != nil {
		return storage.Errorf(storage.CodeBadName, "%v", err)
	}
	if e.te.deleted {
		return storage.Errorf(storage.CodeNotFound, "%s %s was deleted in this transaction", e.te.coll, e.te.id)
	}
	if v.Type() == value.Text && e.te.isText(field) {
		return e.SetText(field, v.Text())
	}
	if value.Equal(e.te.cur.Get(field), v) {
		return nil
	}
	e.te.ops[field] = v
	if v.IsNull() {
		delete(e.te.cur.Values, field)
	} else {
		e.te.cur.Values[field] = v
	}
	return nil
}

// View is a read-only typed snapshot of an entity.
type View[T any] struct {
	state *entity.State
	value T
}

// ID returns the entity's id.
func (v *View[T]) ID() event.ID { return v.state.ID }

// Head returns the head of the state the view shows.
func (v *View[T]) Head() event.Head { return slices.Clone(v.state.Head) }

// Value returns the entity as a T (a copy).
func (v *View[T]) Value() T { return v.value }

// Field returns any field, including ones T does not declare.
func (v *View[T]) Field(name string) value.Value { return v.state.Get(name) }

// Mutable is a typed, editable entity bound to a transaction. Edit the
// struct that Value points to; when the transaction commits, the fields that
// differ from the snapshot become the entity's event.
type Mutable[T any] struct {
	entity *Entity
	model  *schema.Model
	value  T
	base   map[string]value.Value // the encoded snapshot, for the diff
}

// ID returns the entity's id.
func (m *Mutable[T]) ID() event.ID { return m.entity.ID() }

// Value returns a pointer to the working copy; edits through it are part of
// the transaction.
func (m *Mutable[T]) Value() *T { return &m.value }

// Entity returns the dynamic view of the same entity (for fields T does not
// declare).
func (m *Mutable[T]) Entity() *Entity { return m.entity }

// flush turns the changed struct fields into operations (a ytext field's
// new text into the smallest edit that makes it).
func (m *Mutable[T]) flush() error {
	now, err := m.model.Encode(reflect.ValueOf(&m.value))
	if err != nil {
		return err
	}
	for k, v := range now {
		if old, ok := m.base[k]; ok && value.Equal(old, v) {
			continue
		}
		if err := m.entity.Set(k, v); err != nil {
			return fmt.Errorf("%s.%s: %w", m.model.Collection.Name, k, err)
		}
	}
	m.base = now
	return nil
}
