package server_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/storage/postgres"
)

// itemsAfter waits for n more items than the client had at `from` and
// returns those.
func (c *tclient) itemsAfter(from, n int) []protocol.Item {
	c.t.Helper()
	return c.waitItems(from + n)[from:]
}

func (c *tclient) itemCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

// schemaFrames returns the schema frames received so far.
func (c *tclient) schemaFrames() []protocol.ServerFrame {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []protocol.ServerFrame
	for _, p := range c.log {
		if p.Schema != nil {
			out = append(out, *p.Schema)
		}
	}
	return out
}

// ended returns the error that ended a subscription, once it has.
func (c *tclient) ended(sub string) *protocol.Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.log {
		if p.Ended == sub {
			return p.Err
		}
	}
	return nil
}

// An app's table adopted while a client subscribes to it: the rows the
// backfill adopts arrive as adds, SQL writes on them as updates and
// removes, a no-op UPDATE as nothing; API reads and writes work on it by
// entity id.
func TestAdoptedTableLive(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Postgres, servertest.Options{})
	sql(t, env, `create schema sales`)
	sql(t, env, `create table sales.orders (id serial primary key, customer text not null, total numeric(10,2), note text)`)
	sql(t, env, `insert into sales.orders (customer, total) select 'c' || g, g * 10 from generate_series(1, 20) g`)
	c := dial(t, env)
	// Subscribed before the collection exists: it starts empty.
	if got := c.subscribe("big", "sales.orders", "total >= 150 ORDER BY total"); len(got) != 0 {
		t.Fatalf("initial %v", got)
	}
	res, err := postgres.Adopt(context.Background(), env.DB, postgres.AdoptOptions{Table: "sales.orders", Batch: 4})
	if err != nil || res.Collection != "sales.orders" {
		t.Fatalf("adopt: %+v %v", res, err)
	}
	c.waitFor("the adopted rows", func() bool { return len(c.set("big")) == 6 })
	var id string // the entity of order 20
	for eid, e := range c.set("big") {
		if val(e, "sql_id") == float64(20) {
			id = eid
		}
		if val(e, "customer") == nil || len(e.Head) != 1 || e.Head[0] != eid {
			t.Fatalf("adopted row as a new entity: %+v", e)
		}
	}
	// A second subscription after the adoption reads the same.
	if got := c.subscribe("all", "sales.orders", "true"); len(got) != 20 {
		t.Fatalf("a subscription after the adoption: %d entities", len(got))
	}
	n := c.itemCount()
	sql(t, env, `update sales.orders set total = total where id = 20`) // a no-op
	sql(t, env, `update sales.orders set note = 'vip' where id = 20`)
	items := c.itemsAfter(n, 2) // one update per subscription: nothing for the no-op
	for _, it := range items {
		if it.Kind != "update" || it.Entity.ID != id || val(it.Entity, "note") != "vip" {
			t.Fatalf("update of order 20: %+v", it)
		}
	}
	if c.itemCount() != n+2 {
		t.Fatalf("%d items for a no-op and an update", c.itemCount()-n)
	}
	// API: get, fetch, edit, create, delete.
	var got protocol.EntitiesResult
	c.must(protocol.Request{Type: protocol.TypeGet, Collection: "sales.orders", IDs: []string{id}}, &got)
	if len(got.Entities) != 1 || val(got.Entities[0], "note") != "vip" {
		t.Fatalf("get: %+v", got)
	}
	c.must(protocol.Request{Type: protocol.TypeFetch, Collection: "sales.orders", Query: "customer = 'c3'"}, &got)
	if len(got.Entities) != 1 || val(got.Entities[0], "sql_id") != float64(3) {
		t.Fatalf("fetch: %+v", got)
	}
	n = c.itemCount()
	c.edit("sales.orders", id, map[string]any{"total": "99.5"})
	newID := c.create("sales.orders", map[string]any{"customer": "api", "total": "500"})
	items = c.itemsAfter(n, 4) // big: remove 20, add new; all: update 20, add new
	kinds := map[string]int{}
	for _, it := range items {
		kinds[it.Sub+" "+it.Kind]++
	}
	if kinds["big remove"] != 1 || kinds["big add"] != 1 || kinds["all update"] != 1 || kinds["all add"] != 1 {
		t.Fatalf("items after the API edit and create: %v", kinds)
	}
	var sqlID int
	if err := env.DB.QueryRow(context.Background(), `select id from sales.orders where customer = 'api'`).Scan(&sqlID); err != nil || sqlID != 21 {
		t.Fatalf("the API's row: id %d, %v", sqlID, err)
	}
	for _, it := range items {
		if it.Entity.ID == newID && val(it.Entity, "sql_id") != float64(21) {
			t.Fatalf("the created entity does not carry its key: %+v", it.Entity)
		}
	}
	n = c.itemCount()
	c.remove("sales.orders", newID)
	sql(t, env, `delete from sales.orders where id = 3`)
	items = c.itemsAfter(n, 3)
	if items[0].Kind != "remove" || items[1].Kind != "remove" || items[2].Kind != "remove" || !items[2].Entity.Deleted {
		t.Fatalf("deletes: %+v", items)
	}
	for _, sub := range []string{"big", "all"} {
		if v := c.violations(sub); len(v) > 0 {
			t.Fatal(sub, v)
		}
	}
}

