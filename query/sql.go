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
	t     value.Type // colTyped: the value type of the column's field (a ref is text)
	ident string     // the quoted column name (a json column cast to jsonb)
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
	case t.Kind() == value.JSON:
		ident := sqlIdent(f)
		if t.IsJSONText() {
			// json: looked into as jsonb (a repeated key: the last counts).
			ident = "(" + ident + "::jsonb)"
		}
		return column{kind: colJSON, ident: ident, keys: keys}
	case len(keys) > 0:
		return column{}
	case t == value.Ref:
		t = value.Text
	}
	return column{kind: colTyped, t: t.ValueType(), ident: sqlIdent(f)}
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
	l := newLit(v)
	o := " " + op.String() + " "
	if sq, ok := b.numberCompare(c, o, &l); ok {
		return sq
	}
	if c.t.Kind() == value.Array && !arrayComparable(c.t) {
		return mismatch(c, op)
	}
	w, ok := l.typedAs(c.t)
	if !ok {
		return mismatch(c, op)
	}
	return "(" + typedCol(c) + o + b.typedParam(c, w) + ")"
}

// numberCompare translates a comparison of a number column with a number
// literal (see cmpNumbers): bigint with bigint and numeric exactly, numeric
// with any number exactly (a float as its shortest decimal), anything with
// double precision or real as double precision. ok is false when the
// column or the literal is not a number.
func (b *sqlBuilder) numberCompare(c column, o string, l *lit) (string, bool) {
	col := c.ident
	switch c.t {
	case value.Int:
		switch {
		case !l.num:
		case l.v.Type() == value.Int:
			return "(" + col + o + b.param(l.v.Int(), "bigint") + ")", true
		case l.v.Type() == value.Numeric:
			return "(" + col + o + b.param(l.decText, "numeric") + ")", true
		default:
			return "(" + col + "::float8" + o + b.param(l.f, "float8") + ")", true
		}
	case value.Float:
		if l.num {
			return "(" + col + o + b.param(l.f, "float8") + ")", true
		}
	case value.Real:
		if l.num {
			return "(" + col + o + b.param(l.f32, "real") + ")", true
		}
	case value.Numeric:
		if l.num || l.v.Type() == value.Text && l.decText != "" {
			return "(" + col + o + b.param(l.decText, "numeric") + ")", true
		}
	}
	return "", false
}

// typedCol is the SQL expression of a typed column that compares and sorts
// as cmpSame orders its values: text-like columns in the C collation (char
// ignores trailing blanks), real as double precision, arrays as arrays of
// their element's value type.
func typedCol(c column) string {
	switch c.t.Kind() {
	case value.Text, value.Char:
		return c.ident + ` COLLATE "C"`
	case value.Real:
		return c.ident + "::float8"
	case value.Array:
		et := c.t.Elem()
		switch et.Kind() {
		case value.Enum:
			return c.ident
		case value.Text, value.Char:
			return c.ident + "::" + sqlCast(et) + `[] COLLATE "C"`
		}
		return c.ident + "::" + sqlCast(et) + "[]"
	}
	return c.ident
}

// sqlCast is the SQL type of a value type's parameters.
func sqlCast(t value.Type) string {
	switch t.Kind() {
	case value.Text, value.Ref:
		return "text"
	case value.Int:
		return "bigint"
	case value.Float, value.Real:
		return "float8"
	case value.Char:
		return "bpchar"
	case value.Time:
		return "timestamptz"
	}
	return t.Column()
}

// typedParam binds w, a value of column c's value type, as a parameter
// typedCol compares with. An enum's label is bound untyped, so that
// Postgres takes it as the column's enum type (whose name the schema does
// not hold); the other new types travel as their Postgres text input form.
func (b *sqlBuilder) typedParam(c column, w value.Value) string {
	switch k := c.t.Kind(); k {
	case value.Text:
		return b.param(w.Raw(), "text")
	case value.Int:
		return b.param(w.Int(), "bigint")
	case value.Float, value.Real:
		return b.param(w.Float(), "float8")
	case value.Bool:
		return b.param(w.Bool(), "boolean")
	case value.Bytes:
		return b.param(w.Bytes(), "bytea")
	case value.Time:
		return b.param(w.Time(), "timestamptz")
	case value.Enum:
		return b.paramUntyped(w.Raw())
	case value.Array:
		if c.t.Elem().Kind() == value.Enum {
			return b.paramUntyped(w.PGText())
		}
		return b.param(w.PGText(), "text::"+sqlCast(c.t.Elem())+"[]")
	}
	return b.param(w.PGText(), "text::"+sqlCast(c.t))
}

