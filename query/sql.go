package query

import (
	"strconv"
	"strings"
	"time"

	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/value"
)

// SQL is a query translated for one collection table. Every value is a
// parameter; identifiers are quoted; nothing from the query text is spliced.
type SQL struct {
	// Where is a boolean expression: "TRUE" when the query has no predicate.
	Where string
	// OrderBy is the ORDER BY list (without the keywords); it always ends
	// with "id", so the order is total and matches Matcher.Compare.
	OrderBy string
	// Limit is "LIMIT $n", or "" when there is no limit.
	Limit string
	// Args are the values of the parameters $first, $first+1, …
	Args []any
}

// SQL translates a bound query for the table of collection c. Parameters
// are numbered from firstParam (1 when the query's SQL stands alone), so the
// caller can put its own parameters first. Fields not in c's schema have no
// column: they are NULL everywhere, as a missing field is in memory.
func (q *Query) SQL(c schema.Collection, firstParam int) (*SQL, error) {
	if err := q.checkBound(); err != nil {
		return nil, err
	}
	if firstParam < 1 {
		firstParam = 1
	}
	b := &sqlBuilder{types: c.Map(), first: firstParam, keys: map[string]string{}}
	out := &SQL{Where: "TRUE"}
	if q.Where != nil {
		out.Where = b.expr(q.Where)
	}
	var order []string
	for _, k := range q.OrderBy {
		order = append(order, b.sortKey(k)...)
	}
	out.OrderBy = strings.Join(append(order, `"id"`), ", ")
	if q.Limit != nil {
		out.Limit = "LIMIT " + b.param(q.Limit.Value.Int(), "bigint")
	}
	out.Args = b.args
	return out, nil
}

// Select returns a complete statement reading the matching rows of the
// collection's table in tableSchema: id, _head, _versions and the schema's
// fields in schema order, with parameters from $1.
func (q *Query) Select(c schema.Collection, tableSchema string) (string, []any, error) {
	s, err := q.SQL(c, 1)
	if err != nil {
		return "", nil, err
	}
	var b strings.Builder
	b.WriteString(`SELECT "id", "_head", "_versions"`)
	for _, f := range c.Fields {
		b.WriteString(", ")
		b.WriteString(sqlIdent(f.Name))
	}
	b.WriteString(" FROM ")
	b.WriteString(sqlIdent(tableSchema) + "." + sqlIdent(c.Name))
	b.WriteString(" WHERE " + s.Where + " ORDER BY " + s.OrderBy)
	if s.Limit != "" {
		b.WriteString(" " + s.Limit)
	}
	return b.String(), s.Args, nil
}

// sqlIdent quotes a Postgres identifier.
func sqlIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

const sqlNull = "NULL::boolean"

type sqlBuilder struct {
	types map[string]value.Type
	first int
	args  []any
	keys  map[string]string // JSON key → its parameter, bound once
}

func (b *sqlBuilder) param(v any, cast string) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(b.first+len(b.args)-1) + "::" + cast
}

// column is what a path denotes in the table.
type column struct {
	kind  colKind
	t     value.Type // colTyped: the column's type (a ref is text)
	ident string     // the quoted column name
	keys  []string   // colJSON: the object keys of the path
}

type colKind uint8

const (
	colAbsent colKind = iota // no column, or a path into a non-JSON column: NULL
	colTyped
	colJSON // a jsonb expression: the column, or a path into it
)

// column resolves a path against the schema; "id" is the text id column.
func (b *sqlBuilder) column(p Path) column {
	f, keys := p.Field(), p.Keys()
	t, ok := b.types[f]
	if f == "id" {
		t, ok = value.Text, true
	}
	switch {
	case !ok:
		return column{}
	case t == value.JSON:
		return column{kind: colJSON, ident: sqlIdent(f), keys: keys}
	case len(keys) > 0:
		return column{}
	case t == value.Ref:
		t = value.Text
	}
	return column{kind: colTyped, t: t, ident: sqlIdent(f)}
}

// sql returns the column's SQL expression. The keys of a JSON path become
// parameters here, only once the expression is used (Postgres refuses a
// parameter that appears nowhere), and each distinct key only once.
func (b *sqlBuilder) sql(c column) string {
	if len(c.keys) == 0 {
		return c.ident
	}
	expr := c.ident
	for _, k := range c.keys {
		kp, seen := b.keys[k]
		if !seen {
			kp = b.param(k, "text")
			b.keys[k] = kp
		}
		// -> with a text key looks up object fields only; on an array it
		// is NULL, as in memory (paths never index arrays).
		expr += " -> " + kp
	}
	return "(" + expr + ")"
}

