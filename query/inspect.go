package query

import (
	"strings"

	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/value"
)

// Equalities returns the top-level AND-ed equality and IN conjuncts on plain
// (non-JSON-path) fields: field → the values it must equal one of. It is
// what an index of subscriptions needs: an entity can match the query only
// if, for every field listed, its value equals one of the listed values
// under the query's comparison rules (so an index must treat 2000 and
// 2000.0 alike). When a field is constrained by several conjuncts, the
// first is returned; any one of them is a necessary condition. NULL values
// are left out, as they never match; a field whose list ends up empty means
// the query matches nothing. Unbound placeholders and NOT IN contribute
// nothing. The result is nil when there are no such conjuncts.
func (q *Query) Equalities() map[string][]value.Value {
	var terms []Expr
	switch w := q.Where.(type) {
	case nil:
		return nil
	case *And:
		terms = w.Terms
	default:
		terms = []Expr{w}
	}
	var out map[string][]value.Value
	add := func(p Path, ops []Operand) {
		if len(p.Steps) != 1 {
			return
		}
		if _, seen := out[p.Field()]; seen {
			return
		}
		vals := []value.Value{}
		for _, o := range ops {
			if o.Param != 0 {
				return
			}
			if !o.Value.IsNull() {
				vals = append(vals, o.Value)
			}
		}
		if out == nil {
			out = map[string][]value.Value{}
		}
		out[p.Field()] = vals
	}
	for _, t := range terms {
		switch x := t.(type) {
		case *Compare:
			if x.Op == Eq {
				add(x.Path, []Operand{x.Value})
			}
		case *In:
			if !x.Not {
				add(x.Path, x.Values)
			}
		}
	}
	return out
}

// Fields returns the fields the query reads (in the predicate and the sort
// keys), each once, in order of first appearance. "id" is included when
// the query names it.
func (q *Query) Fields() []string {
	var out []string
	seen := map[string]bool{}
	visitPaths(q, func(p Path) {
		if f := p.Field(); !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	})
	return out
}

// Check reports, as an *Error with CodeUnknownField at the path's offset
// (with Field and the collection's Fields set), the first field that
// collection c does not have. Evaluation and SQL accept such fields (they
// are NULL); Check is for callers who would rather reject a query that
// names a field by mistake, e.g. the Go client against a typed model.
func (q *Query) Check(c schema.Collection) error {
	var err *Error
	visitPaths(q, func(p Path) {
		if _, ok := c.Field(p.Field()); err == nil && !ok && p.Field() != "id" {
			fields := []string{"id"}
			for _, f := range c.Fields {
				fields = append(fields, f.Name)
			}
			err = errorf(CodeUnknownField, p.Pos, "collection %s has no field %s; its fields are %s", c.Name, quoteIdent(p.Field()), strings.Join(fields, ", "))
			err.Field, err.Fields = p.Field(), fields
		}
	})
	if err == nil {
		return nil
	}
	return err
}

func visitPaths(q *Query, fn func(Path)) {
	var walk func(Expr)
	walk = func(e Expr) {
		switch x := e.(type) {
		case *And:
			for _, t := range x.Terms {
				walk(t)
			}
		case *Or:
			for _, t := range x.Terms {
				walk(t)
			}
		case *Not:
			walk(x.X)
		case *Compare:
			fn(x.Path)
		case *In:
			fn(x.Path)
		case *IsNull:
			fn(x.Path)
		case *Between:
			fn(x.Path)
		case *Like:
			fn(x.Path)
		}
	}
	if q.Where != nil {
		walk(q.Where)
	}
	for _, k := range q.OrderBy {
		fn(k.Path)
	}
}