// paramUntyped binds a parameter whose type Postgres infers from where it
// stands.
func (b *sqlBuilder) paramUntyped(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(b.first+len(b.args)-1)
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
	case value.Int, value.Float, value.Real, value.Numeric:
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
		ints, floats []any
		numerics     []string
		reals        []float32
		same         []value.Value // values of the column's value type
	)
	for _, o := range vals {
		v := o.Value
		if v.IsNull() {
			hasNull = true
			continue
		}
		l := newLit(v)
		if c.t.Numeric() {
			switch {
			case c.t == value.Int && v.Type() == value.Int:
				ints = append(ints, v.Int())
			case c.t == value.Numeric && (l.num || v.Type() == value.Text && l.decText != ""),
				c.t == value.Int && v.Type() == value.Numeric:
				numerics = append(numerics, l.decText)
			case c.t == value.Real && l.num:
				reals = append(reals, l.f32)
			case l.num:
				floats = append(floats, l.f)
			}
			continue
		}
		if c.t.Kind() == value.Array && !arrayComparable(c.t) {
			continue
		}
		if w, ok := l.typedAs(c.t); ok {
			same = append(same, w)
		}
	}
	col := c.ident
	if ints != nil {
		terms = append(terms, "("+col+" = ANY("+b.param(int64s(ints), "bigint[]")+"))")
	}
	if numerics != nil {
		terms = append(terms, "("+col+" = ANY("+b.param(numerics, "text[]::numeric[]")+"))")
	}
	if reals != nil {
		terms = append(terms, "("+col+" = ANY("+b.param(reals, "real[]")+"))")
	}
	if floats != nil {
		if c.t != value.Float {
			col += "::float8"
		}
		terms = append(terms, "("+col+" = ANY("+b.param(float64s(floats), "float8[]")+"))")
	}
	switch {
	case same == nil:
	case c.t.Kind() == value.Array:
		// Arrays of arrays do not bind as one parameter: one term each.
		for _, w := range same {
			terms = append(terms, "("+typedCol(c)+" = "+b.typedParam(c, w)+")")
		}
	case c.t.Kind() == value.Enum:
		labels := make([]value.Value, len(same))
		copy(labels, same)
		arr := enumLabelsText(labels)
		terms = append(terms, "("+c.ident+" = ANY("+b.paramUntyped(arr)+"))")
	default:
		texts := make([]string, len(same))
		for i, w := range same {
			texts[i] = w.PGText()
		}
		switch c.t.Kind() {
		case value.Text, value.Bool, value.Bytes, value.Time:
			terms = append(terms, b.anyTyped(c, same))
		default:
			terms = append(terms, "("+typedCol(c)+" = ANY("+b.param(texts, "text[]::"+sqlCast(c.t)+"[]")+"))")
		}
	}
	return terms, hasNull
}

// anyTyped is col = ANY($n) for the kinds pgx binds as typed arrays.
func (b *sqlBuilder) anyTyped(c column, same []value.Value) string {
	var arg any
	switch c.t.Kind() {
	case value.Text:
		xs := make([]string, len(same))
		for i, w := range same {
			xs[i] = w.Raw()
		}
		arg = xs
	case value.Bool:
		xs := make([]bool, len(same))
		for i, w := range same {
			xs[i] = w.Bool()
		}
		arg = xs
	case value.Bytes:
		xs := make([][]byte, len(same))
		for i, w := range same {
			xs[i] = w.Bytes()
		}
		arg = xs
	case value.Time:
		xs := make([]time.Time, len(same))
		for i, w := range same {
			xs[i] = w.Time()
		}
		arg = xs
	}
	return "(" + typedCol(c) + " = ANY(" + b.param(arg, sqlCast(c.t)+"[]") + "))"
}

// enumLabelsText is an array literal of enum labels, bound untyped so that
// Postgres reads it as an array of the column's enum type.
func enumLabelsText(labels []value.Value) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, l := range labels {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('"')
		sb.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(l.Raw()))
		sb.WriteByte('"')
	}
	sb.WriteByte('}')
	return sb.String()
}

func int64s(xs []any) []int64 {
	out := make([]int64, len(xs))
	for i, x := range xs {
		out[i] = x.(int64)
	}
	return out
}

func float64s(xs []any) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x.(float64)
	}
	return out
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
	case c.t == value.Text, c.t == value.Char:
		// A char(n) matches with its padding (bpcharlike), as in memory.
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
		if c.t.Kind() == value.Array && !arrayComparable(c.t) {
			return nil // arrays of json do not order (compareSort)
		}
		return []string{typedCol(c) + dir}
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
