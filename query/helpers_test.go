package query

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ankurah/ankurah-go/value"
)

// dump renders a query's tree without byte offsets, independently of
// String, so that tests can compare trees: two texts mean the same query
// exactly when their dumps are equal.
func dump(q *Query) string {
	var b strings.Builder
	b.WriteString("where=")
	if q.Where == nil {
		b.WriteString("nil")
	} else {
		dumpExpr(&b, q.Where)
	}
	if q.OrderBy != nil {
		b.WriteString(" order=[")
		for i, k := range q.OrderBy {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(dumpPath(k.Path))
			if k.Desc {
				b.WriteString(" desc")
			} else {
				b.WriteString(" asc")
			}
		}
		b.WriteString("]")
	}
	if q.Limit != nil {
		b.WriteString(" limit=" + dumpOperand(*q.Limit))
	}
	return b.String()
}

func dumpExpr(b *strings.Builder, e Expr) {
	neg := func(not bool, s string) string {
		if not {
			return "not" + s
		}
		return s
	}
	switch x := e.(type) {
	case *Bool:
		fmt.Fprintf(b, "%v", x.Value)
	case *And, *Or:
		terms, name := []Expr(nil), "and"
		if a, ok := x.(*And); ok {
			terms = a.Terms
		} else {
			terms, name = x.(*Or).Terms, "or"
		}
		b.WriteString("(" + name)
		for _, t := range terms {
			b.WriteByte(' ')
			dumpExpr(b, t)
		}
		b.WriteByte(')')
	case *Not:
		b.WriteString("(not ")
		dumpExpr(b, x.X)
		b.WriteByte(')')
	case *Compare:
		fmt.Fprintf(b, "(%s %s %s)", x.Op, dumpPath(x.Path), dumpOperand(x.Value))
	case *In:
		b.WriteString("(" + neg(x.Not, "in") + " " + dumpPath(x.Path))
		for _, o := range x.Values {
			b.WriteString(" " + dumpOperand(o))
		}
		b.WriteByte(')')
	case *IsNull:
		fmt.Fprintf(b, "(%s %s)", neg(x.Not, "isnull"), dumpPath(x.Path))
	case *Between:
		fmt.Fprintf(b, "(%s %s %s %s)", neg(x.Not, "between"), dumpPath(x.Path), dumpOperand(x.Low), dumpOperand(x.High))
	case *Like:
		fmt.Fprintf(b, "(%s %s %s)", neg(x.Not, "like"), dumpPath(x.Path), dumpOperand(x.Pattern))
	default:
		fmt.Fprintf(b, "<%T>", e)
	}
}

func dumpPath(p Path) string {
	parts := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		parts[i] = strconv.Quote(s)
	}
	return strings.Join(parts, ".")
}

func dumpOperand(o Operand) string {
	if o.Param != 0 {
		return fmt.Sprintf("?%d", o.Param)
	}
	v := o.Value
	switch v.Type() {
	case value.Null:
		return "null"
	case value.Text:
		return "text:" + strconv.Quote(v.Text())
	case value.Int:
		return "int:" + strconv.FormatInt(v.Int(), 10)
	case value.Float:
		f := v.Float()
		if math.Signbit(f) && f == 0 {
			return "float:-0"
		}
		return "float:" + strconv.FormatFloat(f, 'g', -1, 64)
	case value.Bool:
		return "bool:" + strconv.FormatBool(v.Bool())
	}
	return v.Type().String() + ":" + v.String()
}

// rec is a test record: values by field, id included.
type rec map[string]value.Value

func (r rec) Get(f string) value.Value { return r[f] }

func jsonv(s string) value.Value {
	v, err := value.JSONOf([]byte(s))
	if err != nil {
		panic(err)
	}
	return v
}
