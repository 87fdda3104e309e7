package query

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/value"
)

// The semantic cases pin docs/query-language.md: each query with the ids it
// must return, in order. They run in memory always, and in Postgres when
// TEST_DATABASE_URL is set, so both executions are checked against the
// documented answer, not only against each other.

func sid(n string) string { return "01H000000000000000000000" + n } // 26-char ULIDs: R1 < R2 < …

var semRows = []rec{
	{"id": value.TextOf(sid("R1")), "name": value.TextOf("Origin of Symmetry"), "year": value.IntOf(2001), "score": value.FloatOf(9.5), "ok": value.BoolOf(true),
		"blob": value.BytesOf([]byte{0, 1}), "at": value.TimeOf(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)), "owner": value.RefOf(sid("R2")),
		"data": jsonv(`{"number":9,"text":"9","licensing":{"rights":{"holder":"Label A"}},"tags":["x"],"esc":"caf\u00e9 \"q\""}`)},
	{"id": value.TextOf(sid("R2")), "name": value.TextOf("OK Computer"), "year": value.IntOf(1997), "score": value.FloatOf(10), "ok": value.BoolOf(false),
		"blob": value.BytesOf([]byte{0xff}), "data": jsonv(`{"number":"9","text":"abc","n":10}`)},
	{"id": value.TextOf(sid("R3")), "name": value.TextOf("Kid A"), "year": value.IntOf(2000), "score": value.FloatOf(math.NaN()),
		"data": jsonv(`{"number":9.5,"n":9,"b":true}`)},
	{"id": value.TextOf(sid("R4"))},
	{"id": value.TextOf(sid("R5")), "name": value.TextOf("kid a"), "year": value.IntOf(2000), "score": value.FloatOf(math.Copysign(0, -1)),
		"data": jsonv(`{"number":10,"text":null,"n":"10","b":false}`)},
	{"id": value.TextOf(sid("R6")), "name": value.TextOf("Ωmega"), "year": value.IntOf(3), "score": value.FloatOf(2), "data": jsonv(`[1,2]`)},
	{"id": value.TextOf(sid("R7")), "name": value.TextOf("a%b"), "year": value.IntOf(9007199254740993), "score": value.FloatOf(math.Inf(1)),
		"data": jsonv(`{"number":9.0,"dup":1,"dup":2,"n":1e2}`)},
}

// The types beyond the first eight, in R1–R3 (see typedRows).
func init() {
	typed := []map[string]string{
		{"num": "1.0", "small": "2", "r": "0.1", "ch": "a", "u": "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "d": "2024-02-29",
			"tod": "24:00", "ts": "2024-01-02 03:04:05", "iv": "P1M", "mood": "happy", "tags": "{a,NULL}", "nums": "{1,2}"},
		{"num": "12345678901234567890.49", "small": "-1", "r": "1.5", "ch": "b  ", "u": "00000000-0000-0000-0000-000000000000",
			"d": "1999-12-31", "tod": "09:00", "ts": "2024-01-02T03:04:05.5", "iv": "PT720H", "mood": "sad", "tags": "{a}", "nums": "{1,NULL}"},
		{"num": "NaN", "mood": "ok", "iv": "P29DT24H", "tags": "{}", "nums": "{}"},
	}
	for i, fields := range typed {
		for f, text := range fields {
			ft, _ := testSchema.Field(f)
			v, err := value.ParsePGText(text, ft.Type)
			if err == nil {
				v, err = value.Convert(v, ft.Type)
			}
			if err != nil {
				panic(fmt.Sprintf("%s %q: %v", f, text, err))
			}
			semRows[i][f] = v
		}
	}
}

