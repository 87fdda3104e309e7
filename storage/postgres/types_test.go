package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/postgres"
	"github.com/ankurah/ankurah-go/value"
)

// typeCase is one field type with a value written twice — through the API
// (a Go value, converted by Conform) and through SQL (a literal) — which
// must give the same stored value and the same event operation.
type typeCase struct {
	field, typ string
	sql        string      // a SQL literal of the value
	api        value.Value // the value an API client writes
	want       string      // the natural JSON both give (in events; rows of json keep their text)
}

func mustV(v value.Value, err error) value.Value {
	if err != nil {
		panic(err)
	}
	return v
}

var pointOne = 0.1 // a variable: Go's constant arithmetic is exact

func typeCases(t testing.TB) []typeCase {
	ty := func(s string) value.Type {
		x, err := value.ParseType(s)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	num := func(s string) value.Value { return mustV(value.NumericOf(s)) }
	txt := func(s string, typ string) value.Value { return mustV(value.FromText(s, ty(typ))) }
	arr := func(typ string, es ...value.Value) value.Value { return mustV(value.ArrayOf(ty(typ), es)) }
	mood := ty("enum('sad', 'ok', 'happy')")
	enum := func(l string) value.Value { return mustV(value.EnumOf(mood, l)) }
	return []typeCase{
		{"small", "smallint", "32767", value.IntOf(32767), `32767`},
		{"i32", "integer", "-2147483648", value.IntOf(-2147483648), `-2147483648`},
		{"big", "bigint", "9223372036854775807", value.IntOf(9223372036854775807), `9223372036854775807`},
		{"num", "numeric", "12345678901234567890.120", num("12345678901234567890.120"), `"12345678901234567890.120"`},
		{"nan", "numeric", "'NaN'", num("NaN"), `"NaN"`},
		{"minf", "numeric", "'-Infinity'", num("-Infinity"), `"-Infinity"`},
		{"price", "numeric(10,2)", "1.005", num("1.005"), `"1.01"`},
		{"r", "real", "0.1", value.FloatOf(0.1), `0.1`},
		{"dbl", "double precision", "0.1::float8 + 0.2", value.FloatOf(pointOne + 0.2), `0.30000000000000004`},
		{"b", "boolean", "true", value.BoolOf(true), `true`},
		{"tx", "text", "'héllo \"x\"'", value.TextOf(`héllo "x"`), `"héllo \"x\""`},
		{"vc", "varchar(5)", "'ab   '", value.TextOf("ab   "), `"ab   "`},
		{"ch", "char(3)", "'a'", value.TextOf("a"), `"a  "`},
		{"u", "uuid", "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", txt("{a0eebc999c0b4ef8bb6d6bb9bd380a11}", "uuid"), `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`},
		{"d", "date", "'2024-02-29'", txt("2024-02-29", "date"), `"2024-02-29"`},
		{"tod", "time(3)", "'12:34:56.7891'", txt("12:34:56.7891", "time"), `"12:34:56.789"`},
		{"tod24", "time", "'24:00'", txt("24:00:00", "time"), `"24:00:00"`},
		{"ts", "timestamp", "'2024-01-02 03:04:05.5'", value.TimestampOf(time.Date(2024, 1, 2, 3, 4, 5, 5e8, time.UTC)), `"2024-01-02T03:04:05.5"`},
		{"tz", "timestamptz", "'2024-01-02 03:04:05.5+02'", value.TimeOf(time.Date(2024, 1, 2, 1, 4, 5, 5e8, time.UTC)), `"2024-01-02T01:04:05.500000Z"`},
		{"iv", "interval", "'1 year 2 mons -3 days 04:05:06.5'", value.IntervalOf(14, -3, 4*3600e6+5*60e6+6.5e6), `"P1Y2M-3DT4H5M6.5S"`},
		{"by", "bytea", `'\x00ff'`, value.BytesOf([]byte{0, 0xff}), `"\\x00ff"`},
		{"js", "json", `'{"b": 1, "a": [true, null]}'`, mustV(value.JSONOf([]byte(`{"b": 1, "a": [true, null]}`))), `{"a":[true,null],"b":1}`},
		{"jb", "jsonb", `'{"n": 1.50}'`, mustV(value.JSONOf([]byte(`{"n":1.50}`))), `{"n":1.50}`},
		{"mood", "enum('sad','ok','happy')", "'ok'", enum("ok"), `"ok"`},
		{"pos", "posint", "5", value.IntOf(5), `5`},
		{"tags", "text[]", `'{"a b","x\"y",NULL,""}'`, arr("text[]", value.TextOf("a b"), value.TextOf(`x"y`), value.NullValue, value.TextOf("")), `["a b","x\"y",null,""]`},
		{"nums", "integer[]", "'{1,NULL,-3}'", arr("integer[]", value.IntOf(1), value.NullValue, value.IntOf(-3)), `[1,null,-3]`},
		{"decs", "numeric(5,2)[]", "'{1.005,2}'", arr("numeric[]", num("1.005"), num("2")), `["1.01","2.00"]`},
		{"moods", "enum('sad','ok','happy')[]", "'{happy,NULL}'", arr("enum('sad', 'ok', 'happy')[]", enum("happy"), value.NullValue), `["happy",null]`},
		{"dates", "date[]", "'{2024-01-02}'", arr("date[]", txt("2024-01-02", "date")), `["2024-01-02"]`},
		{"tzs", "timestamptz[]", "'{\"2024-01-02 03:04:05+02\"}'", arr("timestamptz[]", value.TimeOf(time.Date(2024, 1, 2, 1, 4, 5, 0, time.UTC))), `["2024-01-02T01:04:05.000000Z"]`},
		{"ivs", "interval[]", "'{\"1 day\",\"-1 mon\"}'", arr("interval[]", value.IntervalOf(0, 1, 0), value.IntervalOf(-1, 0, 0)), `["P1D","P-1M"]`},
		{"uuids", "uuid[]", "'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'", arr("uuid[]", txt("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "uuid")), `["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]`},
		{"chars", "char(2)[]", "'{a,bc}'", arr("char(2)[]", value.TextOf("a"), value.TextOf("bc")), `["a ","bc"]`},
	}
}

// newTypedStore creates collection "typed" with a field of every case's
// type (and the domain posint: integer > 0).
func newTypedStore(t *testing.T, cases []typeCase) (*postgres.Store, *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	store := postgres.New(pgtest.Pool(t, url), postgres.Options{})
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, `create domain posint as integer check (value > 0)`); err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, c := range cases {
		fields[c.field] = c.typ
	}
	fj, _ := json.Marshal(fields)
	if _, err := conn.Exec(ctx, `select ankurah.create_collection('typed', $1)`, string(fj)); err != nil {
		t.Fatal(err)
	}
	return store, conn
}

func creation(coll string, ops map[string]value.Value) event.Event {
	id := event.NewID()
	return event.Event{ID: id, Collection: coll, Entity: id, Ops: ops}
}

// Each type round-trips: an API write and a SQL write of the same value
// store the same row value and record the same operation, in the value's
// natural JSON; reading the row, decoding the event and replaying the
// history all give the value back; an edit of each kind does the same.
func TestEveryTypeRoundTrips(t *testing.T) {
	t.Parallel()
	cases := typeCases(t)
	store, conn := newTypedStore(t, cases)
	ctx := context.Background()
	// The SQL writer's session prints values its own way; events must not
	// depend on it (on_write pins the settings that shape to_jsonb).
	if _, err := conn.Exec(ctx, `set extra_float_digits = 0; set intervalstyle = 'sql_standard'; set datestyle = 'SQL, DMY';
		set timezone = 'Asia/Kathmandu'; set bytea_output = 'escape'`); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			// API
			e := creation("typed", map[string]value.Value{c.field: c.api})
			if _, err := store.Commit(ctx, []event.Event{e}); err != nil {
				t.Fatalf("API write: %v", err)
			}
			// SQL
			var sqlID string
			if err := conn.QueryRow(ctx, fmt.Sprintf(`insert into typed (%s) values (%s) returning id`, c.field, c.sql)).Scan(&sqlID); err != nil {
				t.Fatalf("SQL write: %v", err)
			}
			ids := []event.ID{e.ID, event.MustParseID(sqlID)}
			// The events' operations, as stored (jsonb) and as text.
			for _, id := range ids {
				var op string
				if err := conn.QueryRow(ctx, `select (operations -> $2)::text from ankurah.events where id = $1`, id.String(), c.field).Scan(&op); err != nil {
					t.Fatal(err)
				}
				var same bool
				if err := conn.QueryRow(ctx, `select $1::jsonb = $2::jsonb and $1::jsonb::text = $2::jsonb::text`, op, c.want).Scan(&same); err != nil {
					t.Fatal(err)
				}
				if !same {
					t.Errorf("event %s records %s, want %s", id, op, c.want)
				}
			}
			// The rows hold the same value.
			var equal bool
			cast := "::text"
			if c.typ == "json" {
				cast = "::jsonb" // json keeps the text it was given
			}
			if err := conn.QueryRow(ctx, fmt.Sprintf(`select a.%[1]s%[2]s is not distinct from b.%[1]s%[2]s from typed a, typed b where a.id = $1 and b.id = $2`, c.field, cast),
				ids[0].String(), ids[1].String()).Scan(&equal); err != nil {
				t.Fatal(err)
			}
			if !equal {
				t.Errorf("the API row and the SQL row differ")
			}
			// Reads, decoded events and replays give the value.
			states, err := store.Get(ctx, "typed", ids)
			if err != nil || len(states) != 2 {
				t.Fatalf("Get: %v, %d states", err, len(states))
			}
			for i, st := range states {
				got := st.Values[c.field]
				want, _ := value.Decode([]byte(c.want), got.Type())
				if !value.Equal(got, want) || c.typ != "json" && string(got.AppendJSON(nil)) != compact(t, c.want) {
					t.Errorf("row %d reads as %s, want %s", i, got.AppendJSON(nil), c.want)
				}
				hist, err := store.History(ctx, "typed", ids[i])
				if err != nil {
					t.Fatal(err)
				}
				replayed, _, err := entity.Replay("typed", ids[i], hist)
				if err != nil {
					t.Fatal(err)
				}
				if !value.Equal(replayed.Values[c.field], got) {
					t.Errorf("row %d: replaying its history gives %s, the row %s", i, replayed.Values[c.field], got)
				}
			}
			// A query for the value finds both rows.
			var q *query.Query
			if c.typ == "json" || c.typ == "jsonb" {
				q, err = query.Parse(c.field + " IS NOT NULL")
			} else {
				q, err = query.Parse(c.field+" = ? ORDER BY "+c.field, states[0].Values[c.field])
			}
			if err != nil {
				t.Fatal(err)
			}
			found, err := store.Fetch(ctx, "typed", q)
			if err != nil {
				t.Fatalf("Fetch %s: %v", q, err)
			}
			if len(found) != 2 && !slices.Contains([]string{"nan"}, c.field) {
				t.Errorf("Fetch %s found %d rows, want 2", q, len(found))
			}
			// An SQL edit to NULL and back through the API.
			if _, err := conn.Exec(ctx, fmt.Sprintf(`update typed set %s = null where id = $1`, c.field), sqlID); err != nil {
				t.Fatal(err)
			}
			st, _ := store.Get(ctx, "typed", ids[1:])
			edit := event.Event{ID: event.NewID(st[0].Head...), Collection: "typed", Entity: ids[1], Parents: st[0].Head,
				Ops: map[string]value.Value{c.field: c.api}}
			if _, err := store.Commit(ctx, []event.Event{edit}); err != nil {
				t.Fatalf("API edit: %v", err)
			}
			if _, err := conn.Exec(ctx, fmt.Sprintf(`update typed set %[1]s = %[1]s where id = $1`, c.field), sqlID); err != nil {
				t.Fatal(err)
			}
			hist, _ := store.History(ctx, "typed", ids[1])
			if len(hist) != 3 {
				t.Errorf("history of the SQL row: %d events, want 3 (the no-op update records nothing)", len(hist))
			}
		})
	}
}

func compact(t testing.TB, s string) string {
	v, err := value.JSONOf([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v.JSONText()
}

// Values that do not fit their field get coded errors, through the API and
// from Postgres, and nothing is written.
func TestTypeErrorsAreCoded(t *testing.T) {
	t.Parallel()
	cases := typeCases(t)
	store, conn := newTypedStore(t, cases)
	ctx := context.Background()
	for _, sql := range []string{
		`alter table typed add constraint small_not_negative check (small >= 0)`,
		`alter table typed add column gen integer generated always as (i32 * 2) stored`,
		`alter table typed add column nn text not null default 'fallback'`,
		`alter table typed add column seq bigserial`,
		`alter table typed add column created timestamptz not null default now()`,
		`select ankurah.create_collection('typed', '{"gen":"integer","nn":"text","seq":"bigint","created":"timestamptz"}')`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	num := func(s string) value.Value { return mustV(value.NumericOf(s)) }
	bad := []struct {
		field string
		v     value.Value
		code  string
	}{
		{"vc", value.TextOf("toolong"), storage.CodeValueTooLong},
		{"ch", value.TextOf("abcd"), storage.CodeValueTooLong},
		{"small", value.IntOf(40000), storage.CodeOutOfRange},
		{"i32", value.IntOf(1 << 40), storage.CodeOutOfRange},
		{"price", num("123456789"), storage.CodeOutOfRange},
		{"r", value.FloatOf(1e39), storage.CodeOutOfRange},
		{"mood", value.TextOf("meh"), storage.CodeTypeMismatch},
		{"u", value.TextOf("not-a-uuid"), storage.CodeTypeMismatch},
		{"d", value.TextOf("2024-02-30"), storage.CodeTypeMismatch},
		{"nums", value.TextOf("{1,x}"), storage.CodeTypeMismatch},
		{"pos", value.IntOf(0), storage.CodeConstraint},    // the domain's CHECK, from Postgres
		{"small", value.IntOf(-1), storage.CodeConstraint}, // the table's CHECK, from Postgres
		{"gen", value.IntOf(1), storage.CodeReadOnlyField}, // a generated column
		{"nn", value.NullValue, ""},                        // NULL is "unset": the default applies
		{"tz", value.TextOf("10000-01-01T00:00:00Z"), storage.CodeTypeMismatch},
	}
	for _, c := range bad {
		e := creation("typed", map[string]value.Value{c.field: c.v})
		_, err := store.Commit(ctx, []event.Event{e})
		if got := storage.CodeOf(err); got != c.code {
			t.Errorf("%s = %s: code %q (%v), want %q", c.field, c.v, got, err, c.code)
		}
		var n int
		conn.QueryRow(ctx, `select count(*) from ankurah.events where id = $1`, e.ID.String()).Scan(&n)
		if (n == 0) != (c.code != "") {
			t.Errorf("%s = %s: %d events written", c.field, c.v, n)
		}
	}
	// Defaults: an API creation that leaves out a field with a default gets
	// it in the row and in its creation event, so that the history replays
	// to the row; a generated column is read and stays out of events.
	e := creation("typed", map[string]value.Value{"i32": value.IntOf(21)})
	states, err := store.Commit(ctx, []event.Event{e})
	if err != nil {
		t.Fatal(err)
	}
	st := states[0]
	if st.Values["nn"].Text() != "fallback" || st.Values["seq"].IsNull() || st.Values["created"].IsNull() {
		t.Errorf("commit result lacks the defaults: %v", st.Values)
	}
	got, _ := store.Get(ctx, "typed", []event.ID{e.ID})
	if len(got) != 1 || got[0].Values["gen"].Int() != 42 {
		t.Fatalf("generated column not read: %v", got)
	}
	hist, _ := store.History(ctx, "typed", e.ID)
	replayed, _, _ := entity.Replay("typed", e.ID, hist)
	row := maps.Clone(got[0].Values)
	delete(row, "gen")
	if !valuesEqual(replayed.Values, row) {
		t.Errorf("history replays to %v, the row is %v", replayed.Values, row)
	}
	if _, ok := hist[0].Ops["gen"]; ok {
		t.Errorf("a generated column is in the creation event: %v", hist[0].Ops)
	}
	// A SQL update that changes a generated column's input records no
	// generated value either.
	if _, err := conn.Exec(ctx, `update typed set i32 = 22 where id = $1`, e.ID.String()); err != nil {
		t.Fatal(err)
	}
	hist, _ = store.History(ctx, "typed", e.ID)
	if ops := hist[len(hist)-1].Ops; len(ops) != 1 || ops["i32"].Int() != 22 {
		t.Errorf("SQL update recorded %v, want only i32 = 22", ops)
	}
	// SQL writes Ankurah cannot hold are refused with AK002.
	for _, sql := range []string{
		`insert into typed (d) values ('infinity')`,
		`insert into typed (ts) values ('0044-03-15 BC')`,
		`insert into typed (nums) values ('{{1},{2}}')`,
	} {
		_, err := conn.Exec(ctx, sql)
		if got := sqlState(err); got != "AK002" {
			t.Errorf("%s: %s, want AK002", sql, got)
		}
	}
	if _, err := conn.Exec(ctx, `insert into typed (vc) values ('toolong')`); sqlState(err) != "22001" {
		t.Errorf("over-long varchar through SQL: %v", err)
	}
	var errCoded *storage.Error
	_, err = store.Commit(ctx, []event.Event{creation("typed", map[string]value.Value{"vc": value.TextOf("x"), "pos": value.IntOf(-1)})})
	if !errors.As(err, &errCoded) || errCoded.Code != storage.CodeConstraint {
		t.Errorf("domain check through the API: %v", err)
	}
}

func valuesEqual(a, b map[string]value.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !value.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// The two readings of a type's spelling agree: Go's value.ParseType and
// the database's ankurah.normalize_type give the same canonical name, and
// a column created from it maps back to it (ankurah.field_type_of, the
// mapping adoption uses).
func TestTypeNamesAgreeWithSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	spellings := []string{
		"text", "string", "TEXT", " text ", "varchar", "character varying", "varchar(20)", "Character Varying ( 20 )", "char", "character(3)",
		"char(3)", "bpchar", "smallint", "int2", "integer", "int", "int4", "bigint", "int8", "numeric", "decimal", "numeric(10,2)",
		"decimal(5)", "numeric(3,-1)", "numeric(1000,1000)", "real", "float4", "double precision", "double  precision", "float", "float8", "double",
		"boolean", "bool", "bytea", "bytes", "uuid", "date", "time", "time(3)", "time without time zone", "timestamp", "timestamp(0)",
		"timestamp without time zone", "timestamp(6) without time zone", "timestamptz", "timestamptz(3)", "timestamp with time zone",
		"timestamp(2) with time zone", "interval", "interval(4)", "json", "jsonb", "ref", "enum('sad','ok','happy')",
		"ENUM ( 'Sad' , 'it''s ok' )", "enum('a,b', ' x ', 'é')", "integer[]", "text []", "numeric(10,2)[]", "enum('a')[]", "timestamptz(3)[]",
	}
	bad := []string{"", "numeric(0)", "varchar(0)", "time(7)", "enum()", "enum('a','a')", "text[][]", "ref[]", "point", "mood",
		"interval year to month", "integer(4)", "enum('a'", "timetz", "money"}
	for _, s := range spellings {
		ty, err := value.ParseType(s)
		if err != nil {
			t.Errorf("Go refuses %q: %v", s, err)
			continue
		}
		var sqlName string
		if err := conn.QueryRow(ctx, `select ankurah.normalize_type($1)`, s).Scan(&sqlName); err != nil {
			t.Errorf("SQL refuses %q: %v", s, err)
			continue
		}
		if sqlName != ty.String() {
			t.Errorf("%q: Go reads %q, SQL %q", s, ty, sqlName)
		}
	}
	for _, s := range bad {
		_, goErr := value.ParseType(s)
		var sqlName string
		sqlErr := conn.QueryRow(ctx, `select ankurah.normalize_type($1)`, s).Scan(&sqlName)
		if goErr == nil || sqlErr == nil {
			t.Errorf("%q: Go error %v, SQL %q error %v; want both to refuse", s, goErr, sqlName, sqlErr)
		}
	}
	// Columns of every type map back to their field type; a domain to its
	// base, a named enum to its labels.
	if _, err := conn.Exec(ctx, `create domain posint as integer check (value > 0);
		create type mood as enum ('sad', 'ok', 'happy');
		create table cols (a posint, b mood, c mood[], d posint[], e "char")`); err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for i, s := range spellings {
		if s == "ref" {
			continue
		}
		fields[fmt.Sprintf("f%02d", i)] = s
	}
	fj, _ := json.Marshal(fields)
	if _, err := conn.Exec(ctx, `select ankurah.create_collection('every', $1)`, string(fj)); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, `select f.name, f.type, ankurah.field_type_of(a.atttypid, a.atttypmod)
		from ankurah.fields f join pg_attribute a on a.attrelid = 'every'::regclass and a.attname = f.name where f.collection = 'every'`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var name, catalog, column string
		if err := rows.Scan(&name, &catalog, &column); err != nil {
			t.Fatal(err)
		}
		n++
		if catalog != column {
			t.Errorf("field %s (%q): catalog says %q, its column maps to %q", name, fields[name], catalog, column)
		}
	}
	if rows.Err() != nil || n != len(fields) {
		t.Fatalf("%d fields checked, want %d (%v)", n, len(fields), rows.Err())
	}
	for col, want := range map[string]string{"a": "integer", "b": "enum('sad', 'ok', 'happy')", "c": "enum('sad', 'ok', 'happy')[]", "d": "integer[]"} {
		var got string
		if err := conn.QueryRow(ctx, `select ankurah.field_type_of(atttypid, atttypmod) from pg_attribute where attrelid = 'cols'::regclass and attname = $1`, col).Scan(&got); err != nil || got != want {
			t.Errorf("column %s maps to %q (%v), want %q", col, got, err, want)
		}
	}
	if _, err := conn.Exec(ctx, `select ankurah.field_type_of(atttypid, atttypmod) from pg_attribute where attrelid = 'cols'::regclass and attname = 'e'`); sqlState(err) != "AK002" {
		t.Errorf(`"char" column: %v, want AK002`, err)
	}
}
