package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// Reads run on the readers pool, each as one statement, so each sees one
// committed state of the file. Collection tables are read with "select *":
// the columns then always match the snapshot the statement reads, even
// while a commit is adding a field, and a column the cached catalog lacks
// makes the reader reload it.

// rquery runs a query on the readers pool through a statement prepared once.
func (s *Store) rquery(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	var st *sql.Stmt
	if v, ok := s.rstmts.Load(query); ok {
		st = v.(*sql.Stmt)
	} else {
		p, err := s.readers.PrepareContext(ctx, query)
		if err != nil {
			return nil, sqlErr(err)
		}
		if v, loaded := s.rstmts.LoadOrStore(query, p); loaded {
			p.Close()
			st = v.(*sql.Stmt)
		} else {
			st = p
		}
	}
	rows, err := st.QueryContext(ctx, args...)
	return rows, sqlErr(err)
}

// Get implements storage.Store.
func (s *Store) Get(ctx context.Context, collection string, ids []event.ID) ([]*entity.State, error) {
	t, err := s.table(ctx, collection)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	var rows *sql.Rows
	if len(ids) == 1 {
		rows, err = s.rquery(ctx, t.selectOne, ids[0].String())
	} else {
		rows, err = s.rquery(ctx, t.selectMany, idsJSON(ids))
	}
	if err != nil {
		return nil, err
	}
	got := map[event.ID]*entity.State{}
	err = s.eachState(ctx, rows, t, func(st *entity.State) bool {
		got[st.ID] = st
		return true
	})
	if err != nil {
		return nil, err
	}
	var out []*entity.State
	given := make(map[event.ID]bool, len(got))
	for _, id := range ids {
		if st, ok := got[id]; ok {
			if given[id] {
				st = st.Clone() // asked twice: two states, as the memory store returns
			}
			given[id] = true
			out = append(out, st)
		}
	}
	return out, nil
}

// Scan implements storage.Store. fn runs while the statement is open, on
// one snapshot of the collection; it may call the store (WAL readers never
// block the writer).
func (s *Store) Scan(ctx context.Context, collection string, fn func(*entity.State) bool) error {
	t, err := s.table(ctx, collection)
	if err != nil {
		return err
	}
	rows, err := s.rquery(ctx, t.selectAll)
	if err != nil {
		return err
	}
	return s.eachState(ctx, rows, t, fn)
}

// eachState decodes rows of "select *" from t's table and closes them. It
// reloads t if the rows have columns t lacks.
func (s *Store) eachState(ctx context.Context, rows *sql.Rows, t *table, fn func(*entity.State) bool) error {
	defer rows.Close()
	r, err := newRowReader(rows, t)
	if errors.Is(err, errUnknownColumn) {
		if t, err = s.reload(ctx, t.Name); err == nil {
			r, err = newRowReader(rows, t)
		}
	}
	if err != nil {
		return err
	}
	for rows.Next() {
		st, err := r.read(rows)
		if err != nil {
			return err
		}
		if !fn(st) {
			return nil
		}
	}
	return sqlErr(rows.Err())
}

var errUnknownColumn = errors.New("column not in the catalog")

// rowReader decodes the rows of "select *" from a collection table:
// id, _head, _versions, then the fields' columns in the table's order.
type rowReader struct {
	t     *table
	names []string
	types []value.Type
	cells []any
	dest  []any
}

func newRowReader(rows *sql.Rows, t *table) (*rowReader, error) {
	names, err := rows.Columns()
	if err != nil {
		return nil, sqlErr(err)
	}
	if len(names) < 3 || names[0] != "id" || names[1] != "_head" || names[2] != "_versions" {
		return nil, storage.Errorf(storage.CodeInternal, "table %s: unexpected columns %v", t.sqlName, names)
	}
	r := &rowReader{t: t, names: names[3:], cells: make([]any, len(names)), dest: make([]any, len(names))}
	for i := range r.cells {
		r.dest[i] = &r.cells[i]
	}
	for _, n := range r.names {
		if strings.HasPrefix(n, docColumn) {
			r.types = append(r.types, 0) // a document (text.go)
			continue
		}
		typ, ok := t.types[n]
		if !ok {
			return nil, fmt.Errorf("%w: %s.%s", errUnknownColumn, t.Name, n)
		}
		r.types = append(r.types, typ)
	}
	return r, nil
}

