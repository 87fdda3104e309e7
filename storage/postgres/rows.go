package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

type valueT = value.Value

// errStale reports that a row was read with a cached catalog that lacks
// fields the collection has now; the caller reloads and reads again.
var errStale = errors.New("catalog cache is stale")

// scanState reads one row of id, _head, _versions and t's fields, followed,
// when counted (t.selectSQL), by the collection's current catalog version.
func scanState(t *table, rows pgx.Rows, counted bool) (*entity.State, error) {
	var (
		id       string
		head     []string
		versions map[string]string
	)
	dest := make([]any, 0, 3+len(t.Fields))
	dest = append(dest, &id, &head, &versions)
	cells := make([]any, len(t.Fields))
	for i, f := range t.Fields {
		cells[i] = newCell(f.Type)
		dest = append(dest, cells[i])
	}
	version := t.version
	if counted {
		dest = append(dest, &version)
	}
	if err := rows.Scan(dest...); err != nil {
		return nil, pgError(err)
	}
	// An older version than cached is harmless: the catalog was loaded
	// after the statement's snapshot was taken (a snapshot transaction),
	// and the columns it names exist (or the statement would have failed).
	if version > t.version {
		return nil, errStale
	}
	eid, err := event.ParseID(id)
	if err != nil {
		return nil, storage.Errorf(storage.CodeInternal, "%s: row id: %v", t.Name, err)
	}
	st := entity.New(t.Name, eid)
	if st.Head, err = event.ParseHead(head); err != nil {
		return nil, storage.Errorf(storage.CodeInternal, "%s %s: _head: %v", t.Name, id, err)
	}
	for f, v := range versions {
		vid, err := event.ParseID(v)
		if err != nil {
			return nil, storage.Errorf(storage.CodeInternal, "%s %s: _versions: %v", t.Name, id, err)
		}
		// A field renamed since that event wrote it: its current name
		// (unless a later write under the new name holds it already).
		if name := t.currentName(f, vid); name != f {
			if cur, ok := versions[name]; ok && cur >= v {
				continue
			}
			f = name
		}
		st.Versions[f] = vid
	}
	for i, f := range t.Fields {
		v, err := cellValue(cells[i], f.Type)
		if err != nil {
			return nil, storage.Errorf(storage.CodeTypeMismatch, "%s %s: %s: %v", t.Name, id, f.Name, err)
		}
		if !v.IsNull() {
			st.Values[f.Name] = v
		}
	}
	return st, nil
}

// decodeEvent builds an event from its ankurah.events row, typing the
// operations by the collection's fields.
func decodeEvent(t *table, id, ent string, parents []string, ops []byte, tomb bool, author string) (event.Event, error) {
	bad := func(err error) (event.Event, error) {
		return event.Event{}, storage.Errorf(storage.CodeInternal, "event %s: %v", id, err)
	}
	var e event.Event
	var err error
	if e.ID, err = event.ParseID(id); err != nil {
		return bad(err)
	}
	if e.Entity, err = event.ParseID(ent); err != nil {
		return bad(err)
	}
	if e.Parents, err = event.ParseHead(parents); err != nil {
		return bad(err)
	}
	e.Collection = t.Name
	e.Delete = tomb
	e.Author = author
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(ops, &raw); err != nil {
		return bad(err)
	}
	e.Ops = make(map[string]value.Value, len(raw))
	for k, r := range raw {
		k = t.currentName(k, e.ID)
		v, err := decodeOp(t, k, r)
		if err != nil {
			return bad(fmt.Errorf("%s: %w", k, err))
		}
		e.Ops[k] = v
	}
	return e, nil
}

// decodeOp types one recorded value by its field's type; a value recorded
// before the field was retyped that does not read as the new type, or one
// of a field dropped since, keeps the type its JSON form says.
func decodeOp(t *table, field string, raw json.RawMessage) (value.Value, error) {
	if f, ok := t.Field(field); ok {
		if v, err := value.Decode(raw, f.Type); err == nil {
			return v, nil
		}
	}
	return value.Infer(raw)
}

