// Package postgres is the Postgres storage adapter: collections are ordinary
// tables with one typed column per field, and every event is a row of the
// append-only ankurah.events table (see migrations and sql/functions.sql).
//
// A commit writes its events and the new row states in one Postgres
// transaction. Rows are locked (SELECT … FOR UPDATE) and merged in Go with
// the shared merge rule, so concurrent API commits and plain SQL writes to the
// same entity serialise and converge. Commits that only create entities take
// a fast path: one round trip, no locks.
//
// This package is part of the module's public API: docs/api.md says what
// its compatibility promise covers.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
)

// DefaultSchema is Options.Schema's default.
const DefaultSchema = "public"

// Options configure the adapter. The zero value of every field means its
// default: WithDefaults fills them in (on a copy), and Validate reports
// every problem at once. New applies the defaults; it does not fail, so a
// program that takes options from its user validates them first (a schema
// name Postgres refuses would otherwise fail the first collection created).
type Options struct {
	// Schema is the Postgres schema that holds new collection tables.
	// Default DefaultSchema ("public"). Existing collections stay where
	// they are.
	Schema string
}

// WithDefaults returns o with every unset field set to its default.
func (o Options) WithDefaults() Options {
	if o.Schema == "" {
		o.Schema = DefaultSchema
	}
	return o
}

// Validate reports every problem with the options (defaults applied) at
// once.
func (o Options) Validate() error {
	o = o.WithDefaults()
	var errs []error
	if len(o.Schema) > 63 || strings.ContainsRune(o.Schema, 0) {
		errs = append(errs, fmt.Errorf("postgres: Schema %q: at most 63 bytes, no NUL", o.Schema))
	}
	return errors.Join(errs...)
}

// Store is the Postgres adapter. It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	schema string
	gen    *event.Generator // ids of the events that record what an adopted table's own triggers did to an API write

	mu        sync.RWMutex
	catalog   map[string]*table
	relations map[uint32]relationEntry // tables (by pg_class oid) → their collections; read again on a miss
	forgets   uint64                   // Forget calls so far: a load that began before one does not cache what it read

	creations group // concurrent creation-only commits, written together
}

// table is a collection's schema and where its table lives.
type table struct {
	schema.Collection
	sqlSchema string
	relid     uint32            // the table's relation (pg_class oid)
	version   int64             // the catalog version this entry was read at (ankurah.collections.version)
	ident     string            // "schema"."table", quoted: where writes go
	from      string            // what reads select from: the table, or for an adopted table its join with the side table (see adopted.go)
	columns   string            // select list: id, _head, _versions, fields… (each cast to its read type: see types.go)
	selectSQL string            // columns, then the collection's current catalog version
	colTypes  map[string]string // field → its column's Postgres type (format_type)
	column    map[string]string // field → its column's name
	generated map[string]bool   // fields whose columns are generated: readable, never written
	defaults  []string          // fields whose columns have a default (not generated ones)
	texts     []string          // ytext fields, whose documents are in ankurah.ytext (text.go)
	renames   []rename          // the collection's field renames, in order (schema_changes)

	// An adopted table (an app's own, made a collection in place).
	adopted bool
	state   string   // "adopting" while its rows are being given creation events, then "ready"
	side    string   // the side table holding entity ids, heads and versions: "ankurah"."adopted_<oid>", quoted
	keys    []string // the table's primary key columns, in key order (side table columns k1…kn)
}

// rename is a field renamed at schema change id (a ULID, ordered with
// event ids): events older than it name the field from.
type rename struct {
	id       string
	from, to string
}

var (
	_ storage.Store   = (*Store)(nil)
	_ storage.Fetcher = (*Store)(nil)
)

// New returns an adapter over pool. The database must be migrated (see
// package migrations).
func New(pool *pgxpool.Pool, opts Options) *Store {
	opts = opts.WithDefaults()
	return &Store{pool: pool, schema: opts.Schema, catalog: map[string]*table{}, gen: event.NewGenerator()}
}