func (b *sqlBuilder) expr(e Expr) string {
	switch x := e.(type) {
	case *Bool:
		if x.Value {
			return "TRUE"
		}
		return "FALSE"
	case *And:
		return b.join(x.Terms, " AND ")
	case *Or:
		return b.join(x.Terms, " OR ")
	case *Not:
		return "(NOT " + b.expr(x.X) + ")"
	case *Compare:
		return b.compare(b.column(x.Path), x.Op, x.Value.Value)
	case *Between:
		c := b.column(x.Path)
		s := "(" + b.compare(c, Ge, x.Low.Value) + " AND " + b.compare(c, Le, x.High.Value) + ")"
		return negate(s, x.Not)
	case *In:
		return negate(b.in(b.column(x.Path), x.Values), x.Not)
	case *IsNull:
		return b.isNull(b.column(x.Path), x.Not)
	case *Like:
		return negate(b.like(b.column(x.Path), x.Pattern.Value), x.Not)
	}
	panic("query: unknown expression node") // unreachable
}

func negate(s string, not bool) string {
	if not {
		return "(NOT " + s + ")"
	}
	return s
}

func (b *sqlBuilder) join(terms []Expr, sep string) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = b.expr(t)
	}
	return "(" + strings.Join(parts, sep) + ")"
}

// mismatch is a comparison between types that do not compare: unknown when
// the column is NULL, otherwise false (true for <>).
func mismatch(c column, op Op) string {
	res := "FALSE"
	if op == Ne {
		res = "TRUE"
	}
	return "(CASE WHEN " + c.ident + " IS NULL THEN NULL ELSE " + res + " END)"
}

func (b *sqlBuilder) compare(c column, op Op, v value.Value) string {
	if c.kind == colAbsent || v.IsNull() {
		return sqlNull
	}
	if c.kind == colJSON {
		return b.jsonCompare(c, op, v)
	}
	col, o, vt := c.ident, " "+op.String()+" ", v.Type()
	switch c.t {
	case value.Text:
		if vt == value.Text {
			return "(" + col + ` COLLATE "C"` + o + b.param(v.Text(), "text") + ")"
		}
	case value.Int:
		switch vt {
		case value.Int:
			return "(" + col + o + b.param(v.Int(), "bigint") + ")"
		case value.Float:
			return "(" + col + "::float8" + o + b.param(v.Float(), "float8") + ")"
		}
	case value.Float:
		if vt.Numeric() {
			return "(" + col + o + b.param(v.Float(), "float8") + ")"
		}
	case value.Bool:
		if vt == value.Bool {
			return "(" + col + o + b.param(v.Bool(), "boolean") + ")"
		}
	case value.Bytes:
		if vt == value.Bytes {
			return "(" + col + o + b.param(v.Bytes(), "bytea") + ")"
		}
	case value.Time:
		if t, ok := asTime(v); ok {
			return "(" + col + o + b.param(t, "timestamptz") + ")"
		}
	}
	return mismatch(c, op)
}

// asTime returns the time a value stands for when compared with a
// timestamptz: a time, or RFC 3339 text (see newLit).
func asTime(v value.Value) (time.Time, bool) {
	switch v.Type() {
	case value.Time:
		return v.Time(), true
	case value.Text:
		return parseTime(v.Text())
	}
	return time.Time{}, false
}

// jsonCase wraps a per-JSON-type comparison: NULL for a missing key or JSON
// null, the comparison for the JSON type the literal compares with, and the
// mismatch result for every other type.
func jsonCase(x, jsonType, cmp, otherwise string) string {
	s := "(CASE coalesce(jsonb_typeof(" + x + "), 'null') WHEN 'null' THEN NULL"
	if jsonType != "" {
		s += " WHEN '" + jsonType + "' THEN " + cmp
	}
	return s + " ELSE " + otherwise + " END)"
}

func (b *sqlBuilder) jsonCompare(c column, op Op, v value.Value) string {
	x, o := b.sql(c), " "+op.String()+" "
	otherwise := "FALSE"
	if op == Ne {
		otherwise = "TRUE"
	}
	switch v.Type() {
	case value.Text:
		return jsonCase(x, "string", "("+x+` #>> '{}') COLLATE "C"`+o+b.param(v.Text(), "text"), otherwise)
	case value.Int, value.Float:
		return jsonCase(x, "number", "("+x+")::numeric"+o+b.param(newLit(v).decText, "numeric"), otherwise)
	case value.Bool:
		return jsonCase(x, "boolean", "("+x+")::boolean"+o+b.param(v.Bool(), "boolean"), otherwise)
	}
	return jsonCase(x, "", "", otherwise)
}

