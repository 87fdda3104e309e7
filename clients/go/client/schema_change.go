package client

import (
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
)

// SchemaChange is a change of a collection's schema made on the server's
// database with SQL (a field added, dropped, renamed or retyped, the table
// renamed or dropped), as the server pushes it (docs/protocol.md, the
// schema frame).
type SchemaChange struct {
	protocol.SchemaChange
	// Schema is the collection's schema after the change; Dropped is true
	// when the collection is gone.
	Schema  schema.Collection
	Dropped bool
}

// OnSchemaChange calls fn (from the connection's reader goroutine, in
// order with the changes; fn must not block) for every schema change the
// server pushes. The client's own copy of the schema follows the change
// first. A live query whose query names a field that was dropped,
// renamed or retyped has been ended by the server (error code
// schema_changed) and is not subscribed again: its results stay as they
// were; subscribe again with the new names.
func (c *Client) OnSchemaChange(fn func(SchemaChange)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.schemaFns = append(c.schemaFns, fn)
}

// schemaChanged implements schemaPushHandler.
func (c *Client) schemaChanged(ch protocol.SchemaChange, coll *protocol.Collection) {
	sc := SchemaChange{SchemaChange: ch, Dropped: coll == nil}
	if coll != nil {
		got, perr := protocol.CollectionFromWire(*coll)
		if perr != nil {
			c.log.Warn("ankurah client: a schema change the client cannot read", "collection", ch.Collection, "err", perr)
			return
		}
		sc.Schema = got
	}
	c.mu.Lock()
	if sc.Dropped {
		delete(c.core.schemas, ch.Collection)
	} else {
		// The server's schema replaces the local one: fields dropped or
		// renamed there are gone here too.
		c.core.schemas[ch.Collection] = sc.Schema
	}
	fns := append([]func(SchemaChange){}, c.schemaFns...)
	c.mu.Unlock()
	for _, fn := range fns {
		fn(sc)
	}
}

// schemaEnded reports an error that ended a live query because the
// collection's schema changed: subscribing again with the same query
// would not bring it back.
func schemaEnded(perr *protocol.Error) bool {
	return perr != nil && perr.Code == storage.CodeSchemaChanged
}