// Pool returns the underlying pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close implements storage.Store. The pool belongs to the caller.
func (s *Store) Close() error { return nil }

// EnsureCollection implements storage.Store through ankurah.create_collection,
// the same path a SQL user takes.
func (s *Store) EnsureCollection(ctx context.Context, c schema.Collection) (schema.Collection, error) {
	if err := c.Validate(); err != nil {
		return schema.Collection{}, storage.Errorf(storage.CodeBadName, "%v", err)
	}
	fields := make(map[string]string, len(c.Fields))
	for _, f := range c.Fields {
		fields[f.Name] = f.Type.String()
	}
	if _, err := s.pool.Exec(ctx, "select ankurah.create_collection($1, $2, $3)", c.Name, fields, s.schema); err != nil {
		return schema.Collection{}, pgError(err)
	}
	t, err := s.load(ctx, c.Name)
	if err != nil {
		return schema.Collection{}, err
	}
	return t.Collection, nil
}

// Collection implements storage.Store.
func (s *Store) Collection(ctx context.Context, name string) (schema.Collection, error) {
	t, err := s.table(ctx, name)
	if err != nil {
		return schema.Collection{}, err
	}
	return t.Collection, nil
}

// Collections implements storage.Store.
func (s *Store) Collections(ctx context.Context) ([]schema.Collection, error) {
	rows, err := s.pool.Query(ctx, "select name from ankurah.collections order by name")
	if err != nil {
		return nil, pgError(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, pgError(err)
	}
	out := make([]schema.Collection, 0, len(names))
	for _, n := range names {
		t, err := s.load(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, t.Collection)
	}
	return out, nil
}

// table returns the cached catalog entry, loading it on a miss.
func (s *Store) table(ctx context.Context, name string) (*table, error) {
	s.mu.RLock()
	t := s.catalog[name]
	s.mu.RUnlock()
	if t != nil {
		return t, nil
	}
	return s.load(ctx, name)
}

// load reads a collection's catalog entry and caches it.
func (s *Store) load(ctx context.Context, name string) (*table, error) {
	s.mu.RLock()
	gen := s.forgets
	s.mu.RUnlock()
	t := &table{Collection: schema.Collection{Name: name}, colTypes: map[string]string{}, column: map[string]string{}, generated: map[string]bool{}}
	var tableName, side string
	err := s.pool.QueryRow(ctx, `select table_schema, table_name, coalesce(relid::oid, 0), version, adopted, state,
		coalesce(side_table, ''), coalesce(key_columns, '{}') from ankurah.collections where name = $1`, name).
		Scan(&t.sqlSchema, &tableName, &t.relid, &t.version, &t.adopted, &t.state, &side, &t.keys)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, storage.Errorf(storage.CodeNoCollection, "no collection %q", name)
	}
	if err != nil {
		return nil, pgError(err)
	}
	t.ident = pgx.Identifier{t.sqlSchema, tableName}.Sanitize()
	// Each field with its column, the column's type, and whether it is
	// generated or has a default.
	rows, err := s.pool.Query(ctx, `select f.name, f.type, f.column_name, coalesce(f.refers, ''),
		coalesce(format_type(a.atttypid, a.atttypmod), ''), f.generated or coalesce(a.attgenerated <> '', false),
		coalesce(a.atthasdef and a.attgenerated = '', false)
		from ankurah.fields f
		left join pg_attribute a on a.attrelid = $2::oid and a.attnum = f.attnum and a.attnum > 0 and not a.attisdropped
		where f.collection = $1 order by f.name`, name, t.relid)
	if err != nil {
		return nil, pgError(err)
	}
	var fname, ftype, col, refers, coltype string
	var generated, hasDefault bool
	_, err = pgx.ForEachRow(rows, []any{&fname, &ftype, &col, &refers, &coltype, &generated, &hasDefault}, func() error {
		f := schema.Field{Name: fname, Refers: refers}
		if err := f.Type.UnmarshalText([]byte(ftype)); err != nil {
			return fmt.Errorf("catalog: %s.%s: %w", name, fname, err)
		}
		t.Fields = append(t.Fields, f)
		t.colTypes[fname] = coltype
		t.column[fname] = col
		t.generated[fname] = generated
		if hasDefault {
			t.defaults = append(t.defaults, fname)
		}
		return nil
	})
	if err != nil {
		return nil, pgError(err)
	}
	t.texts = textFields(t)
	rows, err = s.pool.Query(ctx, `select id, field, old_name from ankurah.schema_changes
		where collection = $1 and kind = 'rename_field' order by id`, name)
	if err != nil {
		return nil, pgError(err)
	}
	var r rename
	if _, err = pgx.ForEachRow(rows, []any{&r.id, &r.to, &r.from}, func() error {
		t.renames = append(t.renames, r)
		return nil
	}); err != nil {
		return nil, pgError(err)
	}
	t.from = t.ident
	if t.adopted {
		t.side = pgx.Identifier{"ankurah", side}.Sanitize()
		t.from = adoptedFrom(t)
	}
	// Each read expression gets an alias of its own: an ORDER BY "price"
	// must name the column, not an output column "price" that is its text.
	t.columns = "id, _head, _versions"
	for i, f := range t.Fields {
		t.columns += ", " + readExpr(pgx.Identifier{f.Name}.Sanitize(), f.Type) + " as _f" + strconv.Itoa(i)
	}
	// The last column is the collection's catalog version now: a version
	// above ours means the cached catalog is stale (a field was added,
	// dropped, renamed or retyped since). The subquery is uncorrelated, so
	// Postgres runs it once; the relation is a number, nothing is spliced.
	t.selectSQL = t.columns + ", (select version from ankurah.collections where relid = " + strconv.FormatUint(uint64(t.relid), 10) + "::oid::regclass)"
	s.mu.Lock()
	if s.forgets == gen {
		s.catalog[name] = t
	}
	s.mu.Unlock()
	return t, nil
}

