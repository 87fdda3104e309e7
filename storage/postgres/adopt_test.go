package postgres_test

// Adopting an app's existing tables: every key kind, names of every
// shape, tables refused with the reason, backfills racing the app's
// writes, and the app's writes never held for long.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/node"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/postgres"
	"github.com/ankurah/ankurah-go/value"
)

type adoptFixture struct {
	url   string
	pool  *pgxpool.Pool // the app's connections, as psql's would be
	store *postgres.Store
	node  *node.Node
}

func newAdoptFixture(t *testing.T, ddl ...string) *adoptFixture {
	t.Helper()
	url := pgtest.NewDatabase(t)
	f := &adoptFixture{url: url, pool: pgtest.Pool(t, url)}
	f.store = postgres.New(pgtest.Pool(t, url), postgres.Options{})
	f.node = node.New(f.store)
	for _, s := range ddl {
		f.exec(t, s)
	}
	return f
}

func (f *adoptFixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := f.pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (f *adoptFixture) adopt(t *testing.T, opts postgres.AdoptOptions) postgres.AdoptResult {
	t.Helper()
	res, err := postgres.Adopt(context.Background(), f.pool, opts)
	if err != nil {
		t.Fatalf("adopt %s: %v", opts.Table, err)
	}
	return res
}

func (f *adoptFixture) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := f.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// checkAdopted checks what adoption promises about a collection: every row
// of its table is exactly one entity, whose history (replayed) gives the
// row, and whose creation event is its first.
func checkAdopted(t *testing.T, f *adoptFixture, coll string) []*entity.State {
	t.Helper()
	ctx := context.Background()
	var table, side string
	if err := f.pool.QueryRow(ctx, "select relid::text, side_table from ankurah.collections where name = $1", coll).Scan(&table, &side); err != nil {
		t.Fatal(err)
	}
	rows := f.count(t, "select count(*) from "+table)
	sides := f.count(t, "select count(*) from ankurah."+pgx.Identifier{side}.Sanitize())
	if rows != sides {
		t.Fatalf("%s: %d rows, %d side rows", coll, rows, sides)
	}
	var states []*entity.State
	if err := f.store.Scan(ctx, coll, func(st *entity.State) bool { states = append(states, st); return true }); err != nil {
		t.Fatal(err)
	}
	if len(states) != rows {
		t.Fatalf("%s: %d rows, %d entities", coll, rows, len(states))
	}
	creations := f.count(t, "select count(*) from ankurah.events where collection = $1 and id = entity_id and entity_id in (select id from ankurah."+pgx.Identifier{side}.Sanitize()+")", coll)
	if creations != rows {
		t.Fatalf("%s: %d rows, %d creation events", coll, rows, creations)
	}
	for _, st := range states {
		hist, err := f.store.History(ctx, coll, st.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) == 0 || hist[0].ID != st.ID || !hist[0].IsCreation() {
			t.Fatalf("%s %s: history does not start with its creation: %v", coll, st.ID, hist)
		}
		replayed, _, err := entity.Replay(coll, st.ID, hist)
		if err != nil {
			t.Fatalf("%s %s: replay: %v", coll, st.ID, err)
		}
		if !replayed.Head.Equal(st.Head) {
			t.Errorf("%s %s: head %v, history's %v", coll, st.ID, st.Head, replayed.Head)
		}
		for k, v := range st.Values {
			if !value.Equal(v, replayed.Values[k]) {
				t.Errorf("%s %s: %s = %v, history says %v", coll, st.ID, k, v, replayed.Values[k])
			}
		}
		for k, v := range replayed.Values {
			if _, ok := st.Values[k]; !ok && hasField(t, f, coll, k) { // a dropped field stays in history
				t.Errorf("%s %s: %s unset, history says %v", coll, st.ID, k, v)
			}
		}
	}
	return states
}

func fetch(t *testing.T, s *postgres.Store, coll, q string, args ...any) []*entity.State {
	t.Helper()
	pq, err := query.Parse(q, args...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Fetch(context.Background(), coll, pq)
	if err != nil {
		t.Fatalf("fetch %s %q: %v", coll, q, err)
	}
	return got
}

// Every kind of primary key: each adopted table's rows become entities,
// readable, editable and deletable through the API, and SQL writes on
// them are recorded.
func TestAdoptKeyKinds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, ddl, fill string
		sqlInsert       string // a row the app inserts later
		keyField        string
		newKey          value.Value // a key an API create gives (NULL: the column's default)
	}{
		{"serial", `create table t (id serial primary key, name text not null, n int)`,
			`insert into t (name, n) select 'r' || g, g from generate_series(1, 30) g`, `insert into t (name, n) values ('sql', 5000)`, "sql_id", value.NullValue},
		{"bigint identity", `create table t (id bigint generated always as identity primary key, name text not null, n int)`,
			`insert into t (name, n) select 'r' || g, g from generate_series(1, 30) g`, `insert into t (name, n) values ('sql', 5000)`, "sql_id", value.NullValue},
		{"uuid", `create table t (id uuid primary key default gen_random_uuid(), name text not null, n int)`,
			`insert into t (name, n) select 'r' || g, g from generate_series(1, 30) g`, `insert into t (name, n) values ('sql', 5000)`, "sql_id", value.NullValue},
		{"text", `create table t (code text primary key, name text not null, n int)`,
			`insert into t (code, name, n) select 'c' || g, 'r' || g, g from generate_series(1, 30) g`, `insert into t values ('sql', 'sql', 5000)`, "code", value.TextOf("new-code")},
		{"varchar", `create table t (code varchar(12) primary key, name text not null, n int)`,
			`insert into t (code, name, n) select 'c' || g, 'r' || g, g from generate_series(1, 30) g`, `insert into t values ('sql', 'sql', 5000)`, "code", value.TextOf("v-new")},
		{"composite", `create table t (region text, num int, name text not null, n int, primary key (region, num))`,
			`insert into t (region, num, name, n) select case when g % 2 = 0 then 'eu' else 'us' end, g, 'r' || g, g from generate_series(1, 30) g`, `insert into t values ('sql', 1, 'sql', 5000)`, "num", value.IntOf(1000)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newAdoptFixture(t, c.ddl, c.fill)
			ctx := context.Background()
			res := f.adopt(t, postgres.AdoptOptions{Table: "t", Batch: 7})
			if res.Collection != "t" || res.Created != 30 {
				t.Fatalf("adopted %+v", res)
			}
			states := checkAdopted(t, f, "t")
			sc, err := f.store.Collection(ctx, "t")
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := sc.Field(c.keyField); !ok {
				t.Fatalf("no key field %s in %+v", c.keyField, sc)
			}
			if _, ok := sc.Field("id"); ok {
				t.Fatalf("a field id: %+v", sc)
			}

			// Read by entity id, and by query. (The entity with n = 1: the
			// SQL updates below leave it alone.)
			var first, second *entity.State
			for _, st := range states {
				switch st.Get("n").Int() {
				case 1:
					first = st
				case 2:
					second = st
				}
			}
			got, err := f.store.Get(ctx, "t", []event.ID{first.ID})
			if err != nil || len(got) != 1 || !value.Equal(got[0].Get("name"), first.Get("name")) {
				t.Fatalf("get %s: %v %v", first.ID, got, err)
			}
			if got := fetch(t, f.store, "t", "n >= ? AND n < ? ORDER BY n DESC", 10, 13); len(got) != 3 || got[0].Get("n").Int() != 12 {
				t.Fatalf("fetch: %v", got)
			}

			// API edit, create and delete.
			tx := f.node.Begin()
			e, err := tx.Edit(ctx, "t", first.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Set("name", value.TextOf("edited")); err != nil {
				t.Fatal(err)
			}
			vals := map[string]value.Value{"name": value.TextOf("created"), "n": value.IntOf(99)}
			if !c.newKey.IsNull() {
				vals[c.keyField] = c.newKey
				if c.name == "composite" {
					vals["region"] = value.TextOf("ap")
				}
			}
			created, err := tx.Create("t", vals)
			if err != nil {
				t.Fatal(err)
			}
			if err := tx.Delete(ctx, "t", second.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Commit(ctx); err != nil {
				t.Fatalf("API commit: %v", err)
			}
			if n := f.count(t, "select count(*) from t where name = 'edited'"); n != 1 {
				t.Fatalf("edited rows: %d", n)
			}
			if n := f.count(t, "select count(*) from t where name = 'created' and n = 99"); n != 1 {
				t.Fatalf("created rows: %d", n)
			}
			// The created row's key is the client's, or the column's default,
			// and its creation event records it.
			hist, err := f.store.History(ctx, "t", created.ID())
			if err != nil || len(hist) != 1 || hist[0].Ops[c.keyField].IsNull() {
				t.Fatalf("creation through the API: %v %v", hist, err)
			}
			if !c.newKey.IsNull() && !value.Equal(hist[0].Ops[c.keyField], c.newKey) {
				t.Fatalf("created key %v, want %v", hist[0].Ops[c.keyField], c.newKey)
			}
			if n := f.count(t, "select count(*) from ankurah.events where entity_id = $1 and tombstone", second.ID.String()); n != 1 {
				t.Fatalf("tombstones for the deleted row: %d", n)
			}

			// SQL writes on adopted rows are recorded; no API write was
			// recorded twice.
			f.exec(t, "update t set n = n + 1000 where n between 20 and 25")
			f.exec(t, "delete from t where n = 1025")
			f.exec(t, c.sqlInsert)
			st := checkAdopted(t, f, "t")
			if len(st) != 30 {
				t.Fatalf("%d entities after the writes, want 30", len(st))
			}
			if n := f.count(t, "select count(*) from ankurah.events where entity_id = $1", first.ID.String()); n != 2 {
				t.Fatalf("events of the edited row: %d, want 2", n)
			}
		})
	}
}

// Tables in several schemas, mixed-case and quoted names, a name with a
// dot, the same table name in two schemas.
func TestAdoptNames(t *testing.T) {
	t.Parallel()
	f := newAdoptFixture(t,
		`create schema sales`, `create schema "Weird Schema"`,
		`create table orders (id int primary key, total numeric(10,2))`,
		`create table sales.orders (id int primary key, total numeric(10,2))`,
		`create table "Customers" ("Id" int primary key, "Full Name" text, "e-mail" text)`,
		`create table "Weird Schema"."a.b" (k text primary key, "quote""d" text)`,
		`insert into orders values (1, 1.5)`, `insert into sales.orders values (1, 2.5), (2, 3.5)`,
		`insert into "Customers" values (1, 'Ann', 'ann@x'), (2, 'Bob', null)`,
		`insert into "Weird Schema"."a.b" values ('x', 'it''s')`)
	ctx := context.Background()
	for _, c := range []struct{ table, as, want string }{
		{"orders", "", "orders"},
		{"sales.orders", "", "sales.orders"},
		{`"Customers"`, "", "Customers"},
		{`"Weird Schema"."a.b"`, "weird", "weird"},
	} {
		if res := f.adopt(t, postgres.AdoptOptions{Table: c.table, As: c.as}); res.Collection != c.want {
			t.Fatalf("adopt %s: collection %q, want %q", c.table, res.Collection, c.want)
		}
		checkAdopted(t, f, c.want)
	}
	if got := fetch(t, f.store, "sales.orders", "total > ?", 3); len(got) != 1 || got[0].Get("sql_id").Int() != 2 {
		t.Fatalf("sales.orders: %v", got)
	}
	if got := fetch(t, f.store, "orders", "true"); len(got) != 1 || got[0].Get("total").NumericText() != "1.50" {
		t.Fatalf("orders: %v", got)
	}
	got := fetch(t, f.store, "Customers", `"Full Name" = 'Ann'`)
	if len(got) != 1 || got[0].Get("e-mail").Text() != "ann@x" || got[0].Get("Id").Int() != 1 {
		t.Fatalf("Customers: %v", got)
	}
	// Edits through the API reach the quoted columns.
	tx := f.node.Begin()
	e, err := tx.Edit(ctx, "Customers", got[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Set("Full Name", value.TextOf("Ann O'Neil")); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.count(t, `select count(*) from "Customers" where "Full Name" = 'Ann O''Neil'`); n != 1 {
		t.Fatal("the edit did not reach the table")
	}
	if got := fetch(t, f.store, "weird", `"quote""d" = 'it''s'`); len(got) != 1 {
		t.Fatalf("weird: %v", got)
	}
	checkAdopted(t, f, "Customers")
}

// What adoption cannot take is refused with the reason and what to do,
// and nothing is changed.
func TestAdoptRefusals(t *testing.T) {
	t.Parallel()
	f := newAdoptFixture(t,
		`create table nokey (a int, b text)`,
		`create table dotted_ok (id int primary key)`,
		`create table "x.y" (id int primary key)`,
		`create table flags (id int primary key, _internal bool)`,
		`create table clash (id int primary key, sql_id int)`,
		`create unlogged table scratch (id int primary key)`,
		`create view v as select * from dotted_ok`,
		`create table parted (id int, at date, primary key (id, at)) partition by range (at)`,
		`create table parent (id int primary key)`,
		`create table child () inherits (parent)`)
	ctx := context.Background()
	if _, err := f.pool.Exec(ctx, `create table badkey2 (k int4range primary key)`); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ table, as, mention, fix string }{
		{"nokey", "", "no primary key", "ADD PRIMARY KEY"},
		{`"x.y"`, "", "contains a dot", "--as"},
		{"flags", "", "_internal", "--rename _internal=NAME"},
		{"clash", "", "two columns would be field sql_id", "--rename"},
		{"scratch", "", "unlogged", "SET LOGGED"},
		{"v", "", "not a table (it is a view)", "adopt the table"},
		{"parted", "", "partitioned", "not partitioned"},
		{"parent", "", "inheritance children", "without inheritance"},
		{"badkey2", "", "primary key column k has type int4range", "supported type"},
		{"dotted_ok", "_x", "not valid", "--as"},
		{"nosuchtable", "", "no table nosuchtable", ""},
	}
	for _, c := range cases {
		_, err := postgres.Adopt(ctx, f.pool, postgres.AdoptOptions{Table: c.table, As: c.as})
		if err == nil {
			t.Errorf("adopt %s succeeded", c.table)
			continue
		}
		if code := storage.CodeOf(err); code != storage.CodeNotAdoptable && code != storage.CodeNotFound {
			t.Errorf("adopt %s: code %s (%v)", c.table, code, err)
		}
		if !strings.Contains(err.Error(), c.mention) || !strings.Contains(err.Error(), c.fix) {
			t.Errorf("adopt %s: %v; want it to mention %q and %q", c.table, err, c.mention, c.fix)
		}
	}
	if n := f.count(t, "select count(*) from ankurah.collections"); n != 0 {
		t.Fatalf("%d collections after refusals", n)
	}
	if n := f.count(t, "select count(*) from pg_trigger where tgname like 'ankurah%'"); n != 0 {
		t.Fatalf("%d triggers after refusals", n)
	}
	// With the fixes, they adopt.
	f.adopt(t, postgres.AdoptOptions{Table: `"x.y"`, As: "xy"})
	f.adopt(t, postgres.AdoptOptions{Table: "flags", Renames: map[string]string{"_internal": "internal"}})
	f.adopt(t, postgres.AdoptOptions{Table: "clash", Renames: map[string]string{"sql_id": "legacy_id"}})
	if got := fetch(t, f.store, "flags", "internal IS NULL"); len(got) != 0 {
		t.Fatal(got)
	}
	// A table adopted already, or a collection name taken.
	if _, err := postgres.Adopt(ctx, f.pool, postgres.AdoptOptions{Table: "flags"}); err == nil || !strings.Contains(err.Error(), "already collection flags") {
		t.Errorf("adopting twice: %v", err)
	}
	if _, err := postgres.Adopt(ctx, f.pool, postgres.AdoptOptions{Table: "dotted_ok", As: "flags"}); err == nil || !strings.Contains(err.Error(), "collection flags exists already") {
		t.Errorf("a taken name: %v", err)
	}
	// A column of a type Ankurah cannot represent is left out, and said so.
	f.exec(t, `create table geo (id int primary key, name text, at point)`)
	f.exec(t, `insert into geo values (1, 'a', point(1, 2))`)
	res := f.adopt(t, postgres.AdoptOptions{Table: "geo"})
	if len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0].Problem, "column at (point) is left out") {
		t.Fatalf("skipped: %+v", res.Skipped)
	}
	f.exec(t, `update geo set at = point(3, 4), name = 'b' where id = 1`)
	checkAdopted(t, f, "geo")
}

