package server_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/protocol"
)

// TestCollectionThatDoesNotExistYet: a live query, a fetch, a get and a
// history read on a collection nobody has created are empty, not errors, on
// every store; the live query starts matching when the collection appears —
// by register_schema and a commit (what `ankurah put` does), or on Postgres by
// ankurah.create_collection and an INSERT in plain SQL, which the
// replication stream must pick up although the table was not in the
// publication when the stream started. A name no collection can have is
// still refused.
func TestCollectionThatDoesNotExistYet(t *testing.T) {
	t.Parallel()
	type creator struct {
		name  string
		kinds []string
		// create makes collection coll with one entity matching year >= 2000.
		create func(t *testing.T, env *servertest.Env, c *tclient, coll string)
	}
	creators := []creator{
		{"register and commit", servertest.Kinds, func(t *testing.T, env *servertest.Env, c *tclient, coll string) {
			c.register(protocol.Collection{Name: coll, Fields: []protocol.Field{{Name: "name", Type: "text"}, {Name: "year", Type: "bigint"}}})
			c.create(coll, map[string]any{"name": "Origin of Symmetry", "year": 2001})
		}},
		{"commit creates the fields", servertest.Kinds, func(t *testing.T, env *servertest.Env, c *tclient, coll string) {
			c.register(protocol.Collection{Name: coll})
			c.create(coll, map[string]any{"name": "Origin of Symmetry", "year": 2001})
		}},
		{"sql create_collection and insert", []string{servertest.Postgres}, func(t *testing.T, env *servertest.Env, c *tclient, coll string) {
			ctx := context.Background()
			if _, err := env.DB.Exec(ctx, `select ankurah.create_collection($1, '{"name":"text","year":"bigint"}')`, coll); err != nil {
				t.Fatal(err)
			}
			if _, err := env.DB.Exec(ctx, `insert into `+coll+` (name, year) values ('Origin of Symmetry', 2001)`); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, kind := range servertest.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			env := servertest.Start(t, kind, servertest.Options{})
			for _, cr := range creators {
				if !contains(cr.kinds, kind) {
					continue
				}
				t.Run(cr.name, func(t *testing.T) {
					coll := "album_" + map[string]string{"register and commit": "a", "commit creates the fields": "b", "sql create_collection and insert": "c"}[cr.name]
					c := dial(t, env)
					if got := c.subscribe("s", coll, "year >= ? ORDER BY year", 2000); len(got) != 0 {
						t.Fatalf("initial result of a collection that does not exist: %v", got)
					}
					var res protocol.EntitiesResult
					c.must(protocol.Request{Type: protocol.TypeFetch, Collection: coll, Query: "ORDER BY year"}, &res)
					if len(res.Entities) != 0 {
						t.Fatalf("fetch: %v", res.Entities)
					}
					c.must(protocol.Request{Type: protocol.TypeGet, Collection: coll, IDs: []string{"01ARZ3NDEKTSV4RRFFQ69G5FAV"}}, &res)
					if len(res.Entities) != 0 {
						t.Fatalf("get: %v", res.Entities)
					}
					var evs protocol.EventsResult
					c.must(protocol.Request{Type: protocol.TypeGetEvents, Collection: coll, EntityID: "01ARZ3NDEKTSV4RRFFQ69G5FAV"}, &evs)
					if len(evs.Events) != 0 {
						t.Fatalf("history: %v", evs.Events)
					}

					cr.create(t, env, c, coll)
					items := c.waitItems(1)
					if it := items[0]; it.Kind != "add" || it.Sub != "s" || val(it.Entity, "name") != "Origin of Symmetry" {
						t.Fatalf("first item: %+v", it)
					}
					if v := c.violations("s"); len(v) > 0 {
						t.Fatal(v)
					}
				})
			}
			// A name that no collection can have is still an error.
			c := dial(t, env)
			for _, req := range []protocol.Request{
				{Type: protocol.TypeSubscribe, Sub: "bad", Collection: "_album"},
				{Type: protocol.TypeFetch, Collection: "_album"},
				{Type: protocol.TypeGet, Collection: "_album", IDs: []string{"01ARZ3NDEKTSV4RRFFQ69G5FAV"}},
			} {
				var perr *protocol.Error
				if err := c.do(req, nil); !errors.As(err, &perr) || perr.Code != "bad_name" {
					t.Errorf("%s of collection _album: %v, want bad_name", req.Type, err)
				}
			}
		})
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
