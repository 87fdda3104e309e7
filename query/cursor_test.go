package query

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/value"
)

// TestSQLAfterShape pins the cursor of a few queries: the keys expanded
// lexicographically with their direction and NULL placement, the id last.
func TestSQLAfterShape(t *testing.T) {
	t.Parallel()
	after := rec{"id": value.TextOf("01J"), "name": value.TextOf("m"), "year": value.IntOf(2000), "data": jsonv(`{"a":"x"}`)}
	cases := []struct {
		src   string
		after rec
		where string
		args  []any
	}{
		{``, after, `("id" COLLATE "C" > $1::text)`, []any{"01J"}},
		{`year > 1 ORDER BY year DESC, name`, after,
			`(("year" > $1::bigint) AND ("year" <= $2::bigint AND (("year" < $2::bigint) OR (("year" = $2::bigint) AND (("name" COLLATE "C" > $3::text OR "name" COLLATE "C" IS NULL) OR (("name" COLLATE "C" = $3::text) AND ("id" COLLATE "C" > $4::text)))))))`,
			[]any{int64(1), int64(2000), "m", "01J"}},
		// after's year is NULL: ascending, only NULLs tie and nothing is after.
		{`ORDER BY year`, rec{"id": value.TextOf("01J")},
			`(("year" IS NULL) AND ("id" COLLATE "C" > $1::text))`, []any{"01J"}},
		// id is never NULL. (A row with after's id may still sort after it, by
		// the next keys, when its values have changed.)
		{`ORDER BY id, name`, after,
			`("id" COLLATE "C" >= $1::text AND (("id" COLLATE "C" > $1::text) OR (("id" COLLATE "C" = $1::text) AND (("name" COLLATE "C" > $2::text OR "name" COLLATE "C" IS NULL) OR (("name" COLLATE "C" = $2::text) AND ("id" COLLATE "C" > $3::text))))))`,
			[]any{"01J", "m", "01J"}},
		// A field without a column is NULL in every row: after a value ascending.
		{`ORDER BY nope, year`, rec{"id": value.TextOf("01J"), "nope": value.IntOf(1)}, `TRUE`, nil},
		{`ORDER BY data.a DESC`, after,
			`(CASE jsonb_typeof(("data" -> $2::text)) WHEN 'string' THEN 1 WHEN 'number' THEN 2 WHEN 'boolean' THEN 3 WHEN 'array' THEN 4 WHEN 'object' THEN 5 END <= $3::bigint AND ((CASE jsonb_typeof(("data" -> $2::text)) WHEN 'string' THEN 1 WHEN 'number' THEN 2 WHEN 'boolean' THEN 3 WHEN 'array' THEN 4 WHEN 'object' THEN 5 END < $3::bigint) OR ((CASE jsonb_typeof(("data" -> $2::text)) WHEN 'string' THEN 1 WHEN 'number' THEN 2 WHEN 'boolean' THEN 3 WHEN 'array' THEN 4 WHEN 'object' THEN 5 END = $3::bigint) AND (((CASE WHEN jsonb_typeof(("data" -> $2::text)) = 'string' THEN ("data" -> $2::text) #>> '{}' END) COLLATE "C" < $4::text) OR (((CASE WHEN jsonb_typeof(("data" -> $2::text)) = 'string' THEN ("data" -> $2::text) #>> '{}' END) COLLATE "C" = $4::text) AND ("id" COLLATE "C" > $5::text))))))`,
			[]any{"a", "a", int64(1), "x", "01J"}}, // $1 is ORDER BY's key, bound again for the cursor
	}
	for _, c := range cases {
		s, err := MustParse(c.src).SQLAfter(testSchema, c.after, 1)
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		if s.Where != c.where || fmt.Sprint(s.Args) != fmt.Sprint(c.args) {
			t.Errorf("%s:\n got %s %v\nwant %s %v", c.src, s.Where, s.Args, c.where, c.args)
		}
	}
	if _, err := MustParse(`year = ?`).SQLAfter(testSchema, after, 1); err == nil {
		t.Error("SQLAfter of an unbound query: no error")
	}
}