// The backfill races the app's writes on the same rows: inserts, updates
// (also of rows not backfilled yet), deletes and key changes, from
// several connections. No row is missing or doubled, and every row's
// history gives it.
func TestAdoptWhileTheAppWrites(t *testing.T) {
	t.Parallel()
	f := newAdoptFixture(t,
		`create table items (id bigserial primary key, name text, qty int not null default 0, updated timestamptz)`,
		`insert into items (name, qty) select 'item ' || g, g from generate_series(1, 3000) g`)
	// The writers stop between statements (a statement cancelled by its
	// context could still commit after the writer returned).
	ctx := context.Background()
	var stop atomic.Bool
	var writes atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for !stop.Load() {
				id := 1 + r.IntN(3200)
				var err error
				switch r.IntN(5) {
				case 0:
					_, err = f.pool.Exec(ctx, "insert into items (name, qty) values ($1, $2)", fmt.Sprint("new ", w), r.IntN(100))
				case 1:
					_, err = f.pool.Exec(ctx, "delete from items where id = $1", id)
				case 2:
					_, err = f.pool.Exec(ctx, "update items set id = id + 100000 where id = $1", id)
				default:
					_, err = f.pool.Exec(ctx, "update items set qty = qty + 1, updated = now() where id = $1", id)
				}
				if err != nil {
					errs <- err
					return
				}
				writes.Add(1)
			}
		}()
	}
	// Adopt in small batches while they write; the writers keep going a
	// while after the adoption is done.
	res, err := postgres.Adopt(context.Background(), f.pool, postgres.AdoptOptions{Table: "items", Batch: 50})
	if err != nil {
		t.Fatal(err)
	}
	atAdopted := writes.Load()
	for writes.Load() < atAdopted+200 && len(errs) == 0 {
		var n int
		_ = f.pool.QueryRow(context.Background(), "select 1").Scan(&n) // let the writers run
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if res.Created == 0 || atAdopted == 0 {
		t.Fatalf("created %d rows; %d writes during the adoption", res.Created, atAdopted)
	}
	checkAdopted(t, f, "items")
	if n := f.count(t, "select count(*) from ankurah.collections where name = 'items' and state = 'ready'"); n != 1 {
		t.Fatal("not ready")
	}
}

