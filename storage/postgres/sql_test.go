package postgres_test

// Plain SQL writes, from a separate connection that knows nothing of
// Ankurah, must become events just like API writes.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/node"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/postgres"
	"github.com/ankurah/ankurah-go/value"
)

type fixture struct {
	store *postgres.Store
	node  *node.Node
	sql   *pgx.Conn // a plain connection, as psql would be
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	url := pgtest.NewDatabase(t)
	store := postgres.New(pgtest.Pool(t, url), postgres.Options{})
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(context.Background(), `select ankurah.create_collection('album', '{"name":"text","year":"bigint","notes":"text"}')`); err != nil {
		t.Fatal(err)
	}
	return &fixture{store: store, node: node.New(store), sql: conn}
}

func (f *fixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := f.sql.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (f *fixture) history(t *testing.T, id event.ID) []event.Event {
	t.Helper()
	h, err := f.store.History(context.Background(), "album", id)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (f *fixture) state(t *testing.T, id event.ID) *entity.State {
	t.Helper()
	got, err := f.store.Get(context.Background(), "album", []event.ID{id})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		return nil
	}
	return got[0]
}

func TestSQLWritesBecomeEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()

	// INSERT without an id: a fresh ULID, and a creation event with that id.
	var idText string
	if err := f.sql.QueryRow(ctx, `insert into album (name, year) values ('Origin of Symmetry', 2001) returning id`).Scan(&idText); err != nil {
		t.Fatal(err)
	}
	id, err := event.ParseID(idText)
	if err != nil {
		t.Fatalf("SQL insert got id %q: %v", idText, err)
	}
	h := f.history(t, id)
	if len(h) != 1 || h[0].ID != id || len(h[0].Parents) != 0 ||
		h[0].Ops["name"].Text() != "Origin of Symmetry" || h[0].Ops["year"].Int() != 2001 || len(h[0].Ops) != 2 {
		t.Fatalf("creation event %+v", h)
	}
	st := f.state(t, id)
	if !st.Head.Equal(event.Head{id}) || st.Versions["year"] != id {
		t.Fatalf("state after insert: head %v versions %v", st.Head, st.Versions)
	}

	// UPDATE: an event with the previous head as parents and only the changed columns.
	f.exec(t, `update album set year = 2002, name = name where id = $1`, idText)
	h = f.history(t, id)
	if len(h) != 2 || !h[1].Parents.Equal(event.Head{id}) || len(h[1].Ops) != 1 || h[1].Ops["year"].Int() != 2002 {
		t.Fatalf("update event %+v", h)
	}
	sqlEvent := h[1].ID
	st = f.state(t, id)
	if !st.Head.Equal(event.Head{sqlEvent}) || st.Versions["year"] != sqlEvent || st.Versions["name"] != id {
		t.Fatalf("state after update: head %v versions %v", st.Head, st.Versions)
	}
	// An UPDATE that changes nothing records nothing.
	f.exec(t, `update album set year = 2002 where id = $1`, idText)
	if len(f.history(t, id)) != 2 {
		t.Fatal("a no-op update recorded an event")
	}
	// Setting NULL is an operation too.
	f.exec(t, `update album set notes = 'x' where id = $1`, idText)
	f.exec(t, `update album set notes = null where id = $1`, idText)
	h = f.history(t, id)
	if len(h) != 4 || !h[3].Ops["notes"].IsNull() || !h[3].Parents.Equal(event.Head{h[2].ID}) {
		t.Fatalf("null update: %+v", h[3])
	}
	sqlEvent = h[3].ID

	// An API edit on top of the SQL edit has the SQL event as its parent,
	// and is recorded once (the trigger does not record it again).
	tx := f.node.Begin()
	e, err := tx.Edit(ctx, "album", id)
	if err != nil {
		t.Fatal(err)
	}
	e.Set("name", value.TextOf("Origin of Symmetry (remastered)"))
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	h = f.history(t, id)
	if len(h) != 5 || !h[4].Parents.Equal(event.Head{sqlEvent}) {
		t.Fatalf("API edit after SQL edit: %+v", h)
	}
	var name string
	var year int64
	if err := f.sql.QueryRow(ctx, `select name, year from album where id = $1`, idText).Scan(&name, &year); err != nil {
		t.Fatal(err)
	}
	if name != "Origin of Symmetry (remastered)" || year != 2002 {
		t.Fatalf("SQL sees %q %d", name, year)
	}
	var origins string
	f.sql.QueryRow(ctx, `select string_agg(origin, ',' order by id) from ankurah.events where entity_id = $1`, idText).Scan(&origins)
	if origins != "sql,sql,sql,sql,api" {
		t.Fatalf("origins %s", origins)
	}

	// DELETE: a tombstone whose parents are the head; the row leaves, history stays.
	apiHead := h[4].ID
	f.exec(t, `delete from album where id = $1`, idText)
	h = f.history(t, id)
	if len(h) != 6 || !h[5].Delete || !h[5].Parents.Equal(event.Head{apiHead}) {
		t.Fatalf("delete event %+v", h[5])
	}
	if f.state(t, id) != nil {
		t.Fatal("deleted row still readable")
	}
	// The id is not reused.
	if _, err := f.sql.Exec(ctx, `insert into album (id, name) values ($1, 'again')`, idText); sqlState(err) != "AK004" {
		t.Fatalf("reinsert of a deleted id: %v", err)
	}
}

func TestSQLInsertWithIDAndAPIDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := event.NewID()
	f.exec(t, `insert into album (id, name) values ($1, 'Showbiz')`, id.String())
	if h := f.history(t, id); len(h) != 1 || h[0].ID != id {
		t.Fatalf("history %+v", h)
	}
	tx := f.node.Begin()
	if err := tx.Delete(ctx, "album", id); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	h := f.history(t, id)
	if len(h) != 2 || !h[1].Delete {
		t.Fatalf("API delete recorded %d events: %+v", len(h), h)
	}
	var n int
	f.sql.QueryRow(ctx, `select count(*) from album where id = $1`, id.String()).Scan(&n)
	if n != 0 {
		t.Fatal("row survived an API delete")
	}
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return fmt.Sprint(err)
}

// Bad SQL gets a clear, coded error and changes nothing.
func TestSQLMisuseIsRejected(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	var id string
	f.sql.QueryRow(ctx, `insert into album (name) values ('x') returning id`).Scan(&id)
	cases := []struct {
		sql  string
		code string
	}{
		{`insert into album (id, name) values ('not-a-ulid', 'x')`, "AK001"},
		{`insert into album (id, name) values ('01arz3ndektsv4rrffq69g5fav', 'x')`, "AK001"}, // lowercase
		{`update album set _head = '{01ARZ3NDEKTSV4RRFFQ69G5FAV}' where id = '` + id + `'`, "AK003"},
		{`update album set _head = '{}' where id = '` + id + `'`, "AK003"},
		{`insert into album (name, _head) values ('copy', '{` + id + `}')`, "AK003"},
		{`insert into album select * from album`, "AK003"}, // a careless copy would skip history
		{`update album set id = '01ARZ3NDEKTSV4RRFFQ69G5FAV' where id = '` + id + `'`, "AK003"},
		{`truncate album`, "AK007"},
		{`delete from ankurah.events`, "AK008"},
		{`update ankurah.events set operations = '{}'`, "AK008"},
		{`select ankurah.create_collection('album', '{"year":"text"}')`, "AK002"},
		{`select ankurah.create_collection('album', '{"x":"varchar(0)"}')`, "AK002"},
		{`select ankurah.create_collection('album', '{"x":"point"}')`, "AK002"},
		{`select ankurah.create_collection('album', '{"x":"no_such_type"}')`, "AK002"},
		{`select ankurah.create_collection('album', '{"x":"ref[]"}')`, "AK002"},
		{`select ankurah.create_collection('album', '{"x":"interval year to month"}')`, "AK002"},
		{`select ankurah.create_collection('Bad Name', '{}')`, "AK006"},
		{`select ankurah.create_collection('t', '{"_x":"text"}')`, "AK006"},
		{`select ankurah.create_collection('t', '{"id":"text"}')`, "AK006"},
		{`select ankurah.create_collection('t', '["a"]')`, "AK002"},
		{`update album set year = 'nineteen' where id = '` + id + `'`, "22P02"},
	}
	for _, c := range cases {
		_, err := f.sql.Exec(ctx, c.sql)
		if got := sqlState(err); got != c.code {
			t.Errorf("%s: got %s, want %s", c.sql, got, c.code)
		}
	}
	h := f.history(t, event.MustParseID(id))
	if len(h) != 1 {
		t.Fatalf("rejected statements left events: %+v", h)
	}
	// The storage layer reports these with codes too.
	_, err := f.store.EnsureCollection(ctx, albumsWith("year", value.Text))
	if !errors.Is(err, storage.ErrTypeMismatch) {
		t.Fatalf("storage error: %v", err)
	}
}