func (s *Store) forget(name string) { s.Forget(name) }

// Get implements storage.Store.
func (s *Store) Get(ctx context.Context, collection string, ids []event.ID) (out []*entity.State, err error) {
	err = s.retrySchema(ctx, []string{collection}, func() (err error) {
		out, err = s.get(ctx, s.pool, collection, ids)
		return err
	})
	return out, err
}

// isSchemaError reports an error of a statement that named a column or a
// table that is not there (any more): the catalog cache, or the catalog
// itself, lags a schema change made with SQL.
func isSchemaError(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "42703" || pe.Code == "42P01")
}

// retrySchema runs fn, and once more when it meets a schema change the
// catalog had not followed: the catalog of the collections is brought in
// line with their tables first (ankurah.sync_catalog) and reloaded. So a
// column dropped or renamed with SQL never makes a read fail.
func (s *Store) retrySchema(ctx context.Context, collections []string, fn func() error) error {
	err := fn()
	if !isSchemaError(err) {
		return err
	}
	if err := s.Sync(ctx, collections...); err != nil {
		return err
	}
	return fn()
}

// Sync brings the catalog of the given collections (all when none is
// given) in line with their tables — following columns added, dropped,
// renamed or retyped and tables renamed or dropped with SQL — and forgets
// their cached entries. It returns the number of changes it found. Where
// the event trigger could be installed (a superuser installed the schema),
// the catalog follows every DDL in its own transaction and Sync finds
// nothing to do; it is the safety net otherwise.
func (s *Store) Sync(ctx context.Context, collections ...string) error {
	if len(collections) == 0 {
		if _, err := s.pool.Exec(ctx, "select ankurah.sync_catalog(null)"); err != nil {
			return pgError(err)
		}
		s.Forget()
		return nil
	}
	for _, c := range collections {
		if _, err := s.pool.Exec(ctx, "select ankurah.sync_catalog($1)", c); err != nil {
			return pgError(err)
		}
		s.forget(c)
	}
	return nil
}