// Adoption never holds the app's writes for long: while an app
// transaction holds the table, adoption's locked steps give up and try
// again, and other connections keep writing meanwhile.
func TestAdoptYieldsToTheApp(t *testing.T) {
	t.Parallel()
	f := newAdoptFixture(t, `create table acct (id int primary key, balance int)`,
		`insert into acct select g, 100 from generate_series(1, 100) g`)
	ctx := context.Background()
	holder, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(ctx) //nolint:errcheck
	if _, err := holder.Exec(ctx, "update acct set balance = balance - 1 where id = 1"); err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		_, err := postgres.Adopt(ctx, f.pool, postgres.AdoptOptions{Table: "acct", LockTimeout: 50_000_000, // 50ms
			Progress: func(p postgres.AdoptProgress) {
				if p.Waits > 0 {
					once.Do(func() { close(waited) })
				}
			}})
		done <- err
	}()
	<-waited // adoption tried to lock the table and gave up for the app
	// Other connections write meanwhile: each waits for adoption's attempt
	// at most, never for the app's long transaction.
	for i := 2; i <= 20; i++ {
		if _, err := f.pool.Exec(ctx, "update acct set balance = balance + 1 where id = $1", i); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("adoption finished while the app held the table: %v", err)
	default:
	}
	if err := holder.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	states := checkAdopted(t, f, "acct")
	for _, st := range states {
		want := int64(100)
		switch id := st.Get("sql_id").Int(); {
		case id == 1:
			want = 99
		case id <= 20:
			want = 101
		}
		if st.Get("balance").Int() != want {
			t.Errorf("row %d: balance %d, want %d", st.Get("sql_id").Int(), st.Get("balance").Int(), want)
		}
	}
}

