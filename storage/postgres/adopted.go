package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// Adopted tables are an app's own tables made collections in place (see
// sql/functions.sql and docs/architecture.md): the table keeps its columns
// and its primary key, and each row's entity id, head and versions live in
// a side table (id, k1…kn: the row's key, _head, _versions). Reads select
// from the join of the two, shaped like a collection table (id, _head,
// _versions, then each field under its name), so that every statement the
// adapter and the query language build for collection tables runs on it
// unchanged. Writes go to both.

// adoptedFrom is the FROM item reads of adopted table t use.
func adoptedFrom(t *table) string {
	var b strings.Builder
	b.WriteString("(select _s.id, _s._head, _s._versions")
	for _, f := range t.Fields {
		b.WriteString(", _t." + pgx.Identifier{t.column[f.Name]}.Sanitize() + " as " + pgx.Identifier{f.Name}.Sanitize())
	}
	b.WriteString(" from " + t.ident + " _t join " + t.side + " _s on " + sideMatch(t, "_s", "_t") + ") _a")
	return b.String()
}

// sideMatch is the condition joining the side table (alias s) with the
// table (alias a) on the row's key.
func sideMatch(t *table, s, a string) string {
	var l, r []string
	for i, k := range t.keys {
		l = append(l, s+".k"+strconv.Itoa(i+1))
		r = append(r, a+"."+pgx.Identifier{k}.Sanitize())
	}
	return "(" + strings.Join(l, ", ") + ") = (" + strings.Join(r, ", ") + ")"
}

// keyField returns the field of the i-th key column.
func (t *table) keyField(i int) (string, bool) {
	for f, c := range t.column {
		if c == t.keys[i] {
			return f, true
		}
	}
	return "", false
}

// returning is the RETURNING list that reads every field of t from its
// table (alias a), cast as reads cast them, in t.Fields order.
func (t *table) returning(a string) (string, []any) {
	exprs := make([]string, len(t.Fields))
	cells := make([]any, len(t.Fields))
	for i, f := range t.Fields {
		exprs[i] = readExpr(a+"."+pgx.Identifier{t.column[f.Name]}.Sanitize(), f.Type)
		cells[i] = newCell(f.Type)
	}
	return strings.Join(exprs, ", "), cells
}

// storedValues reads cells scanned from t.returning.
func (t *table) storedValues(cells []any) (map[string]value.Value, error) {
	out := make(map[string]value.Value, len(cells))
	for i, f := range t.Fields {
		v, err := cellValue(cells[i], f.Type)
		if err != nil {
			return nil, storage.Errorf(storage.CodeTypeMismatch, "%s.%s: %v", t.Name, f.Name, err)
		}
		out[f.Name] = v
	}
	return out, nil
}

