package postgres_test

// History SQL cannot skip: every way SQL changes a collection's rows is
// recorded, the API's mark that makes the triggers skip a write is only
// honoured for members of role ankurah_writer, and TRUNCATE is refused.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/postgres"
	"github.com/ankurah/ankurah-go/value"
)

// A role that may write the tables but is not a member of ankurah_writer
// cannot mark its writes as the API's: the write fails and nothing
// changes. Its plain writes are recorded, although it has no rights on
// schema ankurah. A member's mark is honoured.
func TestAPIMarkNeedsTheWriterRole(t *testing.T) {
	t.Parallel()
	role := "app_" + strings.ToLower(event.NewID().String()[16:])
	t.Cleanup(func() { pgtest.DropRole(t, role) }) // after the database is dropped
	f := newAdoptFixture(t,
		`create table ledger (id serial primary key, amount int)`,
		`insert into ledger (amount) values (10), (20)`,
		`select ankurah.create_collection('album', '{"name":"text","year":"bigint"}')`,
		`insert into album (name, year) values ('Showbiz', 1999)`,
		fmt.Sprintf(`create role %s login`, role))
	f.adopt(t, postgres.AdoptOptions{Table: "ledger"})
	f.exec(t, fmt.Sprintf(`grant select, insert, update, delete on ledger, album to %s`, role))
	f.exec(t, fmt.Sprintf(`grant usage on sequence ledger_id_seq to %s`, role))
	cfg, err := pgx.ParseConfig(f.url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.User = role
	ctx := context.Background()
	app, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)
	before := f.count(t, "select count(*) from ankurah.events")

	for _, c := range []struct{ mark, stmt string }{
		{"api:ledger", "update ledger set amount = amount + 1"},
		{"api:ledger", "insert into ledger (amount) values (30)"},
		{"api:ledger", "delete from ledger where amount = 10"},
		{"api:album", "update album set year = 2000"},
		{"api:album", "delete from album"},
		{"api:x", "update album set year = 2000"},
	} {
		err := pgx.BeginFunc(ctx, app, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "select set_config('ankurah.writer', $1, true)", c.mark); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, c.stmt)
			return err
		})
		if sqlState(err) != "AK010" || !strings.Contains(err.Error(), "may not mark writes as API writes") {
			t.Errorf("%s marked %s: %v, want AK010", c.stmt, c.mark, err)
		}
	}
	if n := f.count(t, "select count(*) from ankurah.events"); n != before {
		t.Fatalf("%d events recorded by refused writes", n-before)
	}
	if n := f.count(t, "select count(*) from ledger where amount in (11, 21, 30)"); n != 0 {
		t.Fatal("a refused write changed the table")
	}
	// The same writes unmarked go through and are recorded.
	for _, stmt := range []string{"update ledger set amount = amount + 1", "insert into ledger (amount) values (30)",
		"delete from ledger where amount = 11", "update album set year = 2000"} {
		if _, err := app.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s as %s: %v", stmt, role, err)
		}
	}
	checkAdopted(t, f, "ledger")
	if n := f.count(t, "select count(*) from ankurah.events where collection = 'album' and author = $1", role); n != 1 {
		t.Fatalf("album events by %s: %d", role, n)
	}
	// Granted ankurah_writer, the role may mark API writes.
	f.exec(t, fmt.Sprintf(`grant ankurah_writer to %s`, role))
	err = pgx.BeginFunc(ctx, app, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "select set_config('ankurah.writer', 'api:album', true)"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "update album set year = 2001, _head = _head")
		return err
	})
	if err != nil {
		t.Fatalf("a member's marked write: %v", err)
	}
}

