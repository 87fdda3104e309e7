package protocol

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// MaxClockSkew is how far ahead of the receiver's clock an event id's time
// may be. Without a bound, one client with a clock years ahead would win every
// concurrent write (larger id wins) until the world caught up.
const MaxClockSkew = 60 * time.Second

// TypeOf returns the type of a collection's field, if the schema has it.
type TypeOf func(collection, field string) (value.Type, bool)

// ParseArgs turns JSON query arguments into the Go values query.Parse binds:
// strings, int64 (integral numbers that fit), exact numerics (value.Numeric:
// any other number, read from its text as a decimal literal in the query
// text is), bools, nil, and []any for an array (IN (?)). Objects are
// refused: a query compares with scalars only.
func ParseArgs(raw []json.RawMessage) ([]any, *Error) {
	out := make([]any, len(raw))
	for i, r := range raw {
		v, err := parseArg(r, 0)
		if err != nil {
			return nil, Errorf(query.CodeBadArgument, "argument %d: %s", i+1, err.Error())
		}
		out[i] = v
	}
	return out, nil
}

func parseArg(raw json.RawMessage, depth int) (any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, errors.New("empty")
	}
	switch raw[0] {
	case 'n':
		if string(raw) != "null" {
			return nil, errors.New("not a JSON value")
		}
		return nil, nil
	case 't', 'f':
		var b bool
		err := json.Unmarshal(raw, &b)
		return b, err
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case '[':
		if depth > 0 {
			return nil, errors.New("arrays may not nest")
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
		list := make([]any, len(items))
		for i, it := range items {
			v, err := parseArg(it, depth+1)
			if err != nil {
				return nil, err
			}
			list[i] = v
		}
		return list, nil
	case '{':
		return nil, errors.New("an object cannot be a query argument")
	}
	if i, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return i, nil
	}
	if !json.Valid(raw) {
		return nil, errors.New("not a JSON value a query can compare with")
	}
	n, err := value.NumericOf(string(raw))
	if err != nil {
		return nil, err
	}
	return n, nil
}

// ParseID parses an id member. The error quotes the value once and says
// what an id looks like; member is the wire member it came from, which the
// message leaves out (a person reading it typed an id, not a member).
func ParseID(member, s string) (event.ID, *Error) {
	id, err := event.ParseID(s)
	if err != nil {
		return event.Zero, Errorf(CodeBadRequest, "%s", err.Error())
	}
	return id, nil
}

// ParseIDs parses a list of ids.
func ParseIDs(member string, ss []string) ([]event.ID, *Error) {
	out := make([]event.ID, len(ss))
	for i, s := range ss {
		id, err := ParseID(member, s)
		if err != nil {
			return nil, err
		}
		out[i] = id
	}
	return out, nil
}

// ParseKnown parses a subscribe's known map.
func ParseKnown(known map[string][]string) (map[event.ID]event.Head, *Error) {
	out := make(map[event.ID]event.Head, len(known))
	for s, h := range known {
		id, perr := ParseID("known", s)
		if perr != nil {
			return nil, perr
		}
		head, err := event.ParseHead(h)
		if err != nil {
			return nil, Errorf(CodeBadRequest, "known head of %s: %s", s, err.Error())
		}
		out[id] = head
	}
	return out, nil
}