// currentName is the name of field `name` as written by event id: renames
// made after the event apply to it, in order. (Event ids and schema change
// ids are both ULIDs; an event is older than a rename when its id is
// smaller — exact for SQL writes, approximate by the writer's clock for a
// client's.)
func (t *table) currentName(name string, id event.ID) string {
	if len(t.renames) == 0 {
		return name
	}
	if _, ok := t.Field(name); ok && !t.renamedAfter(name, id) {
		return name
	}
	s := id.String()
	for _, r := range t.renames {
		if r.id > s && r.from == name {
			name = r.to
		}
	}
	return name
}

// renamedAfter reports whether a field named `name` was renamed away after
// event id (a field of that name now is another, later one).
func (t *table) renamedAfter(name string, id event.ID) bool {
	s := id.String()
	for _, r := range t.renames {
		if r.id > s && r.from == name {
			return true
		}
	}
	return false
}

func hasUnknown(t *table, ops map[string]value.Value) bool {
	for k := range ops {
		if _, ok := t.Field(k); !ok {
			return true
		}
	}
	return false
}

// opsJSON is the operations column of an event: field → natural JSON value.
func opsJSON(ops map[string]value.Value) []byte {
	out := []byte("{")
	for i, k := range slices.Sorted(maps.Keys(ops)) {
		if i > 0 {
			out = append(out, ',')
		}
		out = value.TextOf(k).AppendJSON(out) // any field name, JSON-quoted
		out = append(out, ':')
		out = ops[k].AppendJSON(out)
	}
	return append(out, '}')
}

// queueEvent adds the insert of one event to the batch.
func queueEvent(b *pgx.Batch, e *event.Event) error {
	b.Queue(`insert into ankurah.events (id, collection, entity_id, parents, operations, tombstone, author)
		values ($1, $2, $3, $4, $5::jsonb, $6, $7)`,
		e.ID.String(), e.Collection, e.Entity.String(), e.Parents.Strings(), string(opsJSON(e.Ops)), e.Delete, nullable(e.Author))
	return nil
}

// colIdent is the quoted column of field f.
func (t *table) colIdent(f string) string {
	if c, ok := t.column[f]; ok {
		return pgx.Identifier{c}.Sanitize()
	}
	return pgx.Identifier{f}.Sanitize()
}

// markAPIWrite tells the collection table's triggers that the statements
// that follow write rows whose events are recorded already (see
// sql/functions.sql: each statement that writes a collection's table is
// marked for that collection, so that the writes of the app's own
// triggers to other tables are still recorded).
const markAPIWrite = "select set_config('ankurah.writer', $1, true)"

func apiMark(t *table) string { return "api:" + t.Name }

// queueSQLEvent adds the insert of an event that records a SQL write (an
// adopted table's own trigger changing a row the API wrote).
func queueSQLEvent(b *pgx.Batch, e *event.Event) {
	b.Queue(`insert into ankurah.events (id, collection, entity_id, parents, operations, tombstone, origin, author)
		values ($1, $2, $3, $4, $5::jsonb, false, 'sql', session_user)`,
		e.ID.String(), e.Collection, e.Entity.String(), e.Parents.Strings(), string(opsJSON(e.Ops)))
}

// nullable is NULL for "", else s.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// queueRow adds the write that takes a row from before (nil: no row) to
// after: an insert, an update of the changed columns, a delete, or nothing.
// The batch must be marked for t's collection (markAPIWrite).
func queueRow(b *pgx.Batch, t *table, before, after *entity.State) error {
	if after.Deleted {
		if err := queueDocs(b, t, before, after); err != nil {
			return err
		}
		if before != nil {
			b.Queue("delete from "+t.ident+" where id = $1", after.ID.String())
		}
		return nil
	}
	versions := make(map[string]string, len(after.Versions))
	for f, id := range after.Versions {
		versions[f] = id.String()
	}
	args := []any{after.ID.String(), after.Head.Strings(), versions}
	var cols, params []string
	for _, f := range t.Fields {
		v, ok := after.Values[f.Name]
		if before == nil && !ok {
			continue
		}
		if before != nil && value.Equal(v, before.Values[f.Name]) {
			continue
		}
		if !v.IsNull() && v.Type() != f.Type.ValueType() {
			return storage.Errorf(storage.CodeTypeMismatch, "%s.%s is %s, not %s", t.Name, f.Name, f.Type, v.Type())
		}
		if t.generated[f.Name] {
			continue // storage.Conform refuses writes; a NULL from a merge is not one
		}
		arg, cast := writeCast(v, f, t.colTypes[f.Name])
		args = append(args, arg)
		cols = append(cols, t.colIdent(f.Name))
		params = append(params, fmt.Sprintf("$%d%s", len(args), cast))
	}
	if before == nil {
		b.Queue(fmt.Sprintf("insert into %s (id, _head, _versions%s) values ($1, $2, $3%s)",
			t.ident, prefixJoin(cols), prefixJoin(params)), args...)
	} else {
		set := make([]string, len(cols))
		for i := range cols {
			set[i] = cols[i] + " = " + params[i]
		}
		b.Queue(fmt.Sprintf("update %s set _head = $2, _versions = $3%s where id = $1",
			t.ident, prefixJoin(set)), args...)
	}
	// The row's write comes first (insertWithDefaults reads it back).
	return queueDocs(b, t, before, after)
}

