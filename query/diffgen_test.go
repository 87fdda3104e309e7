package query

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/ankurah/ankurah-go/value"
)

// gen makes random tables and queries for the differential test. Value
// domains are small on purpose, so that equalities hit, sort keys repeat
// and every cross-type case (9 against '9', NaN, -0, JSON null, missing
// keys, arrays in the way of a path) turns up often.
type gen struct {
	r   *rand.Rand
	ids []string
}

func newRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }

func (g *gen) pick(n int) int { return g.r.IntN(n) }

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func pickOf[T any](g *gen, xs []T) T { return xs[g.r.IntN(len(xs))] }

var (
	genTexts = []string{"", "a", "A", "b", "B", "ab", "aB", "a%b", "a_b", "abc", "é", "Ω", "日本", "z", "Z",
		"9", "10", "true", `a\b`, "it's", " a", "a ", "%", "_", "café", `a"b`}
	genInts   = []int64{-5, -2, -1, 0, 1, 2, 3, 5, 9, 10, 100, 2000, 2001, 1<<53 + 1, -1 << 62, math.MaxInt64}
	genFloats = []float64{-1.5, math.Copysign(0, -1), 0, 0.1, 1, 2, 2.5, 9, 9.5, 10, 15, 100, 1e300, -1e300,
		math.NaN(), math.Inf(1), math.Inf(-1), 5e-324, 9007199254740992}
	genBytes = [][]byte{{}, {0}, {0, 1}, {1}, {0xff}, []byte("a"), []byte("ab")}
	genTimes = []time.Time{
		time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2030, 6, 1, 0, 0, 0, 1000, time.UTC),
	}
	genJSONNumbers = []string{"9", "9.0", "9.5", "10", "-2", "0", "-0", "1e2", "0.1", "1.5E1", "100", "2",
		"12345678901234567890", "-0.0", "2.50"}
	genJSONStrings = []string{`"9"`, `"10"`, `"a"`, `"abc"`, `""`, `"A"`, `"caf\u00e9"`, `"é"`, `"a\"b"`,
		`"true"`, `"%"`, `"a%b"`, `"b"`}
	genKeys = []string{"a", "b", "n", "s", "o", "x", "A", "é"}
	// The types beyond the first eight: small domains, with values that
	// are equal across forms (1 mon = 30 days = 720 h, 1.5 = 1.50).
	genNumerics = []string{"0", "0.0", "1", "1.0", "1.5", "1.50", "-1.5", "2.5", "9", "9.99", "10", "100", "2001",
		"9007199254740993", "12345678901234567890.123", "-0.001", "0.1", "NaN", "Infinity", "-Infinity"}
	genInts32 = []int64{-5, -2, 0, 1, 2, 9, 10, 2001, 32767, -32768, 2147483647}
	genReals  = []float32{0.1, 1.5, -2, 0, 9.5, 10, 16777216, 1e30, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	genVC     = []string{"", "a", "ab", "B", "é", "a ", "abc", "a%b", "ab c"}
	genChars  = []string{"", "a", "a  ", "ab", " a", "B", "é", "a_", "%"}
	genUUIDs  = []string{"00000000-0000-0000-0000-000000000000", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12", "ffffffff-ffff-ffff-ffff-ffffffffffff", "0a0eebc9-9c0b-4ef8-bb6d-6bb9bd380a11"}
	genDates     = []string{"2024-01-02", "1999-12-31", "2000-02-29", "0001-01-01", "9999-12-31", "2024-01-03"}
	genClocks    = []string{"00:00:00", "12:30:00", "12:30:00.5", "23:59:59.999999", "24:00:00", "03:04:05"}
	genStamps    = []string{"2024-01-02T03:04:05", "2024-01-02T03:04:05.5", "1999-12-31T23:59:59", "2030-06-01T00:00:00.000001", "0001-01-01T00:00:00", "2024-01-02T00:00:00"}
	genIntervals = []string{"P1M", "P30D", "PT720H", "P1D", "PT24H", "PT-1S", "PT0S", "P1Y", "P-1M", "PT1.5S", "P1M-1D", "P29DT24H"}
	genLabels    = []string{"sad", "ok", "happy"}
	genTagSets   = [][]string{{}, {"a"}, {"a", "b"}, {"b"}, {"a", "<null>"}, {"B", "a"}, {"a", "b", "c"}}
	genIntSets   = [][]int64{{}, {1}, {1, 2}, {2}, {1, 2, 3}, {-1}, {1, 3}}
	genPatterns  = []string{"a%", "%b", "_", "%", "a\\%b", "%é%", "", "a_b", "9%", "_b%", "%a%", "A%", "caf_", "%\\_%", "__", "Ω"}
)

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// id returns a random ULID-shaped id (deterministic under the seed).
func (g *gen) id() string {
	b := []byte("01")
	for len(b) < 26 {
		b = append(b, crockford[g.pick(32)])
	}
	return string(b)
}

// rows returns n random rows of testSchema; most columns are NULL sometimes.
func (g *gen) rows(n int) []rec {
	g.ids = nil
	for range n {
		g.ids = append(g.ids, g.id())
	}
	out := make([]rec, n)
	for i := range out {
		r := rec{"id": value.TextOf(g.ids[i])}
		set := func(f string, v value.Value) {
			if !g.chance(0.15) {
				r[f] = v
			}
		}
		set("name", value.TextOf(pickOf(g, genTexts)))
		set("year", value.IntOf(pickOf(g, genInts)))
		set("score", value.FloatOf(pickOf(g, genFloats)))
		set("ok", value.BoolOf(g.chance(0.5)))
		set("blob", value.BytesOf(pickOf(g, genBytes)))
		set("at", value.TimeOf(pickOf(g, genTimes)))
		if g.chance(0.5) {
			set("owner", value.RefOf(pickOf(g, g.ids)))
		} else {
			set("owner", value.RefOf(pickOf(g, genTexts)))
		}
		if js := g.jsonTop(); js != "" {
			r["data"] = jsonv(js)
		}
		// The types beyond the first eight, converted as storage converts
		// them (numeric(10,2) rounds, char(3) pads, real rounds), so that
		// memory holds what Postgres stores.
		typed := func(f string, v value.Value) {
			if g.chance(0.15) {
				return
			}
			ft, _ := testSchema.Field(f)
			c, err := value.Convert(v, ft.Type)
			if err != nil {
				panic(fmt.Sprintf("%s: %v: %v", f, v, err))
			}
			r[f] = c
		}
		typed("num", numv(pickOf(g, genNumerics)))
		if p := pickOf(g, genNumerics); !strings.ContainsAny(p, "NI") && len(p) < 10 {
			typed("price", numv(p))
		}
		typed("small", value.IntOf(pickOf(g, genInts32)%30000))
		typed("i32", value.IntOf(pickOf(g, genInts32)))
		typed("r", value.RealOf(pickOf(g, genReals)))
		typed("vc", value.TextOf(pickOf(g, genVC)))
		typed("ch", value.TextOf(pickOf(g, genChars)))
		typed("u", value.TextOf(pickOf(g, genUUIDs)))
		typed("d", value.TextOf(pickOf(g, genDates)))
		typed("tod", value.TextOf(pickOf(g, genClocks)))
		typed("ts", value.TextOf(pickOf(g, genStamps)))
		typed("iv", value.TextOf(pickOf(g, genIntervals)))
		if js := g.jsonTop(); js != "" && js != "null" {
			typed("js", jsonv(js))
		}
		typed("mood", value.TextOf(pickOf(g, genLabels)))
		typed("tags", g.tagArray())
		typed("nums", g.intArray())
		typed("moods", g.moodArray())
		out[i] = r
	}
	return out
}

// jsonTop returns a document for the data column ("" for SQL NULL).
func (g *gen) jsonTop() string {
	switch x := g.r.Float64(); {
	case x < 0.08:
		return ""
	case x < 0.12:
		return "null"
	case x < 0.17:
		return g.jsonArray(1)
	case x < 0.22:
		return g.jsonScalar()
	}
	return g.jsonObject(0)
}

func (g *gen) jsonObject(depth int) string {
	n := g.pick(6)
	parts := make([]string, 0, n)
	for range n {
		k := pickOf(g, genKeys)
		var v string
		switch x := g.r.Float64(); {
		case x < 0.15 && depth < 2:
			v = g.jsonObject(depth + 1)
		case x < 0.22:
			v = g.jsonArray(depth + 1)
		default:
			v = g.jsonScalar()
		}
		parts = append(parts, strconv.Quote(k)+":"+v)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func (g *gen) jsonArray(depth int) string {
	n := g.pick(3)
	parts := make([]string, n)
	for i := range parts {
		if depth < 2 && g.chance(0.2) {
			parts[i] = g.jsonArray(depth + 1)
		} else {
			parts[i] = g.jsonScalar()
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func (g *gen) jsonScalar() string {
	switch x := g.r.Float64(); {
	case x < 0.4:
		return pickOf(g, genJSONNumbers)
	case x < 0.8:
		return pickOf(g, genJSONStrings)
	case x < 0.9:
		return strconv.FormatBool(g.chance(0.5))
	}
	return "null"
}

// Paths the queries use: columns of every type, paths into the JSON
// columns (present, absent, through arrays and scalars), and fields with
// no column.
var genPaths = []string{
	"name", "name", "year", "year", "score", "score", "ok", "blob", "at", "owner", "id",
	"data", "data.a", "data.a", "data.b", "data.n", "data.n", "data.s", "data.o.a", "data.o.n", "data.x", "data.A",
	`data."é"`, "data.a.b", "missing", "name.x", "year.a",
	"num", "num", "price", "small", "i32", "r", "vc", "ch", "ch", "u", "d", "tod", "ts", "iv", "iv",
	"js", "js.a", "js.n", "mood", "mood", "tags", "nums", "moods", "d.x",
}

func numv(s string) value.Value {
	v, err := value.NumericOf(s)
	if err != nil {
		panic(err)
	}
	return v
}

var genMood = mustType("enum('sad', 'ok', 'happy')")

func (g *gen) tagArray() value.Value {
	tags := pickOf(g, genTagSets)
	es := make([]value.Value, len(tags))
	for i, t := range tags {
		es[i] = value.TextOf(t)
		if t == "<null>" { // a NULL element
			es[i] = value.NullValue
		}
	}
	v, _ := value.ArrayOf(mustType("text[]"), es)
	return v
}

func (g *gen) intArray() value.Value {
	ns := pickOf(g, genIntSets)
	es := make([]value.Value, len(ns))
	for i, n := range ns {
		es[i] = value.IntOf(n)
		if n == 3 && g.chance(0.5) {
			es[i] = value.NullValue
		}
	}
	v, _ := value.ArrayOf(mustType("integer[]"), es)
	return v
}

func (g *gen) moodArray() value.Value {
	n := g.pick(3)
	es := make([]value.Value, n)
	for i := range es {
		if g.chance(0.15) {
			continue
		}
		es[i], _ = value.EnumOf(genMood, pickOf(g, genLabels))
	}
	v, _ := value.ArrayOf(mustType("enum('sad', 'ok', 'happy')[]"), es)
	return v
}

// query returns a random query text and its arguments.
type genQuery struct {
	src  strings.Builder
	args []any
}

func (g *gen) query() (string, []any) {
	q := &genQuery{}
	if !g.chance(0.05) {
		g.expr(q, 0)
	}
	if g.chance(0.6) {
		q.src.WriteString(" ORDER BY ")
		n := 1 + g.pick(3)
		for i := range n {
			if i > 0 {
				q.src.WriteString(", ")
			}
			q.src.WriteString(pickOf(g, genPaths))
			switch g.pick(3) {
			case 1:
				q.src.WriteString(" DESC")
			case 2:
				q.src.WriteString(" asc")
			}
		}
	}
	if g.chance(0.4) {
		if g.chance(0.3) {
			q.src.WriteString(" LIMIT ?")
			q.args = append(q.args, g.pick(15))
		} else {
			fmt.Fprintf(&q.src, " LIMIT %d", g.pick(15))
		}
	}
	return q.src.String(), q.args
}

func (g *gen) expr(q *genQuery, depth int) {
	if depth >= 4 || g.chance(0.35) {
		g.leaf(q)
		return
	}
	switch g.pick(4) {
	case 0, 1:
		op := " AND "
		if g.chance(0.5) {
			op = " OR "
		}
		n := 2 + g.pick(2)
		q.src.WriteByte('(')
		for i := range n {
			if i > 0 {
				q.src.WriteString(op)
			}
			g.expr(q, depth+1)
		}
		q.src.WriteByte(')')
	case 2:
		q.src.WriteString("NOT ")
		q.src.WriteByte('(')
		g.expr(q, depth+1)
		q.src.WriteByte(')')
	default:
		g.expr(q, depth+1)
	}
}

func (g *gen) leaf(q *genQuery) {
	path := pickOf(g, genPaths)
	switch x := g.r.Float64(); {
	case x < 0.04:
		q.src.WriteString(pickOf(g, []string{"TRUE", "FALSE"}))
	case x < 0.45:
		q.src.WriteString(path + " " + pickOf(g, []string{"=", "!=", "<>", "<", "<=", ">", ">="}) + " ")
		g.operand(q, path)
	case x < 0.62:
		q.src.WriteString(path)
		if g.chance(0.4) {
			q.src.WriteString(" NOT")
		}
		q.src.WriteString(" IN (")
		if g.chance(0.25) {
			q.src.WriteString("?")
			q.args = append(q.args, g.list(path))
		} else {
			n := 1 + g.pick(4)
			for i := range n {
				if i > 0 {
					q.src.WriteString(", ")
				}
				g.operand(q, path)
			}
		}
		q.src.WriteString(")")
	case x < 0.72:
		q.src.WriteString(path + pickOf(g, []string{" IS NULL", " IS NOT NULL"}))
	case x < 0.84:
		q.src.WriteString(path + pickOf(g, []string{" BETWEEN ", " NOT BETWEEN "}))
		g.operand(q, path)
		q.src.WriteString(" AND ")
		g.operand(q, path)
	default:
		q.src.WriteString(path + pickOf(g, []string{" LIKE ", " NOT LIKE "}))
		switch {
		case g.chance(0.05):
			q.src.WriteString("NULL")
		case g.chance(0.3):
			q.src.WriteString("?")
			q.args = append(q.args, pickOf(g, genPatterns))
		default:
			q.src.WriteString(quoteString(pickOf(g, genPatterns)))
		}
	}
}

// kindFor returns the kind of value that usually makes sense for a path.
func kindFor(path string) string {
	switch {
	case path == "name" || path == "owner" || path == "id":
		return "text"
	case path == "year":
		return "int"
	case path == "score":
		return "float"
	case path == "ok":
		return "bool"
	case path == "blob":
		return "bytes"
	case path == "at":
		return "time"
	case path == "num" || path == "price":
		return "numeric"
	case path == "small" || path == "i32":
		return "int"
	case path == "r":
		return "float"
	case path == "vc" || path == "ch":
		return "text"
	case path == "u", path == "d", path == "tod", path == "ts", path == "iv", path == "mood", path == "tags", path == "nums", path == "moods":
		return path
	}
	return "" // JSON or absent: anything
}

// value returns a random value: usually of the kind the path expects, often
// of any kind.
func (g *gen) value(path string) any {
	kind := kindFor(path)
	if kind == "" || g.chance(0.3) {
		kind = pickOf(g, []string{"text", "int", "float", "bool", "null", "bytes", "time", "int", "float", "text",
			"numeric", "numeric", "u", "d", "tod", "ts", "iv", "mood", "tags", "nums"})
	}
	if v, ok := g.newKindValue(kind); ok {
		return v
	}
	switch kind {
	case "text":
		switch {
		case path == "id" || path == "owner" || g.chance(0.05):
			if g.chance(0.7) && len(g.ids) > 0 {
				return pickOf(g, g.ids)
			}
		case path == "at" || g.chance(0.05):
			return pickOf(g, genTimes).Format(time.RFC3339Nano)
		}
		return pickOf(g, genTexts)
	case "int":
		return pickOf(g, genInts)
	case "float":
		return pickOf(g, genFloats)
	case "bool":
		return g.chance(0.5)
	case "bytes":
		return pickOf(g, genBytes)
	case "time":
		return pickOf(g, genTimes)
	}
	return nil
}

// newKindValue returns a value of the kinds beyond the first eight: as a
// value.Value, or (as a client sends it) in its text form, sometimes in
// another spelling of the same value, sometimes text that is no such value.
func (g *gen) newKindValue(kind string) (any, bool) {
	text := g.chance(0.5)
	pick := func(xs []string, t value.Type) any {
		s := pickOf(g, xs)
		if text {
			if g.chance(0.1) {
				return s + "x" // not a value of the type
			}
			return s
		}
		v, err := value.FromText(s, t)
		if err != nil {
			panic(err)
		}
		return v
	}
	switch kind {
	case "numeric":
		switch g.pick(4) {
		case 0:
			return numv(pickOf(g, genNumerics)), true
		case 1:
			return pickOf(g, genNumerics), true // numeric text
		case 2:
			return pickOf(g, genInts), true
		}
		return pickOf(g, genFloats), true
	case "u":
		return pick(genUUIDs, value.UUID), true
	case "d":
		return pick(genDates, value.Date), true
	case "tod":
		return pick(genClocks, value.TimeOfDay), true
	case "ts":
		if g.chance(0.2) {
			return pickOf(g, genTimes), true // a time.Time: an instant, read as UTC
		}
		return pick(genStamps, value.Timestamp), true
	case "iv":
		return pick(genIntervals, value.Interval), true
	case "mood":
		if g.chance(0.15) {
			return "meh", true // not a label
		}
		if text {
			return pickOf(g, genLabels), true
		}
		v, _ := value.EnumOf(genMood, pickOf(g, genLabels))
		return v, true
	case "tags", "moods":
		if text {
			return pickOf(g, []string{"{}", "{a}", "{a,b}", "{b}", "{a,NULL}", "{B,a}", "{sad,ok}", "{happy}", "{x"}), true
		}
		if kind == "moods" {
			return g.moodArray(), true
		}
		return g.tagArray(), true
	case "nums":
		if text {
			return pickOf(g, []string{"{}", "{1}", "{1,2}", "{2}", "{1,NULL}", "{1,2,3}", "{1.5}", "{a}"}), true
		}
		return g.intArray(), true
	}
	return nil, false
}

// operand writes a value as a literal or as a ? with an argument. Values
// without a literal form (bytes, times, non-finite floats) are always ?.
func (g *gen) operand(q *genQuery, path string) {
	v := g.value(path)
	literal := g.chance(0.7)
	switch x := v.(type) {
	case nil:
		if literal {
			q.src.WriteString("NULL")
			return
		}
	case string:
		if literal {
			q.src.WriteString(quoteString(x))
			return
		}
	case int64:
		if literal {
			q.src.WriteString(strconv.FormatInt(x, 10))
			return
		}
	case float64:
		if literal && !math.IsNaN(x) && !math.IsInf(x, 0) {
			q.src.WriteString(formatFloat(x)) // a decimal literal: a numeric
			return
		}
	case value.Value:
		if literal && x.Type() == value.Numeric && !strings.ContainsAny(x.Raw(), "NI") {
			q.src.WriteString(formatNumeric(x.Raw()))
			return
		}
	case bool:
		if literal {
			q.src.WriteString(strings.ToUpper(strconv.FormatBool(x)))
			return
		}
	}
	q.src.WriteString("?")
	q.args = append(q.args, v)
}

// list returns a slice for IN (?): typed or mixed, sometimes empty.
func (g *gen) list(path string) any {
	n := g.pick(5)
	switch g.pick(4) {
	case 0:
		xs := []string{}
		for range n {
			if s, ok := g.value("name").(string); ok {
				xs = append(xs, s)
			}
		}
		if path == "id" || path == "owner" {
			for range n {
				xs = append(xs, pickOf(g, g.ids))
			}
		}
		return xs
	case 1:
		xs := []int64{}
		for range n {
			xs = append(xs, pickOf(g, genInts))
		}
		return xs
	case 2:
		xs := []float64{}
		for range n {
			xs = append(xs, pickOf(g, genFloats))
		}
		return xs
	}
	xs := []any{}
	for range n {
		xs = append(xs, g.value(path))
	}
	return xs
}
