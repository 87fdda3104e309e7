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
// ytext fields (collaborative text, docs/text.md) are the exception: their
// operations are Yjs updates, merged into the field's Yjs document (Docs)
// character by character, and the field's value is the document's text. Yjs
// merging, too, depends only on the set of updates applied. A field that has
// a document takes its value from it only: a plain value written to it (which
// the stores refuse) does not override the text, whatever the order.
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
	"github.com/ankurah/ankurah-go/internal/ytext"
	"github.com/ankurah/ankurah-go/value"
)

// State is an entity's current state on one node.
type State struct {
	Collection string
	ID         event.ID
	Head       event.Head
	Values     map[string]value.Value // absent = NULL
	Versions   map[string]event.ID    // property → id of the event whose value it holds
	// Docs holds the Yjs document of each ytext field that has one, as its
	// state (a Yjs update, format v1, holding the whole document). Its text
	// is the field's value in Values. States are never modified in place.
	Docs    map[string][]byte
	Deleted bool
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
	c.Docs = maps.Clone(s.Docs) // the states themselves are immutable
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
	texts, err := s.mergeTexts(e)
	if err != nil {
		return false, err
	}
	s.Head = s.Head.Advance(e.ID, e.Parents)
	if e.Delete {
		s.Deleted = true
	}
	s.applyOps(e, texts)
	return true, nil
}

// ErrText is wrapped by the errors of Yjs updates that cannot be merged: not
// a Yjs update, or one whose content depends on updates the entity's history
// lacks (a replica that edits a document has applied every update its edit
// builds on, and an event's parents carry them, so only a broken or hostile
// writer sends such an update).
var ErrText = errors.New("bad ytext update")

// mergeTexts merges e's Yjs updates into copies of the documents they edit,
// without changing s, so that a failure leaves s as it was.
func (s *State) mergeTexts(e *event.Event) (map[string]ytext.Doc, error) {
	var out map[string]ytext.Doc
	for f, v := range e.Ops {
		if v.Type() != value.YUpdate {
			continue
		}
		d, err := ytext.Merge(s.Docs[f], v.YUpdate())
		if err != nil {
			return nil, fmt.Errorf("%w: event %s, field %s: %v", ErrText, e.ID, f, err)
		}
		if d.Pending {
			return nil, fmt.Errorf("%w: event %s, field %s: the update builds on content the entity's history does not hold", ErrText, e.ID, f)
		}
		if out == nil {
			out = map[string]ytext.Doc{}
		}
		out[f] = d
	}
	return out, nil
}

// applyOps applies e's operations, with the documents mergeTexts made.
func (s *State) applyOps(e *event.Event, texts map[string]ytext.Doc) {
	for f, v := range e.Ops {
		cur, ok := s.Versions[f]
		later := ok && cur.Compare(e.ID) > 0 // a later (or concurrent, larger) write holds this property
		if !later {
			s.Versions[f] = e.ID
		}
		if d, ok := texts[f]; ok {
			if s.Docs == nil {
				s.Docs = map[string][]byte{}
			}
			s.Docs[f] = d.State
			s.Values[f] = value.TextOf(d.Text)
			continue
		}
		if later || s.Docs[f] != nil {
			continue // a document's text is its value, whatever else was written
		}
		if v.IsNull() {
			delete(s.Values, f)
		} else {
			s.Values[f] = v
		}
	}
}

// ApplyUnchecked applies e's operations to s as Apply does, without
// checking e against the entity's history: for a replica's optimistic view
// of its own unconfirmed events, whose parents it assumes. Unlike Apply, a
// Yjs update that waits for content not here is kept waiting in the
// document (as Yjs keeps it), not refused; a ytext field whose text s holds
// without its document keeps its text.
func (s *State) ApplyUnchecked(e *event.Event) error {
	var texts map[string]ytext.Doc
	for f, v := range e.Ops {
		if v.Type() != value.YUpdate {
			continue
		}
		if s.Docs[f] == nil && !s.Values[f].IsNull() {
			// A text held without its document (a replica that has not
			// fetched it) cannot take an update: it keeps its text.
			continue
		}
		d, err := ytext.Merge(s.Docs[f], v.YUpdate())
		if err != nil {
			return fmt.Errorf("%w: event %s, field %s: %v", ErrText, e.ID, f, err)
		}
		if texts == nil {
			texts = map[string]ytext.Doc{}
		}
		texts[f] = d
	}
	s.Head = s.Head.Advance(e.ID, e.Parents)
	if e.Delete {
		s.Deleted = true
	}
	s.applyOps(e, texts)
	return nil
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
