package query

import (
	"cmp"
	"strings"

	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/value"
)

// SQLAfter translates q for the table of collection c like SQL does, except
// that Where also requires a row to sort strictly after the record `after`
// in q's order: it selects exactly the rows x that match q and have
// m.Compare(x, after) > 0 for q's Matcher m. It is a tuple cursor, for
// paging on from a row or refilling a LIMIT window from the window's last
// member without reading what comes before. OrderBy and the parameter
// numbering are as in SQL, the cursor's parameters following q's; Limit is
// always empty (q's LIMIT is left out): the caller sets the page size.
//
// The cursor condition expands the sort keys lexicographically,
//
//	k1 after v1 OR (k1 = v1 AND (k2 after v2 OR (k2 = v2 AND … id > v_id)))
//
// over the very expressions ORDER BY sorts by, each with its direction and
// with NULL greater than every value (so "after" includes or excludes NULLs
// explicitly). A row-value comparison (k1, k2) > (v1, v2) is not used: it is
// wrong with mixed directions and with NULLs. `after`'s sort values are
// computed in Go, as Compare computes them, and bound as parameters. A JSON
// path key is two comparisons: its JSON type rank (string < number <
// boolean < array < object), then the value of that type (arrays and objects
// have none). A value of another type than the column's — impossible for a
// stored row, possible for a hand-made record — orders as Compare orders
// mixed types. The result is exact for every query and every record.
//
// For indexes: when the first key is descending (or is the id), the range
// it implies (k1 <= v1, or id >= v) is added as a conjunct, so an index on
// that key is scanned from `after` on. No ORDER BY means the cursor is
// "id" > v, a primary-key range.
func (q *Query) SQLAfter(c schema.Collection, after Record, firstParam int) (*SQL, error) {
	noLimit := *q
	noLimit.Limit = nil
	s, err := noLimit.SQL(c, firstParam)
	if err != nil {
		return nil, err
	}
	if firstParam < 1 {
		firstParam = 1
	}
	// A second builder, numbering on after q's parameters. (It binds JSON
	// keys again rather than sharing q's: a few extra parameters.)
	b := &sqlBuilder{types: c.Map(), first: firstParam + len(s.Args), keys: map[string]string{}}
	var steps []cursorStep
	for _, k := range q.OrderBy {
		steps = append(steps, b.cursorSteps(k, after)...)
	}
	cur := b.cursor(steps, after.Get("id").Raw(), true)
	if s.Where == "TRUE" {
		s.Where = cur
	} else {
		s.Where = "(" + s.Where + " AND " + cur + ")"
	}
	s.Args = append(s.Args, b.args...)
	return s, nil
}

// cursorStep is one comparison of the lexicographic cursor: a row's sort
// expression against after's value for it.
type cursorStep struct {
	kind stepKind
	desc bool
	// expr returns the row's sort expression (without direction). It binds
	// the expression's parameters, so it is called only when the expression
	// goes into the SQL.
	expr func() string
	// value returns after's value as a parameter (stepValue).
	value func() string
	// sign is how every non-NULL row compares with after (stepConst).
	sign int
	// notNull: the expression is the id, never NULL in a row.
	notNull bool
}

type stepKind uint8

const (
	stepValue stepKind = iota // after's value is not NULL: compare with it
	stepNull                  // after's value is NULL (greater than every value)
	stepConst                 // after's value is not NULL and every non-NULL row compares with it as sign; NULL rows are greater
)

