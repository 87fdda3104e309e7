package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/protocol"
)

// wireType is a field type with a value as a client may write it, as every
// client then reads it (its natural JSON), and as SQL writes it.
type wireType struct {
	field, typ  string
	in, want    string // JSON
	sql         string // a SQL literal
	queryByWant bool   // `field = ?` with want (or arg) as the argument finds it
	arg         string // the query argument when it is not want: an array's text ('{1,NULL}': a JSON array is an IN list)
}

var wireTypes = []wireType{
	{"small", "smallint", `-32768`, `-32768`, `-32768`, true, ""},
	{"i32", "integer", `2147483647`, `2147483647`, `2147483647`, true, ""},
	{"num", "numeric", `12345678901234567890.120`, `"12345678901234567890.120"`, `12345678901234567890.120`, true, ""},
	{"price", "numeric(10,2)", `"1.005"`, `"1.01"`, `1.005`, true, ""},
	{"r", "real", `0.1`, `0.1`, `0.1`, true, ""},
	{"vc", "varchar(5)", `"ab"`, `"ab"`, `'ab'`, true, ""},
	{"ch", "char(3)", `"a"`, `"a  "`, `'a'`, true, ""},
	{"u", "uuid", `"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"`, `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`, `'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'`, true, ""},
	{"d", "date", `"2024-02-29"`, `"2024-02-29"`, `'2024-02-29'`, true, ""},
	{"tod", "time", `"24:00"`, `"24:00:00"`, `'24:00'`, true, ""},
	{"ts", "timestamp", `"2024-01-02 03:04:05.5"`, `"2024-01-02T03:04:05.5"`, `'2024-01-02 03:04:05.5'`, true, ""},
	{"iv", "interval", `"P1Y2M-3DT4H5M6.5S"`, `"P1Y2M-3DT4H5M6.5S"`, `'1 year 2 mons -3 days 04:05:06.5'`, true, ""},
	{"js", "json", `{"a": [1, null]}`, `{"a":[1,null]}`, `'{"a": [1, null]}'`, false, ""},
	{"mood", "enum('sad', 'ok', 'happy')", `"happy"`, `"happy"`, `'happy'`, true, ""},
	{"tags", "text[]", `["a b", null, ""]`, `["a b",null,""]`, `'{"a b",NULL,""}'`, true, `"{\"a b\",NULL,\"\"}"`},
	{"nums", "integer[]", `[1, null]`, `[1,null]`, `'{1,NULL}'`, true, `"{1,NULL}"`},
	{"decs", "numeric(5,2)[]", `[1.005, "2"]`, `["1.01","2.00"]`, `'{1.005,2}'`, true, `"{1.01,2}"`},
	{"moods", "enum('sad', 'ok', 'happy')[]", `["ok"]`, `["ok"]`, `'{ok}'`, true, `"{ok}"`},
}

