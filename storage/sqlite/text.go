package sqlite

import (
	"strings"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/storage"
)

// Collaborative text (ytext fields, docs/text.md): a field's text is its
// column, its Yjs document a row of _ankurah_ytext, read with the entity's
// row in the same statement (so a read never pairs a row with a document
// of another moment) and written with it in the same transaction. SQLite
// has no triggers of Ankurah's: a write to the file around the Store does
// not become an event, for ytext fields as for any other.

// textTable is created in every file, new or existing (an additive change:
// files of this layout without it simply have no documents yet).
const textTable = `create table if not exists _ankurah_ytext (
	collection text not null,
	entity_id text not null,
	field text not null,
	state blob not null,
	primary key (collection, entity_id, field)
) without rowid`

// docColumn prefixes the select-list columns that carry documents.
const docColumn = "_ydoc_"

// docSelect returns the select list of a collection table t (alias "t"):
// its columns, then the document of each ytext field.
func docSelect(name string, t *table) string {
	var b strings.Builder
	b.WriteString("select t.*")
	lit := "'" + strings.ReplaceAll(name, "'", "''") + "'"
	for _, f := range t.Fields {
		if !f.Type.IsYText() {
			continue
		}
		fl := "'" + strings.ReplaceAll(f.Name, "'", "''") + "'"
		b.WriteString(", (select y.state from _ankurah_ytext y where y.collection = " + lit +
			" and y.entity_id = t.id and y.field = " + fl + ") as " + quote(docColumn+f.Name))
	}
	return b.String()
}

// writeDocs stores the documents of st's ytext fields (after its row), or
// drops them when it is deleted.
func (w *writeTx) writeDocs(t *table, st *entity.State) error {
	hasText := false
	for _, f := range t.Fields {
		hasText = hasText || f.Type.IsYText()
	}
	if !hasText {
		return nil
	}
	if st.Deleted {
		return w.exec("delete from _ankurah_ytext where collection = ? and entity_id = ?", t.Name, st.ID.String())
	}
	for _, f := range t.Fields {
		doc := st.Docs[f.Name]
		if !f.Type.IsYText() || doc == nil {
			continue
		}
		if err := w.exec(`insert into _ankurah_ytext (collection, entity_id, field, state) values (?, ?, ?, ?)
			on conflict (collection, entity_id, field) do update set state = excluded.state`,
			t.Name, st.ID.String(), f.Name, doc); err != nil {
			return err
		}
	}
	return nil
}

// setDoc puts a document column's cell into st.
func setDoc(st *entity.State, field string, c any) error {
	switch b := c.(type) {
	case nil:
		return nil
	case []byte:
		if st.Docs == nil {
			st.Docs = map[string][]byte{}
		}
		st.Docs[field] = append([]byte(nil), b...)
		return nil
	}
	return storage.Errorf(storage.CodeInternal, "%s %s: the document of %s is a %T", st.Collection, st.ID, field, c)
}
