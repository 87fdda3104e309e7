package server

import (
	"slices"

	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/replication"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
)

// Schema changes made with SQL reach the hub in the transaction that made
// them (ankurah.schema_changes is in the publication): the live queries
// whose query names a field dropped, renamed or retyped end with a coded
// error (schema_changed: subscribe again with the new names), those of a
// dropped collection all end, the others carry on; and every session gets
// a schema frame with the change and the collection's schema after it.

// schemaPush is one schema change and the collection's schema after the
// transaction (nil: the collection is gone).
type schemaPush struct {
	change replication.SchemaChange
	coll   *schema.Collection
}

// applySchemaLocked handles a batch's schema changes, before its row
// changes (which have the new shape already). h.mu is held.
func (h *hub) applySchemaLocked(b *Batch) {
	if len(b.schema) == 0 {
		return
	}
	for _, sp := range b.schema {
		ch := sp.change
		var names []string // the fields whose queries break (nil with all: every query)
		all := false
		switch ch.Kind {
		case "drop_field", "retype_field":
			names = []string{ch.Field}
		case "rename_field":
			names = []string{ch.OldName}
		case "drop_table", "key_changed":
			all = true
		}
		if !all && names == nil {
			continue
		}
		for rs, sub := range h.subs {
			if rs.Collection() != ch.Collection {
				continue
			}
			if all || slices.ContainsFunc(rs.Query().Fields(), func(f string) bool { return slices.Contains(names, f) }) {
				h.endLocked(sub, storage.Errorf(storage.CodeSchemaChanged, "%s", schemaMessage(ch)))
			}
		}
	}
	if h.sessions == nil {
		return
	}
	sessions := h.sessions()
	for _, sp := range b.schema {
		f := protocol.ServerFrame{Type: protocol.TypeSchema, Change: &protocol.SchemaChange{
			ID: sp.change.ID, Collection: sp.change.Collection, Kind: sp.change.Kind, Field: sp.change.Field,
			OldName: sp.change.OldName, OldType: sp.change.OldType, NewType: sp.change.NewType, Detail: sp.change.Detail}}
		if sp.coll != nil {
			w := protocol.CollectionToWire(*sp.coll)
			f.Collection = &w
		}
		frame := appendJSON(nil, f)
		for _, sess := range sessions {
			sess.enqueue(frame)
		}
	}
}

// schemaMessage says what a schema change did to a live query.
func schemaMessage(ch replication.SchemaChange) string {
	switch ch.Kind {
	case "drop_field":
		return "collection " + ch.Collection + " no longer has field " + ch.Field + " (its column was dropped): subscribe again without it"
	case "rename_field":
		return "field " + ch.OldName + " of collection " + ch.Collection + " is now called " + ch.Field + ": subscribe again with the new name"
	case "retype_field":
		return "field " + ch.Field + " of collection " + ch.Collection + " is now " + ch.NewType + " (was " + ch.OldType + "): subscribe again"
	case "drop_table":
		return "collection " + ch.Collection + " was dropped (its table is gone; its history stays)"
	}
	return "collection " + ch.Collection + " changed (" + ch.Kind + "): " + ch.Detail
}
