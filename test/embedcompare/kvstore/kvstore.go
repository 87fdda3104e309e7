// Package kvstore is a minimal storage.Store over an ordered key-value
// engine (bbolt or Pebble, see the subpackages). It exists only to compare
// embedded engines with the SQLite adapter (storage/sqlite) on the same
// logical work, and is not part of Ankurah: see docs/embedded-store.md.
//
// A commit does what the SQLite adapter's does, in one atomic write
// transaction of the engine: it conforms the events to the catalog, loads
// the touched states, merges with storage.Merge, checks that every new
// event id is unused, and writes the events, the entity-index keys, the
// states and (when fields were added) the catalog. Commits are serialised by
// a Go mutex, as in the SQLite adapter.
//
// Keys (ids are their 16 binary bytes, which sort like their text):
//
//	'c' collection                          → catalog: {"field":"type",…}
//	'e' event id                            → the event: {"id","collection","entity_id","parents","operations"[,"delete"]}
//	'x' collection 0x00 entity id, event id → empty (the entity's history index)
//	's' collection 0x00 entity id           → the state: head, values, versions, deleted (binary, see encodeState)
//
// Values are their natural JSON, read back with the field's type from the
// catalog (value.Decode), as the SQLite adapter reads typed columns. Deleted
// entities keep their state record with "deleted" set (the memory store
// does the same); Get and Scan skip them.
package kvstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"sync"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// Engine is what the store needs from a key-value engine.
type Engine interface {
	// Get calls fn with the committed value of key, if there is one, and
	// reports whether there was. The slice is valid only during fn.
	Get(key []byte, fn func(v []byte) error) (bool, error)
	// Scan calls fn with every committed key that has the prefix, in key
	// order, until fn returns false. The slices are valid only during fn.
	Scan(prefix []byte, fn func(k, v []byte) (bool, error)) error
	// Update runs fn in one atomic write transaction and makes it durable
	// as the engine was configured to (synced or not). Calls are
	// serialised by the caller. Reads through r see the committed state.
	Update(fn func(r Reader, w Writer) error) error
	Close() error
}

// Reader reads inside a write transaction.
type Reader interface {
	Get(key []byte, fn func(v []byte) error) (bool, error)
	Scan(prefix []byte, fn func(k, v []byte) (bool, error)) error
}

// Writer writes inside a write transaction.
type Writer interface {
	Set(key, value []byte) error
}

// Store is a storage.Store over an Engine.
type Store struct {
	eng Engine
	mu  sync.Mutex // serialises commits and EnsureCollection

	catMu   sync.RWMutex
	catalog map[string]map[string]value.Type
	closed  bool
}

var _ storage.Store = (*Store)(nil)

// New opens a store over eng, loading its catalog.
func New(eng Engine) (*Store, error) {
	s := &Store{eng: eng, catalog: map[string]map[string]value.Type{}}
	err := eng.Scan([]byte{'c'}, func(k, v []byte) (bool, error) {
		fields := map[string]value.Type{}
		if err := json.Unmarshal(v, &fields); err != nil {
			return false, err
		}
		s.catalog[string(k[1:])] = fields
		return true, nil
	})
	if err != nil {
		return nil, internal(err)
	}
	return s, nil
}

// EngineOf returns the engine under s.
func EngineOf(s *Store) Engine { return s.eng }

func internal(err error) error {
	return &storage.Error{Code: storage.CodeInternal, Message: err.Error(), Err: err}
}

func catalogKey(name string) []byte { return append([]byte{'c'}, name...) }

func eventKey(id event.ID) []byte { return append([]byte{'e'}, id[:]...) }

func stateKey(collection string, id event.ID) []byte {
	k := make([]byte, 0, 2+len(collection)+16)
	k = append(k, 's')
	k = append(k, collection...)
	k = append(k, 0)
	return append(k, id[:]...)
}

func indexPrefix(collection string, ent event.ID) []byte {
	k := make([]byte, 0, 2+len(collection)+32)
	k = append(k, 'x')
	k = append(k, collection...)
	k = append(k, 0)
	return append(k, ent[:]...)
}

func indexKey(collection string, ent, id event.ID) []byte {
	return append(indexPrefix(collection, ent), id[:]...)
}

// fields returns a collection's field types (not to be modified).
func (s *Store) fields(name string) (map[string]value.Type, error) {
	s.catMu.RLock()
	defer s.catMu.RUnlock()
	if s.closed {
		return nil, storage.Errorf(storage.CodeInternal, "store is closed")
	}
	f, ok := s.catalog[name]
	if !ok {
		return nil, storage.Errorf(storage.CodeNoCollection, "no collection %q", name)
	}
	return f, nil
}

