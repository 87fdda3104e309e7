// Package storage defines the one interface every storage adapter implements
// (Postgres, in-memory, and later the embedded default), and the rules they
// share: validating a commit's events against the collection schema and
// merging them into entity states.
//
// This package is part of the module's public API: docs/api.md says what
// its compatibility promise covers.
package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/ytext"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/value"
)

// Store keeps collections, entity states and the event history of a node.
type Store interface {
	// EnsureCollection creates the collection or adds the fields it lacks,
	// and returns its full schema. A field that exists with another type is
	// an error with code CodeTypeMismatch.
	EnsureCollection(ctx context.Context, c schema.Collection) (schema.Collection, error)
	// Collection returns a collection's schema, or ErrNoCollection.
	Collection(ctx context.Context, name string) (schema.Collection, error)
	// Collections lists every collection.
	Collections(ctx context.Context) ([]schema.Collection, error)

	// Get returns the current states of the given entities of a collection,
	// in the order asked. Entities that do not exist (never created, or
	// deleted) are left out.
	Get(ctx context.Context, collection string, ids []event.ID) ([]*entity.State, error)
	// Events returns the events with the given ids; unknown ids are left out.
	Events(ctx context.Context, ids []event.ID) ([]event.Event, error)
	// History returns all events of one entity, sorted by id (parents first).
	History(ctx context.Context, collection string, id event.ID) ([]event.Event, error)
	// Scan calls fn with every existing entity of a collection, in id order,
	// until fn returns false.
	Scan(ctx context.Context, collection string, fn func(*entity.State) bool) error

	// Commit applies a batch of events atomically: all of them are stored
	// and merged into their entities' states, or none is. Events already
	// stored are skipped (redelivery is a no-op); an event whose parents are
	// neither stored nor in the batch is rejected with ErrMissingParents.
	// Fields not in a collection's schema are added with the type of the
	// value written. It returns the resulting states of the entities the
	// batch touched (deleted ones with Deleted set).
	Commit(ctx context.Context, events []event.Event) ([]*entity.State, error)

	Close() error
}

// Error codes. Adapters wrap their failures in *Error so that every layer
// above (the protocol, the CLI) can report a stable code.
const (
	CodeNoCollection   = "no_collection"
	CodeTypeMismatch   = "type_mismatch"
	CodeInvalidEvent   = "invalid_event"
	CodeMissingParents = "missing_parents"
	CodeNotFound       = "not_found"
	CodeConflict       = "conflict"
	CodeBadName        = "bad_name"
	CodeConstraint     = "constraint_violation" // a constraint on the table (NOT NULL, CHECK, a domain's, a foreign key) refused a row
	CodeOutOfRange     = "out_of_range"         // a value of the right type outside its field's range (smallint, numeric(5,2), real, years)
	CodeValueTooLong   = "value_too_long"       // text longer than its varchar(n) or char(n) field
	CodeReadOnlyField  = "read_only_field"      // a write to a generated column
	CodeUnknownField   = "unknown_field"        // a field an adopted table has no column for (Ankurah does not alter an app's tables)
	CodeNameTaken      = "name_taken"           // a collection named like an existing table that is not a collection (adopt it instead)
	CodeTooManyFields  = "too_many_fields"      // Postgres's limit of 1,600 columns per table
	CodeSchemaChanged  = "schema_changed"       // the collection's schema changed under the request (a field or the table dropped, renamed or retyped)
	CodeNotAdoptable   = "not_adoptable"        // a table that cannot be adopted as it is (the message says why)
	CodePermission     = "permission_denied"    // the database role may not do this (e.g. mark API writes without role ankurah_writer)
	CodeInternal       = "internal"
)

// Error is a storage failure with a stable code and a message for humans.
type Error struct {
	Code    string
	Message string
	Err     error // the cause, if any
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNoCollection) and friends match by code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrNoCollection   = &Error{Code: CodeNoCollection}
	ErrTypeMismatch   = &Error{Code: CodeTypeMismatch}
	ErrInvalidEvent   = &Error{Code: CodeInvalidEvent}
	ErrMissingParents = &Error{Code: CodeMissingParents}
	ErrNotFound       = &Error{Code: CodeNotFound}
)

// Errorf returns an *Error with the given code.
func Errorf(code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), Err: errors.Unwrap(err)}
}

// CodeOf returns the code of err: its *Error's code, a code derived from the
// shared merge errors, or CodeInternal.
func CodeOf(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, entity.ErrMissingParents):
		return CodeMissingParents
	case errors.Is(err, event.ErrInvalid), errors.Is(err, entity.ErrWrongEntity),
		errors.Is(err, entity.ErrAlreadyCreated), errors.Is(err, entity.ErrText):
		return CodeInvalidEvent
	case errors.Is(err, entity.ErrNotCreated):
		return CodeNotFound
	}
	return CodeInternal
}

