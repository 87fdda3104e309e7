package replication

import (
	"context"
	"encoding/json"
	"time"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/value"
)

// Handler receives committed transactions, one call at a time, in commit
// order. The consumer acknowledges a transaction to Postgres only after its
// handler call returned nil; an error stops Consumer.Run with a
// *HandlerError and nothing from that transaction on is acknowledged.
//
// Delivery is at least once: after a restart (of the consumer, or of
// Postgres 15, which may forget recent acknowledgements) transactions that
// were already handled can arrive again. Handlers must be idempotent, e.g. by
// remembering the EndLSN of the last transaction they applied or by comparing
// entity heads.
//
// The Transaction and everything it holds belong to the handler once it is
// called: the consumer keeps no reference to it.
type Handler func(ctx context.Context, tx *Transaction) error

// Gap says that the stream lost transactions: the slot was dropped while
// the consumer was away, or invalidated by Postgres (it fell further behind
// than max_slot_wal_keep_size), and was created anew. Transactions that
// committed after From and before To were never delivered and never will
// be; everything from To on is.
type Gap struct {
	Slot   string
	From   LSN    // the position acknowledged before the gap (0: none, first start with Config.StartLSN unset is never a gap)
	To     LSN    // the new slot's consistent point
	Reason string // "dropped" or "invalidated"
}

// Transaction is one committed Postgres transaction, reduced to what Ankurah
// cares about: its changes to collection tables and its ankurah.events rows,
// each in the order Postgres wrote them.
type Transaction struct {
	XID        uint32
	CommitLSN  LSN // where the commit record starts
	EndLSN     LSN // just past the commit record: what gets acknowledged
	CommitTime time.Time
	Rows       []RowChange
	Events     []EventRow
	// SchemaChanges are the transaction's rows of ankurah.schema_changes:
	// a collection's schema changed (in the same transaction as the DDL
	// when the event trigger follows it).
	SchemaChanges []SchemaChange
	// Relations are the published tables whose definition (name, columns,
	// column types) this streaming session had not seen before this
	// transaction: pgoutput describes a table again after it changed, so a
	// table changed with SQL shows up here with its next write, also where
	// no event trigger keeps the catalog in line.
	Relations []Relation
}

// Relation is a published table as pgoutput last described it.
type Relation struct {
	ID     uint32 // the table's relation (pg_class oid)
	Schema string
	Table  string
}

// SchemaChange is one row of ankurah.schema_changes (see
// migrations/00002_adopt.sql): Kind is add_field, drop_field,
// rename_field, retype_field, rename_table, drop_table, adopt or
// key_changed.
type SchemaChange struct {
	ID         string
	Collection string
	Kind       string
	Field      string // the field (its new name, for a rename)
	OldName    string // rename_field: the field's old name; rename_table: the old schema.table
	OldType    string
	NewType    string
	Detail     string
}

// Op is the kind of a row change.
type Op uint8

// Row operations.
const (
	Insert Op = iota + 1
	Update
	Delete
)

func (o Op) String() string {
	switch o {
	case Insert:
		return "insert"
	case Update:
		return "update"
	case Delete:
		return "delete"
	}
	return "unknown"
}

// RowChange is one INSERT, UPDATE or DELETE of a row of a collection table.
//
// New and Old hold the field columns (every column whose name does not start
// with "_", except id). A NULL column is present as value.NullValue rather
// than left out, so that "the field became NULL" is visible and a missing key
// means one thing only: Postgres did not send the value. That happens only
// when an unchanged out-of-line (TOASTed) value could not be filled from the
// old row because the table's REPLICA IDENTITY is not FULL (Ankurah creates
// collections with FULL, so normally never); read such a field from the
// table.
//
// Text and ref fields both arrive as value.Text: the column type is text for
// both, and decoding does not consult the catalog (value.Convert(v,
// value.Ref) is lossless). Floats keep NaN, +Inf, -Inf and -0 exactly.
type RowChange struct {
	Op    Op
	Kind  RowKind
	RelID uint32 // the table's relation (pg_class oid): the catalog maps it to its collection
	// Schema and Table are the table's (a collection table Ankurah created
	// has its collection's name, until someone renames it with SQL).
	Schema string
	Table  string
	ID     event.ID
	// Head is the row's head after the change; for a Delete, the head of
	// the deleted row.
	Head event.Head
	// OldHead is the head before an Update or Delete (nil for an Insert).
	OldHead event.Head
	// Versions is _versions after the change (of the deleted row for a
	// Delete): the id of the event that last wrote each property.
	Versions map[string]event.ID
	// New is the row after an Insert or Update (nil for a Delete).
	New map[string]value.Value
	// Old is the row before an Update or Delete (nil for an Insert). It is
	// complete because collection tables are REPLICA IDENTITY FULL; were
	// that changed, Old would be nil (Update) or hold no fields (Delete),
	// and OldHead would be nil.
	Old map[string]value.Value
}

// RowKind says what kind of table a RowChange is of.
type RowKind uint8

// Row kinds.
const (
	// CollectionRow: a collection table Ankurah created. ID, Head and
	// Versions are the row's; New and Old its fields.
	CollectionRow RowKind = iota
	// AdoptedRow: an adopted table (an app's own). Every column is in New
	// and Old, named as the table names it; ID, Head and Versions are
	// zero: they live in the side table, whose change comes in the same
	// transaction when the row's history changed.
	AdoptedRow
	// SideRow: an adopted table's side table. ID, Head and Versions are
	// the entity's; New and Old hold its key columns k1…kn.
	SideRow
)

// EventRow is one row inserted into ankurah.events.
type EventRow struct {
	ID         event.ID
	Collection string
	Entity     event.ID
	Parents    event.Head
	Operations json.RawMessage // as jsonb prints it: {"name": "x"}
	Tombstone  bool
	Origin     string // "api" or "sql"
	Author     string // "" when NULL
	CreatedAt  time.Time
}

// empty reports whether tx carries nothing for Ankurah (only changes to
// tables outside collections and events). Such transactions are acknowledged
// without calling the handler.
func (tx *Transaction) empty() bool {
	return len(tx.Rows) == 0 && len(tx.Events) == 0 && len(tx.SchemaChanges) == 0 && len(tx.Relations) == 0
}
