package replication

import (
	"log/slog"
	"strconv"
	"strings"

	"github.com/jackc/pglogrepl"
)

// relKind says what a published table is to Ankurah.
type relKind uint8

const (
	relOther         relKind = iota // anything else in schema ankurah: ignored
	relCollection                   // a collection table Ankurah created: id, _head, _versions, fields
	relEvents                       // ankurah.events
	relSide                         // an adopted table's side table (ankurah.adopted_<oid>): id, k1…kn, _head, _versions
	relSchemaChanges                // ankurah.schema_changes
	relPlain                        // any other published table: an adopted table, every column a field
)

// colRole says what a column of a collection table holds.
type colRole uint8

const (
	roleField    colRole = iota // a field: goes into New/Old
	roleID                      // id
	roleHead                    // _head
	roleVersions                // _versions
	roleSystem                  // another _-prefixed column: not a field, ignored
)

// column is one column of a relation, with its decoder chosen once when the
// RELATION message arrives rather than for every row.
type column struct {
	name   string
	oid    uint32
	key    bool // part of the replica identity (sent in a 'K' old tuple)
	role   colRole
	decode decodeFunc
}

// relation is the decoder's picture of a published table. pgoutput sends a
// RELATION message before the first change of a table in each streaming
// session and again whenever the table's definition or replica identity
// changes; changes refer to it by relation id only, so relations are cached
// by id and replaced on every RELATION message.
type relation struct {
	id     uint32
	schema string
	table  string
	kind   relKind
	full   bool // REPLICA IDENTITY FULL: UPDATE and DELETE carry the whole old row
	cols   []column
	byName map[string]int
}

// newRelation builds a relation from its RELATION message and logs, once per
// message rather than once per row, what it cannot decode faithfully.
func newRelation(m *pglogrepl.RelationMessage, log *slog.Logger) *relation {
	r := &relation{
		id:     m.RelationID,
		schema: m.Namespace,
		table:  m.RelationName,
		full:   m.ReplicaIdentity == 'f',
		cols:   make([]column, len(m.Columns)),
		byName: make(map[string]int, len(m.Columns)),
	}
	for i, c := range m.Columns {
		dec, _ := decoderFor(c.DataType)
		r.cols[i] = column{name: c.Name, oid: c.DataType, key: c.Flags&1 != 0, decode: dec}
		r.byName[c.Name] = i
	}
	r.kind = classify(r)
	for i := range r.cols {
		c := &r.cols[i]
		switch {
		case r.kind == relPlain:
			c.role = roleField
		case r.kind != relCollection && r.kind != relSide:
		case c.name == "id":
			c.role = roleID
		case c.name == "_head":
			c.role = roleHead
		case c.name == "_versions":
			c.role = roleVersions
		case strings.HasPrefix(c.name, "_"):
			c.role = roleSystem
		default:
			c.role = roleField
			if _, known := decoderFor(c.oid); !known {
				// An enum or a domain (or a type no field has): the server
				// types it by the collection's catalog.
				log.Debug("replication: column of a type without a decoder is passed on as its text",
					"table", r.schema+"."+r.table, "column", c.name, "type_oid", c.oid)
			}
		}
	}
	if (r.kind == relCollection || r.kind == relPlain) && !r.full {
		log.Warn("replication: collection table is not REPLICA IDENTITY FULL: updates and deletes lose old values and unchanged TOASTed fields",
			"table", r.schema+"."+r.table, "replica_identity", string(rune(m.ReplicaIdentity)),
			"fix", "ALTER TABLE "+r.schema+"."+r.table+" REPLICA IDENTITY FULL")
	}
	return r
}

// classify recognises ankurah.events, ankurah.schema_changes and side
// tables by name, and collection tables by shape (an id, a text[] _head
// and a jsonb _versions outside schema ankurah), so collections created
// while the consumer runs need no catalog lookup. Any other table in the
// publication is an adopted table: each of its columns is a field, and
// the server finds its rows' entities through the side table's changes.
func classify(r *relation) relKind {
	if r.schema == "ankurah" {
		switch {
		case r.table == "events":
			return relEvents
		case r.table == "schema_changes":
			return relSchemaChanges
		case strings.HasPrefix(r.table, "adopted_"):
			return relSide
		}
		return relOther
	}
	id, okID := r.byName["id"]
	head, okHead := r.byName["_head"]
	ver, okVer := r.byName["_versions"]
	if okID && okHead && okVer && (r.cols[id].oid == oidText || r.cols[id].oid == oidVarchar) &&
		r.cols[head].oid == oidTextArray && r.cols[ver].oid == oidJSONB {
		return relCollection
	}
	return relPlain
}

// signature identifies a relation's shape as the server sees it: its name
// and its columns' names and types, in order.
func (r *relation) signature() string {
	var b strings.Builder
	b.WriteString(r.schema + "." + r.table)
	for _, c := range r.cols {
		b.WriteString("\x00" + c.name + ":" + strconv.FormatUint(uint64(c.oid), 10))
	}
	return b.String()
}