// cursorSteps returns the comparisons of one sort key: none, one, or two
// for a JSON path (type rank, then value).
func (b *sqlBuilder) cursorSteps(k SortKey, after Record) []cursorStep {
	acc := newAccessor(k.Path)
	it := acc.resolve(after)
	// The expressions ORDER BY uses (sortKey), without their direction:
	// one for a typed column, four for a JSON path (rank, string, number,
	// boolean), none for a path without a column.
	exprs := func() []string {
		es := b.sortKey(SortKey{Path: k.Path})
		for i := range es {
			es[i] = strings.TrimSuffix(es[i], " ASC NULLS LAST")
		}
		return es
	}
	expr := func(i int, suffix string) func() string {
		return func() string { return exprs()[i] + suffix }
	}
	param := func(v any, cast string) func() string {
		return func() string { return b.param(v, cast) }
	}
	one := func(s cursorStep) []cursorStep {
		s.desc = k.Desc
		return []cursorStep{s}
	}
	col := b.column(k.Path)
	switch col.kind {
	case colAbsent:
		// Every row is NULL here: equal to a NULL, greater than anything else.
		if it.null() {
			return nil
		}
		return one(cursorStep{kind: stepConst, sign: 1})
	case colTyped:
		switch {
		case it.null():
			return one(cursorStep{kind: stepNull, expr: expr(0, "")})
		case it.kind != jMissing:
			// A JSON value against typed rows: typed values sort first.
			return one(cursorStep{kind: stepConst, sign: -1, expr: expr(0, "")})
		}
		v, t := it.v, col.t
		switch vt := v.Type(); {
		case k.Path.Field() == "id" && vt == value.Text:
			return one(cursorStep{kind: stepValue, expr: expr(0, ""), value: param(v.Text(), "text"), notNull: true})
		case vt == t:
			if t.Kind() == value.Array && !arrayComparable(t) {
				return nil // arrays of json do not order: no sort key
			}
			return one(cursorStep{kind: stepValue, expr: expr(0, ""), value: func() string { return b.typedParam(col, v) }})
		case t.Numeric() && vt.Numeric():
			// Compare orders mixed numbers as double precision.
			suffix := "::float8"
			if t == value.Float || t == value.Real { // typedCol casts a real already
				suffix = ""
			}
			return one(cursorStep{kind: stepValue, expr: expr(0, suffix), value: param(v.Float(), "float8")})
		default:
			// Other mixed types order by type (compareSort).
			return one(cursorStep{kind: stepConst, sign: cmp.Compare(int64(t), int64(vt)), expr: expr(0, "")})
		}
	}
	// A JSON path.
	switch {
	case it.null():
		return one(cursorStep{kind: stepNull, expr: expr(0, "")})
	case it.kind == jMissing:
		// A typed value against JSON rows: typed values sort first.
		return one(cursorStep{kind: stepConst, sign: 1, expr: expr(0, "")})
	}
	steps := one(cursorStep{kind: stepValue, expr: expr(0, ""), value: param(int64(sortRank(&it)), "bigint")})
	// Rows of the same JSON type as after's have that type's expression
	// set and the other two NULL, so only it needs comparing.
	var sub cursorStep
	switch it.kind {
	case jString:
		s, _ := jsonString(it.raw)
		sub = cursorStep{kind: stepValue, expr: expr(1, ""), value: param(s, "text")}
	case jNumber:
		sub = cursorStep{kind: stepValue, expr: expr(2, ""), value: param(it.raw, "numeric")}
	case jBool:
		sub = cursorStep{kind: stepValue, expr: expr(3, ""), value: param(it.raw[0] == 't', "boolean")}
	default:
		return steps // arrays, objects: all equal
	}
	sub.desc = k.Desc
	return append(steps, sub)
}

// cursor renders steps[0:] followed by the id tie-break: "after" on the
// first step, or equal on it and after on the rest. SQL text that binds
// parameters is never dropped once built (Postgres refuses a parameter that
// appears nowhere), so constants are folded only before building. top marks
// the outermost call.
func (b *sqlBuilder) cursor(steps []cursorStep, id string, top bool) string {
	if len(steps) == 0 {
		return `("id" COLLATE "C" > ` + b.param(id, "text") + ")"
	}
	st := steps[0]
	if st.kind == stepConst {
		// Not equal to any row: the rest never decides.
		rowAfter := st.sign > 0 // a non-NULL row sorts after, ascending
		if st.desc {
			rowAfter = !rowAfter
		}
		switch {
		case !st.desc && rowAfter:
			return "TRUE" // NULL rows are after too
		case !st.desc:
			return "(" + st.expr() + " IS NULL)"
		case rowAfter:
			return "(" + st.expr() + " IS NOT NULL)" // NULL rows come first descending
		}
		return "FALSE"
	}
	e := st.expr()
	var v, after, eq string
	if st.kind == stepNull {
		eq = "(" + e + " IS NULL)"
		if st.desc {
			after = "(" + e + " IS NOT NULL)"
		}
	} else {
		v = st.value()
		eq = "(" + e + " = " + v + ")"
		switch {
		case st.desc:
			after = "(" + e + " < " + v + ")"
		case st.notNull:
			after = "(" + e + " > " + v + ")"
		default:
			after = "(" + e + " > " + v + " OR " + e + " IS NULL)"
		}
	}
	rest := b.cursor(steps[1:], id, false)
	if after == "" { // nothing sorts after a NULL ascending
		return "(" + eq + " AND " + rest + ")"
	}
	s := "(" + after + " OR (" + eq + " AND " + rest + "))"
	// Implied by s, but a range that an index on the first key can scan
	// from `after` on, instead of from the start. (Ascending, rows with a
	// NULL key come after every value: no such range unless the key is the id.)
	switch {
	case top && v != "" && st.desc:
		s = "(" + e + " <= " + v + " AND " + s + ")"
	case top && v != "" && st.notNull:
		s = "(" + e + " >= " + v + " AND " + s + ")"
	}
	return s
}
