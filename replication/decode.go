package replication

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pglogrepl"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/value"
)

// decoder turns the pgoutput (protocol version 1) messages of one streaming
// session into Transactions. It is not safe for concurrent use; each session
// starts a fresh one, since Postgres re-sends RELATION messages in every
// session.
//
// Two kinds of trouble are told apart. A broken stream (a change outside a
// transaction, an unknown relation id, a malformed message) is an error: the
// session ends and resumes from the last acknowledged position. A row whose
// data Ankurah cannot use (an id that is not a ULID, a malformed _head) is
// logged and left out of its transaction, so one bad row written behind
// Ankurah's back cannot stop the stream forever.
type decoder struct {
	log  *slog.Logger
	rels map[uint32]*relation
	tx   *Transaction // the open transaction: between BEGIN and COMMIT
	// seen is each relation's signature as last described; described
	// collects the relations described anew, for the next transaction.
	seen      map[uint32]string
	described []Relation
}

func newDecoder(log *slog.Logger) *decoder {
	return &decoder{log: log, rels: map[uint32]*relation{}, seen: map[uint32]string{}}
}

// inTransaction reports whether a transaction has begun and not committed.
// While it has, the server's WAL position must not be acknowledged: it may
// lie past the commit of the transaction being sent.
func (d *decoder) inTransaction() bool { return d.tx != nil }

// errBrokenStream marks stream-level decoding errors.
var errBrokenStream = errors.New("replication: unexpected pgoutput message")

// decode consumes the payload of one XLogData message. It returns the
// transaction when the message was its COMMIT, and nil otherwise.
func (d *decoder) decode(data []byte) (tx *Transaction, err error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty message", errBrokenStream)
	}
	// pglogrepl indexes into the message without checking its length; a
	// truncated message must end the session, not the process.
	defer func() {
		if r := recover(); r != nil {
			tx, err = nil, fmt.Errorf("%w: malformed %q message: %v", errBrokenStream, data[0], r)
		}
	}()
	msg, err := pglogrepl.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %q message: %v", errBrokenStream, data[0], err)
	}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		r := newRelation(m, d.log)
		d.rels[m.RelationID] = r
		if sig := r.signature(); r.kind != relOther && d.seen[r.id] != sig {
			d.seen[r.id] = sig
			rel := Relation{ID: r.id, Schema: r.schema, Table: r.table}
			if d.tx != nil {
				d.tx.Relations = append(d.tx.Relations, rel)
			} else {
				d.described = append(d.described, rel)
			}
		}
	case *pglogrepl.BeginMessage:
		if d.tx != nil {
			return nil, fmt.Errorf("%w: BEGIN of xid %d inside xid %d", errBrokenStream, m.Xid, d.tx.XID)
		}
		d.tx = &Transaction{XID: m.Xid, CommitLSN: LSN(m.FinalLSN), CommitTime: m.CommitTime, Relations: d.described}
		d.described = nil
	case *pglogrepl.CommitMessage:
		if d.tx == nil {
			return nil, fmt.Errorf("%w: COMMIT at %s outside a transaction", errBrokenStream, m.CommitLSN)
		}
		tx, d.tx = d.tx, nil
		tx.CommitLSN, tx.EndLSN, tx.CommitTime = LSN(m.CommitLSN), LSN(m.TransactionEndLSN), m.CommitTime
		return tx, nil
	case *pglogrepl.InsertMessage:
		return nil, d.change(Insert, m.RelationID, m.Tuple, 0, nil)
	case *pglogrepl.UpdateMessage:
		return nil, d.change(Update, m.RelationID, m.NewTuple, m.OldTupleType, m.OldTuple)
	case *pglogrepl.DeleteMessage:
		return nil, d.change(Delete, m.RelationID, nil, m.OldTupleType, m.OldTuple)
	case *pglogrepl.TruncateMessage:
		// Collection tables refuse TRUNCATE (trigger ankurah_truncate), so
		// this is a table outside Ankurah or a trigger someone disabled.
		names := make([]string, 0, len(m.RelationIDs))
		for _, id := range m.RelationIDs {
			if r, ok := d.rels[id]; ok {
				names = append(names, r.schema+"."+r.table)
			}
		}
		d.log.Warn("replication: TRUNCATE in the stream is ignored", "tables", names)
	default:
		// TYPE, ORIGIN and logical decoding messages carry nothing for us.
	}
	return nil, nil
}