// A no-op UPDATE of a collection Ankurah created records no event and
// sends nothing to subscribers.
func TestNoopUpdateSendsNothing(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Postgres, servertest.Options{})
	c := dial(t, env)
	c.register(albumSchema)
	id := sqlID(t, env, "insert into album (name, year) values ('Showbiz', 1999) returning id")
	c.subscribe("s", "album", "true")
	sql(t, env, "update album set name = name")
	sql(t, env, "update album set year = year where id = $1", id)
	sql(t, env, "update album set year = 2000 where id = $1", id)
	items := c.waitItems(1)
	if len(items) != 1 || items[0].Kind != "update" || val(items[0].Entity, "year") != float64(2000) {
		t.Fatalf("items: %+v", items)
	}
}

// Schema changes made in SQL while clients are subscribed: picked up
// without a restart, unaffected queries keep working, a query naming a
// dropped, renamed or retyped field ends with a coded error, clients get
// schema frames, history stays readable under the new names, and no
// request ever answers internal. Once with the event trigger (the catalog
// follows in the DDL's transaction), once without (the server's safety
// nets follow it).
func TestSchemaChangesLive(t *testing.T) {
	t.Parallel()
	for _, trigger := range []bool{true, false} {
		name := "event trigger"
		if !trigger {
			name = "safety nets"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := servertest.Start(t, servertest.Postgres, servertest.Options{})
			if !trigger {
				sql(t, env, "alter event trigger ankurah_ddl disable")
			}
			c := dial(t, env)
			c.register(albumSchema)
			id := sqlID(t, env, "insert into album (name, year, notes) values ('Showbiz', 1999, 'first') returning id")
			c.subscribe("byname", "album", "name = 'Showbiz'")
			c.subscribe("byyear", "album", "year >= 1990")
			c.subscribe("bynotes", "album", "notes IS NOT NULL")
			check := func(what string) {
				t.Helper()
				var res protocol.EntitiesResult
				for _, req := range []protocol.Request{
					{Type: protocol.TypeFetch, Collection: "album", Query: "true"},
					{Type: protocol.TypeGet, Collection: "album", IDs: []string{id}},
				} {
					if err := c.do(req, &res); err != nil {
						t.Fatalf("%s: %s: %v", what, req.Type, err)
					}
				}
				var evs protocol.EventsResult
				if err := c.do(protocol.Request{Type: protocol.TypeGetEvents, Collection: "album", EntityID: id}, &evs); err != nil {
					t.Fatalf("%s: history: %v", what, err)
				}
			}
			frame := func(kind string) protocol.ServerFrame {
				t.Helper()
				var f protocol.ServerFrame
				c.waitFor("a schema frame "+kind, func() bool {
					for _, s := range c.schemaFrames() {
						if s.Change.Kind == kind {
							f = s
							return true
						}
					}
					return false
				})
				return f
			}
			endedWith := func(sub string) {
				t.Helper()
				c.waitFor(sub+" ended", func() bool { return c.ended(sub) != nil })
				if e := c.ended(sub); e.Code != "schema_changed" {
					t.Fatalf("%s ended with %+v", sub, e)
				}
			}
			// ADD COLUMN: a new field; every query keeps working.
			sql(t, env, "alter table album add column label text")
			// Without the event trigger the next write shows the new shape.
			sql(t, env, "update album set label = 'Mushroom' where id = $1", id)
			f := frame("add_field")
			if f.Change.Field != "label" || f.Collection == nil || !slices.ContainsFunc(f.Collection.Fields, func(x protocol.Field) bool { return x.Name == "label" }) {
				t.Fatalf("add_field frame: %+v %+v", f.Change, f.Collection)
			}
			c.waitFor("the label", func() bool { return val(c.set("byyear")[id], "label") == "Mushroom" })
			check("after ADD COLUMN")

			// RENAME COLUMN: queries naming the old name end; history reads
			// under the new name.
			sql(t, env, "alter table album rename column name to title")
			sql(t, env, "update album set title = 'Showbiz (remastered)' where id = $1", id)
			f = frame("rename_field")
			if f.Change.Field != "title" || f.Change.OldName != "name" {
				t.Fatalf("rename frame: %+v", f)
			}
			endedWith("byname")
			c.waitFor("the new title", func() bool { return val(c.set("byyear")[id], "title") == "Showbiz (remastered)" })
			check("after RENAME COLUMN")
			var evs protocol.EventsResult
			c.must(protocol.Request{Type: protocol.TypeGetEvents, Collection: "album", EntityID: id}, &evs)
			if _, ok := evs.Events[0].Operations["title"]; !ok {
				t.Fatalf("the creation event does not read under the new name: %+v", evs.Events[0])
			}
			if _, ok := evs.Events[0].Operations["name"]; ok {
				t.Fatalf("the creation event still names the old field: %+v", evs.Events[0])
			}

			// ALTER COLUMN TYPE: queries on it end; others carry on.
			sql(t, env, "alter table album alter column year type integer")
			sql(t, env, "update album set notes = 'second' where id = $1", id)
			f = frame("retype_field")
			if f.Change.Field != "year" || f.Change.NewType != "integer" {
				t.Fatalf("retype frame: %+v", f)
			}
			endedWith("byyear")
			c.waitFor("the notes", func() bool { return val(c.set("bynotes")[id], "notes") == "second" })
			check("after ALTER COLUMN TYPE")

			// DROP COLUMN.
			sql(t, env, "alter table album drop column notes")
			sql(t, env, "update album set label = 'Taste' where id = $1", id)
			frame("drop_field")
			endedWith("bynotes")
			check("after DROP COLUMN")
			c.subscribe("again", "album", "year = 1999")

			// RENAME TABLE: the collection keeps its name; writes to the
			// renamed table reach the live queries.
			sql(t, env, "alter table album rename to albums_v2")
			n := c.itemCount()
			sql(t, env, "update albums_v2 set label = 'Eagle' where id = $1", id)
			frame("rename_table")
			if it := c.itemsAfter(n, 1)[0]; it.Sub != "again" || val(it.Entity, "label") != "Eagle" {
				t.Fatalf("update through the renamed table: %+v", it)
			}
			check("after RENAME TABLE")

			// DROP TABLE: the collection's live queries end; reading it is
			// reading a collection that does not exist.
			sql(t, env, "drop table albums_v2")
			if !trigger {
				var res protocol.EntitiesResult
				// The safety net: a read finds the table gone and the catalog follows.
				_ = c.do(protocol.Request{Type: protocol.TypeFetch, Collection: "album", Query: "true"}, &res)
			}
			f = frame("drop_table")
			if f.Collection != nil {
				var rows []string
				r, _ := env.DB.Query(context.Background(), "select format('%s %s %s', name, table_name, version) from ankurah.collections union all select format('%s %s %s', id, kind, coalesce(field, '')) from ankurah.schema_changes")
				for r.Next() {
					var x string
					r.Scan(&x)
					rows = append(rows, x)
				}
				t.Fatalf("drop frame still has a schema: %+v %+v\n%s", f.Change, f.Collection, strings.Join(rows, "\n"))
			}
			endedWith("again")
			var res protocol.EntitiesResult
			if err := c.do(protocol.Request{Type: protocol.TypeFetch, Collection: "album", Query: "true"}, &res); err != nil || len(res.Entities) != 0 {
				t.Fatalf("fetch after DROP TABLE: %v %v", res, err)
			}
			var perr *protocol.Error
			for _, sub := range []string{"byname", "byyear", "bynotes", "again"} {
				if e := c.ended(sub); errors.As(e, &perr) && perr.Code == "internal" {
					t.Fatalf("%s: internal", sub)
				}
			}
			for _, s := range c.schemaFrames() {
				if strings.Contains(s.Change.Detail, "internal") {
					t.Fatal(s.Change)
				}
			}
		})
	}
}