// Coded wraps a merge or validation error in an *Error with its code.
func Coded(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Code: CodeOf(err), Message: err.Error(), Err: err}
}

// Conform checks an event against its collection's schema and converts its
// values to the fields' types (e.g. an integer written to a float field).
// Fields the schema lacks are returned with the types of their values so
// that the caller can add them; a NULL written to an unknown field needs no
// column and is dropped from the result (it unsets nothing).
func Conform(c schema.Collection, e *event.Event) (newFields map[string]value.Type, err error) {
	if err := e.Validate(); err != nil {
		return nil, Coded(err)
	}
	if e.Collection != c.Name {
		return nil, Errorf(CodeInvalidEvent, "event %s is for collection %s, not %s", e.ID, e.Collection, c.Name)
	}
	for name, v := range e.Ops {
		if v.Type() == value.JSON && v.JSONText() == "null" {
			// The jsonb document null is stored as NULL: an event's natural
			// JSON cannot tell the two apart (the SQL triggers do the same).
			v = value.NullValue
			e.Ops[name] = v
		}
		if err := v.CheckTime(); err != nil {
			return nil, Errorf(CodeTypeMismatch, "%s.%s: %v", c.Name, name, err)
		}
		if err := checkText(v); err != nil {
			return nil, Errorf(CodeTypeMismatch, "%s.%s: %v", c.Name, name, err)
		}
		if err := checkTexts(v); err != nil {
			return nil, Errorf(CodeTypeMismatch, "%s.%s: %v", c.Name, name, err)
		}
		f, ok := c.Field(name)
		if err := conformText(c.Name, name, f.Type, ok, v); err != nil {
			return nil, err
		}
		if !ok {
			if v.IsNull() {
				continue
			}
			if err := CheckNewName("field", name); err != nil {
				return nil, Errorf(CodeBadName, "collection %s has no field %q, and %v", c.Name, name, err)
			}
			if newFields == nil {
				newFields = map[string]value.Type{}
			}
			t := v.Type()
			if t == value.YUpdate {
				t = value.YText // a Yjs update makes a new field collaborative text
			}
			if seen, ok := newFields[name]; ok && seen != t {
				return nil, Errorf(CodeTypeMismatch, "%s.%s: written as %s and as %s", c.Name, name, seen, t)
			}
			newFields[name] = t
			continue
		}
		conv, err := value.Convert(v, f.Type)
		if err != nil {
			return nil, Errorf(ConvertCode(err), "%s.%s is %s: %v", c.Name, name, f.Type, err)
		}
		e.Ops[name] = conv
	}
	return newFields, nil
}

// CheckNewName refuses the name of a collection or field to be created
// unless it is plain (lowercase letters, digits and _, starting with a
// letter: event.IsPlainName). Names that exist already — an adopted
// table's and its columns' — may be any identifier; new ones may not, so
// that every store creates the same names.
func CheckNewName(kind, name string) error {
	if event.IsPlainName(name) {
		return nil
	}
	if kind == "field" {
		if err := event.ValidFieldName(name); err != nil {
			return err
		}
	} else if err := event.ValidCollectionName(name); err != nil {
		return err
	}
	return fmt.Errorf("a new %s's name uses lowercase letters, digits and _, starting with a letter (not %q)", kind, name)
}

// ConvertCode is the code of a value.Convert error: out_of_range,
// value_too_long, or type_mismatch.
func ConvertCode(err error) string {
	switch {
	case errors.Is(err, value.ErrOutOfRange):
		return CodeOutOfRange
	case errors.Is(err, value.ErrTooLong):
		return CodeValueTooLong
	}
	return CodeTypeMismatch
}

// checkTexts applies checkText to an array's elements.
func checkTexts(v value.Value) error {
	if v.Type().Kind() != value.Array {
		return nil
	}
	for _, e := range v.Elements() {
		if err := checkText(e); err != nil {
			return err
		}
	}
	return nil
}

// checkText refuses text that Postgres cannot store: invalid UTF-8, and the
// NUL character (in text, and as \u0000 in jsonb).
func checkText(v value.Value) error {
	switch v.Type().Kind() {
	case value.Text, value.Ref, value.JSON, value.Char, value.Enum:
		if !utf8.ValidString(v.Raw()) {
			return fmt.Errorf("text is not valid UTF-8")
		}
		if strings.Contains(v.Raw(), "\x00") || v.Type() == value.JSON && strings.Contains(v.Raw(), `\u0000`) {
			return fmt.Errorf("text may not contain the NUL character")
		}
	}
	return nil
}

// Limits on collaborative text (ytext fields) written by clients.
const (
	// MaxTextUpdateBytes bounds one Yjs update, the operation of one event
	// on one ytext field (value_too_long beyond it).
	MaxTextUpdateBytes = 512 << 10
	// MaxTextStateBytes bounds a ytext field's whole document, as stored
	// (value_too_long for a commit that would make it larger).
	MaxTextStateBytes = 4 << 20
)