// writeAdopted takes an adopted table's row from before (nil: no row) to
// after, in tx: the table's row and its side row. The table's own
// triggers and defaults may give the row values the events did not set
// (a default, a sequence's next value, an updated_at): what the table
// stored is read back. A creation's event records it (the creation event
// of an adopted row holds every non-NULL field, as a SQL INSERT's does);
// for an edit, the fields that differ from the merged state are recorded
// as one more event, a SQL write's (origin sql), child of the commit's.
// It returns that event, if any, for the caller to store.
func (s *Store) writeAdopted(ctx context.Context, tx pgx.Tx, t *table, before, after *entity.State, fresh []event.Event) (*event.Event, error) {
	if after.Deleted {
		if before == nil {
			return nil, nil
		}
		if _, err := tx.Exec(ctx, "delete from "+t.ident+" _t using "+t.side+" _s where _s.id = $1 and "+sideMatch(t, "_s", "_t"), after.ID.String()); err != nil {
			return nil, pgError(err)
		}
		_, err := tx.Exec(ctx, "delete from "+t.side+" where id = $1", after.ID.String())
		return nil, pgError(err)
	}
	// Parameters: an update's $1 is the entity id; the values follow.
	first := 1
	var args []any
	if before != nil {
		first = 2
		args = append(args, after.ID.String())
	}
	var cols, params []string
	for _, f := range t.Fields {
		v, ok := after.Values[f.Name]
		if before == nil && !ok || t.generated[f.Name] {
			continue
		}
		if before != nil && value.Equal(v, before.Values[f.Name]) {
			continue
		}
		if !v.IsNull() && v.Type() != f.Type.ValueType() {
			return nil, storage.Errorf(storage.CodeTypeMismatch, "%s.%s is %s, not %s", t.Name, f.Name, f.Type, v.Type())
		}
		arg, cast := writeCast(v, f, t.colTypes[f.Name])
		args = append(args, arg)
		cols = append(cols, pgx.Identifier{t.column[f.Name]}.Sanitize())
		params = append(params, fmt.Sprintf("$%d%s", first+len(params), cast))
	}
	ret, cells := t.returning("_t")
	var err error
	switch {
	case before == nil:
		stmt := "insert into " + t.ident + " as _t"
		if len(cols) == 0 {
			stmt += " default values"
		} else {
			stmt += " (" + strings.Join(cols, ", ") + ") values (" + strings.Join(params, ", ") + ")"
		}
		err = tx.QueryRow(ctx, stmt+" returning "+ret, args...).Scan(cells...)
	case len(cols) > 0:
		set := make([]string, len(cols))
		for i := range cols {
			set[i] = cols[i] + " = " + params[i]
		}
		err = tx.QueryRow(ctx, "update "+t.ident+" _t set "+strings.Join(set, ", ")+" from "+t.side+" _s where _s.id = $1 and "+
			sideMatch(t, "_s", "_t")+" returning "+ret, args...).Scan(cells...)
	default:
		// Only the head changed (e.g. a concurrent edit that lost every
		// field): the table's row stays as it is.
		_, err = tx.Exec(ctx, "update "+t.side+" set _head = $2, _versions = $3 where id = $1",
			after.ID.String(), after.Head.Strings(), versionsMap(after))
		return nil, pgError(err)
	}
	if err != nil {
		return nil, pgError(err)
	}
	stored, err := t.storedValues(cells)
	if err != nil {
		return nil, err
	}
	var extra *event.Event
	if before == nil {
		var creation *event.Event
		for i := range fresh {
			if fresh[i].Entity == after.ID && fresh[i].IsCreation() {
				creation = &fresh[i]
			}
		}
		if creation == nil {
			return nil, storage.Errorf(storage.CodeConflict, "%s %s: a row for an entity created earlier and deleted cannot be written again", t.Name, after.ID)
		}
		creation.Ops = map[string]value.Value{}
		after.Values = map[string]value.Value{}
		after.Versions = map[string]event.ID{}
		for _, f := range t.Fields {
			if v := stored[f.Name]; !v.IsNull() && !t.generated[f.Name] {
				creation.Ops[f.Name] = v
				after.Versions[f.Name] = creation.ID
			}
			if v := stored[f.Name]; !v.IsNull() {
				after.Values[f.Name] = v
			}
		}
	} else {
		ops := map[string]value.Value{}
		for _, f := range t.Fields {
			if t.generated[f.Name] {
				continue
			}
			if v := stored[f.Name]; !value.Equal(v, after.Values[f.Name]) {
				ops[f.Name] = v
			}
		}
		if len(ops) > 0 {
			e := event.Event{ID: s.gen.New(after.Head...), Collection: t.Name, Entity: after.ID, Parents: after.Head, Ops: ops}
			if _, err := after.Apply(&e, func(event.ID) bool { return false }); err != nil {
				return nil, storage.Coded(err)
			}
			extra = &e
		}
		for _, f := range t.Fields {
			if v := stored[f.Name]; !v.IsNull() {
				after.Values[f.Name] = v
			} else {
				delete(after.Values, f.Name)
			}
		}
	}
	// The side row, with the row's key as stored.
	keyArgs := []any{after.ID.String(), after.Head.Strings(), versionsMap(after)}
	var keyCols, keyParams []string
	for i := range t.keys {
		fname, ok := t.keyField(i)
		if !ok {
			return nil, storage.Errorf(storage.CodeSchemaChanged, "%s: key column %s is not a field; adopt the table again", t.Name, t.keys[i])
		}
		f, _ := t.Field(fname)
		arg, cast := writeCast(stored[fname], f, t.colTypes[fname])
		keyArgs = append(keyArgs, arg)
		keyCols = append(keyCols, "k"+strconv.Itoa(i+1))
		keyParams = append(keyParams, fmt.Sprintf("$%d%s", len(keyArgs), cast))
	}
	if before == nil {
		_, err = tx.Exec(ctx, "insert into "+t.side+" (id, _head, _versions, "+strings.Join(keyCols, ", ")+") values ($1, $2, $3, "+
			strings.Join(keyParams, ", ")+")", keyArgs...)
	} else {
		_, err = tx.Exec(ctx, "update "+t.side+" set _head = $2, _versions = $3, ("+strings.Join(keyCols, ", ")+") = row("+
			strings.Join(keyParams, ", ")+") where id = $1", keyArgs...)
	}
	return extra, pgError(err)
}

func versionsMap(st *entity.State) map[string]string {
	out := make(map[string]string, len(st.Versions))
	for f, id := range st.Versions {
		out[f] = id.String()
	}
	return out
}