// change decodes one INSERT, UPDATE or DELETE into the open transaction.
func (d *decoder) change(op Op, relID uint32, newTup *pglogrepl.TupleData, oldType uint8, oldTup *pglogrepl.TupleData) error {
	if d.tx == nil {
		return fmt.Errorf("%w: %s outside a transaction", errBrokenStream, op)
	}
	r, ok := d.rels[relID]
	if !ok {
		return fmt.Errorf("%w: %s on relation %d before its RELATION message", errBrokenStream, op, relID)
	}
	for _, t := range []*pglogrepl.TupleData{newTup, oldTup} {
		if t != nil && len(t.Columns) != len(r.cols) {
			return fmt.Errorf("%w: %s on %s.%s has %d columns, its relation %d", errBrokenStream, op, r.schema, r.table, len(t.Columns), len(r.cols))
		}
	}
	switch r.kind {
	case relCollection, relSide, relPlain:
		rc, err := d.rowChange(r, op, newTup, oldType == 'K', oldTup)
		if err != nil {
			d.log.Error("replication: row left out of its transaction", "table", r.schema+"."+r.table,
				"op", op.String(), "xid", d.tx.XID, "err", err)
			return nil
		}
		d.tx.Rows = append(d.tx.Rows, rc)
	case relEvents:
		if op != Insert {
			// The events_append_only trigger forbids this; someone disabled it.
			d.log.Warn("replication: ignoring an UPDATE/DELETE of ankurah.events (it is append-only)", "op", op.String(), "xid", d.tx.XID)
			return nil
		}
		ev, err := d.eventRow(r, newTup)
		if err != nil {
			d.log.Error("replication: event left out of its transaction", "xid", d.tx.XID, "err", err)
			return nil
		}
		d.tx.Events = append(d.tx.Events, ev)
	case relSchemaChanges:
		if op != Insert {
			return nil
		}
		sc, err := d.schemaChange(r, newTup)
		if err != nil {
			d.log.Error("replication: schema change left out of its transaction", "xid", d.tx.XID, "err", err)
			return nil
		}
		d.tx.SchemaChanges = append(d.tx.SchemaChanges, sc)
	}
	return nil
}

// schemaChange decodes an insert into ankurah.schema_changes.
func (d *decoder) schemaChange(r *relation, t *pglogrepl.TupleData) (SchemaChange, error) {
	text := func(name string) string {
		i, ok := r.byName[name]
		if !ok || t.Columns[i].DataType != pglogrepl.TupleDataTypeText {
			return ""
		}
		return string(t.Columns[i].Data)
	}
	sc := SchemaChange{ID: text("id"), Collection: text("collection"), Kind: text("kind"), Field: text("field"),
		OldName: text("old_name"), OldType: text("old_type"), NewType: text("new_type"), Detail: text("detail")}
	if sc.ID == "" || sc.Collection == "" || sc.Kind == "" {
		return sc, errors.New("schema change without id, collection or kind")
	}
	return sc, nil
}