// EventFromWire converts a wire event into an event, decoding each operation
// with its field's type (or inferring the type of a field the schema lacks),
// and checks the event's own rules: ids, parents below the id, creation and
// tombstone shape, and a clock no more than MaxClockSkew ahead of now.
func EventFromWire(w Event, types TypeOf, now time.Time) (event.Event, *Error) {
	bad := func(format string, args ...any) (event.Event, *Error) {
		return event.Event{}, Errorf(storage.CodeInvalidEvent, "event %s: "+format, append([]any{clip(w.ID)}, args...)...)
	}
	id, err := event.ParseID(w.ID)
	if err != nil {
		return bad("id: %s", err.Error())
	}
	ent, err := event.ParseID(w.EntityID)
	if err != nil {
		return bad("entity_id: %s", err.Error())
	}
	parents, err := event.ParseHead(w.Parents)
	if err != nil {
		return bad("parents: %s", err.Error())
	}
	if t := id.Time(); t.After(now.Add(MaxClockSkew)) {
		return bad("its time (%s) is more than %s ahead of the server's clock", t.Format(time.RFC3339), MaxClockSkew)
	}
	if w.Delete && len(w.Operations) > 0 {
		// A tombstone changes no field: operations beside it would show in
		// the commit's result but never reach a subscriber (the entity
		// leaves every result set), so they are refused, not ignored.
		return bad("a delete event carries no operations (found %d)", len(w.Operations))
	}
	for f := range w.Operations {
		if err := event.ValidFieldName(f); err != nil {
			return event.Event{}, Errorf(storage.CodeBadName, "event %s: %s", clip(w.ID), err.Error())
		}
	}
	e := event.Event{ID: id, Collection: w.Collection, Entity: ent, Parents: parents, Delete: w.Delete, Author: w.Author}
	if len(w.Operations) > 0 {
		e.Ops = make(map[string]value.Value, len(w.Operations))
	}
	for f, raw := range w.Operations {
		var v value.Value
		var err error
		if t, ok := types(w.Collection, f); ok {
			v, err = value.Decode(raw, t)
			if err != nil {
				return event.Event{}, Errorf(storage.CodeTypeMismatch, "%s.%s: %s", clip(w.Collection), clip(f), err.Error())
			}
		} else if v, err = inferOp(raw); err != nil {
			return bad("field %q: %s", clip(f), err.Error())
		}
		e.Ops[f] = v
	}
	if err := e.Validate(); err != nil {
		return event.Event{}, Errorf(storage.CodeInvalidEvent, "%s", err.Error())
	}
	return e, nil
}

// inferOp reads an operation on a field the schema lacks: a Yjs update
// ({"yjs": "<base64>"}, which makes the field ytext), or a value whose type
// its JSON gives (value.Infer).
func inferOp(raw json.RawMessage) (value.Value, error) {
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' {
		var obj map[string]json.RawMessage
		if json.Unmarshal(t, &obj) == nil && len(obj) == 1 && obj["yjs"] != nil {
			return value.Decode(t, value.YText)
		}
	}
	return value.Infer(raw)
}

// AppendEvent appends an event's wire JSON to b.
func AppendEvent(b []byte, e *event.Event) []byte {
	b = append(b, `{"id":"`...)
	b = append(b, e.ID.String()...)
	b = append(b, `","collection":`...)
	b = appendJSONString(b, e.Collection)
	b = append(b, `,"entity_id":"`...)
	b = append(b, e.Entity.String()...)
	b = append(b, `","parents":`...)
	b = appendHead(b, e.Parents)
	b = append(b, `,"operations":`...)
	b = appendValues(b, e.Ops, true)
	if e.Delete {
		b = append(b, `,"delete":true`...)
	}
	if e.Author != "" {
		b = append(b, `,"author":`...)
		b = appendJSONString(b, e.Author)
	}
	return append(b, '}')
}

// AppendEntity appends an entity's wire JSON to b, with the Yjs documents
// of its ytext fields (member "yjs") when the state holds them.
func AppendEntity(b []byte, st *entity.State) []byte {
	b = AppendEntityValues(b, st)
	if len(st.Docs) == 0 {
		return b
	}
	b = append(b[:len(b)-1], `,"yjs":{`...)
	for i, f := range slices.Sorted(maps.Keys(st.Docs)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f)
		b = append(b, ':', '"')
		b = base64.StdEncoding.AppendEncode(b, st.Docs[f])
		b = append(b, '"')
	}
	return append(b, "}}"...)
}

// AppendEntityValues appends an entity's wire JSON to b without the Yjs
// documents of its ytext fields: for a change whose events carry the
// updates that bring a client's documents up to date.
func AppendEntityValues(b []byte, st *entity.State) []byte {
	b = append(b, `{"id":"`...)
	b = append(b, st.ID.String()...)
	b = append(b, `","collection":`...)
	b = appendJSONString(b, st.Collection)
	b = append(b, `,"head":`...)
	b = appendHead(b, st.Head)
	if st.Deleted {
		b = append(b, `,"deleted":true`...)
	}
	b = append(b, `,"values":`...)
	b = appendValues(b, st.Values, false)
	return append(b, '}')
}

// AppendUnchanged appends the wire JSON of an entity the client holds already.
func AppendUnchanged(b []byte, st *entity.State) []byte {
	b = append(b, `{"id":"`...)
	b = append(b, st.ID.String()...)
	b = append(b, `","collection":`...)
	b = appendJSONString(b, st.Collection)
	b = append(b, `,"head":`...)
	b = appendHead(b, st.Head)
	return append(b, `,"unchanged":true}`...)
}