// conformText checks an operation on a ytext field, or a Yjs update
// written to any field: a ytext field's operations are well-formed Yjs
// updates of at most MaxTextUpdateBytes, and only a ytext field (or a
// field that does not exist yet, which the update makes one) takes them.
func conformText(coll, name string, t value.Type, known bool, v value.Value) error {
	isUpdate := v.Type() == value.YUpdate
	switch {
	case known && t.IsYText() && !isUpdate:
		if v.IsNull() {
			return Errorf(CodeTypeMismatch, "%s.%s is ytext (collaborative text): it cannot be unset; delete its text with a Yjs update", coll, name)
		}
		return Errorf(CodeTypeMismatch, "%s.%s is ytext (collaborative text): its operations are Yjs updates ({\"yjs\": \"<base64>\"}), not a %s value", coll, name, v.Type())
	case !isUpdate:
		return nil
	case known && !t.IsYText():
		return Errorf(CodeTypeMismatch, "%s.%s is %s: only a ytext field takes a Yjs update", coll, name, t)
	}
	u := v.Raw()
	if len(u) > MaxTextUpdateBytes {
		return Errorf(CodeValueTooLong, "%s.%s: a Yjs update of %d bytes (at most %d)", coll, name, len(u), MaxTextUpdateBytes)
	}
	if err := ytext.Check([]byte(u)); err != nil {
		return Errorf(CodeInvalidEvent, "%s.%s: not a Yjs update (format v1): %v", coll, name, err)
	}
	return nil
}

// WriteCheck authorises one event of a commit, given its entity's state
// just before it (nil when the event creates the entity) and just after it
// (nil when it deletes the entity). A store's Commit calls the check that
// its context carries (WithWriteCheck) for every event it applies, inside
// the commit — with the rows locked on Postgres, under the commit lock
// elsewhere — so that the states checked are the states written. An error
// fails the whole commit; nothing is written.
type WriteCheck func(e *event.Event, before, after *entity.State) error

type writeCheckKey struct{}

// WithWriteCheck returns a context whose commits run check on every event.
func WithWriteCheck(ctx context.Context, check WriteCheck) context.Context {
	return context.WithValue(ctx, writeCheckKey{}, check)
}

// WriteCheckFrom returns the check a commit's context carries, or nil.
func WriteCheckFrom(ctx context.Context) WriteCheck {
	c, _ := ctx.Value(writeCheckKey{}).(WriteCheck)
	return c
}

// Merge applies a commit's events to the states they touch, parents first.
// states holds the current state of each entity (entity.New for ones not
// yet created); known reports whether an event of the given entity is
// already stored; check, when not nil, authorises each event that applies
// (see WriteCheck). It returns the events that were new (to be stored) in
// apply order. Nothing in states is changed on error.
func Merge(states map[event.ID]*entity.State, events []event.Event, known func(entityID, id event.ID) bool, check WriteCheck) ([]event.Event, error) {
	sorted := append([]event.Event(nil), events...)
	entity.SortForApply(sorted)
	work := make(map[event.ID]*entity.State, len(states))
	inBatch := make(map[event.ID]event.ID, len(sorted)) // event → its entity
	var fresh []event.Event
	for i := range sorted {
		e := &sorted[i]
		if i > 0 && sorted[i-1].ID == e.ID {
			continue // the same event twice in one batch
		}
		st, ok := work[e.Entity]
		if !ok {
			orig, ok := states[e.Entity]
			if !ok {
				return nil, Errorf(CodeInternal, "no state loaded for %s", e.Entity)
			}
			st = orig.Clone()
			work[e.Entity] = st
		}
		ent := e.Entity
		var before *entity.State
		if check != nil && st.Exists() {
			before = st.Clone()
		}
		applied, err := st.Apply(e, func(id event.ID) bool {
			if owner, ok := inBatch[id]; ok {
				return owner == ent
			}
			return known(ent, id)
		})
		if err != nil {
			return nil, Coded(err)
		}
		if applied {
			if check != nil {
				after := st
				if st.Deleted {
					after = nil
				}
				if err := check(e, before, after); err != nil {
					return nil, err
				}
			}
			inBatch[e.ID] = ent
			fresh = append(fresh, *e)
		}
	}
	for _, st := range work {
		for f, d := range st.Docs {
			if len(d) > MaxTextStateBytes && len(d) > len(states[st.ID].Docs[f]) {
				return nil, Errorf(CodeValueTooLong, "%s %s: the document of %s would hold %d bytes (at most %d)", st.Collection, st.ID, f, len(d), MaxTextStateBytes)
			}
		}
	}
	for id, st := range work {
		states[id] = st
	}
	return fresh, nil
}