// rowChange decodes a change of a collection table. keyOnly says the old
// tuple is a 'K' tuple (replica identity is a key, not FULL): only its key
// columns are real, the rest are sent as NULLs and must not be read as such.
func (d *decoder) rowChange(r *relation, op Op, newTup *pglogrepl.TupleData, keyOnly bool, oldTup *pglogrepl.TupleData) (RowChange, error) {
	rc := RowChange{Op: op, RelID: r.id, Schema: r.schema, Table: r.table}
	switch r.kind {
	case relSide:
		rc.Kind = SideRow
	case relPlain:
		rc.Kind = AdoptedRow
	}
	var err error
	if oldTup != nil {
		rc.Old = make(map[string]value.Value, len(r.cols))
		var id event.ID
		var versions map[string]event.ID
		if id, rc.OldHead, versions, err = d.tuple(r, oldTup, nil, keyOnly, rc.Old); err != nil {
			return rc, fmt.Errorf("old row: %w", err)
		}
		if op == Delete {
			rc.ID, rc.Head, rc.Versions = id, rc.OldHead, versions
		}
	}
	if newTup != nil {
		rc.New = make(map[string]value.Value, len(r.cols))
		// An unchanged TOASTed column in the new row is filled from the old
		// row, which REPLICA IDENTITY FULL sends whole and detoasted.
		fill := oldTup
		if keyOnly {
			fill = nil
		}
		if rc.ID, rc.Head, rc.Versions, err = d.tuple(r, newTup, fill, false, rc.New); err != nil {
			return rc, fmt.Errorf("new row: %w", err)
		}
	}
	if rc.ID.IsZero() && rc.Kind != AdoptedRow {
		return rc, errors.New("no id in the row (replica identity without id?)")
	}
	return rc, nil
}

// tuple decodes one tuple of a collection table: the system columns into
// their Go forms, the fields into fields. Unchanged TOASTed columns ('u') are
// taken from fill when it has them; otherwise they are left out of fields.
func (d *decoder) tuple(r *relation, t, fill *pglogrepl.TupleData, keyOnly bool, fields map[string]value.Value) (id event.ID, head event.Head, versions map[string]event.ID, err error) {
	for i, c := range t.Columns {
		col := &r.cols[i]
		if keyOnly && !col.key {
			continue
		}
		kind, data := c.DataType, c.Data
		if kind == pglogrepl.TupleDataTypeToast {
			if fill != nil && fill.Columns[i].DataType == pglogrepl.TupleDataTypeText {
				kind, data = pglogrepl.TupleDataTypeText, fill.Columns[i].Data
				d.log.Debug("replication: unchanged TOASTed column filled from the old row",
					"table", r.table, "column", col.name, "bytes", len(data))
			} else {
				if col.role == roleField {
					d.log.Warn("replication: unchanged TOASTed column not sent and no old row to fill it from; field left out",
						"table", r.schema+"."+r.table, "column", col.name)
				}
				continue
			}
		}
		if kind == pglogrepl.TupleDataTypeBinary {
			return id, nil, nil, fmt.Errorf("column %s: binary format was not requested", col.name)
		}
		null := kind == pglogrepl.TupleDataTypeNull
		switch col.role {
		case roleID:
			if null {
				return id, nil, nil, errors.New("id is NULL")
			}
			if id, err = event.ParseID(string(data)); err != nil {
				return id, nil, nil, fmt.Errorf("id: %w", err)
			}
		case roleHead:
			if null {
				continue
			}
			if head, err = parseHead(data); err != nil {
				return id, nil, nil, fmt.Errorf("_head: %w", err)
			}
		case roleVersions:
			if null {
				continue
			}
			if versions, err = parseVersions(data); err != nil {
				return id, nil, nil, fmt.Errorf("_versions: %w", err)
			}
		case roleField:
			if null {
				fields[col.name] = value.NullValue
				continue
			}
			v, err := col.decode(data)
			if err != nil {
				// Keep the row: the field is passed on as text, as for
				// an unknown type, and the oddity is logged.
				d.log.Warn("replication: field value not in its type's text format; passed on as text",
					"table", r.schema+"."+r.table, "column", col.name, "err", err)
				v = value.TextOf(string(data))
			}
			fields[col.name] = v
		}
	}
	return id, head, versions, nil
}

