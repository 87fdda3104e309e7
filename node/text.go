package node

import (
	"context"
	"errors"
	"reflect"

	"github.com/ankurah/ankurah-go/internal/ytext"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// Collaborative text (ytext fields, docs/text.md). A transaction edits a
// ytext field's Yjs document at positions counted in UTF-16 code units (as
// Yjs and JavaScript count them); its edits of one field become one Yjs
// update, the field's operation in the entity's event, which every node
// merges with concurrent edits character by character. Assigning a whole
// new text (Set, or a typed model's field) is the smallest edit that makes
// it: one deletion and one insertion between the common prefix and suffix.

// ErrNoDocument is returned by a text edit of a field whose text this node
// holds without its Yjs document (a client that has not fetched it; read
// the entity again).
var ErrNoDocument = errors.New("the field's document is not held here")

// fieldTypes returns a collection's field types, if the store knows the
// collection (nil otherwise: a new collection's fields are typed by the
// values written).
func (n *Node) fieldTypes(collection string) map[string]value.Type {
	c, err := n.store.Collection(context.Background(), collection)
	if err != nil {
		return nil
	}
	return c.Map()
}

// isText reports whether field is collaborative text here.
func (te *txEntity) isText(field string) bool {
	return te.types[field].IsYText() || te.cur.Docs[field] != nil || te.texts[field] != nil
}

// editor returns the transaction's editor of a ytext field, opening it on
// the snapshot's document.
func (te *txEntity) editor(field string) (*ytext.Editor, error) {
	if ed := te.texts[field]; ed != nil {
		return ed, nil
	}
	doc := te.cur.Docs[field]
	if doc == nil && !te.cur.Get(field).IsNull() {
		return nil, storage.Errorf(storage.CodeConflict, "%s %s: %s: %v", te.coll, te.id, field, ErrNoDocument)
	}
	ed, err := ytext.NewEditor(doc)
	if err != nil {
		return nil, storage.Errorf(storage.CodeInternal, "%s %s: %s: %v", te.coll, te.id, field, err)
	}
	if te.texts == nil {
		te.texts = map[string]*ytext.Editor{}
	}
	te.texts[field] = ed
	return ed, nil
}

// flushTexts makes each edited ytext field's edits its operation.
func (te *txEntity) flushTexts() error {
	for f, ed := range te.texts {
		if !ed.Changed() {
			continue
		}
		u, err := ed.Update()
		if err != nil {
			return storage.Errorf(storage.CodeInternal, "%s %s: %s: %v", te.coll, te.id, f, err)
		}
		te.ops[f] = value.YUpdateOf(u)
	}
	return nil
}

// edit runs fn on a ytext field's editor and shows the result to reads.
func (e *Entity) edit(field string, fn func(*ytext.Editor) error) error {
	if e.tx.done {
		return ErrTxDone
	}
	if e.te.deleted {
		return storage.Errorf(storage.CodeNotFound, "%s %s was deleted in this transaction", e.te.coll, e.te.id)
	}
	if t, ok := e.te.types[field]; ok && !t.IsYText() {
		return storage.Errorf(storage.CodeTypeMismatch, "%s.%s is %s, not ytext", e.te.coll, field, t)
	}
	ed, err := e.te.editor(field)
	if err != nil {
		return err
	}
	if err := fn(ed); err != nil {
		return storage.Errorf(storage.CodeInvalidEvent, "%s.%s: %v", e.te.coll, field, err)
	}
	e.te.cur.Values[field] = value.TextOf(ed.Text())
	return nil
}

// InsertText inserts s at position pos (UTF-16 code units) of a ytext
// field. A field with no text yet starts as an empty document.
func (e *Entity) InsertText(field string, pos int, s string) error {
	return e.edit(field, func(ed *ytext.Editor) error { return ed.Insert(pos, s) })
}

// DeleteText deletes n UTF-16 code units of a ytext field from position pos.
func (e *Entity) DeleteText(field string, pos, n int) error {
	return e.edit(field, func(ed *ytext.Editor) error { return ed.Delete(pos, n) })
}

// SetText makes a ytext field's text s, by the smallest edit (one deletion
// and one insertion between the longest common prefix and suffix).
func (e *Entity) SetText(field string, s string) error {
	return e.edit(field, func(ed *ytext.Editor) error { return ed.Replace(s) })
}

// Text returns a ytext (or any text) field's text as the transaction sees it.
func (e *Entity) Text(field string) string { return e.te.cur.Get(field).Text() }

// InsertText inserts s at position pos (UTF-16 code units) of the ytext
// field named field (its column name), and shows it in Value.
func (m *Mutable[T]) InsertText(field string, pos int, s string) error {
	return m.editText(func() error { return m.entity.InsertText(field, pos, s) })
}

// DeleteText deletes n UTF-16 code units of a ytext field from position pos.
func (m *Mutable[T]) DeleteText(field string, pos, n int) error {
	return m.editText(func() error { return m.entity.DeleteText(field, pos, n) })
}

// editText makes an edit after the struct's pending changes, then reads the
// struct back so that Value shows it.
func (m *Mutable[T]) editText(fn func() error) error {
	if err := m.flush(); err != nil {
		return err
	}
	if err := fn(); err != nil {
		return err
	}
	if err := m.model.Decode(m.entity.ID(), m.entity.te.cur.Values, reflect.ValueOf(&m.value)); err != nil {
		return err
	}
	base, err := m.model.Encode(reflect.ValueOf(&m.value))
	if err != nil {
		return err
	}
	m.base = base
	return nil
}
