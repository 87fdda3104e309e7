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
	genKeys     = []string{"a", "b", "n", "s", "o", "x", "A", "é"}
	genPatterns = []string{"a%", "%b", "_", "%", "a\\%b", "%é%", "", "a_b", "9%", "_b%", "%a%", "A%", "caf_", "%\\_%", "__", "Ω"}
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

// Paths the queries use: columns of every type, paths into the JSON column
// (present, absent, through arrays and scalars), and fields with no column.
var genPaths = []string{
	"name", "name", "year", "year", "score", "score", "ok", "blob", "at", "owner", "id",
	"data", "data.a", "data.a", "data.b", "data.n", "data.n", "data.s", "data.o.a", "data.o.n", "data.x", "data.A",
	`data."é"`, "data.a.b", "missing", "name.x", "year.a",
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
	}
	return "" // JSON or absent: anything
}

// value returns a random value: usually of the kind the path expects, often
// of any kind.
func (g *gen) value(path string) any {
	kind := kindFor(path)
	if kind == "" || g.chance(0.3) {
		kind = pickOf(g, []string{"text", "int", "float", "bool", "null", "bytes", "time", "int", "float", "text"})
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
			q.src.WriteString(formatFloat(x))
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
