package query

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/value"
)

// TestSQLShape pins the translation of a few queries: quoted identifiers,
// every value a typed parameter, jsonb operators for paths, id last in the
// order. The semantics are tested against Postgres elsewhere.
func TestSQLShape(t *testing.T) {
	t.Parallel()
	cases := []struct {
		src, where, order, limit string
		args                     []any
	}{
		{``, `TRUE`, `"id"`, ``, nil},
		{`name = 'Muse' AND year >= 2000 ORDER BY year DESC LIMIT 20`,
			`(("name" COLLATE "C" = $1::text) AND ("year" >= $2::bigint))`, `"year" DESC NULLS FIRST, "id"`, `LIMIT $3::bigint`,
			[]any{"Muse", int64(2000), int64(20)}},
		{`year < 2.5 OR score = 1`, `(("year" < $1::numeric) OR ("score" = $2::float8))`, `"id"`, ``, []any{"2.5", float64(1)}},
		{`year < 2.5e0`, `("year" < $1::numeric)`, `"id"`, ``, []any{"2.5"}},
		{`name = 9`, `(CASE WHEN "name" IS NULL THEN NULL ELSE FALSE END)`, `"id"`, ``, nil},
		{`nope = 1 OR nope IS NULL`, `(NULL::boolean OR TRUE)`, `"id"`, ``, nil},
		{`data.a.b = 9 ORDER BY name`,
			`(CASE coalesce(jsonb_typeof(("data" -> $1::text -> $2::text)), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN (("data" -> $1::text -> $2::text))::numeric = $3::numeric ELSE FALSE END)`,
			`"name" COLLATE "C" ASC NULLS LAST, "id"`, ``, []any{"a", "b", "9"}},
		{`year IN (1, 2, 2.5, NULL, 'x')`, `(("year" = ANY($1::bigint[])) OR ("year" = ANY($2::text[]::numeric[])) OR NULL::boolean)`, `"id"`, ``,
			[]any{[]int64{1, 2}, []string{"2.5"}}},
		{`name NOT LIKE 'a%' AND data IS NOT NULL`, `((NOT ("name" LIKE $1::text)) AND (coalesce(jsonb_typeof("data"), 'null') <> 'null'))`, `"id"`, ``, []any{"a%"}},
	}
	for _, c := range cases {
		q := MustParse(c.src)
		s, err := q.SQL(testSchema, 1)
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		if s.Where != c.where || s.OrderBy != c.order || s.Limit != c.limit || fmt.Sprint(s.Args) != fmt.Sprint(c.args) {
			t.Errorf("%s:\n got %s | %s | %s | %v\nwant %s | %s | %s | %v", c.src, s.Where, s.OrderBy, s.Limit, s.Args, c.where, c.order, c.limit, c.args)
		}
	}
}

// TestSQLNeverSplices: no text of a value reaches the SQL, however it is quoted.
func TestSQLNeverSplices(t *testing.T) {
	t.Parallel()
	evil := `x'); DROP TABLE t; --`
	q := MustParse(`name = ? OR data."k'); DROP TABLE t; --" = ? OR name LIKE ?`, evil, evil, evil)
	s, err := q.SQL(testSchema, 1)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s.Where, "DROP") {
		t.Fatalf("value spliced into SQL: %s", s.Where)
	}
	if len(s.Args) != 4 {
		t.Fatalf("args = %v", s.Args)
	}
	// Every field type, with values whose text could break out of a
	// literal: an enum label and array elements with quotes, numeric and
	// interval text, all bound.
	label, err := value.EnumType([]string{"x'); DROP TABLE t; --"})
	if err != nil {
		t.Fatal(err)
	}
	evilLabel, _ := value.EnumOf(label, "x'); DROP TABLE t; --")
	tags, _ := value.ArrayOf(mustType("text[]"), []value.Value{value.TextOf(evil), value.TextOf(`"}'`)})
	for _, f := range testSchema.Fields {
		for _, arg := range []any{evil, evilLabel, tags, "{" + evil + "}", value.TextOf("1e3'); DROP"), []any{evil, "'", tags}} {
			for _, src := range []string{f.Name + " = ?", f.Name + " IN (?)", f.Name + " > ? ORDER BY " + f.Name} {
				q, err := Parse(src, arg)
				if err != nil {
					continue
				}
				s, err := q.SQL(testSchema, 1)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(s.Where, "DROP") || strings.Contains(s.Where, `"}'`) || strings.Contains(s.OrderBy, "DROP") {
					t.Fatalf("%s with %v: value spliced into SQL: %s", src, arg, s.Where)
				}
			}
		}
	}
}

func TestSelect(t *testing.T) {
	t.Parallel()
	c := testSchema
	c.Name = "album"
	stmt, args, err := MustParse(`year = ? LIMIT 5`, 2001).Select(c, "public")
	if err != nil {
		t.Fatal(err)
	}
	want := `SELECT "id", "_head", "_versions", "at", "blob", "ch", "d", "data", "i32", "iv", "js", "mood", "moods", "name", "num", "nums", "ok", "owner", "price", "r", "score", "small", "tags", "tod", "ts", "u", "vc", "year" FROM "public"."album" WHERE ("year" = $1::bigint) ORDER BY "id" LIMIT $2::bigint`
	if stmt != want || fmt.Sprint(args) != "[2001 5]" {
		t.Fatalf("Select:\n got %s %v\nwant %s", stmt, args, want)
	}
	s, _ := MustParse(`year = 1`).SQL(c, 4)
	if s.Where != `("year" = $4::bigint)` {
		t.Fatalf("firstParam ignored: %s", s.Where)
	}
}
