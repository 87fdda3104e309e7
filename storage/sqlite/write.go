package sqlite

import (
	"context"
	"database/sql"
	"maps"

	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// writeTx is one write transaction on the writer connection. Schema changes
// made in it are kept aside and published to the catalogs only once the
// transaction has committed.
type writeTx struct {
	s       *Store
	ctx     context.Context
	changed map[string]*table
}

// write runs fn in a write transaction: BEGIN IMMEDIATE, fn, COMMIT, or
// ROLLBACK when anything failed (or panicked). Writes are serialised here,
// by s.wmu, rather than inside SQLite: a waiting commit starts as soon as the
// previous one ends, where SQLite's busy handler would poll with sleeps.
func (s *Store) write(ctx context.Context, fn func(*writeTx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return errClosed
	}
	w := &writeTx{s: s, ctx: ctx}
	if err := w.exec("begin immediate"); err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			// The error that matters is err; SQLite may have rolled back already.
			s.conn.ExecContext(context.Background(), "rollback") //nolint:errcheck
			w.forget()
		}
	}()
	if err := w.refresh(); err != nil {
		return err
	}
	if err := fn(w); err != nil {
		return err
	}
	// Past this point the work is done: do not let ctx undo it.
	w.ctx = context.Background()
	if err := w.exec("commit"); err != nil {
		return err
	}
	committed = true
	w.publish()
	return nil
}

// stmt returns the statement for query, prepared once on the writer
// connection and then reused (SQLite re-prepares it by itself after a schema
// change).
func (w *writeTx) stmt(query string) (*sql.Stmt, error) {
	if st := w.s.wstmts[query]; st != nil {
		return st, nil
	}
	st, err := w.s.conn.PrepareContext(w.ctx, query)
	if err != nil {
		return nil, sqlErr(err)
	}
	w.s.wstmts[query] = st
	return st, nil
}

func (w *writeTx) exec(query string, args ...any) error {
	st, err := w.stmt(query)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(w.ctx, args...)
	return sqlErr(err)
}

func (w *writeTx) query(query string, args ...any) (*sql.Rows, error) {
	st, err := w.stmt(query)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(w.ctx, args...)
	return rows, sqlErr(err)
}

// refresh reloads the writer's catalog when another connection — another
// process — has committed since this one last looked (PRAGMA data_version
// changes only for other connections' commits). Inside BEGIN IMMEDIATE no
// one else can change the file until this transaction ends.
func (w *writeTx) refresh() error {
	st, err := w.stmt("pragma data_version")
	if err != nil {
		return err
	}
	var v int64
	if err := st.QueryRowContext(w.ctx).Scan(&v); err != nil {
		return sqlErr(err)
	}
	if v == w.s.dataVersion {
		return nil
	}
	cat, err := loadCatalog(w.ctx, w.s.conn, "")
	if err != nil {
		return err
	}
	s := w.s
	for name, old := range s.wcat {
		if t := cat[name]; t == nil || t.insert != old.insert {
			s.dropStmts(old)
		}
	}
	s.dataVersion = v
	s.wcat = cat
	s.mu.Lock()
	for name, t := range cat {
		if cur := s.catalog[name]; cur == nil || len(cur.Fields) < len(t.Fields) {
			s.setCatalog(name, t)
		}
	}
	s.mu.Unlock()
	return nil
}

// table returns a collection's schema as of this transaction, or nil.
func (w *writeTx) table(name string) *table {
	if t := w.changed[name]; t != nil {
		return t
	}
	return w.s.wcat[name]
}

// addFields creates the collection's table if it has none and adds the
// fields it lacks, as columns and in the catalog. A field that exists with
// another type is a type mismatch, and nothing is changed.
func (w *writeTx) addFields(coll string, fields map[string]value.Type) error {
	t := w.table(coll)
	add := map[string]value.Type{}
	for _, f := range sortedKeys(fields) {
		have, ok := value.Null, false
		if t != nil {
			have, ok = t.types[f]
		}
		switch {
		case ok && have != fields[f]:
			return storage.Errorf(storage.CodeTypeMismatch, "field %s.%s is %s, not %s", coll, f, have, fields[f])
		case !ok:
			if err := storage.CheckNewName("field", f); err != nil {
				return storage.Errorf(storage.CodeBadName, "%v", err)
			}
			add[f] = fields[f]
		}
	}
	if t == nil {
		if err := storage.CheckNewName("collection", coll); err != nil {
			return storage.Errorf(storage.CodeBadName, "%v", err)
		}
		t = newTable(coll, tableName(coll), map[string]value.Type{})
		if err := w.exec(createTableSQL(quote(t.sqlName))); err != nil {
			return err
		}
		if err := w.exec("insert into _ankurah_collections (name, table_name) values (?, ?)", coll, t.sqlName); err != nil {
			return err
		}
	} else if len(add) == 0 {
		return nil
	}
	for _, f := range sortedKeys(add) {
		if err := w.exec("alter table " + quote(t.sqlName) + " add column " + quote(f) + " " + columnType(add[f])); err != nil {
			return err
		}
		if err := w.exec("insert into _ankurah_fields (collection, name, type) values (?, ?, ?)", coll, f, add[f].String()); err != nil {
			return err
		}
	}
	if w.changed == nil {
		w.changed = map[string]*table{}
	}
	w.changed[coll] = t.with(add)
	return nil
}

// publish makes the committed schema changes visible to the writer and the
// readers, and drops the statements of the tables they replace.
func (w *writeTx) publish() {
	if len(w.changed) == 0 {
		return
	}
	s := w.s
	cat := maps.Clone(s.wcat)
	for name, t := range w.changed {
		if old := cat[name]; old != nil {
			s.dropStmts(old)
		}
		cat[name] = t
	}
	s.wcat = cat
	s.mu.Lock()
	for name, t := range w.changed {
		s.setCatalog(name, t)
	}
	s.mu.Unlock()
}

// forget drops the statements prepared for schema changes that rolled back.
func (w *writeTx) forget() {
	for _, t := range w.changed {
		w.s.dropStmts(t)
	}
}

// dropStmts closes the writer's statements that name one version of a
// table's columns (the others read "select *" and serve every version).
func (s *Store) dropStmts(t *table) {
	for _, q := range []string{t.insert, t.update} {
		if st := s.wstmts[q]; st != nil {
			st.Close()
			delete(s.wstmts, q)
		}
	}
}
