package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// table is one collection's schema and the SQL that reads and writes its
// table. It is immutable: a schema change makes a new one.
type table struct {
	schema.Collection // fields sorted by name
	sqlName           string
	types             map[string]value.Type

	selectOne  string // the row of one id: select * … where id = ?
	selectMany string // the rows of a JSON array of ids
	selectAll  string // every row, in id order
	insert     string // id, _head, _versions, then the fields in order
	update     string // the same parameters as insert
	delete     string
}

func newTable(name, sqlName string, types map[string]value.Type) *table {
	t := &table{Collection: schema.FromMap(name, types), sqlName: sqlName, types: types}
	ident := quote(sqlName)
	sel := docSelect(name, t) + " from " + ident + " t"
	t.selectOne = sel + " where t.id = ?"
	t.selectMany = sel + " where t.id in (select value from json_each(?))"
	t.selectAll = sel + " order by t.id"
	t.delete = "delete from " + ident + " where id = ?"
	cols, params, set := []string{"id", "_head", "_versions"}, []string{"?1", "?2", "?3"}, []string{"_head = ?2", "_versions = ?3"}
	for i, f := range t.Fields {
		p := fmt.Sprintf("?%d", i+4)
		cols = append(cols, quote(f.Name))
		params = append(params, p)
		set = append(set, quote(f.Name)+" = "+p)
	}
	t.insert = "insert into " + ident + " (" + strings.Join(cols, ", ") + ") values (" + strings.Join(params, ", ") + ")"
	t.update = "update " + ident + " set " + strings.Join(set, ", ") + " where id = ?1"
	return t
}

// with returns the table with fields added.
func (t *table) with(fields map[string]value.Type) *table {
	types := maps.Clone(t.types)
	maps.Copy(types, fields)
	return newTable(t.Name, t.sqlName, types)
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// loadCatalog reads the catalog: every collection, or only the one named.
func loadCatalog(ctx context.Context, q queryer, only string) (map[string]*table, error) {
	rows, err := q.QueryContext(ctx, `select c.name, c.table_name, f.name, f.type
		from _ankurah_collections c left join _ankurah_fields f on f.collection = c.name
		where ?1 = '' or c.name = ?1`, only)
	if err != nil {
		return nil, sqlErr(err)
	}
	defer rows.Close()
	type entry struct {
		sqlName string
		types   map[string]value.Type
	}
	found := map[string]*entry{}
	for rows.Next() {
		var coll, sqlName string
		var field, typ sql.NullString
		if err := rows.Scan(&coll, &sqlName, &field, &typ); err != nil {
			return nil, sqlErr(err)
		}
		e := found[coll]
		if e == nil {
			e = &entry{sqlName: sqlName, types: map[string]value.Type{}}
			found[coll] = e
		}
		if field.Valid {
			t, err := value.ParseType(typ.String)
			if err != nil {
				return nil, storage.Errorf(storage.CodeInternal, "catalog: %s.%s: %v", coll, field.String, err)
			}
			e.types[field.String] = t
		}
	}
	if err := rows.Err(); err != nil {
		return nil, sqlErr(err)
	}
	out := make(map[string]*table, len(found))
	for name, e := range found {
		out[name] = newTable(name, e.sqlName, e.types)
	}
	return out, nil
}

// table returns a collection's schema as readers know it, loading it on a
// miss (another process may have created it).
func (s *Store) table(ctx context.Context, name string) (*table, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	s.mu.RLock()
	t := s.catalog[name]
	s.mu.RUnlock()
	if t != nil {
		return t, nil
	}
	return s.reload(ctx, name)
}

// reload reads one collection's schema from the file into the readers'
// catalog. Fields are only ever added, so a schema with more fields is the
// newer one: a reload that raced with a commit never goes backwards.
func (s *Store) reload(ctx context.Context, name string) (*table, error) {
	got, err := loadCatalog(ctx, s.readers, name)
	if err != nil {
		return nil, err
	}
	t := got[name]
	if t == nil {
		return nil, noCollection(name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.catalog[name]; cur != nil && len(cur.Fields) >= len(t.Fields) {
		return cur, nil
	}
	s.setCatalog(name, t)
	return t, nil
}

// setCatalog replaces one entry of the readers' catalog (copy on write, so
// that the map the writer started from is never changed). s.mu is held.
func (s *Store) setCatalog(name string, t *table) {
	c := maps.Clone(s.catalog)
	c[name] = t
	s.catalog = c
}

func noCollection(name string) error {
	return storage.Errorf(storage.CodeNoCollection, "no collection %q", name)
}

// EnsureCollection implements storage.Store. Creating the table, adding
// the columns and recording them in the catalog is one transaction.
func (s *Store) EnsureCollection(ctx context.Context, c schema.Collection) (schema.Collection, error) {
	if err := c.Validate(); err != nil {
		return schema.Collection{}, storage.Errorf(storage.CodeBadName, "%v", err)
	}
	var out schema.Collection
	err := s.write(ctx, func(w *writeTx) error {
		if err := w.addFields(c.Name, c.Map()); err != nil {
			return err
		}
		out = w.table(c.Name).Collection
		return nil
	})
	return out, err
}

// Collection implements storage.Store. It reads the file, not a cache, so
// that fields another process added are listed.
func (s *Store) Collection(ctx context.Context, name string) (schema.Collection, error) {
	if s.closed.Load() {
		return schema.Collection{}, errClosed
	}
	t, err := s.reload(ctx, name)
	if err != nil {
		return schema.Collection{}, err
	}
	return t.Collection, nil
}

// Collections implements storage.Store.
func (s *Store) Collections(ctx context.Context) ([]schema.Collection, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	all, err := loadCatalog(ctx, s.readers, "")
	if err != nil {
		return nil, err
	}
	out := make([]schema.Collection, 0, len(all))
	for _, name := range sortedKeys(all) {
		out = append(out, all[name].Collection)
	}
	return out, nil
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}