// TestSQLAfterDifferential checks the cursor against Matcher.Compare on
// random tables and queries (the differential test's generator): for a
// random record `after` — a row of the table, or one with some values
// replaced by random values of any type, or a random id — Postgres must
// return exactly the matching rows x with Compare(x, after) > 0, in order.
// Replay with -query.seed=N.
func TestSQLAfterDifferential(t *testing.T) {
	t.Parallel()
	seed := diffSeed(t)
	t.Logf("seed %d: replay with ./test/with-postgres.sh go test ./query/ -run TestSQLAfterDifferential -query.seed=%d", seed, seed)
	pool := openDB(t)
	const tables, rowsPer, queriesPer = 3, 80, 400
	for ti := range tables {
		t.Run(fmt.Sprintf("t%d", ti), func(t *testing.T) {
			t.Parallel()
			g := &gen{r: newRand(seed, 100+uint64(ti))}
			c := testSchema
			c.Name = fmt.Sprintf("cursor%d", ti)
			rows := g.rows(rowsPer)
			createTable(t, pool, c, rows)
			type tc struct {
				src   string
				args  []any
				after rec
				sql   string
				sargs []any
				want  []string
			}
			var cases []tc
			partial := 0 // cases where the cursor cuts the matching rows
			batch := &pgx.Batch{}
			for range queriesPer {
				src, args := g.query()
				q, err := Parse(src, args...)
				if err != nil {
					t.Fatalf("seed %d: %q: %v", seed, src, err)
				}
				m, err := q.Compile()
				if err != nil {
					t.Fatal(err)
				}
				after := g.cursorRecord(rows)
				want := []string{}
				matched := 0
				for _, r := range rows {
					if m.Match(r) {
						matched++
						if m.Compare(r, after) > 0 {
							want = append(want, r["id"].Text())
						}
					}
				}
				if len(want) > 0 && len(want) < matched {
					partial++
				}
				slices.SortFunc(want, func(a, b string) int { return m.Compare(byID(rows, a), byID(rows, b)) })
				s, err := q.SQLAfter(c, after, 1)
				if err != nil {
					t.Fatalf("seed %d: %s: %v", seed, src, err)
				}
				stmt := fmt.Sprintf("SELECT id FROM public.%s WHERE %s ORDER BY %s", sqlIdent(c.Name), s.Where, s.OrderBy)
				batch.Queue(stmt, s.Args...)
				cases = append(cases, tc{src, args, after, stmt, s.Args, want})
			}
			br := pool.SendBatch(context.Background(), batch)
			defer br.Close()
			failures := 0
			for _, k := range cases {
				r, err := br.Query()
				var got []string
				if err == nil {
					got, err = readIDs(r)
				}
				if err == nil && slices.Equal(got, k.want) {
					continue
				}
				failures++
				t.Errorf("seed %d, table %s: cursor disagrees with Compare\nquery: %s %#v\nafter: %s\nsql:   %s\nargs:  %#v\nwant: %v\ngot:  %v (error: %v)\nrows that differ:\n%s",
					seed, c.Name, k.src, k.args, recText(k.after), k.sql, k.sargs, k.want, got, err, diffRowsText(rows, k.want, got))
				if failures >= 3 || err != nil {
					t.FailNow()
				}
			}
			if 100*partial < 25*queriesPer {
				t.Fatalf("only %d of %d cases cut the matching rows: the generator is degenerate", partial, queriesPer)
			}
		})
	}
}

// cursorRecord returns a record to page after: a row, often with values
// replaced (random values of any type, NULLs, JSON), sometimes another id.
func (g *gen) cursorRecord(rows []rec) rec {
	r := maps.Clone(pickOf(g, rows))
	if g.chance(0.5) {
		return r
	}
	for _, f := range testSchema.Fields {
		switch x := g.r.Float64(); {
		case x < 0.1:
			delete(r, f.Name)
		case x < 0.2:
			r[f.Name] = jsonv(g.jsonObject(0))
		case x < 0.35:
			if v, _, err := convert(g.value(f.Name), 0, 0); err == nil && !v.IsNull() {
				r[f.Name] = v
			}
		}
	}
	if g.chance(0.2) {
		r["missing"] = value.IntOf(1) // a field without a column
	}
	if g.chance(0.3) {
		r["id"] = value.TextOf(g.id())
	}
	return r
}

func byID(rows []rec, id string) rec {
	for _, r := range rows {
		if r["id"].Text() == id {
			return r
		}
	}
	return nil
}

func recText(r rec) string {
	s := ""
	for _, k := range slices.Sorted(maps.Keys(r)) {
		s += fmt.Sprintf(" %s=%s(%s)", k, r[k], r[k].Type())
	}
	return s
}
