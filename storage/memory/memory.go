// Package memory is the in-memory storage adapter: for tests, for client
// caches, and as the reference the other adapters are checked against.
//
// This package is part of the module's public API: docs/api.md says what
// its compatibility promise covers.
package memory

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// Store keeps everything in maps behind one lock. Commits are atomic because
// they merge into copies and swap them in only when every event applied.
type Store struct {
	mu          sync.RWMutex
	collections map[string]map[string]value.Type
	states      map[event.ID]*entity.State // including deleted entities
	events      map[event.ID]event.Event
	history     map[event.ID][]event.ID // entity → its event ids
}

var _ storage.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		collections: map[string]map[string]value.Type{},
		states:      map[event.ID]*entity.State{},
		events:      map[event.ID]event.Event{},
		history:     map[event.ID][]event.ID{},
	}
}

// EnsureCollection implements storage.Store.
func (s *Store) EnsureCollection(_ context.Context, c schema.Collection) (schema.Collection, error) {
	if err := c.Validate(); err != nil {
		return schema.Collection{}, storage.Errorf(storage.CodeBadName, "%v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ensure(c.Name, c.Map()); err != nil {
		return schema.Collection{}, err
	}
	return schema.FromMap(c.Name, s.collections[c.Name]), nil
}

func (s *Store) ensure(name string, fields map[string]value.Type) error {
	cur := s.collections[name]
	for f, t := range fields {
		have, ok := cur[f]
		if ok && have != t {
			return storage.Errorf(storage.CodeTypeMismatch, "field %s.%s is %s, not %s", name, f, have, t)
		}
		if !ok {
			if err := storage.CheckNewName("field", f); err != nil {
				return storage.Errorf(storage.CodeBadName, "%v", err)
			}
		}
	}
	if cur == nil {
		if err := storage.CheckNewName("collection", name); err != nil {
			return storage.Errorf(storage.CodeBadName, "%v", err)
		}
		cur = map[string]value.Type{}
		s.collections[name] = cur
	}
	maps.Copy(cur, fields)
	return nil
}

// Collection implements storage.Store.
func (s *Store) Collection(_ context.Context, name string) (schema.Collection, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f, ok := s.collections[name]
	if !ok {
		return schema.Collection{}, storage.Errorf(storage.CodeNoCollection, "no collection %q", name)
	}
	return schema.FromMap(name, f), nil
}

// Collections implements storage.Store.
func (s *Store) Collections(_ context.Context) ([]schema.Collection, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]schema.Collection, 0, len(s.collections))
	for _, name := range slices.Sorted(maps.Keys(s.collections)) {
		out = append(out, schema.FromMap(name, s.collections[name]))
	}
	return out, nil
}

// Get implements storage.Store.
func (s *Store) Get(_ context.Context, collection string, ids []event.ID) ([]*entity.State, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.collections[collection]; !ok {
		return nil, storage.Errorf(storage.CodeNoCollection, "no collection %q", collection)
	}
	var out []*entity.State
	for _, id := range ids {
		if st, ok := s.states[id]; ok && st.Collection == collection && st.Exists() {
			out = append(out, st.Clone())
		}
	}
	return out, nil
}

// Events implements storage.Store and event.Source.
func (s *Store) Events(_ context.Context, ids []event.ID) ([]event.Event, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []event.Event
	for _, id := range ids {
		if e, ok := s.events[id]; ok {
			out = append(out, e)
		}
	}
	return out, nil
}

// History implements storage.Store.
func (s *Store) History(_ context.Context, collection string, id event.ID) ([]event.Event, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []event.Event
	for _, eid := range s.history[id] {
		if e := s.events[eid]; e.Collection == collection {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b event.Event) int { return a.ID.Compare(b.ID) })
	return out, nil
}

// Scan implements storage.Store.
func (s *Store) Scan(_ context.Context, collection string, fn func(*entity.State) bool) error {
	s.mu.RLock()
	var list []*entity.State
	for _, st := range s.states {
		if st.Collection == collection && st.Exists() {
			list = append(list, st.Clone())
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(list, func(a, b *entity.State) int { return a.ID.Compare(b.ID) })
	for _, st := range list {
		if !fn(st) {
			break
		}
	}
	return nil
}

// Commit implements storage.Store.
func (s *Store) Commit(ctx context.Context, events []event.Event) ([]*entity.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	evs := make([]event.Event, len(events))
	newFields := map[string]map[string]value.Type{}
	states := map[event.ID]*entity.State{}
	for i, e := range events {
		e.Ops = maps.Clone(e.Ops)
		evs[i] = e
		fields, ok := s.collections[e.Collection]
		if !ok {
			return nil, storage.Errorf(storage.CodeNoCollection, "no collection %q", e.Collection)
		}
		add, err := storage.Conform(schema.FromMap(e.Collection, fields), &evs[i])
		if err != nil {
			return nil, err
		}
		for f, t := range add {
			if newFields[e.Collection] == nil {
				newFields[e.Collection] = map[string]value.Type{}
			}
			if have, ok := newFields[e.Collection][f]; ok && have != t {
				return nil, storage.Errorf(storage.CodeTypeMismatch, "%s.%s: written as %s and as %s", e.Collection, f, have, t)
			}
			newFields[e.Collection][f] = t
		}
		if _, ok := states[e.Entity]; !ok {
			if st, ok := s.states[e.Entity]; ok {
				states[e.Entity] = st
			} else {
				states[e.Entity] = entity.New(e.Collection, e.Entity)
			}
		}
	}
	fresh, err := storage.Merge(states, evs, func(ent, id event.ID) bool {
		e, ok := s.events[id]
		return ok && e.Entity == ent && e.Collection == states[ent].Collection
	}, storage.WriteCheckFrom(ctx))
	if err != nil {
		return nil, err
	}
	for c, fields := range newFields {
		if err := s.ensure(c, fields); err != nil {
			return nil, err
		}
	}
	for _, e := range fresh {
		s.events[e.ID] = e
		s.history[e.Entity] = append(s.history[e.Entity], e.ID)
	}
	out := make([]*entity.State, 0, len(states))
	for id, st := range states {
		s.states[id] = st
		out = append(out, st.Clone())
	}
	slices.SortFunc(out, func(a, b *entity.State) int { return a.ID.Compare(b.ID) })
	return out, nil
}

// Close implements storage.Store.
func (s *Store) Close() error { return nil }