var semCases = []struct {
	src  string
	args []any
	want string // ids R1…R7, space-separated, in result order
}{
	{`name = 'Kid A'`, nil, "R3"},
	{`name = 9`, nil, ""},
	{`name <> 9`, nil, "R1 R2 R3 R5 R6 R7"},
	{`NOT (name = 'Kid A')`, nil, "R1 R2 R5 R6 R7"},
	{`name > 'Z'`, nil, "R5 R6 R7"}, // bytewise: lower case after upper case
	{`year IS NULL`, nil, "R4"},
	{`missing IS NULL`, nil, "R1 R2 R3 R4 R5 R6 R7"},
	{`missing = 1`, nil, ""},
	{`NOT (missing = 1)`, nil, ""},
	{`missing IS NOT NULL OR NOT (missing <> 1)`, nil, ""},
	{`year = 2000.0`, nil, "R3 R5"},
	{`year > 1999.5`, nil, "R1 R3 R5 R7"},
	{`year = 9007199254740993`, nil, "R7"},
	{`year = 9007199254740992`, nil, ""},
	{`year = 9007199254740992.0`, nil, ""},               // a decimal literal is an exact numeric
	{`year = 9007199254740993.0`, nil, "R7"},             // … which bigint meets exactly
	{`year = ?`, []any{float64(9007199254740992)}, "R7"}, // bigint meets double precision as double precision
	{`year > 99999999999999999999`, nil, ""},             // beyond 64 bits: a numeric too
	{`year < 99999999999999999999 AND year > 9007199254740992.5`, nil, "R7"},
	{`score = 10`, nil, "R2"},
	// The types beyond the first eight (docs/types.md).
	{`num = 1`, nil, "R1"},                                      // bigint meets numeric exactly: 1 = 1.0
	{`num IN (1, 2) AND small = 2.0`, nil, "R1"},                // and numeric meets smallint
	{`num > 12345678901234567890.4 ORDER BY num`, nil, "R2 R3"}, // exact; NaN above every number
	{`num = ?`, []any{"1.00"}, "R1"},                            // text in numeric form
	{`r = 0.1`, nil, "R1"},                                      // a real compares at real precision
	{`ch = 'a'`, nil, "R1"},                                     // char(3): trailing blanks do not count…
	{`ch LIKE 'a'`, nil, ""},                                    // … except to LIKE
	{`u = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'`, nil, "R1"},
	{`u = '{A0EEBC999C0B4EF8BB6D6BB9BD380A11}'`, nil, "R1"}, // any form Postgres reads
	{`d < '2000-01-01'`, nil, "R2"},
	{`tod > '12:00' ORDER BY tod DESC`, nil, "R1"}, // 24:00:00 is the last time of day
	{`ts > '2024-01-02T03:04:05'`, nil, "R2"},
	{`ts = ?`, []any{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}, "R1"}, // an instant, as its UTC wall clock
	{`iv = 'P30D'`, nil, "R1 R2 R3"},                                     // 1 mon = 30 days = 720 h = 29 days 24 h
	{`iv > 'P29D' ORDER BY iv, id`, nil, "R1 R2 R3"},
	{`mood > 'ok'`, nil, "R1"}, // declaration order: sad < ok < happy
	{`mood IS NOT NULL ORDER BY mood`, nil, "R2 R3 R1"},
	{`mood = 'meh'`, nil, ""}, // not a label: another type
	{`mood <> 'meh'`, nil, "R1 R2 R3"},
	{`tags = '{a,NULL}'`, nil, "R1"}, // arrays by their text
	{`tags > '{a}'`, nil, "R1"},      // a NULL element is above every value
	{`nums IS NOT NULL ORDER BY nums DESC`, nil, "R2 R1 R3"},
	{`score = 0`, nil, "R5"},          // -0 = 0
	{`score > 9`, nil, "R1 R2 R3 R7"}, // NaN is above everything
	{`score < 100`, nil, "R1 R2 R5 R6"},
	{`score = ?`, []any{math.NaN()}, "R3"}, // NaN = NaN, as in Postgres
	{`score IN (?)`, []any{[]float64{math.Inf(1), 2}}, "R6 R7"},
	{`ok = TRUE`, nil, "R1"},
	{`ok < TRUE`, nil, "R2"},
	{`ok = 1`, nil, ""},
	{`blob > ?`, []any{[]byte{1}}, "R2"},
	{`blob < ?`, []any{[]byte{0, 1, 0}}, "R1"},
	{`at = '2024-01-02T03:04:05Z'`, nil, "R1"},
	{`at = '2024-01-02T04:04:05+01:00'`, nil, "R1"},
	{`at > ?`, []any{time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}, "R1"},
	{`at = 'yesterday'`, nil, ""},
	{`at <> 'yesterday'`, nil, "R1"},
	{`owner = ?`, []any{sid("R2")}, "R1"},
	{`id = ?`, []any{sid("R3")}, "R3"},
	{`id > ? ORDER BY id DESC`, []any{sid("R5")}, "R7 R6"},
	{`id IN (?)`, []any{[]string{sid("R2"), sid("R6"), "nope"}}, "R2 R6"},
	// JSON: typed, numeric, missing keys are NULL.
	{`data.number = 9`, nil, "R1 R7"},
	{`data.number = '9'`, nil, "R2"},
	{`data.number <> 9`, nil, "R2 R3 R5"},
	{`data.number < 10`, nil, "R1 R3 R7"},
	{`data.number BETWEEN 9 AND 9.5`, nil, "R1 R3 R7"},
	{`data.n = 100`, nil, "R7"}, // 1e2
	{`data.n IN (9, 10)`, nil, "R2 R3"},
	{`data.text < 9`, nil, ""},
	{`NOT (data.text < 9)`, nil, "R1 R2"},
	{`data.text IS NULL`, nil, "R3 R4 R5 R6 R7"},
	{`data.licensing.rights.holder = 'Label A'`, nil, "R1"},
	{`data.licensing.rights.holder.x IS NULL`, nil, "R1 R2 R3 R4 R5 R6 R7"},
	{`data.dup = 2`, nil, "R7"}, // the last of repeated keys wins
	{`data.tags IS NOT NULL`, nil, "R1"},
	{`data.tags = 'x'`, nil, ""},
	{`data.b = TRUE`, nil, "R3"},
	{`data.b < TRUE`, nil, "R5"},
	{`data.esc = 'café "q"'`, nil, "R1"},
	{`data.esc LIKE 'caf_ %'`, nil, "R1"},
	{`data = 5`, nil, ""},
	{`data IS NULL`, nil, "R4"},
	{`name.x IS NULL`, nil, "R1 R2 R3 R4 R5 R6 R7"},
	// LIKE
	{`name LIKE 'K%'`, nil, "R3"},
	{`name LIKE '%a'`, nil, "R5 R6"},
	{`name LIKE '_mega'`, nil, "R6"}, // _ is one character, Ω is two bytes
	{`name LIKE 'a\%b'`, nil, "R7"},
	{`name LIKE 'a\_b'`, nil, ""},
	{`name NOT LIKE '%a%'`, nil, "R1 R2 R3"},
	{`year LIKE '2%'`, nil, ""},
	{`NOT (year LIKE '2%')`, nil, "R1 R2 R3 R5 R6 R7"},
	// IN, BETWEEN
	{`name IN ('Kid A', 'kid a', 5)`, nil, "R3 R5"},
	{`name NOT IN ('Kid A', NULL)`, nil, ""},
	{`name IN (5)`, nil, ""},
	{`NOT (name IN (5))`, nil, "R1 R2 R3 R5 R6 R7"},
	{`year IN (2000, 1997.0)`, nil, "R2 R3 R5"},
	{`year IN (?)`, []any{[]int{}}, ""},
	{`year NOT IN (?)`, []any{[]int{}}, "R1 R2 R3 R4 R5 R6 R7"},
	{`year BETWEEN 1997 AND 2000`, nil, "R2 R3 R5"},
	{`year NOT BETWEEN 1997 AND 2000`, nil, "R1 R6 R7"},
	// Ordering: NULLs last ascending, first descending; id breaks ties.
	{`ORDER BY name`, nil, "R3 R2 R1 R7 R5 R6 R4"},
	{`ORDER BY name DESC`, nil, "R4 R6 R5 R7 R1 R2 R3"},
	{`ORDER BY score`, nil, "R5 R6 R1 R2 R7 R3 R4"},
	{`ORDER BY year DESC LIMIT 3`, nil, "R4 R7 R1"},
	{`ORDER BY year, name DESC`, nil, "R6 R2 R5 R3 R1 R7 R4"},
	{`ORDER BY data.number`, nil, "R2 R1 R7 R3 R5 R4 R6"},
	{`ORDER BY data.number DESC`, nil, "R4 R6 R5 R3 R1 R7 R2"},
	{`ORDER BY data`, nil, "R6 R1 R2 R3 R5 R7 R4"}, // array before objects
	{`ORDER BY missing DESC, ok`, nil, "R2 R1 R3 R4 R5 R6 R7"},
	{`year >= 2000 ORDER BY year DESC, id DESC LIMIT 2`, nil, "R7 R1"},
	{`LIMIT 0`, nil, ""},
	{``, nil, "R1 R2 R3 R4 R5 R6 R7"},
	{`TRUE AND NOT FALSE`, nil, "R1 R2 R3 R4 R5 R6 R7"},
}

