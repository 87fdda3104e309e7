package sqlite

import (
	"context"
	"maps"
	"slices"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// Commit implements storage.Store. One write transaction conforms the
// events to their collections, loads the states they touch, merges with
// storage.Merge (the rule every adapter shares), adds the columns of new
// fields, and writes the new events and the changed rows. Any error rolls
// all of it back, schema changes included (SQLite's DDL is transactional).
func (s *Store) Commit(ctx context.Context, events []event.Event) ([]*entity.State, error) {
	if len(events) == 0 {
		if s.closed.Load() {
			return nil, errClosed
		}
		return []*entity.State{}, nil
	}
	var out []*entity.State
	err := s.write(ctx, func(w *writeTx) error {
		evs, newFields, err := w.conform(events)
		if err != nil {
			return err
		}
		l, err := w.load(evs)
		if err != nil {
			return err
		}
		fresh, err := storage.Merge(l.states, evs, l.known, storage.WriteCheckFrom(ctx))
		if err != nil {
			return err
		}
		for _, c := range sortedKeys(newFields) {
			if err := w.addFields(c, newFields[c]); err != nil {
				return err
			}
		}
		touched := map[event.ID]bool{}
		for i := range fresh {
			if err := w.insertEvent(&fresh[i]); err != nil {
				return err
			}
			touched[fresh[i].Entity] = true
		}
		for _, id := range slices.SortedFunc(maps.Keys(touched), event.ID.Compare) {
			if err := w.writeRow(l.rows[id], l.states[id]); err != nil {
				return err
			}
		}
		out = make([]*entity.State, 0, len(l.states))
		for _, st := range l.states {
			out = append(out, st)
		}
		slices.SortFunc(out, func(a, b *entity.State) int { return a.ID.Compare(b.ID) })
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// conform copies the events (the caller's stay untouched), checks and
// converts their values with storage.Conform, and collects the fields the
// schemas lack — exactly as the memory store does.
func (w *writeTx) conform(events []event.Event) ([]event.Event, map[string]map[string]value.Type, error) {
	evs := make([]event.Event, len(events))
	newFields := map[string]map[string]value.Type{}
	for i, e := range events {
		e.Ops = maps.Clone(e.Ops)
		evs[i] = e
		t := w.table(e.Collection)
		if t == nil {
			return nil, nil, noCollection(e.Collection)
		}
		add, err := storage.Conform(t.Collection, &evs[i])
		if err != nil {
			return nil, nil, err
		}
		for f, typ := range add {
			if newFields[e.Collection] == nil {
				newFields[e.Collection] = map[string]value.Type{}
			}
			if have, ok := newFields[e.Collection][f]; ok && have != typ {
				return nil, nil, storage.Errorf(storage.CodeTypeMismatch, "%s.%s: written as %s and as %s", e.Collection, f, have, typ)
			}
			newFields[e.Collection][f] = typ
		}
	}
	return evs, newFields, nil
}

// loaded is what a commit knows before merging: the states of the entities
// it touches and which of their events are stored.
type loaded struct {
	states map[event.ID]*entity.State
	// rows: entities that have a row. For them, stored maps the batch's
	// event ids and parents that are stored to their entities.
	rows   map[event.ID]bool
	stored map[event.ID]event.ID
	// history: for entities without a row (new, or deleted), the ids of
	// their stored events.
	history map[event.ID]map[event.ID]bool
}

// known is storage.Merge's question: is event id of entity ent stored?
func (l *loaded) known(ent, id event.ID) bool {
	if l.rows[ent] {
		owner, ok := l.stored[id]
		return ok && owner == ent
	}
	return l.history[ent][id]
}

// load reads the touched entities' rows, replays the history of those
// without one (a deleted entity keeps its history, and edits after its
// deletion still merge into it), and looks up which events are stored.
// An entity is looked for in the collection of its first event; like the
// memory store, an event naming an entity of another collection then fails
// to merge.
func (w *writeTx) load(evs []event.Event) (*loaded, error) {
	l := &loaded{
		states:  map[event.ID]*entity.State{},
		rows:    map[event.ID]bool{},
		stored:  map[event.ID]event.ID{},
		history: map[event.ID]map[event.ID]bool{},
	}
	first := map[event.ID]string{}
	byColl := map[string][]event.ID{}
	for i := range evs {
		e := &evs[i]
		if _, ok := first[e.Entity]; !ok {
			first[e.Entity] = e.Collection
			byColl[e.Collection] = append(byColl[e.Collection], e.Entity)
		}
	}
	for _, c := range sortedKeys(byColl) {
		if err := w.loadRows(l, w.table(c), byColl[c]); err != nil {
			return nil, err
		}
	}
	var missing []event.ID
	for id := range first {
		if !l.rows[id] {
			missing = append(missing, id)
		}
	}
	if err := w.replay(l, missing, first); err != nil {
		return nil, err
	}
	var check []event.ID
	for i := range evs {
		if l.rows[evs[i].Entity] {
			check = append(check, evs[i].ID)
			check = append(check, evs[i].Parents...)
		}
	}
	if len(check) == 0 {
		return l, nil
	}
	rows, err := w.query("select id, entity_id from _ankurah_events where id in (select value from json_each(?))", idsJSON(check))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, ent string
		if err := rows.Scan(&id, &ent); err != nil {
			return nil, sqlErr(err)
		}
		eid, err1 := event.ParseID(id)
		entID, err2 := event.ParseID(ent)
		if err1 != nil || err2 != nil {
			return nil, storage.Errorf(storage.CodeInternal, "_ankurah_events: bad id in %q / %q", id, ent)
		}
		l.stored[eid] = entID
	}
	return l, sqlErr(rows.Err())
}

// loadRows reads the rows of the given entities of t.
func (w *writeTx) loadRows(l *loaded, t *table, ids []event.ID) error {
	q, arg := t.selectOne, ids[0].String()
	if len(ids) > 1 {
		q, arg = t.selectMany, idsJSON(ids)
	}
	rows, err := w.query(q, arg)
	if err != nil {
		return err
	}
	defer rows.Close()
	r, err := newRowReader(rows, t)
	if err != nil {
		return storage.Errorf(storage.CodeInternal, "%v", err) // the writer's catalog is the file's
	}
	for rows.Next() {
		st, err := r.read(rows)
		if err != nil {
			return err
		}
		l.states[st.ID] = st
		l.rows[st.ID] = true
	}
	return sqlErr(rows.Err())
}

// replay rebuilds the states of entities that have no row from their
// stored history: empty for a new entity, Deleted for a deleted one.
func (w *writeTx) replay(l *loaded, ids []event.ID, first map[event.ID]string) error {
	if len(ids) == 0 {
		return nil
	}
	q, arg := eventColumns+" where entity_id = ? order by id", ids[0].String()
	if len(ids) > 1 {
		q, arg = eventColumns+" where entity_id in (select value from json_each(?)) order by id", idsJSON(ids)
	}
	rows, err := w.query(q, arg)
	if err != nil {
		return err
	}
	raws, err := scanEvents(rows)
	if err != nil {
		return err
	}
	hist := map[event.ID][]event.Event{}
	for i := range raws {
		t := w.table(raws[i].collection)
		if t == nil {
			return storage.Errorf(storage.CodeInternal, "event %s: collection %q not in the catalog", raws[i].id, raws[i].collection)
		}
		e, err := raws[i].decode(t, true)
		if err != nil {
			return err
		}
		hist[e.Entity] = append(hist[e.Entity], e)
	}
	for _, id := range ids {
		evs := hist[id]
		if len(evs) == 0 {
			l.history[id] = map[event.ID]bool{}
			l.states[id] = entity.New(first[id], id)
			continue
		}
		st, seen, err := entity.Replay(evs[0].Collection, id, evs)
		if err != nil {
			return storage.Errorf(storage.CodeInternal, "%v", err)
		}
		l.history[id] = seen
		l.states[id] = st
	}
	return nil
}

func (w *writeTx) insertEvent(e *event.Event) error {
	tomb := int64(0)
	if e.Delete {
		tomb = 1
	}
	var author any
	if e.Author != "" {
		author = e.Author
	}
	return w.exec(`insert into _ankurah_events (id, collection, entity_id, parents, operations, tombstone, author)
		values (?, ?, ?, ?, ?, ?, ?)`,
		e.ID.String(), e.Collection, e.Entity.String(), idsJSON(e.Parents), string(appendOps(nil, e.Ops)), tomb, author)
}

// writeRow stores an entity's merged state: the whole row (SQLite rewrites
// a whole record on any update anyway), or no row once it is deleted.
func (w *writeTx) writeRow(hadRow bool, st *entity.State) error {
	t := w.table(st.Collection)
	if err := w.writeDocs(t, st); err != nil {
		return err
	}
	if st.Deleted {
		if hadRow {
			return w.exec(t.delete, st.ID.String())
		}
		return nil
	}
	for f := range st.Values {
		if _, ok := t.types[f]; !ok {
			return storage.Errorf(storage.CodeInternal, "%s.%s has no column", t.Name, f)
		}
	}
	args := make([]any, 0, 3+len(t.Fields))
	args = append(args, st.ID.String(), idsJSON(st.Head), string(appendVersions(nil, st.Versions)))
	for _, f := range t.Fields {
		v := st.Values[f.Name]
		if !v.IsNull() && v.Type() != f.Type.ValueType() {
			return storage.Errorf(storage.CodeTypeMismatch, "%s.%s is %s, not %s", t.Name, f.Name, f.Type, v.Type())
		}
		args = append(args, cell(v))
	}
	if hadRow {
		return w.exec(t.update, args...)
	}
	return w.exec(t.insert, args...)
}
