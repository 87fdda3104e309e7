package main

import (
	"context"
	"encoding/base64"
	"encoding/json"

	"github.com/ankurah/ankurah-go/internal/ytext"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/value"
)

// textOps turns the text a put gives a ytext field (collaborative text,
// docs/text.md) into its operation: the smallest edit of the entity's
// document (docs: the entity's documents, base64; none for a creation)
// that makes that text, as an edit in an editor would.
func (t *tools) textOps(ctx context.Context, coll string, ops map[string]json.RawMessage, docs map[string]string) error {
	var res protocol.CollectionsResult
	if err := t.conn.Do(ctx, protocol.Request{Type: protocol.TypeCollections}, &res); err != nil {
		return err
	}
	for _, c := range res.Collections {
		if c.Name != coll {
			continue
		}
		for _, f := range c.Fields {
			raw, ok := ops[f.Name]
			if !ok || f.Type != value.YText.String() {
				continue
			}
			var s string
			if json.Unmarshal(raw, &s) != nil {
				continue // not text: the server says what is wrong with it
			}
			doc, err := base64.StdEncoding.DecodeString(docs[f.Name])
			if err != nil {
				return failed("%s.%s: the server sent a document that is not base64", coll, f.Name)
			}
			ed, err := ytext.NewEditor(doc)
			if err != nil {
				return failed("%s.%s: %v", coll, f.Name, err)
			}
			if err := ed.Replace(s); err != nil {
				return usageError("%s.%s: %v", coll, f.Name, err)
			}
			u, err := ed.Update()
			if err != nil {
				return failed("%s.%s: %v", coll, f.Name, err)
			}
			if u == nil {
				delete(ops, f.Name) // the text it has already
				continue
			}
			ops[f.Name] = value.YUpdateOf(u).AppendJSON(nil)
		}
	}
	return nil
}