// Forget drops the cached catalog entries of the given collections (all
// when none is given), e.g. when a schema change arrives through the
// replication stream; they are read again when next used.
func (s *Store) Forget(collections ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.relations = nil
	s.forgets++
	if len(collections) == 0 {
		clear(s.catalog)
		return
	}
	for _, c := range collections {
		delete(s.catalog, c)
	}
}

// get is Get on db (the pool, or a transaction).
func (s *Store) get(ctx context.Context, db querier, collection string, ids []event.ID) ([]*entity.State, error) {
	t, err := s.table(ctx, collection)
	if err != nil {
		return nil, err
	}
	got, err := s.selectStates(ctx, db, t, ids, false)
	if errors.Is(err, errStale) {
		if t, err = s.load(ctx, collection); err != nil {
			return nil, err
		}
		got, err = s.selectStates(ctx, db, t, ids, false)
	}
	if err != nil {
		return nil, err
	}
	out := make([]*entity.State, 0, len(got))
	for _, id := range ids {
		if st, ok := got[id]; ok {
			out = append(out, st)
		}
	}
	return out, nil
}

// querier is what reads need: the pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// selectStates reads the rows of the given entities, optionally locking them.
func (s *Store) selectStates(ctx context.Context, q querier, t *table, ids []event.ID, lock bool) (map[event.ID]*entity.State, error) {
	sql := "select " + t.selectSQL + " from " + t.from + " where id = any($1)"
	if lock {
		sql += " order by id for update"
	}
	rows, err := q.Query(ctx, sql, idStrings(ids))
	if err != nil {
		return nil, pgError(err)
	}
	defer rows.Close()
	out := make(map[event.ID]*entity.State, len(ids))
	list := make([]*entity.State, 0, len(ids))
	for rows.Next() {
		st, err := scanState(t, rows, true)
		if err != nil {
			return nil, err
		}
		out[st.ID] = st
		list = append(list, st)
	}
	if err := rows.Err(); err != nil {
		return nil, pgError(err)
	}
	rows.Close()
	if err := s.attachDocs(ctx, q, t, list); err != nil {
		return nil, err
	}
	return out, nil
}

// Scan implements storage.Store.
func (s *Store) Scan(ctx context.Context, collection string, fn func(*entity.State) bool) error {
	// A schema error comes with the statement's first answer, before fn
	// saw a row.
	return s.retrySchema(ctx, []string{collection}, func() error { return s.scanOnce(ctx, collection, fn) })
}

func (s *Store) scanOnce(ctx context.Context, collection string, fn func(*entity.State) bool) error {
	t, err := s.table(ctx, collection)
	if err != nil {
		return err
	}
	err = s.scan(ctx, t, fn)
	if errors.Is(err, errStale) { // detected on the first row, before fn saw any
		if t, err = s.load(ctx, collection); err != nil {
			return err
		}
		err = s.scan(ctx, t, fn)
	}
	return err
}