// in translates IN as the OR of equalities, which is its three-valued
// meaning; values of the column's own type go into one array parameter.
func (b *sqlBuilder) in(c column, vals []Operand) string {
	if len(vals) == 0 {
		return "FALSE"
	}
	if c.kind == colAbsent {
		return sqlNull
	}
	var terms []string
	hasNull := false
	if c.kind == colJSON {
		for _, o := range vals {
			if o.Value.IsNull() {
				hasNull = true
				continue
			}
			terms = append(terms, b.jsonCompare(c, Eq, o.Value))
		}
	} else {
		terms, hasNull = b.inTyped(c, vals)
	}
	if hasNull {
		terms = append(terms, sqlNull)
	}
	if len(terms) == 0 {
		return mismatch(c, Eq) // every value is of another type
	}
	if len(terms) == 1 {
		return terms[0]
	}
	return "(" + strings.Join(terms, " OR ") + ")"
}

func (b *sqlBuilder) inTyped(c column, vals []Operand) (terms []string, hasNull bool) {
	var (
		texts  []string
		ints   []int64
		floats []float64
		bools  []bool
		bytes  [][]byte
		times  []time.Time
	)
	for _, o := range vals {
		v := o.Value
		vt := v.Type()
		switch {
		case v.IsNull():
			hasNull = true
		case c.t == value.Text && vt == value.Text:
			texts = append(texts, v.Text())
		case c.t == value.Int && vt == value.Int:
			ints = append(ints, v.Int())
		case (c.t == value.Int || c.t == value.Float) && vt.Numeric():
			floats = append(floats, v.Float())
		case c.t == value.Bool && vt == value.Bool:
			bools = append(bools, v.Bool())
		case c.t == value.Bytes && vt == value.Bytes:
			bytes = append(bytes, v.Bytes())
		case c.t == value.Time:
			if t, ok := asTime(v); ok {
				times = append(times, t)
			}
		}
	}
	col := c.ident
	if texts != nil {
		terms = append(terms, "("+col+` COLLATE "C" = ANY(`+b.param(texts, "text[]")+"))")
	}
	if ints != nil {
		terms = append(terms, "("+col+" = ANY("+b.param(ints, "bigint[]")+"))")
	}
	if floats != nil {
		if c.t == value.Int {
			col += "::float8"
		}
		terms = append(terms, "("+col+" = ANY("+b.param(floats, "float8[]")+"))")
	}
	if bools != nil {
		terms = append(terms, "("+col+" = ANY("+b.param(bools, "boolean[]")+"))")
	}
	if bytes != nil {
		terms = append(terms, "("+col+" = ANY("+b.param(bytes, "bytea[]")+"))")
	}
	if times != nil {
		terms = append(terms, "("+col+" = ANY("+b.param(times, "timestamptz[]")+"))")
	}
	return terms, hasNull
}

func (b *sqlBuilder) isNull(c column, not bool) string {
	switch c.kind {
	case colAbsent:
		if not {
			return "FALSE"
		}
		return "TRUE"
	case colJSON:
		op := " = "
		if not {
			op = " <> "
		}
		return "(coalesce(jsonb_typeof(" + b.sql(c) + "), 'null')" + op + "'null')"
	}
	if not {
		return "(" + c.ident + " IS NOT NULL)"
	}
	return "(" + c.ident + " IS NULL)"
}

func (b *sqlBuilder) like(c column, pat value.Value) string {
	switch {
	case c.kind == colAbsent || pat.IsNull():
		return sqlNull
	case c.kind == colJSON:
		x := b.sql(c)
		return jsonCase(x, "string", "("+x+" #>> '{}') LIKE "+b.param(pat.Text(), "text"), "FALSE")
	case c.t == value.Text:
		return "(" + c.ident + " LIKE " + b.param(pat.Text(), "text") + ")"
	}
	return mismatch(c, Eq) // LIKE on a non-text column
}

// sortKey translates one ORDER BY item into the SQL sort expressions that
// order as compareSort does. A path without a column sorts nothing.
func (b *sqlBuilder) sortKey(k SortKey) []string {
	dir := " ASC NULLS LAST"
	if k.Desc {
		dir = " DESC NULLS FIRST"
	}
	c := b.column(k.Path)
	switch c.kind {
	case colAbsent:
		return nil
	case colTyped:
		if c.t == value.Text {
			return []string{c.ident + ` COLLATE "C"` + dir}
		}
		return []string{c.ident + dir}
	}
	x := b.sql(c)
	typeIs := func(t string) string { return "CASE WHEN jsonb_typeof(" + x + ") = '" + t + "' THEN " }
	return []string{
		"CASE jsonb_typeof(" + x + ") WHEN 'string' THEN 1 WHEN 'number' THEN 2 WHEN 'boolean' THEN 3 WHEN 'array' THEN 4 WHEN 'object' THEN 5 END" + dir,
		"(" + typeIs("string") + x + ` #>> '{}' END) COLLATE "C"` + dir,
		typeIs("number") + "(" + x + ")::numeric END" + dir,
		typeIs("boolean") + "(" + x + ")::boolean END" + dir,
	}
}
