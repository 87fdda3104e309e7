package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/internal/ytext"
	"github.com/ankurah/ankurah-go/storage"
)

// Collaborative text (ytext fields, docs/text.md). A field's text is its
// column; its Yjs document is a row of ankurah.ytext (migration 00003):
// the document's state, the updates SQL writes appended since Go last
// wrote it, and the runs of ids of its visible text with which the SQL
// triggers (sql/text.sql) make edits of their own. Every read of a
// collection with ytext fields attaches the documents to the states it
// returns (entity.State.Docs); every write through Go stores the documents
// that changed, folding in what SQL appended.

// textFields lists the collection's ytext fields (nil: none).
func textFields(t *table) []string {
	var out []string
	for _, f := range t.Fields {
		if f.Type.IsYText() {
			out = append(out, f.Name)
		}
	}
	return out
}

// attachDocs reads the documents of the given states' ytext fields, in q
// (the transaction or snapshot the states were read in).
func (s *Store) attachDocs(ctx context.Context, q querier, t *table, states []*entity.State) error {
	if len(t.texts) == 0 || len(states) == 0 {
		return nil
	}
	byID := make(map[string]*entity.State, len(states))
	ids := make([]string, 0, len(states))
	for _, st := range states {
		id := st.ID.String()
		if byID[id] == nil {
			ids = append(ids, id)
		}
		byID[id] = st
	}
	rows, err := q.Query(ctx, `select entity_id, field, state, updates from ankurah.ytext
		where collection = $1 and entity_id = any($2)`, t.Name, ids)
	if err != nil {
		return pgError(err)
	}
	var (
		id, field string
		state     []byte
		updates   [][]byte
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &field, &state, &updates}, func() error {
		st := byID[id]
		if st == nil {
			return nil
		}
		if len(updates) > 0 {
			d, err := ytext.Merge(state, updates...)
			if err != nil {
				return storage.Errorf(storage.CodeInternal, "%s %s: the document of %s: %v", t.Name, id, field, err)
			}
			state = d.State
		}
		if st.Docs == nil {
			st.Docs = map[string][]byte{}
		}
		st.Docs[field] = state
		return nil
	})
	return pgError(err)
}

// queueDocs adds to b the writes of the documents that changed between
// before (nil: a new entity) and after: each as its state, with the runs
// and the state vector's clock of the SQL client that the triggers need;
// the updates SQL appended are folded in (after was read with them).
func queueDocs(b *pgx.Batch, t *table, before, after *entity.State) error {
	if len(t.texts) == 0 {
		return nil
	}
	if after.Deleted {
		if before != nil {
			b.Queue("select ankurah.ytext_forget($1, $2)", t.Name, after.ID.String())
		}
		return nil
	}
	for _, f := range t.texts {
		doc := after.Docs[f]
		if doc == nil {
			continue
		}
		if before != nil && bytes.Equal(before.Docs[f], doc) {
			continue
		}
		runs, sv, err := ytext.Runs(doc)
		if err != nil {
			return storage.Errorf(storage.CodeInternal, "%s %s: the document of %s: %v", t.Name, after.ID, f, err)
		}
		flat := make([]int64, 0, 3*len(runs))
		for _, r := range runs {
			flat = append(flat, int64(r.Client), int64(r.Clock), int64(r.Len))
		}
		clocks := make(map[string]uint64, len(sv))
		for c, n := range sv {
			clocks[strconv.FormatUint(c, 10)] = n
		}
		svJSON, _ := json.Marshal(clocks)
		client := newSQLClient()
		// The SQL client keeps its id for the document's life; its next
		// clock is what the document holds of it.
		b.Queue(`insert into ankurah.ytext as y (collection, entity_id, field, state, updates, runs, sql_client, sql_clock)
			values ($1, $2, $3, $4, '{}', $5, $6::bigint, coalesce(($7::jsonb ->> ($6::bigint)::text)::bigint, 0))
			on conflict (collection, entity_id, field) do update set state = excluded.state, updates = '{}', runs = excluded.runs,
				sql_clock = coalesce(($7::jsonb ->> y.sql_client::text)::bigint, 0)`,
			t.Name, after.ID.String(), f, doc, flat, int64(client), string(svJSON))
	}
	return nil
}

// newSQLClient returns a random Yjs client id (uint32, not 0) for the SQL
// edits of a new document.
func newSQLClient() uint32 {
	var b [4]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		if c := binary.LittleEndian.Uint32(b[:]); c != 0 {
			return c
		}
	}
}