// Every type travels the wire: a client's commit (in any spelling the
// type accepts) reaches subscribers, commit results, fetches and gets in
// the type's natural JSON; queries compare each type; on Postgres a SQL
// write of the same values reaches subscribers through replication with
// the same values.
func TestEveryTypeOverTheWire(t *testing.T) {
	t.Parallel()
	forEachKind(t, []string{servertest.Memory, servertest.SQLite, servertest.Postgres}, func(t *testing.T, env *servertest.Env) {
		r := dial(t, env)
		if env.Kind == servertest.Postgres {
			// Types only SQL can declare: a domain (its base type is the
			// field's), and fields the stream must type by the catalog.
			sql(t, env, `create domain posint as integer check (value > 0)`)
			sql(t, env, `select ankurah.create_collection('typed', '{"pos":"posint","nan":"numeric","ivs":"interval[]","tzs":"timestamptz[]","umood":"enum(''x'',''y'')"}')`)
		}
		coll := protocol.Collection{Name: "typed"}
		for _, w := range wireTypes {
			coll.Fields = append(coll.Fields, protocol.Field{Name: w.field, Type: w.typ})
		}
		var reg struct {
			Collections []protocol.Collection `json:"collections"`
		}
		r.must(protocol.Request{Type: protocol.TypeRegisterSchema, Collections: []protocol.Collection{coll}}, &reg)
		got := map[string]string{}
		for _, f := range reg.Collections[0].Fields {
			got[f.Name] = f.Type
		}
		for _, w := range wireTypes {
			if got[w.field] != w.typ { // the spellings above are canonical
				t.Errorf("registered %s as %q, want %q", w.field, got[w.field], w.typ)
			}
		}
		// Enums compare by declaration order: 'happy' > 'ok' > 'sad'.
		r.subscribe("s", "typed", "mood > 'ok' ORDER BY mood, num")
		values := map[string]any{}
		for _, w := range wireTypes {
			values[w.field] = json.RawMessage(w.in)
		}
		id := r.create("typed", values)
		it := r.waitItems(1)[0]
		if it.Kind != "add" || it.Entity.ID != id {
			t.Fatalf("item %+v", it)
		}
		checkValues(t, "pushed", it.Entity)
		var res protocol.EntitiesResult
		r.must(protocol.Request{Type: protocol.TypeGet, Collection: "typed", IDs: []string{id}}, &res)
		checkValues(t, "get", res.Entities[0])
		// Each type compares: the value finds the entity, a query with
		// another value does not.
		for _, w := range wireTypes {
			if !w.queryByWant {
				continue
			}
			for _, q := range []struct {
				text string
				n    int
			}{{w.field + " = ?", 1}, {w.field + " <> ?", 0}, {w.field + " IN (?, NULL)", 1}, {w.field + " >= ? AND " + w.field + " <= ?", 1}} {
				arg := w.want
				if w.arg != "" {
					arg = w.arg
				}
				args := []json.RawMessage{json.RawMessage(arg)}
				if strings.Count(q.text, "?") == 2 {
					args = append(args, json.RawMessage(arg))
				}
				var fr protocol.EntitiesResult
				err := r.do(protocol.Request{Type: protocol.TypeFetch, Collection: "typed", Query: q.text, Args: args}, &fr)
				if err != nil || len(fr.Entities) != q.n {
					t.Errorf("fetch %s with %s: %d entities, %v; want %d", q.text, arg, len(fr.Entities), err, q.n)
				}
			}
		}
		if env.Kind != servertest.Postgres {
			return
		}
		// A SQL write of the same values reaches the subscriber with the
		// same values.
		var cols, lits []string
		for _, w := range wireTypes {
			cols = append(cols, w.field)
			lits = append(lits, w.sql)
		}
		extra := map[string]string{ // column: SQL literal, and the value every client reads
			"pos": `5|5`, "nan": `'NaN'|"NaN"`, "ivs": `'{"1 day","-1 mon",NULL}'|["P1D","P-1M",null]`,
			"tzs": `'{"2024-01-02 03:04:05+02"}'|["2024-01-02T01:04:05.000000Z"]`, "umood": `'y'|"y"`,
		}
		for c, v := range extra {
			cols = append(cols, c)
			lits = append(lits, strings.Split(v, "|")[0])
		}
		sqlID := sqlID(t, env, fmt.Sprintf("insert into typed (%s) values (%s) returning id", strings.Join(cols, ", "), strings.Join(lits, ", ")))
		items := r.waitItems(2)
		if it := items[1]; it.Entity.ID != sqlID || it.Kind != "add" {
			t.Fatalf("SQL insert: %+v", it)
		}
		checkValues(t, "pushed after a SQL insert", items[1].Entity)
		for c, v := range extra {
			if got, want := string(items[1].Entity.Values[c]), strings.Split(v, "|")[1]; got != want {
				t.Errorf("pushed after a SQL insert: %s = %s, want %s", c, got, want)
			}
		}
		// A SQL write the domain refuses writes nothing; through the API too.
		if _, err := env.DB.Exec(context.Background(), `update typed set pos = 0 where id = $1`, sqlID); err == nil {
			t.Error("the domain's check let 0 in")
		}
		err := r.do(protocol.Request{Type: protocol.TypeCommit, Events: []protocol.Event{{ID: r.next(r.head("typed", sqlID)).String(),
			Collection: "typed", EntityID: sqlID, Parents: r.head("typed", sqlID), Operations: raw(map[string]any{"pos": 0})}}}, nil)
		if err == nil || !strings.Contains(err.Error(), "constraint_violation") {
			t.Errorf("API write the domain refuses: %v, want constraint_violation", err)
		}
		// An update in SQL that moves it out of the query, by enum order.
		sql(t, env, "update typed set mood = 'sad' where id = $1", sqlID)
		if it := r.waitItems(3)[2]; it.Kind != "remove" || val(it.Entity, "mood") != "sad" {
			t.Fatalf("SQL update: %+v", it)
		}
	})
}

func checkValues(t *testing.T, where string, e protocol.Entity) {
	t.Helper()
	var bad []string
	for _, w := range wireTypes {
		if got := string(e.Values[w.field]); got != w.want {
			bad = append(bad, fmt.Sprintf("%s = %s, want %s", w.field, got, w.want))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("%s: %s", where, strings.Join(bad, "; "))
	}
}