func (r *rowReader) read(rows *sql.Rows) (*entity.State, error) {
	if err := rows.Scan(r.dest...); err != nil {
		return nil, sqlErr(err)
	}
	bad := func(what string, err error) (*entity.State, error) {
		return nil, storage.Errorf(storage.CodeInternal, "%s %v: %s: %v", r.t.Name, r.cells[0], what, err)
	}
	id, _ := r.cells[0].(string)
	head, _ := r.cells[1].(string)
	versions, _ := r.cells[2].(string)
	eid, err := event.ParseID(id)
	if err != nil {
		return bad("id", err)
	}
	st := &entity.State{Collection: r.t.Name, ID: eid, Values: make(map[string]value.Value, len(r.names))}
	if st.Head, err = parseHead(head); err != nil {
		return bad("_head", err)
	}
	if st.Versions, err = parseVersions(versions); err != nil {
		return bad("_versions", err)
	}
	for i, c := range r.cells[3:] {
		if r.types[i] == 0 {
			if err := setDoc(st, strings.TrimPrefix(r.names[i], docColumn), c); err != nil {
				return nil, err
			}
			continue
		}
		v, err := fromCell(c, r.types[i])
		if err != nil {
			return bad(r.names[i], err)
		}
		if !v.IsNull() {
			st.Values[r.names[i]] = v
		}
	}
	return st, nil
}

// Events implements storage.Store and event.Source. Events come in the
// order asked; unknown ids are left out.
func (s *Store) Events(ctx context.Context, ids []event.ID) ([]event.Event, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	if len(ids) == 0 {
		return nil, nil
	}
	var rows *sql.Rows
	var err error
	if len(ids) == 1 {
		rows, err = s.rquery(ctx, eventColumns+" where id = ?", ids[0].String())
	} else {
		rows, err = s.rquery(ctx, eventColumns+" where id in (select value from json_each(?))", idsJSON(ids))
	}
	if err != nil {
		return nil, err
	}
	evs, err := s.readEvents(ctx, rows)
	if err != nil {
		return nil, err
	}
	byID := make(map[event.ID]int, len(evs))
	for i := range evs {
		byID[evs[i].ID] = i
	}
	out := make([]event.Event, 0, len(evs))
	for _, id := range ids {
		if i, ok := byID[id]; ok {
			out = append(out, evs[i])
		}
	}
	return out, nil
}

// History implements storage.Store.
func (s *Store) History(ctx context.Context, collection string, id event.ID) ([]event.Event, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	rows, err := s.rquery(ctx, eventColumns+" where entity_id = ? and collection = ? order by id", id.String(), collection)
	if err != nil {
		return nil, err
	}
	return s.readEvents(ctx, rows)
}

// readEvents decodes event rows with the readers' catalog, reloading a
// collection whose events carry a field the catalog lacks.
func (s *Store) readEvents(ctx context.Context, rows *sql.Rows) ([]event.Event, error) {
	raws, err := scanEvents(rows)
	if err != nil {
		return nil, err
	}
	out := make([]event.Event, len(raws))
	for i, r := range raws {
		t, err := s.table(ctx, r.collection)
		if err != nil {
			return nil, err
		}
		out[i], err = r.decode(t, false)
		if errors.Is(err, errUnknownColumn) {
			if t, err = s.reload(ctx, r.collection); err == nil {
				out[i], err = r.decode(t, true)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

const eventColumns = "select id, collection, entity_id, parents, operations, tombstone, coalesce(author, '') from _ankurah_events"

// rawEvent is one row of _ankurah_events.
type rawEvent struct {
	id, collection, entity, parents, ops, author string
	tombstone                                    bool
}

func scanEvents(rows *sql.Rows) ([]rawEvent, error) {
	defer rows.Close()
	var out []rawEvent
	for rows.Next() {
		var r rawEvent
		if err := rows.Scan(&r.id, &r.collection, &r.entity, &r.parents, &r.ops, &r.tombstone, &r.author); err != nil {
			return nil, sqlErr(err)
		}
		out = append(out, r)
	}
	return out, sqlErr(rows.Err())
}

// decode builds the event, typing its operations by t's fields. A field t
// lacks is errUnknownColumn unless final, when its type is inferred from
// its JSON (as the Postgres adapter does).
func (r *rawEvent) decode(t *table, final bool) (event.Event, error) {
	bad := func(err error) (event.Event, error) {
		return event.Event{}, storage.Errorf(storage.CodeInternal, "event %s: %v", r.id, err)
	}
	e := event.Event{Collection: r.collection, Delete: r.tombstone, Author: r.author}
	var err error
	if e.ID, err = event.ParseID(r.id); err != nil {
		return bad(err)
	}
	if e.Entity, err = event.ParseID(r.entity); err != nil {
		return bad(err)
	}
	if e.Parents, err = parseHead(r.parents); err != nil {
		return bad(fmt.Errorf("parents: %w", err))
	}
	if len(e.Parents) == 0 {
		e.Parents = nil // a creation event, as it was committed
	}
	var ops map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.ops), &ops); err != nil {
		return bad(fmt.Errorf("operations: %w", err))
	}
	e.Ops = make(map[string]value.Value, len(ops))
	for f, raw := range ops {
		var v value.Value
		if typ, ok := t.types[f]; ok {
			v, err = value.Decode(raw, typ)
		} else if !final && string(raw) != "null" {
			return event.Event{}, fmt.Errorf("%w: %s.%s", errUnknownColumn, t.Name, f)
		} else {
			v, err = value.Infer(raw)
		}
		if err != nil {
			return bad(fmt.Errorf("%s: %w", f, err))
		}
		e.Ops[f] = v
	}
	return e, nil
}