// Every way SQL writes rows — INSERT … ON CONFLICT, UPDATE … FROM, MERGE,
// COPY, writes through updatable views (plain and INSTEAD OF), the app's
// own triggers (a BEFORE trigger that changes the row, an AFTER trigger
// that writes another collection) — is recorded; TRUNCATE is refused.
func TestEverySQLWriteIsRecorded(t *testing.T) {
	t.Parallel()
	f := newAdoptFixture(t,
		`create table stock (sku text primary key, qty int not null, updated_at timestamptz)`,
		`create table moves (id bigserial primary key, sku text not null, delta int not null)`,
		`create table prices (sku text primary key, price numeric(8,2))`,
		`insert into stock values ('a', 1), ('b', 2), ('c', 3)`,
		`insert into prices values ('a', 1.5), ('b', 2.5)`,
		// The app's own triggers: stamp updated_at before each write of
		// stock, and log each change of qty into moves.
		`create function stamp() returns trigger language plpgsql as $$ begin NEW.updated_at := clock_timestamp(); return NEW; end $$`,
		`create trigger stamp before insert or update on stock for each row execute function stamp()`,
		`create function log_move() returns trigger language plpgsql as $$ begin
		   insert into moves (sku, delta) values (NEW.sku, NEW.qty - coalesce(OLD.qty, 0)); return null; end $$`,
		`create trigger log_move after insert or update of qty on stock for each row execute function log_move()`,
		`create view stock_view as select sku, qty from stock where qty < 1000`,
		`create view stock_odd as select sku, qty * 2 as double from stock`,
		`create function stock_odd_write() returns trigger language plpgsql as $$ begin
		   update stock set qty = NEW.double / 2 where sku = NEW.sku; return NEW; end $$`,
		`create trigger stock_odd_write instead of update on stock_odd for each row execute function stock_odd_write()`)
	f.adopt(t, postgres.AdoptOptions{Table: "stock"})
	f.adopt(t, postgres.AdoptOptions{Table: "moves"})
	ctx := context.Background()
	count := func(coll string) int {
		return f.count(t, "select count(*) from ankurah.events where collection = $1", coll)
	}
	steps := []struct {
		name string
		run  func() error
	}{
		{"INSERT … ON CONFLICT DO UPDATE", func() error {
			_, err := f.pool.Exec(ctx, `insert into stock values ('a', 10), ('d', 4) on conflict (sku) do update set qty = excluded.qty`)
			return err
		}},
		{"INSERT … ON CONFLICT DO NOTHING", func() error {
			_, err := f.pool.Exec(ctx, `insert into stock values ('a', 99), ('e', 5) on conflict do nothing`)
			return err
		}},
		{"UPDATE … FROM", func() error {
			_, err := f.pool.Exec(ctx, `update stock s set qty = s.qty + (p.price * 2)::int from prices p where p.sku = s.sku`)
			return err
		}},
		{"MERGE", func() error {
			_, err := f.pool.Exec(ctx, `merge into stock s using (values ('b', 100), ('f', 6), ('c', 0)) v(sku, qty) on s.sku = v.sku
				when matched and v.qty = 0 then delete
				when matched then update set qty = v.qty
				when not matched then insert (sku, qty) values (v.sku, v.qty)`)
			return err
		}},
		{"COPY", func() error {
			_, err := f.pool.CopyFrom(ctx, pgx.Identifier{"stock"}, []string{"sku", "qty"}, pgx.CopyFromRows([][]any{{"g", 7}, {"h", 8}}))
			return err
		}},
		{"an updatable view", func() error {
			_, err := f.pool.Exec(ctx, `update stock_view set qty = qty + 1 where sku in ('g', 'h'); insert into stock_view values ('i', 9); delete from stock_view where sku = 'e'`)
			return err
		}},
		{"a view's INSTEAD OF trigger", func() error {
			_, err := f.pool.Exec(ctx, `update stock_odd set double = 40 where sku = 'i'`)
			return err
		}},
		{"an API write whose row the app's triggers change", func() error {
			got := fetch(t, f.store, "stock", "sku = 'g'")
			tx := f.node.Begin()
			e, err := tx.Edit(ctx, "stock", got[0].ID)
			if err != nil {
				return err
			}
			if err := e.Set("qty", value.IntOf(70)); err != nil {
				return err
			}
			_, err = tx.Commit(ctx)
			return err
		}},
	}
	for _, s := range steps {
		stockBefore, movesBefore := count("stock"), count("moves")
		if err := s.run(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if count("stock") == stockBefore {
			t.Errorf("%s: no stock event recorded", s.name)
		}
		if s.name != "INSERT … ON CONFLICT DO NOTHING" && count("moves") == movesBefore {
			t.Errorf("%s: the app trigger's write to moves was not recorded", s.name)
		}
		checkAdopted(t, f, "stock")
		checkAdopted(t, f, "moves")
	}
	// Every stock row's history has the stamp its BEFORE trigger set,
	// the API write's included.
	for _, st := range fetch(t, f.store, "stock", "true") {
		if st.Get("updated_at").IsNull() && st.Get("qty").Int() != 1 && st.Get("qty").Int() != 2 {
			t.Errorf("stock %s: no updated_at in %v", st.Get("sku"), st.Values)
		}
	}
	g := fetch(t, f.store, "stock", "sku = 'g'")[0]
	hist, err := f.store.History(ctx, "stock", g.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := hist[len(hist)-1]
	if _, ok := last.Ops["updated_at"]; !ok || len(last.Parents) != 1 || last.Parents[0] != hist[len(hist)-2].ID {
		t.Fatalf("what the app's trigger did to the API write is not its child event: %+v", hist)
	}
	// TRUNCATE stays refused, for adopted tables too.
	for _, table := range []string{"stock", "moves"} {
		if _, err := f.pool.Exec(ctx, "truncate "+table); sqlState(err) != "AK007" {
			t.Errorf("truncate %s: %v, want AK007", table, err)
		}
	}
}

// Names and limits get coded errors that say what to do, never internal:
// a field named like a system column, a collection named like a table
// that is not one, and Postgres's 1,600 columns per table.
func TestNamesAndLimits(t *testing.T) {
	t.Parallel()
	f := newAdoptFixture(t, `create table legacy (id int primary key, v text)`)
	ctx := context.Background()
	// Through SQL.
	for _, c := range []struct{ sql, state, mention string }{
		{`select ankurah.create_collection('album', '{"xmin":"text"}')`, "AK006", "system column"},
		{`select ankurah.create_collection('album', '{"ctid":"bigint"}')`, "AK006", "ctid_value"},
		{`select ankurah.create_collection('legacy', '{"v":"text"}')`, "AK009", "ankurah adopt legacy"},
	} {
		_, err := f.pool.Exec(ctx, c.sql)
		if sqlState(err) != c.state || !strings.Contains(err.Error()+hintOf(err), c.mention) {
			t.Errorf("%s: %v (hint %q), want %s mentioning %q", c.sql, err, hintOf(err), c.state, c.mention)
		}
	}
	// Through the API: coded errors.
	for _, c := range []struct {
		coll, field string
		code        string
	}{
		{"album", "xmin", storage.CodeBadName},
		{"album", "tableoid", storage.CodeBadName},
		{"legacy", "v", storage.CodeNameTaken},
		{"album", "Mixed", storage.CodeBadName}, // a new field's name is plain
	} {
		_, err := f.store.EnsureCollection(ctx, schema.Collection{Name: c.coll, Fields: []schema.Field{{Name: c.field, Type: value.Text}}})
		if code := storage.CodeOf(err); code != c.code {
			t.Errorf("collection %s with field %s: %v (code %s), want %s", c.coll, c.field, err, code, c.code)
		}
	}
	if _, err := f.store.EnsureCollection(ctx, schema.Collection{Name: "album", Fields: []schema.Field{{Name: "name", Type: value.Text}}}); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"xmin", "Mixed"} {
		tx := f.node.Begin()
		_, err := tx.Create("album", map[string]value.Value{field: value.TextOf("x")})
		if err == nil {
			_, err = tx.Commit(ctx)
		}
		if code := storage.CodeOf(err); code != storage.CodeBadName {
			t.Errorf("a write of field %s: %v (code %s), want bad_name", field, err, code)
		}
	}
	// The column cap: fields up to it, then a coded error that explains.
	if _, err := f.pool.Exec(ctx, `select ankurah.create_collection('wide', '{}')`); err != nil {
		t.Fatal(err)
	}
	cols := map[string]string{}
	for i := range 1597 { // + id, _head, _versions = 1600
		cols[fmt.Sprintf("f%04d", i)] = "bigint"
	}
	if _, err := f.pool.Exec(ctx, `select ankurah.create_collection('wide', $1)`, cols); err != nil {
		t.Fatal(err)
	}
	tx := f.node.Begin()
	_, err := tx.Create("wide", map[string]value.Value{"one_more": value.IntOf(1)})
	if err == nil {
		_, err = tx.Commit(ctx)
	}
	if code := storage.CodeOf(err); code != storage.CodeTooManyFields || !strings.Contains(err.Error(), "1,600 columns") {
		t.Fatalf("field 1,601: %v (code %s)", err, code)
	}
	// The collection still works.
	tx = f.node.Begin()
	if _, err := tx.Create("wide", map[string]value.Value{"f0001": value.IntOf(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func hintOf(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Hint
	}
	return ""
}