// Concurrent create_collection calls adding the same and different fields:
// all succeed, each column exists once, with one type.
func TestConcurrentFieldAddition(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	pool := pgtest.Pool(t, url)
	ctx := context.Background()
	concurrently(t, 16, func(i int) error {
		fields := fmt.Sprintf(`{"shared":"text","f%d":"bigint"}`, i%4)
		_, err := pool.Exec(ctx, `select ankurah.create_collection('song', $1::jsonb)`, fields)
		return err
	})
	var cols int
	pool.QueryRow(ctx, `select count(*) from information_schema.columns where table_name = 'song' and column_name not in ('id','_head','_versions')`).Scan(&cols)
	if cols != 5 {
		t.Fatalf("song has %d field columns, want 5", cols)
	}
	// New fields written through the API concurrently also converge.
	store := postgres.New(pool, postgres.Options{})
	n := node.New(store)
	concurrently(t, 8, func(i int) error {
		tx := n.Begin()
		e, _ := tx.Create("song", nil)
		e.Set(fmt.Sprintf("dyn%d", i%3), value.IntOf(int64(i)))
		_, err := tx.Commit(ctx)
		return err
	})
}

// API commits and plain SQL updates racing on the same entities: nothing
// fails, and every row equals the merge of its recorded history (so SQL
// writes and API writes are all in the history, with correct parents).
func TestSQLAndAPIWritersConverge(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	pool := pgtest.Pool(t, url)
	ctx := context.Background()
	store := postgres.New(pool, postgres.Options{})
	n := node.New(store)
	if _, err := pool.Exec(ctx, `select ankurah.create_collection('album', '{"name":"text","year":"bigint","notes":"text"}')`); err != nil {
		t.Fatal(err)
	}
	var ids []event.ID
	for i := 0; i < 4; i++ {
		tx := n.Begin()
		e, _ := tx.Create("album", map[string]value.Value{"name": value.TextOf(fmt.Sprint("a", i))})
		if _, err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID())
	}
	concurrently(t, 6, func(w int) error {
		r := rand.New(rand.NewPCG(uint64(w), 7))
		for i := 0; i < 25; i++ {
			id := ids[r.IntN(len(ids))]
			field := []string{"name", "year", "notes"}[r.IntN(3)]
			if w%2 == 0 { // plain SQL writer
				var err error
				if field == "year" {
					_, err = pool.Exec(ctx, `update album set year = $1 where id = $2`, w*100+i, id.String())
				} else {
					_, err = pool.Exec(ctx, fmt.Sprintf(`update album set %s = $1 where id = $2`, field), fmt.Sprint("sql", w, i), id.String())
				}
				if err != nil {
					return err
				}
				continue
			}
			tx := n.Begin()
			e, err := tx.Edit(ctx, "album", id)
			if err != nil {
				return err
			}
			if field == "year" {
				e.Set("year", value.IntOf(int64(w*100+i)))
			} else {
				e.Set(field, value.TextOf(fmt.Sprint("api", w, i)))
			}
			if _, err := tx.Commit(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	for _, id := range ids {
		checkRowIsMergeOfHistory(t, store, pool, id)
	}
}

func checkRowIsMergeOfHistory(t *testing.T, store *postgres.Store, pool *pgxpool.Pool, id event.ID) {
	t.Helper()
	ctx := context.Background()
	hist, err := store.History(ctx, "album", id)
	if err != nil {
		t.Fatal(err)
	}
	replayed, _, err := entity.Replay("album", id, hist)
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.Get(ctx, "album", []event.ID{id})
	if err != nil || len(got) != 1 {
		t.Fatal(got, err)
	}
	row := got[0]
	if !row.Head.Equal(replayed.Head) {
		t.Errorf("%s: row head %v, history head %v", id, row.Head, replayed.Head)
	}
	for _, f := range []string{"name", "year", "notes"} {
		if !value.Equal(row.Get(f), replayed.Get(f)) {
			t.Errorf("%s.%s: row %v, history %v", id, f, row.Get(f), replayed.Get(f))
		}
	}
}

func albumsWith(field string, typ value.Type) schema.Collection {
	return schema.Collection{Name: "album", Fields: []schema.Field{{Name: field, Type: typ}}}
}

// ankurah.new_ulid(after) is greater than after, even when after comes from
// a clock far ahead, and writers stepping past the same parent at once do
// not collide.
func TestNewULIDAfter(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t, pgtest.NewDatabase(t))
	ctx := context.Background()
	for _, after := range []string{"", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "7ZZZZZZZZY0000000000000000", "7ZZZZZZZZYZZZZZZZZZZZZZZZZ", "1ZZZZZZZZZZZZZZZZZZZZZZZZZ"} {
		rows, err := pool.Query(ctx, `select ankurah.new_ulid(nullif($1, '')) from generate_series(1, 500)`, after)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if _, err := event.ParseID(id); err != nil {
				t.Fatalf("after %q: %v", after, err)
			}
			if id <= after {
				t.Fatalf("new_ulid(%q) = %q, not greater", after, id)
			}
			if seen[id] {
				t.Fatalf("new_ulid(%q) repeated %q", after, id)
			}
			seen[id] = true
		}
	}
}

// Concurrent creation commits are written in groups; a commit that fails
// inside a group (here: redelivered creations, which must become no-ops)
// never fails the others, and nothing is stored twice.
func TestGroupedCreationsIsolateFailures(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t, pgtest.NewDatabase(t)+"&pool_max_conns=20")
	ctx := context.Background()
	store := postgres.New(pool, postgres.Options{})
	if _, err := store.EnsureCollection(ctx, albumsWith("year", value.Int)); err != nil {
		t.Fatal(err)
	}
	mk := func(i int) event.Event {
		id := event.NewID()
		return event.Event{ID: id, Collection: "album", Entity: id, Ops: map[string]value.Value{"year": value.IntOf(int64(i))}}
	}
	var stored []event.Event
	for i := 0; i < 20; i++ {
		e := mk(i)
		if _, err := store.Commit(ctx, []event.Event{e}); err != nil {
			t.Fatal(err)
		}
		stored = append(stored, e)
	}
	var fresh sync.Map
	concurrently(t, 16, func(w int) error {
		for i := 0; i < 12; i++ {
			e := mk(1000*w + i)
			if i%3 == 0 {
				e = stored[(w+i)%len(stored)] // a redelivery
			} else {
				fresh.Store(e.ID, e)
			}
			if _, err := store.Commit(ctx, []event.Event{e}); err != nil {
				return err
			}
		}
		return nil
	})
	var want int
	fresh.Range(func(any, any) bool { want++; return true })
	var rows, events int
	pool.QueryRow(ctx, `select count(*) from album`).Scan(&rows)
	pool.QueryRow(ctx, `select count(*) from ankurah.events`).Scan(&events)
	if rows != 20+want || events != 20+want {
		t.Fatalf("rows %d events %d, want %d each", rows, events, 20+want)
	}
}