// EnsureCollection implements storage.Store.
func (s *Store) EnsureCollection(_ context.Context, c schema.Collection) (schema.Collection, error) {
	if err := c.Validate(); err != nil {
		return schema.Collection{}, storage.Errorf(storage.CodeBadName, "%v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.catMu.RLock()
	cur, closed := s.catalog[c.Name], s.closed
	s.catMu.RUnlock()
	if closed {
		return schema.Collection{}, storage.Errorf(storage.CodeInternal, "store is closed")
	}
	next := maps.Clone(cur)
	if next == nil {
		next = map[string]value.Type{}
	}
	changed := cur == nil
	for _, f := range c.Fields {
		if have, ok := cur[f.Name]; ok {
			if have != f.Type {
				return schema.Collection{}, storage.Errorf(storage.CodeTypeMismatch, "field %s.%s is %s, not %s", c.Name, f.Name, have, f.Type)
			}
			continue
		}
		next[f.Name] = f.Type
		changed = true
	}
	if changed {
		b, err := json.Marshal(next)
		if err != nil {
			return schema.Collection{}, internal(err)
		}
		// The cache gets the new fields before the write is visible, so that
		// a reader never meets a field it has no type for.
		s.setCatalog(map[string]map[string]value.Type{c.Name: next})
		if err := s.eng.Update(func(_ Reader, w Writer) error { return w.Set(catalogKey(c.Name), b) }); err != nil {
			s.setCatalog(map[string]map[string]value.Type{c.Name: cur})
			return schema.Collection{}, internal(err)
		}
	}
	return schema.FromMap(c.Name, next), nil
}

// Collection implements storage.Store.
func (s *Store) Collection(_ context.Context, name string) (schema.Collection, error) {
	f, err := s.fields(name)
	if err != nil {
		return schema.Collection{}, err
	}
	return schema.FromMap(name, f), nil
}

// Collections implements storage.Store.
func (s *Store) Collections(_ context.Context) ([]schema.Collection, error) {
	s.catMu.RLock()
	defer s.catMu.RUnlock()
	out := make([]schema.Collection, 0, len(s.catalog))
	for _, name := range slices.Sorted(maps.Keys(s.catalog)) {
		out = append(out, schema.FromMap(name, s.catalog[name]))
	}
	return out, nil
}

// A state is stored in a compact binary record (a KV adapter has no reason
// to pay for encoding/json on its hottest path): a flags byte (1 = deleted),
// then the head, the values and the versions, each a uvarint count of
// entries; ids are 16 bytes, names and values uvarint-length-prefixed, a
// value is its natural JSON.
func encodeState(st *entity.State) ([]byte, error) {
	b := make([]byte, 0, 64+16*len(st.Head)+48*len(st.Values))
	var flags byte
	if st.Deleted {
		flags = 1
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(st.Head)))
	for _, id := range st.Head {
		b = append(b, id[:]...)
	}
	b = binary.AppendUvarint(b, uint64(len(st.Values)))
	var buf []byte
	for f, v := range st.Values {
		b = appendString(b, f)
		buf = v.AppendJSON(buf[:0])
		b = binary.AppendUvarint(b, uint64(len(buf)))
		b = append(b, buf...)
	}
	b = binary.AppendUvarint(b, uint64(len(st.Versions)))
	for f, id := range st.Versions {
		b = appendString(b, f)
		b = append(b, id[:]...)
	}
	// The Yjs documents of ytext fields (a record without them ends here).
	if len(st.Docs) > 0 {
		b = binary.AppendUvarint(b, uint64(len(st.Docs)))
		for f, d := range st.Docs {
			b = appendString(b, f)
			b = appendString(b, string(d))
		}
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errCorrupt = errors.New("corrupt state record")

// reader over a state record; the first error sticks.
type rec struct {
	b   []byte
	err error
}

func (r *rec) uvarint() int {
	n, k := binary.Uvarint(r.b)
	if k <= 0 || n > uint64(len(r.b)) {
		r.err, r.b = errCorrupt, nil
		return 0
	}
	r.b = r.b[k:]
	return int(n)
}

func (r *rec) bytes(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.err, r.b = errCorrupt, nil
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *rec) id() event.ID {
	var id event.ID
	copy(id[:], r.bytes(16))
	return id
}

func decodeState(collection string, id event.ID, fields map[string]value.Type, b []byte) (*entity.State, error) {
	if len(b) == 0 {
		return nil, internal(errCorrupt)
	}
	st := &entity.State{Collection: collection, ID: id, Deleted: b[0]&1 != 0}
	r := rec{b: b[1:]}
	n := r.uvarint()
	st.Head = make(event.Head, n)
	for i := range st.Head {
		st.Head[i] = r.id()
	}
	n = r.uvarint()
	st.Values = make(map[string]value.Value, n)
	for range n {
		f := string(r.bytes(r.uvarint()))
		raw := r.bytes(r.uvarint())
		if r.err != nil {
			break
		}
		v, err := value.Decode(raw, fields[f])
		if err != nil {
			return nil, storage.Errorf(storage.CodeInternal, "%s/%s.%s: %v", collection, id, f, err)
		}
		st.Values[f] = v
	}
	n = r.uvarint()
	st.Versions = make(map[string]event.ID, n)
	for range n {
		f := string(r.bytes(r.uvarint()))
		st.Versions[f] = r.id()
	}
	if r.err == nil && len(r.b) > 0 {
		n = r.uvarint()
		st.Docs = make(map[string][]byte, n)
		for range n {
			f := string(r.bytes(r.uvarint()))
			st.Docs[f] = append([]byte(nil), r.bytes(r.uvarint())...)
		}
	}
	if r.err != nil || len(r.b) != 0 {
		return nil, storage.Errorf(storage.CodeInternal, "%s/%s: %v", collection, id, errCorrupt)
	}
	return st, nil
}

// eventRecord is an event as stored: its natural JSON, with the operations
// kept raw until their collection's types are known.
type eventRecord struct {
	ID         event.ID                   `json:"id"`
	Collection string                     `json:"collection"`
	Entity     event.ID                   `json:"entity_id"`
	Parents    event.Head                 `json:"parents"`
	Ops        map[string]json.RawMessage `json:"operations"`
	Delete     bool                       `json:"delete,omitempty"`
}

func (s *Store) decodeEvent(b []byte) (event.Event, error) {
	var rec eventRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return event.Event{}, internal(err)
	}
	fields, err := s.fields(rec.Collection)
	if err != nil {
		return event.Event{}, err
	}
	e := event.Event{ID: rec.ID, Collection: rec.Collection, Entity: rec.Entity, Parents: rec.Parents, Delete: rec.Delete}
	if len(rec.Ops) > 0 {
		e.Ops = make(map[string]value.Value, len(rec.Ops))
	}
	for f, raw := range rec.Ops {
		v, err := value.Decode(raw, fields[f])
		if err != nil {
			return event.Event{}, storage.Errorf(storage.CodeInternal, "event %s.%s: %v", rec.ID, f, err)
		}
		e.Ops[f] = v
	}
	return e, nil
}

// Get implements storage.Store.
func (s *Store) Get(_ context.Context, collection string, ids []event.ID) ([]*entity.State, error) {
	fields, err := s.fields(collection)
	if err != nil {
		return nil, err
	}
	var out []*entity.State
	for _, id := range ids {
		var st *entity.State
		if _, err := s.eng.Get(stateKey(collection, id), func(v []byte) (err error) {
			st, err = decodeState(collection, id, fields, v)
			return err
		}); err != nil {
			return nil, internal(err)
		}
		if st != nil && st.Exists() {
			out = append(out, st)
		}
	}
	return out, nil
}

// Events implements storage.Store.
func (s *Store) Events(_ context.Context, ids []event.ID) ([]event.Event, error) {
	var out []event.Event
	for _, id := range ids {
		if _, err := s.eng.Get(eventKey(id), func(v []byte) error {
			e, err := s.decodeEvent(v)
			if err == nil {
				out = append(out, e)
			}
			return err
		}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// History implements storage.Store.
func (s *Store) History(ctx context.Context, collection string, id event.ID) ([]event.Event, error) {
	if _, err := s.fields(collection); err != nil {
		return nil, err
	}
	var ids []event.ID
	if err := s.eng.Scan(indexPrefix(collection, id), func(k, _ []byte) (bool, error) {
		ids = append(ids, event.ID(k[len(k)-16:]))
		return true, nil
	}); err != nil {
		return nil, internal(err)
	}
	return s.Events(ctx, ids) // in id order: the index keys end with the event id
}

// Scan implements storage.Store. fn runs inside the engine's read
// transaction or iterator; it may read, but a commit from fn could wait for
// the scan to end (bbolt) — no caller here does that.
func (s *Store) Scan(_ context.Context, collection string, fn func(*entity.State) bool) error {
	fields, err := s.fields(collection)
	if err != nil {
		return err
	}
	prefix := stateKey(collection, event.Zero)[:len(collection)+2]
	return s.eng.Scan(prefix, func(k, v []byte) (bool, error) {
		st, err := decodeState(collection, event.ID(k[len(k)-16:]), fields, v)
		if err != nil {
			return false, err
		}
		if !st.Exists() {
			return true, nil
		}
		return fn(st), nil
	})
}

// Commit implements storage.Store.
func (s *Store) Commit(ctx context.Context, events []event.Event) ([]*entity.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.catMu.RLock()
	closed := s.closed
	s.catMu.RUnlock()
	if closed {
		return nil, storage.Errorf(storage.CodeInternal, "store is closed")
	}
	var result []*entity.State
	var prev map[string]map[string]value.Type // catalog entries replaced in the cache, restored on failure
	err := s.eng.Update(func(r Reader, w Writer) error {
		evs := make([]event.Event, len(events))
		newFields := map[string]map[string]value.Type{}
		states := map[event.ID]*entity.State{}
		var order []event.ID
		for i, e := range events {
			e.Ops = maps.Clone(e.Ops)
			evs[i] = e
			fields, err := s.fields(e.Collection)
			if err != nil {
				return err
			}
			add, err := storage.Conform(schema.FromMap(e.Collection, fields), &evs[i])
			if err != nil {
				return err
			}
			for f, t := range add {
				if newFields[e.Collection] == nil {
					newFields[e.Collection] = map[string]value.Type{}
				}
				if have, ok := newFields[e.Collection][f]; ok && have != t {
					return storage.Errorf(storage.CodeTypeMismatch, "%s.%s: written as %s and as %s", e.Collection, f, have, t)
				}
				newFields[e.Collection][f] = t
			}
			if _, ok := states[e.Entity]; ok {
				continue
			}
			order = append(order, e.Entity)
			st := entity.New(e.Collection, e.Entity)
			if _, err := r.Get(stateKey(e.Collection, e.Entity), func(v []byte) (err error) {
				st, err = decodeState(e.Collection, e.Entity, fields, v)
				return err
			}); err != nil {
				return err
			}
			states[e.Entity] = st
		}
		var lookupErr error
		fresh, err := storage.Merge(states, evs, func(ent, id event.ID) bool {
			found, err := r.Get(indexKey(states[ent].Collection, ent, id), func([]byte) error { return nil })
			if err != nil && lookupErr == nil {
				lookupErr = err
			}
			return found
		}, storage.WriteCheckFrom(ctx))
		if lookupErr != nil {
			return lookupErr
		}
		if err != nil {
			return err
		}
		for c, add := range newFields {
			next := maps.Clone(s.catalog[c])
			maps.Copy(next, add)
			b, err := json.Marshal(next)
			if err != nil {
				return err
			}
			if err := w.Set(catalogKey(c), b); err != nil {
				return err
			}
			if prev == nil {
				prev = map[string]map[string]value.Type{}
			}
			prev[c] = s.catalog[c]
			s.setCatalog(map[string]map[string]value.Type{c: next}) // before the write is visible, see EnsureCollection
		}
		touched := map[event.ID]bool{}
		for _, e := range fresh {
			used, err := r.Get(eventKey(e.ID), func([]byte) error { return nil })
			if err != nil {
				return err
			}
			if used {
				return storage.Errorf(storage.CodeInvalidEvent, "event id %s is already used by another entity", e.ID)
			}
			b, err := json.Marshal(e)
			if err != nil {
				return err
			}
			if err := w.Set(eventKey(e.ID), b); err != nil {
				return err
			}
			if err := w.Set(indexKey(e.Collection, e.Entity, e.ID), nil); err != nil {
				return err
			}
			touched[e.Entity] = true
		}
		for _, id := range order {
			st := states[id]
			if touched[id] {
				b, err := encodeState(st)
				if err != nil {
					return err
				}
				if err := w.Set(stateKey(st.Collection, id), b); err != nil {
					return err
				}
			}
			result = append(result, st.Clone())
		}
		return nil
	})
	if err != nil {
		if prev != nil {
			s.setCatalog(prev)
		}
		return nil, storage.Coded(err)
	}
	return result, nil
}

// setCatalog replaces catalog entries in the cache (a nil entry removes
// the collection). The caller holds s.mu.
func (s *Store) setCatalog(entries map[string]map[string]value.Type) {
	s.catMu.Lock()
	defer s.catMu.Unlock()
	for name, fields := range entries {
		if fields == nil {
			delete(s.catalog, name)
		} else {
			s.catalog[name] = fields
		}
	}
}

// Close implements storage.Store; closing twice is a no-op.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.catMu.Lock()
	if s.closed {
		s.catMu.Unlock()
		return nil
	}
	s.closed = true
	s.catMu.Unlock()
	return s.eng.Close()
}