// eventRow decodes an insert into ankurah.events.
func (d *decoder) eventRow(r *relation, t *pglogrepl.TupleData) (EventRow, error) {
	var ev EventRow
	text := func(name string) ([]byte, bool) {
		i, ok := r.byName[name]
		if !ok || t.Columns[i].DataType != pglogrepl.TupleDataTypeText {
			return nil, false
		}
		return t.Columns[i].Data, true
	}
	raw, ok := text("id")
	if !ok {
		return ev, errors.New("event without id")
	}
	var err error
	if ev.ID, err = event.ParseID(string(raw)); err != nil {
		return ev, fmt.Errorf("id: %w", err)
	}
	if raw, ok = text("entity_id"); !ok {
		return ev, fmt.Errorf("event %s without entity_id", ev.ID)
	}
	if ev.Entity, err = event.ParseID(string(raw)); err != nil {
		return ev, fmt.Errorf("event %s: entity_id: %w", ev.ID, err)
	}
	if raw, ok = text("parents"); ok {
		if ev.Parents, err = parseHead(raw); err != nil {
			return ev, fmt.Errorf("event %s: parents: %w", ev.ID, err)
		}
	}
	if raw, ok = text("operations"); ok {
		// jsonb prints valid JSON; it is passed on as printed (compacting
		// it here cost a tenth of the decoding time, and encoding/json
		// compacts a RawMessage when it writes it anyway).
		ev.Operations = raw
	}
	if raw, ok = text("tombstone"); ok {
		ev.Tombstone = string(raw) == "t"
	}
	if raw, ok = text("collection"); ok {
		ev.Collection = string(raw)
	}
	if raw, ok = text("origin"); ok {
		ev.Origin = string(raw)
	}
	if raw, ok = text("author"); ok {
		ev.Author = string(raw)
	}
	if raw, ok = text("created_at"); ok {
		if ev.CreatedAt, err = parseTimestamptz(string(raw)); err != nil {
			return ev, fmt.Errorf("event %s: created_at: %w", ev.ID, err)
		}
	}
	return ev, nil
}

// parseHead parses a text[] of event ids into a head.
func parseHead(raw []byte) (event.Head, error) {
	ids, err := parseTextArray(string(raw))
	if err != nil {
		return nil, err
	}
	return event.ParseHead(ids)
}

// parseVersions parses _versions: a JSON object of property name to event id.
// Every replicated row carries one, so the common shape — jsonb's own
// output, strings without escapes — is scanned directly (encoding/json took
// a tenth of the fan-out's time); anything else goes to encoding/json.
func parseVersions(raw []byte) (map[string]event.ID, error) {
	if out, ok := scanVersions(raw); ok {
		return out, nil
	}
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	out := make(map[string]event.ID, len(m))
	for k, s := range m {
		id, err := event.ParseID(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = id
	}
	return out, nil
}

// scanVersions reads a flat JSON object of escape-free ASCII strings whose values
// are event ids. It reports false for anything else (escapes, other value
// types, a bad id, malformed JSON), which parseVersions hands to
// encoding/json for the answer or the error.
func scanVersions(raw []byte) (map[string]event.ID, bool) {
	i := 0
	space := func() {
		for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
			i++
		}
	}
	str := func() (string, bool) {
		if i >= len(raw) || raw[i] != '"' {
			return "", false
		}
		start := i + 1
		for j := start; j < len(raw); j++ {
			switch c := raw[j]; {
			case c == '"':
				i = j + 1
				return string(raw[start:j]), true
			case c == '\\' || c < 0x20 || c >= 0x80: // escapes, controls, non-ASCII (UTF-8 checks): encoding/json
				return "", false
			}
		}
		return "", false
	}
	space()
	if i >= len(raw) || raw[i] != '{' {
		return nil, false
	}
	i++
	out := map[string]event.ID{}
	space()
	if i < len(raw) && raw[i] == '}' {
		i++
		space()
		return out, i == len(raw)
	}
	for {
		space()
		k, ok := str()
		if !ok {
			return nil, false
		}
		space()
		if i >= len(raw) || raw[i] != ':' {
			return nil, false
		}
		i++
		space()
		v, ok := str()
		if !ok {
			return nil, false
		}
		id, err := event.ParseID(v)
		if err != nil {
			return nil, false
		}
		if _, dup := out[k]; dup {
			return nil, false // encoding/json keeps the last; let it decide
		}
		out[k] = id
		space()
		if i >= len(raw) {
			return nil, false
		}
		switch raw[i] {
		case ',':
			i++
		case '}':
			i++
			space()
			return out, i == len(raw)
		default:
			return nil, false
		}
	}
}