func appendHead(b []byte, h event.Head) []byte {
	b = append(b, '[')
	for i, id := range h {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, id.String()...)
		b = append(b, '"')
	}
	return append(b, ']')
}

// appendValues writes a field map in sorted key order (stable output).
// NULL values are left out of states (absent is NULL) but kept in
// operations, where null means "unset the field".
func appendValues(b []byte, vals map[string]value.Value, keepNull bool) []byte {
	keys := make([]string, 0, len(vals))
	for k, v := range vals {
		if keepNull || !v.IsNull() {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = vals[k].AppendJSON(b)
	}
	return append(b, '}')
}

func appendJSONString(b []byte, s string) []byte {
	enc, _ := json.Marshal(s) // a string always encodes
	return append(b, enc...)
}

// StateFromWire converts a wire entity into a state (values decoded with the
// schema's types, inferred for fields it lacks). Versions are not on the wire.
func StateFromWire(w Entity, types TypeOf) (*entity.State, error) {
	id, err := event.ParseID(w.ID)
	if err != nil {
		return nil, err
	}
	head, err := event.ParseHead(w.Head)
	if err != nil {
		return nil, err
	}
	st := entity.New(w.Collection, id)
	st.Head, st.Deleted = head, w.Deleted
	for f, b64 := range w.Yjs {
		doc, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("yjs: the document of %s is not base64: %w", f, err)
		}
		if st.Docs == nil {
			st.Docs = map[string][]byte{}
		}
		st.Docs[f] = doc
	}
	for f, raw := range w.Values {
		var v value.Value
		if t, ok := types(w.Collection, f); ok {
			v, err = value.Decode(raw, t)
		} else {
			v, err = value.Infer(raw)
		}
		if err != nil {
			return nil, err
		}
		if !v.IsNull() {
			st.Values[f] = v
		}
	}
	return st, nil
}

// EventToWire converts an event into its wire form.
func EventToWire(e *event.Event) Event {
	w := Event{ID: e.ID.String(), Collection: e.Collection, EntityID: e.Entity.String(), Parents: e.Parents.Strings(), Delete: e.Delete, Author: e.Author,
		Operations: make(map[string]json.RawMessage, len(e.Ops))}
	if w.Parents == nil {
		w.Parents = []string{}
	}
	for f, v := range e.Ops {
		w.Operations[f] = v.AppendJSON(nil)
	}
	return w
}

// CollectionFromWire converts a wire schema, checking names and types.
func CollectionFromWire(w Collection) (schema.Collection, *Error) {
	c := schema.Collection{Name: w.Name}
	for _, f := range w.Fields {
		t, err := value.ParseType(f.Type)
		if err != nil {
			return schema.Collection{}, Errorf(CodeBadRequest, "collection %q, field %q: %s", clip(w.Name), clip(f.Name), err.Error())
		}
		c.Fields = append(c.Fields, schema.Field{Name: f.Name, Type: t, Refers: f.Refers})
	}
	if err := c.Validate(); err != nil {
		return schema.Collection{}, Errorf(storage.CodeBadName, "%s", err.Error())
	}
	return c, nil
}

// CollectionToWire converts a schema into its wire form.
func CollectionToWire(c schema.Collection) Collection {
	w := Collection{Name: c.Name, Fields: make([]Field, len(c.Fields))}
	for i, f := range c.Fields {
		w.Fields[i] = Field{Name: f.Name, Type: f.Type.String(), Refers: f.Refers}
	}
	return w
}

// ErrorFrom turns any error of the layers below into a coded wire error:
// protocol, query and storage errors keep their codes; anything else is
// internal (and the caller should log it).
func ErrorFrom(err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	var qe *query.Error
	if errors.As(err, &qe) {
		e := &Error{Code: qe.Code, Message: qe.Message}
		if qe.Offset >= 0 {
			off := qe.Offset
			e.Offset = &off
		}
		return e
	}
	var se *storage.Error
	if errors.As(err, &se) {
		msg := se.Message
		if msg == "" {
			msg = se.Error()
		}
		return &Error{Code: se.Code, Message: msg}
	}
	code := storage.CodeOf(err)
	return &Error{Code: code, Message: err.Error()}
}
