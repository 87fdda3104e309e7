package query

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/ankurah/ankurah-go/value"
)

// Record is what a query is evaluated against: an entity's values by field.
// Get("id") returns the entity id as text; a field the entity lacks returns
// NULL (the zero value.Value). *entity.State implements it.
type Record interface {
	Get(field string) value.Value
}

// tri is a truth value of SQL's three-valued logic.
type tri uint8

const (
	tFalse tri = iota
	tTrue
	tNull // unknown
)

func triOf(b bool) tri {
	if b {
		return tTrue
	}
	return tFalse
}

func (t tri) not() tri {
	switch t {
	case tTrue:
		return tFalse
	case tFalse:
		return tTrue
	}
	return tNull
}

// pred is a compiled predicate.
type pred func(Record) tri

// Matcher is a query compiled for evaluation in memory. Compile once per
// query; Match and Compare then allocate nothing for plain fields and JSON
// paths (unescaping a JSON string that has backslash escapes allocates).
// A Matcher is safe for concurrent use.
type Matcher struct {
	where pred
	keys  []sortKey
	limit int64 // -1: none
}

type sortKey struct {
	acc  accessor
	desc bool
}

// Compile compiles a bound query into a Matcher. It fails only when
// placeholders are still unbound.
func (q *Query) Compile() (*Matcher, error) {
	if err := q.checkBound(); err != nil {
		return nil, err
	}
	m := &Matcher{limit: -1}
	if q.Where != nil {
		m.where = compile(q.Where)
	}
	for _, k := range q.OrderBy {
		m.keys = append(m.keys, sortKey{acc: newAccessor(k.Path), desc: k.Desc})
	}
	if q.Limit != nil {
		m.limit = q.Limit.Value.Int()
	}
	return m, nil
}

func (q *Query) checkBound() error {
	if q.unbound > 0 {
		return errorf(CodeBadArgument, q.firstQ, "%s (?) but no value for %s", plural(q.unbound, "the query has one placeholder", "the query has %d placeholders"), plural(q.unbound, "it", "them"))
	}
	return nil
}

// Match reports whether the record satisfies the predicate (unknown is not a match).
func (m *Matcher) Match(r Record) bool {
	return m.where == nil || m.where(r) == tTrue
}

// Compare orders two records by the query's sort keys, then by ascending
// id: negative when a sorts first. It is a total order for distinct ids.
func (m *Matcher) Compare(a, b Record) int {
	for i := range m.keys {
		k := &m.keys[i]
		ia, ib := k.acc.resolve(a), k.acc.resolve(b)
		if c := compareSort(&ia, &ib); c != 0 {
			if k.desc {
				return -c
			}
			return c
		}
	}
	ida, idb := a.Get("id"), b.Get("id")
	return cmp.Compare(ida.Raw(), idb.Raw())
}

// Limit returns the query's LIMIT, if it has one.
func (m *Matcher) Limit() (int64, bool) { return m.limit, m.limit >= 0 }

// Apply returns the records of rs that match, sorted, cut to the limit: the
// in-memory equivalent of running the query's SQL. rs is not modified.
func Apply[R Record](m *Matcher, rs []R) []R {
	var out []R
	for _, r := range rs {
		if m.Match(r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b R) int { return m.Compare(a, b) })
	if m.limit >= 0 && int64(len(out)) > m.limit {
		out = out[:m.limit]
	}
	return out
}

func compile(e Expr) pred {
	switch x := e.(type) {
	case *Bool:
		t := triOf(x.Value)
		return func(Record) tri { return t }
	case *And:
		terms := compileAll(x.Terms)
		return func(r Record) tri {
			res := tTrue
			for _, t := range terms {
				switch t(r) {
				case tFalse:
					return tFalse
				case tNull:
					res = tNull
				}
			}
			return res
		}
	case *Or:
		terms := compileAll(x.Terms)
		return func(r Record) tri {
			res := tFalse
			for _, t := range terms {
				switch t(r) {
				case tTrue:
					return tTrue
				case tNull:
					res = tNull
				}
			}
			return res
		}
	case *Not:
		inner := compile(x.X)
		return func(r Record) tri { return inner(r).not() }
	case *Compare:
		return compileCompare(x)
	case *In:
		acc := newAccessor(x.Path)
		lits := make([]lit, len(x.Values))
		for i, o := range x.Values {
			lits[i] = newLit(o.Value)
		}
		neg := x.Not
		return func(r Record) tri {
			it := acc.resolve(r)
			res := tFalse
			for i := range lits {
				t := test(Eq, &it, &lits[i])
				if t == tTrue {
					res = tTrue
					break
				}
				if t == tNull {
					res = tNull
				}
			}
			if neg {
				return res.not()
			}
			return res
		}
	case *IsNull:
		acc := newAccessor(x.Path)
		neg := x.Not
		return func(r Record) tri {
			it := acc.resolve(r)
			return triOf(it.null() != neg)
		}
	case *Between:
		acc := newAccessor(x.Path)
		lo, hi := newLit(x.Low.Value), newLit(x.High.Value)
		neg := x.Not
		return func(r Record) tri {
			it := acc.resolve(r)
			res := and3(test(Ge, &it, &lo), test(Le, &it, &hi))
			if neg {
				return res.not()
			}
			return res
		}
	case *Like:
		acc := newAccessor(x.Path)
		pat := x.Pattern.Value
		toks, _ := compileLike(pat.Text())
		neg := x.Not
		return func(r Record) tri {
			it := acc.resolve(r)
			if it.null() || pat.IsNull() {
				return tNull
			}
			s, ok := textOf(&it)
			res := triOf(ok && matchLike(toks, s))
			if neg {
				return res.not()
			}
			return res
		}
	}
	panic("query: unknown expression node") // unreachable: the parser builds only the nodes above
}

func compileAll(es []Expr) []pred {
	out := make([]pred, len(es))
	for i, e := range es {
		out[i] = compile(e)
	}
	return out
}

func compileCompare(x *Compare) pred {
	acc := newAccessor(x.Path)
	l := newLit(x.Value.Value)
	op := x.Op
	if len(acc.keys) == 0 {
		// The common case, a plain field: compare the value where it
		// lies, without going through an item.
		field := acc.field
		return func(r Record) tri {
			v := r.Get(field)
			if v.Type() == value.JSON {
				it := acc.resolve(r)
				return test(op, &it, &l)
			}
			c, o := compareValue(&v, &l)
			return apply(op, c, o)
		}
	}
	return func(r Record) tri {
		it := acc.resolve(r)
		return test(op, &it, &l)
	}
}

func and3(a, b tri) tri {
	switch {
	case a == tFalse || b == tFalse:
		return tFalse
	case a == tNull || b == tNull:
		return tNull
	}
	return tTrue
}

// plural picks one or many, formatting many with n when it has a verb.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	if strings.Contains(many, "%d") {
		return fmt.Sprintf(many, n)
	}
	return many
}