// Collection tables can live in a schema other than public.
func TestCollectionSchemaOption(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t, pgtest.NewDatabase(t))
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `create schema music`); err != nil {
		t.Fatal(err)
	}
	n := node.New(postgres.New(pool, postgres.Options{Schema: "music"}))
	if _, err := n.Store().EnsureCollection(ctx, albumsWith("year", value.Int)); err != nil {
		t.Fatal(err)
	}
	tx := n.Begin()
	e, _ := tx.Create("album", map[string]value.Value{"year": value.IntOf(2001), "name": value.TextOf("new field")})
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var name string
	if err := pool.QueryRow(ctx, `select name from music.album where id = $1`, e.ID().String()).Scan(&name); err != nil || name != "new field" {
		t.Fatalf("music.album: %q %v", name, err)
	}
	if _, err := pool.Exec(ctx, `update music.album set year = 2002`); err != nil {
		t.Fatal(err)
	}
	if h, _ := n.History(ctx, "album", e.ID()); len(h) != 2 || h[1].Ops["year"].Int() != 2002 {
		t.Fatalf("history %+v", h)
	}
}

// Collections join publication ankurah (with ankurah.events) and carry their
// whole old row in UPDATE/DELETE (replica identity full), also when created
// concurrently.
func TestCollectionsArePublished(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t, pgtest.NewDatabase(t))
	ctx := context.Background()
	concurrently(t, 6, func(i int) error {
		_, err := pool.Exec(ctx, `select ankurah.create_collection($1, '{"x":"text"}')`, fmt.Sprint("c", i%3))
		return err
	})
	rows, err := pool.Query(ctx, `select schemaname || '.' || tablename from pg_publication_tables where pubname = 'ankurah' order by 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	if fmt.Sprint(tables) != "[ankurah.events ankurah.schema_changes public.c0 public.c1 public.c2]" {
		t.Fatalf("published: %v", tables)
	}
	var ident string
	pool.QueryRow(ctx, `select relreplident::text from pg_class where oid = 'public.c1'::regclass`).Scan(&ident)
	if ident != "f" {
		t.Fatalf("replica identity %q, want full", ident)
	}
}

// A commit that fails inside Postgres, after some of its statements ran (a
// CHECK constraint a DBA added rejects one row), leaves nothing: neither the
// other entities' rows nor any event.
func TestCommitFailingMidwayInPostgresLeavesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.exec(t, `alter table album add constraint year_positive check (year > 0)`)
	tx := f.node.Begin()
	keep, _ := tx.Create("album", map[string]value.Value{"name": value.TextOf("kept"), "year": value.IntOf(2001)})
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, withEdit := range []bool{false, true} {
		tx := f.node.Begin()
		if withEdit { // the merge path: locks, then writes
			e, err := tx.Edit(ctx, "album", keep.ID())
			if err != nil {
				t.Fatal(err)
			}
			e.Set("name", value.TextOf("changed"))
		}
		good, _ := tx.Create("album", map[string]value.Value{"name": value.TextOf("good"), "year": value.IntOf(1999)})
		bad, _ := tx.Create("album", map[string]value.Value{"name": value.TextOf("bad"), "year": value.IntOf(-1)})
		if _, err := tx.Commit(ctx); storage.CodeOf(err) != storage.CodeConstraint {
			t.Fatalf("commit violating a CHECK constraint: %v", err)
		}
		for _, id := range []event.ID{good.ID(), bad.ID()} {
			if f.state(t, id) != nil || len(f.history(t, id)) != 0 {
				t.Fatalf("withEdit=%v: entity %s of the failed commit left traces", withEdit, id)
			}
		}
		if st := f.state(t, keep.ID()); st.Get("name").Text() != "kept" || len(f.history(t, keep.ID())) != 1 {
			t.Fatalf("withEdit=%v: the failed commit changed another entity: %v", withEdit, st.Values)
		}
	}
}

// Commits whose context ends while they wait for their group withdraw (or
// see their group through); the others are not held up and none is lost:
// every commit that returned nil is stored.
func TestGroupedCreationsWithCancelledCallers(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t, pgtest.NewDatabase(t)+"&pool_max_conns=20")
	store := postgres.New(pool, postgres.Options{})
	if _, err := store.EnsureCollection(context.Background(), albumsWith("year", value.Int)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var ok sync.Map
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				ctx, cancel := context.WithCancel(context.Background())
				if (w+i)%3 == 0 {
					cancel() // gone before or while waiting for its group
				}
				id := event.NewID()
				e := event.Event{ID: id, Collection: "album", Entity: id, Ops: map[string]value.Value{"year": value.IntOf(int64(i))}}
				if _, err := store.Commit(ctx, []event.Event{e}); err == nil {
					ok.Store(id, true)
				}
				cancel()
			}
		}(w)
	}
	wg.Wait()
	ok.Range(func(k, _ any) bool {
		var n int
		pool.QueryRow(context.Background(), `select count(*) from album where id = $1`, k.(event.ID).String()).Scan(&n)
		if n != 1 {
			t.Errorf("acknowledged commit %s is not stored", k)
		}
		return true
	})
}

// A field added by someone else (another server, or SQL) after this store
// cached the catalog is still read: Get, Scan, Fetch and commits see it.
func TestStaleCatalogIsRefreshed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	tx := f.node.Begin()
	e, _ := tx.Create("album", map[string]value.Value{"name": value.TextOf("Drones")})
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if f.state(t, e.ID()) == nil { // caches the catalog
		t.Fatal("missing")
	}
	f.exec(t, `select ankurah.create_collection('album', '{"label":"text"}')`)
	f.exec(t, `update album set label = 'Warner' where id = $1`, e.ID().String())

	if got := f.state(t, e.ID()).Get("label").Text(); got != "Warner" {
		t.Fatalf("Get after a field was added elsewhere: label = %q", got)
	}
	f.exec(t, `select ankurah.create_collection('album', '{"genre":"text"}')`)
	f.exec(t, `update album set genre = 'rock'`)
	var scanned string
	f.store.Scan(ctx, "album", func(st *entity.State) bool { scanned = st.Get("genre").Text(); return true })
	if scanned != "rock" {
		t.Fatalf("Scan: genre = %q", scanned)
	}
	f.exec(t, `select ankurah.create_collection('album', '{"mood":"text"}')`)
	f.exec(t, `update album set mood = 'dark'`)
	got, err := f.node.Fetch(ctx, "album", "name = 'Drones'")
	if err != nil || len(got) != 1 || got[0].Get("mood").Text() != "dark" {
		t.Fatalf("Fetch: %v %v", got, err)
	}
	f.exec(t, `select ankurah.create_collection('album', '{"extra":"bigint"}')`)
	f.exec(t, `update album set extra = 7`)
	tx = f.node.Begin()
	ed, err := tx.Edit(ctx, "album", e.ID())
	if err != nil {
		t.Fatal(err)
	}
	ed.Set("name", value.TextOf("Drones (live)"))
	f.exec(t, `select ankurah.create_collection('album', '{"late":"text"}')`) // between read and commit
	f.exec(t, `update album set late = 'yes'`)
	states, err := tx.Commit(ctx)
	if err != nil || states[0].Get("extra").Int() != 7 || states[0].Get("late").Text() != "yes" {
		t.Fatalf("commit: %v %v", states, err)
	}
	if got := f.state(t, e.ID()); got.Get("name").Text() != "Drones (live)" || got.Get("late").Text() != "yes" {
		t.Fatalf("after commit: %v", got.Values)
	}
}

// Edge values written with plain SQL keep the row and its history in step:
// replaying the events gives the row. Timestamps are recorded in UTC whatever
// the session's time zone; a jsonb `null` document is NULL; jsonb 1 → 1.0 is
// a change; infinite timestamps and years past 9999 are refused; upserts work.
func TestSQLEdgeValuesKeepHistoryExact(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	pool := pgtest.Pool(t, url)
	store := postgres.New(pool, postgres.Options{})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`select ankurah.create_collection('thing', '{"ts":"timestamptz","j":"jsonb","n":"bigint"}')`)
	exec(`set timezone = 'Europe/Amsterdam'`)
	id := event.NewID().String()
	exec(`insert into thing (id, ts, j, n) values ($1, '1800-01-01 00:00:00', 'null', 1)`, id)
	exec(`update thing set j = '1' where id = $1`, id)
	exec(`update thing set j = '1.0' where id = $1`, id)
	exec(`update thing set j = 'null' where id = $1`, id)
	exec(`insert into thing (id, n) values ($1, 5) on conflict (id) do update set n = excluded.n`, id)
	exec(`insert into thing (id, n) values ($1, 6) on conflict do nothing`, id)

	var jNull bool
	conn.QueryRow(ctx, `select j is null from thing where id = $1`, id).Scan(&jNull)
	if !jNull {
		t.Fatal("a jsonb null document was kept instead of NULL")
	}
	hist, err := store.History(ctx, "thing", event.MustParseID(id))
	if err != nil {
		t.Fatalf("history cannot be read: %v", err)
	}
	// insert, j=1, j=1.0, j=null, upsert n=5 (the do-nothing upsert records nothing)
	if len(hist) != 5 {
		t.Fatalf("history has %d events: %+v", len(hist), hist)
	}
	replayed, _, err := entity.Replay("thing", event.MustParseID(id), hist)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := store.Get(ctx, "thing", []event.ID{event.MustParseID(id)})
	for _, f := range []string{"ts", "j", "n"} {
		if !value.Equal(got[0].Get(f), replayed.Get(f)) {
			t.Errorf("%s: row %v, history %v", f, got[0].Get(f), replayed.Get(f))
		}
	}
	if got[0].Get("n").Int() != 5 || got[0].Get("ts").Time().Year() != 1799 {
		t.Fatalf("row: %v", got[0].Values)
	}
	for _, bad := range []string{`'infinity'`, `'-infinity'`, `'10000-01-02'`, `'0044-03-15 BC'`} {
		_, err := conn.Exec(ctx, `insert into thing (ts) values (`+bad+`)`)
		if sqlState(err) != "AK002" {
			t.Errorf("timestamp %s: %v", bad, err)
		}
	}
	if _, err := conn.Exec(ctx, `insert into thing (id, n) values ($1, 1)`, id); sqlState(err) != "23505" {
		t.Errorf("plain duplicate insert: %v", err)
	}
}