func (s *Store) scan(ctx context.Context, t *table, fn func(*entity.State) bool) error {
	rows, err := s.pool.Query(ctx, "select "+t.selectSQL+" from "+t.from+" order by id")
	if err != nil {
		return pgError(err)
	}
	defer rows.Close()
	// States go to fn in chunks, each with its documents read at once.
	var chunk []*entity.State
	flush := func() (bool, error) {
		if err := s.attachDocs(ctx, s.pool, t, chunk); err != nil {
			return false, err
		}
		for _, st := range chunk {
			if !fn(st) {
				return false, nil
			}
		}
		chunk = chunk[:0]
		return true, nil
	}
	for rows.Next() {
		st, err := scanState(t, rows, true)
		if err != nil {
			return err
		}
		chunk = append(chunk, st)
		if len(chunk) == 256 {
			if more, err := flush(); !more || err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return pgError(err)
	}
	_, err = flush()
	return err
}

// Events implements storage.Store and event.Source.
func (s *Store) Events(ctx context.Context, ids []event.ID) ([]event.Event, error) {
	return s.queryEvents(ctx, s.pool, eventColumns+" where id = any($1) order by id", idStrings(ids))
}

// History implements storage.Store.
func (s *Store) History(ctx context.Context, collection string, id event.ID) ([]event.Event, error) {
	return s.queryEvents(ctx, s.pool, eventColumns+" where entity_id = $1 and collection = $2 order by id", id.String(), collection)
}

const eventColumns = "select id, collection, entity_id, parents, operations, tombstone, coalesce(author, '') from ankurah.events"

func (s *Store) queryEvents(ctx context.Context, q querier, sql string, args ...any) ([]event.Event, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, pgError(err)
	}
	type raw struct {
		id, coll, ent, author string
		parents               []string
		ops                   []byte
		tomb                  bool
	}
	var rs []raw
	var r raw
	_, err = pgx.ForEachRow(rows, []any{&r.id, &r.coll, &r.ent, &r.parents, &r.ops, &r.tomb, &r.author}, func() error {
		rs = append(rs, r)
		return nil
	})
	if err != nil {
		return nil, pgError(err)
	}
	out := make([]event.Event, 0, len(rs))
	for _, r := range rs {
		t, err := s.table(ctx, r.coll)
		if err != nil {
			return nil, err
		}
		e, err := decodeEvent(t, r.id, r.ent, r.parents, r.ops, r.tomb, r.author)
		if err != nil {
			return nil, err
		}
		if hasUnknown(t, e.Ops) {
			// A field added since the catalog was cached: reload and decode again.
			if t, err = s.load(ctx, r.coll); err != nil {
				return nil, err
			}
			if e, err = decodeEvent(t, r.id, r.ent, r.parents, r.ops, r.tomb, r.author); err != nil {
				return nil, err
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// Commit implements storage.Store.
func (s *Store) Commit(ctx context.Context, events []event.Event) ([]*entity.State, error) {
	if len(events) == 0 {
		return nil, nil
	}
	evs, tables, err := s.conform(ctx, events)
	if err != nil {
		return nil, err
	}
	if allCreations(evs) && !anyDefaults(tables) {
		states, err := s.commitCreations(ctx, evs, tables)
		if !isUniqueViolation(err) {
			return states, err
		}
		// Some entity exists already (e.g. a redelivered creation): merge.
	}
	for attempt := 0; ; attempt++ {
		states, err := s.commitMerged(ctx, evs, tables)
		if (errors.Is(err, errStale) || isSchemaError(err)) && attempt < 3 {
			// Another process changed the schema: follow it, reload the
			// catalog and conform again.
			if isSchemaError(err) {
				if err := s.Sync(ctx, slices.Collect(maps.Keys(tables))...); err != nil {
					return nil, err
				}
			}
			for name := range tables {
				if _, err := s.load(ctx, name); err != nil {
					return nil, err
				}
			}
			if evs, tables, err = s.conform(ctx, events); err != nil {
				return nil, err
			}
			continue
		}
		if retryable(err) && attempt < 3 {
			continue // a concurrent commit stored one of our events first, or a deadlock with SQL writers
		}
		return states, err
	}
}

// conform copies the events, checks and converts their values against the
// schema, and adds any new fields to their collections first (DDL in its own
// transaction: a column that is added but then not written is harmless).
func (s *Store) conform(ctx context.Context, events []event.Event) ([]event.Event, map[string]*table, error) {
	evs := make([]event.Event, len(events))
	tables := map[string]*table{}
	for i, e := range events {
		ops := make(map[string]valueT, len(e.Ops))
		for k, v := range e.Ops {
			ops[k] = v
		}
		e.Ops = ops
		evs[i] = e
	}
	for pass := 0; pass < 2; pass++ {
		missing := map[string]map[string]string{}
		for i := range evs {
			e := &evs[i]
			t, err := s.table(ctx, e.Collection)
			if err != nil {
				return nil, nil, err
			}
			tables[e.Collection] = t
			add, err := storage.Conform(t.Collection, e)
			if err != nil {
				return nil, nil, err
			}
			for f := range e.Ops {
				if t.generated[f] {
					return nil, nil, storage.Errorf(storage.CodeReadOnlyField, "%s.%s is a generated column: it can be read, not written", t.Name, f)
				}
			}
			for f, typ := range add {
				if missing[e.Collection] == nil {
					missing[e.Collection] = map[string]string{}
				}
				missing[e.Collection][f] = typ.String()
			}
		}
		if len(missing) == 0 {
			return evs, tables, nil
		}
		if pass == 1 {
			break
		}
		for coll, fields := range missing {
			if t := tables[coll]; t.adopted {
				for f := range fields {
					return nil, nil, storage.Errorf(storage.CodeUnknownField,
						"collection %s is the adopted table %s, which has no column for field %s (Ankurah does not alter an app's tables: add the column with ALTER TABLE, and the field follows)",
						coll, t.ident, f)
				}
			}
			if _, err := s.pool.Exec(ctx, "select ankurah.create_collection($1, $2)", coll, fields); err != nil {
				return nil, nil, pgError(err)
			}
			if _, err := s.load(ctx, coll); err != nil {
				return nil, nil, err
			}
		}
	}
	return nil, nil, storage.Errorf(storage.CodeInternal, "new fields did not appear in the catalog")
}

// anyDefaults reports a table with column defaults, or an adopted one: its
// new rows are inserted one by one, reading back the defaults (see
// insertWithDefaults and writeAdopted).
func anyDefaults(tables map[string]*table) bool {
	for _, t := range tables {
		if len(t.defaults) > 0 || t.adopted {
			return true
		}
	}
	return false
}

func allCreations(evs []event.Event) bool {
	for i := range evs {
		if !evs[i].IsCreation() {
			return false
		}
	}
	return true
}

// commitMerged locks the touched rows, merges the events into their states
// and writes the events and the changed rows, all in one transaction.
func (s *Store) commitMerged(ctx context.Context, evs []event.Event, tables map[string]*table) ([]*entity.State, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, pgError(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck

	byColl := map[string][]event.ID{}
	var allIDs []string
	for i := range evs {
		e := &evs[i]
		if !slices.Contains(byColl[e.Collection], e.Entity) {
			byColl[e.Collection] = append(byColl[e.Collection], e.Entity)
		}
		allIDs = append(allIDs, e.ID.String())
		for _, p := range e.Parents {
			allIDs = append(allIDs, p.String())
		}
	}
	// Lock the rows, collection by collection in name order, rows in id order,
	// so that concurrent commits cannot deadlock.
	before := map[event.ID]*entity.State{}
	colls := make([]string, 0, len(byColl))
	for c := range byColl {
		colls = append(colls, c)
	}
	slices.Sort(colls)
	for _, c := range colls {
		got, err := s.selectStates(ctx, tx, tables[c], byColl[c], true)
		if err != nil {
			return nil, err
		}
		for id, st := range got {
			before[id] = st
		}
	}
	// Events already stored, with the entity and collection they belong to:
	// an id stored for another collection's entity is not a redelivery.
	type owner struct {
		entity     event.ID
		collection string
	}
	known := map[event.ID]owner{}
	rows, err := tx.Query(ctx, "select id, entity_id, collection from ankurah.events where id = any($1)", allIDs)
	if err != nil {
		return nil, pgError(err)
	}
	var kid, kent, kcoll string
	if _, err := pgx.ForEachRow(rows, []any{&kid, &kent, &kcoll}, func() error {
		known[event.MustParseID(kid)] = owner{event.MustParseID(kent), kcoll}
		return nil
	}); err != nil {
		return nil, pgError(err)
	}

	states := map[event.ID]*entity.State{}
	for _, c := range colls {
		for _, id := range byColl[c] {
			if st, ok := before[id]; ok {
				states[id] = st
				continue
			}
			// No row: a new entity, or a deleted one whose history we replay.
			st, err := s.replay(ctx, tx, c, id)
			if err != nil {
				return nil, err
			}
			states[id] = st
		}
	}
	fresh, err := storage.Merge(states, evs, func(ent, id event.ID) bool {
		o, ok := known[id]
		return ok && o.entity == ent && o.collection == states[ent].Collection
	}, storage.WriteCheckFrom(ctx))
	if err != nil {
		return nil, err
	}
	if len(fresh) == 0 {
		return sortedStates(states), nil // everything was already stored
	}
	touched := map[event.ID]bool{}
	for i := range fresh {
		touched[fresh[i].Entity] = true
	}
	b := &pgx.Batch{}
	var extra []event.Event // what adopted tables' own triggers did to the rows written
	for _, id := range sortedIDs(touched) {
		st := states[id]
		t := tables[st.Collection]
		if t.adopted || before[id] == nil && !st.Deleted && len(t.defaults) > 0 {
			// Write now, so that the values the table gives the row go
			// into the creation event before that is queued.
			if _, err := tx.Exec(ctx, markAPIWrite, apiMark(t)); err != nil {
				return nil, pgError(err)
			}
			if t.adopted {
				e, err := s.writeAdopted(ctx, tx, t, before[id], st, fresh)
				if err != nil {
					return nil, err
				}
				if e != nil {
					extra = append(extra, *e)
				}
			} else if err := s.insertWithDefaults(ctx, tx, t, st, fresh); err != nil {
				return nil, err
			}
			delete(touched, id)
		}
	}
	for i := range fresh {
		if err := queueEvent(b, &fresh[i]); err != nil {
			return nil, err
		}
	}
	for i := range extra {
		queueSQLEvent(b, &extra[i])
	}
	for _, id := range sortedIDs(touched) {
		st := states[id]
		b.Queue(markAPIWrite, apiMark(tables[st.Collection]))
		if err := queueRow(b, tables[st.Collection], before[id], st); err != nil {
			return nil, err
		}
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, pgError(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, pgError(err)
	}
	return sortedStates(states), nil
}

// replay rebuilds the state of an entity that has no row from its history:
// empty for a new entity, Deleted for a deleted one.
func (s *Store) replay(ctx context.Context, tx pgx.Tx, coll string, id event.ID) (*entity.State, error) {
	hist, err := s.queryEvents(ctx, tx, eventColumns+" where entity_id = $1 and collection = $2 order by id", id.String(), coll)
	if err != nil {
		return nil, err
	}
	st, _, err := entity.Replay(coll, id, hist)
	if err != nil {
		return nil, storage.Errorf(storage.CodeInternal, "%v", err)
	}
	return st, nil
}

func sortedIDs(m map[event.ID]bool) []event.ID {
	out := make([]event.ID, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.SortFunc(out, event.ID.Compare)
	return out
}

func sortedStates(m map[event.ID]*entity.State) []*entity.State {
	out := make([]*entity.State, 0, len(m))
	for _, st := range m {
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b *entity.State) int { return a.ID.Compare(b.ID) })
	return out
}

func idStrings(ids []event.ID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

// pgError turns a Postgres error into a coded storage error.
func pgError(err error) error {
	if err == nil {
		return nil
	}
	var se *storage.Error
	if errors.As(err, &se) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		code := storage.CodeInternal
		switch pe.Code {
		case "AK001", "AK003":
			code = storage.CodeInvalidEvent
		case "AK002", "22P02", "42804", "22021", "22P05", "22007", "22023", "22004":
			code = storage.CodeTypeMismatch
		case "22003", "22008", "22015", "22P01":
			// numeric or integer out of range, datetime or interval field overflow
			code = storage.CodeOutOfRange
		case "22001":
			code = storage.CodeValueTooLong
		case "AK004", "23505", "40001", "40P01":
			code = storage.CodeConflict
		case "AK005":
			code = storage.CodeNoCollection
		case "AK006":
			code = storage.CodeBadName
		case "AK009":
			code = storage.CodeNameTaken
		case "AK010", "42501":
			code = storage.CodePermission
		case "AK011":
			code = storage.CodeNotAdoptable
		case "AK012", "54011":
			code = storage.CodeTooManyFields
		case "AK013":
			code = storage.CodeUnknownField
		case "42703", "42P01":
			// A column or table that is not there: the schema changed
			// under a cached catalog (the read was retried once after
			// following it; see retrySchema).
			code = storage.CodeSchemaChanged
		case "23502", "23503", "23514", "23P01", "23001":
			code = storage.CodeConstraint
		case "428C9":
			code = storage.CodeReadOnlyField
		default:
			// Any other data exception is a value Postgres would not take.
			if strings.HasPrefix(pe.Code, "22") {
				code = storage.CodeTypeMismatch
			} else if strings.HasPrefix(pe.Code, "23") {
				code = storage.CodeConstraint
			}
		}
		msg := pe.Message
		if pe.Hint != "" {
			msg += " (" + pe.Hint + ")"
		}
		return &storage.Error{Code: code, Message: msg, Err: err}
	}
	return &storage.Error{Code: storage.CodeInternal, Message: err.Error(), Err: err}
}

// retryable reports errors after which the whole commit may simply run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "40P01" || pe.Code == "40001")
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// Fetch implements storage.Fetcher: the query runs as parameterised SQL.
func (s *Store) Fetch(ctx context.Context, collection string, q *query.Query) (out []*entity.State, err error) {
	err = s.retrySchema(ctx, []string{collection}, func() (err error) {
		out, err = s.fetch(ctx, s.pool, collection, selectSQL(q))
		return err
	})
	return out, err
}

// selectSQL returns the statement that runs q over a collection's table,
// selecting t.columns (query.Select's statement, with the adapter's select
// list).
func selectSQL(q *query.Query) func(t *table) (string, []any, error) {
	return func(t *table) (string, []any, error) {
		s, err := q.SQL(t.Collection, 1)
		if err != nil {
			return "", nil, err
		}
		stmt := "select " + t.columns + " from " + t.from + " where " + s.Where + " order by " + s.OrderBy
		if s.Limit != "" {
			stmt += " " + s.Limit
		}
		return stmt, s.Args, nil
	}
}

// fetch runs on db (the pool, or a transaction) the statement that build
// returns for the collection's table; the statement selects t.columns. The
// catalog is checked first, on db, so that no column is missing.
func (s *Store) fetch(ctx context.Context, db querier, collection string, build func(t *table) (string, []any, error)) ([]*entity.State, error) {
	t, err := s.table(ctx, collection)
	if err != nil {
		return nil, err
	}
	var version int64
	err = db.QueryRow(ctx, "select version from ankurah.collections where name = $1", collection).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, storage.Errorf(storage.CodeNoCollection, "no collection %q", collection)
	}
	if err != nil {
		return nil, pgError(err)
	}
	if version > t.version { // the schema changed since the catalog was cached
		if t, err = s.load(ctx, collection); err != nil {
			return nil, err
		}
	}
	stmt, args, err := build(t)
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, stmt, args...)
	if err != nil {
		return nil, pgError(err)
	}
	defer rows.Close()
	var out []*entity.State
	for rows.Next() {
		st, err := scanState(t, rows, false)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, pgError(err)
	}
	rows.Close()
	if err := s.attachDocs(ctx, db, t, out); err != nil {
		return nil, err
	}
	return out, nil
}
