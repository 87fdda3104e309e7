package client

import (
	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// The core's schemas, and wire conversions typed by them.

func (c *core) types(coll, field string) (value.Type, bool) {
	sc, ok := c.schemas[coll]
	if !ok {
		return 0, false
	}
	f, ok := sc.Field(field)
	return f.Type, ok
}

// mergeSchema adds a collection's fields to the local schema. A field known
// with another type is a type_mismatch.
func (c *core) mergeSchema(sc schema.Collection) (schema.Collection, error) {
	cur, ok := c.schemas[sc.Name]
	m := cur.Map()
	changed := !ok
	for _, f := range sc.Fields {
		if t, ok := m[f.Name]; ok {
			if t != f.Type {
				return schema.Collection{}, storage.Errorf(storage.CodeTypeMismatch, "field %s.%s is %s, not %s", sc.Name, f.Name, t, f.Type)
			}
			continue
		}
		m[f.Name] = f.Type
		changed = true
	}
	if changed {
		full := schema.FromMap(sc.Name, m)
		c.schemas[sc.Name] = full
		c.record(record{T: recSchema, Coll: ptr(protocol.CollectionToWire(full))})
	}
	return c.schemas[sc.Name], nil
}

// adoptSchema takes a collection's schema from the server, which decides
// the type of every field it has; fields only this client knows stay.
func (c *core) adoptSchema(sc schema.Collection) {
	cur := c.schemas[sc.Name]
	m := cur.Map()
	changed := false
	for _, f := range sc.Fields {
		if t, ok := m[f.Name]; !ok || t != f.Type {
			m[f.Name] = f.Type
			changed = true
		}
	}
	if _, ok := c.schemas[sc.Name]; !ok || changed {
		full := schema.FromMap(sc.Name, m)
		c.schemas[sc.Name] = full
		c.record(record{T: recSchema, Coll: ptr(protocol.CollectionToWire(full))})
	}
}

// schemaQueued reports whether a registration of the collection waits in
// the outbox (the server may not know the collection yet).
func (c *core) schemaQueued(coll string) bool {
	for _, it := range c.outbox {
		if it.schema != nil && it.schema.Name == coll {
			return true
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }

func (c *core) stateFromWire(w protocol.Entity) (*entity.State, error) {
	return protocol.StateFromWire(w, c.types)
}

func (c *core) eventFromWire(w protocol.Event) (event.Event, error) {
	e, perr := protocol.EventFromWire(w, c.types, farFuture)
	if perr != nil {
		return event.Event{}, perr
	}
	return e, nil
}