func prefixJoin(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return ", " + strings.Join(s, ", ")
}

// sqlArg is the pgx argument for a value; JSON goes as text for a ::jsonb cast.
func sqlArg(v value.Value) any {
	switch v.Type() {
	case value.Null:
		return nil
	case value.JSON:
		return v.JSONText()
	}
	return v.Go()
}

// insertWithDefaults inserts a new row of a table whose columns have
// defaults, leaving out the fields the state does not set so that Postgres
// fills them in, as for a SQL INSERT; the defaults it gives (now(), a
// sequence's next value, a constant) are read back and recorded as values
// the entity's creation event set — in st, and in that event among fresh
// (whose insert is queued, not sent) — so that replaying the history gives
// the row.
func (s *Store) insertWithDefaults(ctx context.Context, tx pgx.Tx, t *table, st *entity.State, fresh []event.Event) error {
	var missing []schema.Field
	for _, name := range t.defaults {
		if _, set := st.Values[name]; !set {
			f, _ := t.Field(name)
			missing = append(missing, f)
		}
	}
	b := &pgx.Batch{}
	if err := queueRow(b, t, nil, st); err != nil {
		return err
	}
	// The row's insert, then the documents of its ytext fields.
	q, docs := b.QueuedQueries[0], b.QueuedQueries[1:]
	if len(missing) == 0 {
		_, err := tx.Exec(ctx, q.SQL, q.Arguments...)
		if err == nil {
			err = execAll(ctx, tx, docs)
		}
		return pgError(err)
	}
	returning := make([]string, len(missing))
	cells := make([]any, len(missing))
	for i, f := range missing {
		returning[i] = readExpr(pgx.Identifier{f.Name}.Sanitize(), f.Type)
		cells[i] = newCell(f.Type)
	}
	if err := tx.QueryRow(ctx, q.SQL+" returning "+strings.Join(returning, ", "), q.Arguments...).Scan(cells...); err != nil {
		return pgError(err)
	}
	if err := execAll(ctx, tx, docs); err != nil {
		return pgError(err)
	}
	var creation *event.Event
	for i := range fresh {
		if fresh[i].Entity == st.ID && fresh[i].IsCreation() {
			creation = &fresh[i]
		}
	}
	for i, f := range missing {
		v, err := cellValue(cells[i], f.Type)
		if err != nil {
			return storage.Errorf(storage.CodeTypeMismatch, "%s.%s: its default: %v", t.Name, f.Name, err)
		}
		if v.IsNull() {
			continue
		}
		if creation == nil {
			// The creation was stored before (a deleted entity replayed):
			// the row gets the default, as in SQL, but no event records it.
			return storage.Errorf(storage.CodeConflict, "%s %s: cannot record the default of %s for an entity created earlier", t.Name, st.ID, f.Name)
		}
		if creation.Ops == nil {
			creation.Ops = map[string]value.Value{}
		}
		creation.Ops[f.Name] = v
		st.Values[f.Name] = v
		st.Versions[f.Name] = creation.ID
	}
	return nil
}

// execAll runs queued statements one by one in tx.
func execAll(ctx context.Context, tx pgx.Tx, qs []*pgx.QueuedQuery) error {
	for _, q := range qs {
		if _, err := tx.Exec(ctx, q.SQL, q.Arguments...); err != nil {
			return err
		}
	}
	return nil
}