// Without the event trigger, an adopted table changed with SQL keeps
// recording the app's writes: its generic trigger notices the columns
// differ from the catalog's and brings the catalog in line first.
func TestAdoptedTableChangedWithoutTheEventTrigger(t *testing.T) {
	t.Parallel()
	f := newAdoptFixture(t, `alter event trigger ankurah_ddl disable`,
		`create table notes (id int primary key, body text, kept text)`, `insert into notes values (1, 'a', 'k')`)
	f.adopt(t, postgres.AdoptOptions{Table: "notes"})
	var fn string
	if err := f.pool.QueryRow(context.Background(), `select tgfoid::regproc::text from pg_trigger where tgname = 'ankurah_adopted'`).Scan(&fn); err != nil || fn != "ankurah.on_adopted" {
		t.Fatalf("trigger function without the event trigger: %q %v", fn, err)
	}
	f.exec(t, `alter table notes add column tag text`)
	f.exec(t, `alter table notes rename column body to text_body`)
	f.exec(t, `alter table notes drop column kept`)
	f.exec(t, `insert into notes (id, text_body, tag) values (2, 'b', 'x')`)
	f.exec(t, `update notes set tag = 'y', text_body = 'a2' where id = 1`)
	states := checkAdopted(t, f, "notes")
	for _, st := range states {
		if st.Get("tag").IsNull() || st.Get("text_body").IsNull() || !st.Get("kept").IsNull() || !st.Get("body").IsNull() {
			t.Errorf("after the changes: %v", st.Values)
		}
	}
	if n := f.count(t, `select count(*) from ankurah.schema_changes where collection = 'notes' and kind in ('add_field', 'rename_field', 'drop_field')`); n != 3 {
		t.Fatalf("%d schema changes recorded, want 3", n)
	}
	// The event trigger back: the table gets its own trigger function again.
	f.exec(t, `alter event trigger ankurah_ddl enable`)
	if err := f.store.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f.pool.QueryRow(context.Background(), `select tgfoid::regproc::text from pg_trigger where tgname = 'ankurah_adopted'`).Scan(&fn); err != nil || fn == "ankurah.on_adopted" {
		t.Fatalf("trigger function with the event trigger: %q %v", fn, err)
	}
	f.exec(t, `update notes set tag = 'z' where id = 2`)
	checkAdopted(t, f, "notes")
}

func hasField(t *testing.T, f *adoptFixture, coll, field string) bool {
	t.Helper()
	c, err := f.store.Collection(context.Background(), coll)
	if err != nil {
		t.Fatal(err)
	}
	_, ok := c.Field(field)
	return ok
}