func checkSemantic(t *testing.T, run func(q *Query) ([]string, error)) {
	t.Helper()
	for _, c := range semCases {
		q, err := Parse(c.src, c.args...)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.src, err)
			continue
		}
		ids, err := run(q)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		short := make([]string, len(ids))
		for i, id := range ids {
			short[i] = strings.TrimPrefix(id, sid(""))
		}
		if got := strings.Join(short, " "); got != c.want {
			t.Errorf("%s %v\n got [%s]\nwant [%s]", c.src, c.args, got, c.want)
		}
	}
}

func TestSemanticsInMemory(t *testing.T) {
	t.Parallel()
	checkSemantic(t, func(q *Query) ([]string, error) {
		m, err := q.Compile()
		if err != nil {
			return nil, err
		}
		return evalIDs(m, semRows), nil
	})
}

func TestSemanticsInPostgres(t *testing.T) {
	t.Parallel()
	pool := openDB(t)
	createTable(t, pool, testSchema, semRows)
	checkSemantic(t, func(q *Query) ([]string, error) {
		stmt, args, err := selectIDs(q, testSchema)
		if err != nil {
			return nil, err
		}
		rows, err := pool.Query(context.Background(), stmt, args...)
		if err != nil {
			return nil, err
		}
		return readIDs(rows)
	})
}
