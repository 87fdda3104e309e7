package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/schema"
)

// Relation says what a table seen in the replication stream is to the
// catalog: which collection's rows it holds, and how.
type Relation struct {
	Collection string
	// Adopted: an adopted table (an app's own). Its rows' columns are
	// named by Columns (column → field); a column not there is not a field.
	// Keys are its primary key columns, in key order.
	Adopted bool
	// Side: an adopted table's side table (entity ids, heads, versions;
	// k1…kn: the row's key).
	Side    bool
	Columns map[string]string
	Keys    []string
	Schema  schema.Collection
}

// relationEntry is a relation known to the catalog.
type relationEntry struct {
	collection string
	side       bool
}

// Relation returns what relation relid (a pg_class oid, as pgoutput names
// tables) is to the catalog; ok is false for a table that belongs to no
// collection.
func (s *Store) Relation(ctx context.Context, relid uint32) (rel Relation, ok bool, err error) {
	s.mu.RLock()
	e, known := s.relations[relid]
	s.mu.RUnlock()
	if !known {
		m, err := s.loadRelations(ctx)
		if err != nil {
			return rel, false, err
		}
		if e, known = m[relid]; !known {
			return rel, false, nil
		}
	}
	t, err := s.table(ctx, e.collection)
	if err != nil {
		return rel, false, err
	}
	rel = Relation{Collection: e.collection, Adopted: t.adopted && !e.side, Side: e.side, Keys: t.keys, Schema: t.Collection,
		Columns: make(map[string]string, len(t.column))}
	for f, c := range t.column {
		rel.Columns[c] = f
	}
	return rel, true, nil
}

// loadRelations reads every collection's relations (its table's, and an
// adopted one's side table's).
func (s *Store) loadRelations(ctx context.Context) (map[uint32]relationEntry, error) {
	s.mu.RLock()
	gen := s.forgets
	s.mu.RUnlock()
	rows, err := s.pool.Query(ctx, `select name, coalesce(relid::oid, 0), coalesce(to_regclass('ankurah.' || quote_ident(side_table))::oid, 0)
		from ankurah.collections`)
	if err != nil {
		return nil, pgError(err)
	}
	m := map[uint32]relationEntry{}
	var name string
	var rel, side uint32
	if _, err := pgx.ForEachRow(rows, []any{&name, &rel, &side}, func() error {
		if rel != 0 {
			m[rel] = relationEntry{collection: name}
		}
		if side != 0 {
			m[side] = relationEntry{collection: name, side: true}
		}
		return nil
	}); err != nil {
		return nil, pgError(err)
	}
	s.mu.Lock()
	if s.forgets == gen {
		s.relations = m
	}
	s.mu.Unlock()
	return m, nil
}
