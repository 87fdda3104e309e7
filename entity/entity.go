// Package entity holds an entity's state — its values, per-property versions
// and head — and the merge rule that applies events to it.
//
// The merge rule (the LWW property backend): for each property, the value
// written by the event with the largest id wins. Because an event's id is
// always larger than its parents' (see package event), a write that causally
// follows another always wins, and truly concurrent writes are resolved the
// same way on every node. The result depends only on the set of events
// applied, never on their order. A tombstone wins over everything: once any
// applied event deletes the entity, it stays deleted.
//
// This package is part of the module's public API: docs/api.md says what
// its compatibility promise covers.
package entity

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/value"
)

// State is an entity's current state on one node.
type State struct {
	Collection string
	ID         event.ID
	Head       event.Head
	Values     map[string]value.Value // absent = NULL
	Versions   map[string]event.ID    // property → id of the event whose value it holds
	Deleted    bool
}

// New returns the empty state of an entity not yet created.
func New(collection string, id event.ID) *State {
	return &State{Collection: collection, ID: id, Values: map[string]value.Value{}, Versions: map[string]event.ID{}}
}

// Exists reports whether the entity has been created and not deleted.
func (s *State) Exists() bool { return len(s.Head) > 0 && !s.Deleted }

// Get returns a property's value (NULL when absent). Field "id" is the
// entity id as text, so that queries can name it.
func (s *State) Get(field string) value.Value {
	if field == "id" {
		return value.TextOf(s.ID.String())
	}
	return s.Values[field]
}

// Clone returns a deep copy.
func (s *State) Clone() *State {
	c := *s
	c.Head = slices.Clone(s.Head)
	c.Values = maps.Clone(s.Values)
	c.Versions = maps.Clone(s.Versions)
	if c.Values == nil {
		c.Values = map[string]value.Value{}
	}
	if c.Versions == nil {
		c.Versions = map[string]event.ID{}
	}
	return &c
}

// Errors from Apply; use errors.Is.
var (
	// ErrMissingParents: the event names parents this node does not have.
	// The event is rejected, never guessed at; deliver the parents first.
	ErrMissingParents = errors.New("event has unknown parents")
	// ErrWrongEntity: the event belongs to another entity or collection.
	ErrWrongEntity = errors.New("event belongs to another entity")
	// ErrNotCreated: a non-creation event for an entity that has no creation event here.
	ErrNotCreated = errors.New("entity does not exist")
	// ErrAlreadyCreated: a second creation event for an existing entity.
	ErrAlreadyCreated = errors.New("entity already exists")
)

// Known reports whether an event of this entity is already applied here.
type Known func(event.ID) bool

// Apply merges e into s. known tells which events of the entity this node
// already has (its stored history); it is consulted for redelivery and for
// the parents. It returns false, nil when e was already applied (redelivery
// is a no-op). The caller records e in its history after a true result.
func (s *State) Apply(e *event.Event, known Known) (bool, error) {
	if e.Entity != s.ID || e.Collection != s.Collection {
		return false, fmt.Errorf("%w: event %s is for %s/%s, not %s/%s", ErrWrongEntity, e.ID, e.Collection, e.Entity, s.Collection, s.ID)
	}
	if err := e.Validate(); err != nil {
		return false, err
	}
	if known(e.ID) || s.Head.Contains(e.ID) {
		return false, nil
	}
	if e.IsCreation() {
		if len(s.Head) > 0 {
			return false, fmt.Errorf("%w: %s", ErrAlreadyCreated, s.ID)
		}
	} else {
		if len(s.Head) == 0 {
			return false, fmt.Errorf("%w: %s/%s (event %s)", ErrNotCreated, s.Collection, s.ID, e.ID)
		}
		for _, p := range e.Parents {
			if !known(p) && !s.Head.Contains(p) {
				return false, fmt.Errorf("%w: %s needs %s", ErrMissingParents, e.ID, p)
			}
		}
	}
	s.Head = s.Head.Advance(e.ID, e.Parents)
	if e.Delete {
		s.Deleted = true
	}
	for f, v := range e.Ops {
		if cur, ok := s.Versions[f]; ok && cur.Compare(e.ID) > 0 {
			continue // a later (or concurrent, larger) write holds this property
		}
		s.Versions[f] = e.ID
		if v.IsNull() {
			delete(s.Values, f)
		} else {
			s.Values[f] = v
		}
	}
	return true, nil
}

// SortForApply orders events so that parents come before children: by id,
// which grows along history.
func SortForApply(evs []event.Event) {
	slices.SortFunc(evs, func(a, b event.Event) int { return a.ID.Compare(b.ID) })
}

// Replay rebuilds an entity's state from its full history (any order; it
// is sorted parents-first). It returns the state and the set of event ids
// applied, which callers use as the entity's known events.
func Replay(collection string, id event.ID, history []event.Event) (*State, map[event.ID]bool, error) {
	evs := append([]event.Event(nil), history...)
	SortForApply(evs)
	st := New(collection, id)
	seen := make(map[event.ID]bool, len(evs))
	for i := range evs {
		if _, err := st.Apply(&evs[i], func(e event.ID) bool { return seen[e] }); err != nil {
			return nil, nil, fmt.Errorf("replaying %s: %w", id, err)
		}
		seen[evs[i].ID] = true
	}
	return st, seen, nil
}
