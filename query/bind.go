package query

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ankurah/ankurah-go/value"
)

// Bind returns a copy of q with its ? placeholders replaced, in order, by
// args. It needs exactly one argument per ?. Accepted Go types:
//
//	nil, *T (nil is NULL)      NULL, or what T gives
//	string (and string kinds)  text
//	intN, uintN (and kinds)    bigint (uint64 above 2^63-1 is an error)
//	float32, float64           double precision
//	bool                       boolean
//	[]byte                     bytea
//	time.Time                  timestamptz (truncated to microseconds)
//	value.Value                itself (a ref is text; jsonb is refused)
//	any other slice or array   only in IN (?): expands to its elements
//
// Strings must be valid UTF-8 without NUL characters, as Postgres text is.
func (q *Query) Bind(args ...any) (*Query, error) {
	if len(args) == 0 && q.unbound == 0 {
		return q, nil // nothing to bind; queries are immutable
	}
	if len(args) != q.unbound {
		if q.unbound == 0 && q.params > 0 {
			return nil, errorf(CodeBadArgument, -1, "query is already bound; got %d more arguments", len(args))
		}
		return nil, errorf(CodeBadArgument, -1, "%s (?) but %s given", map[bool]string{true: "the query has no placeholders", false: plural(q.unbound, "the query has one placeholder", "the query has %d placeholders")}[q.unbound == 0], plural(len(args), "one value was", "%d values were"))
	}
	b := binder{args: args}
	out := &Query{params: q.params, OrderBy: q.OrderBy}
	if q.Where != nil {
		w, err := b.expr(q.Where)
		if err != nil {
			return nil, err
		}
		out.Where = w
	}
	if q.Limit != nil {
		l, err := b.scalar(*q.Limit)
		if err != nil {
			return nil, err
		}
		if l.Value.Type() != value.Int || l.Value.Int() < 0 {
			return nil, errorf(CodeBadArgument, l.Pos, "LIMIT ? needs a non-negative integer, got %s", l.Value)
		}
		out.Limit = &l
	}
	return out, nil
}

// binder walks a query, copying the nodes that hold placeholders.
type binder struct{ args []any }

func (b *binder) expr(e Expr) (Expr, error) {
	switch x := e.(type) {
	case *And:
		terms, err := b.terms(x.Terms)
		return &And{Terms: terms}, err
	case *Or:
		terms, err := b.terms(x.Terms)
		return &Or{Terms: terms}, err
	case *Not:
		y, err := b.expr(x.X)
		return &Not{X: y, Pos: x.Pos}, err
	case *Compare:
		v, err := b.scalar(x.Value)
		return &Compare{Path: x.Path, Op: x.Op, Value: v}, err
	case *Between:
		lo, err := b.scalar(x.Low)
		if err != nil {
			return nil, err
		}
		hi, err := b.scalar(x.High)
		return &Between{Path: x.Path, Not: x.Not, Low: lo, High: hi}, err
	case *Like:
		pat, err := b.scalar(x.Pattern)
		if err == nil {
			err = checkPattern(pat)
		}
		return &Like{Path: x.Path, Not: x.Not, Pattern: pat}, err
	case *In:
		in := &In{Path: x.Path, Not: x.Not, Values: make([]Operand, 0, len(x.Values))}
		for _, o := range x.Values {
			if o.Param == 0 {
				in.Values = append(in.Values, o)
				continue
			}
			vals, err := convertList(b.args[o.Param-1], o.Param, o.Pos)
			if err != nil {
				return nil, err
			}
			for _, v := range vals {
				in.Values = append(in.Values, Operand{Value: v, Pos: o.Pos})
			}
		}
		return in, nil
	}
	return e, nil // *Bool, *IsNull: nothing to bind
}

func (b *binder) terms(ts []Expr) ([]Expr, error) {
	out := make([]Expr, len(ts))
	for i, t := range ts {
		x, err := b.expr(t)
		if err != nil {
			return nil, err
		}
		out[i] = x
	}
	return out, nil
}

func (b *binder) scalar(o Operand) (Operand, error) {
	if o.Param == 0 {
		return o, nil
	}
	v, list, err := convert(b.args[o.Param-1], o.Param, o.Pos)
	if err != nil {
		return o, err
	}
	if list {
		return o, errorf(CodeBadArgument, o.Pos, "argument %d is a %T; a list is only allowed as IN (?)", o.Param, b.args[o.Param-1])
	}
	return Operand{Value: v, Pos: o.Pos}, nil
}

// convertList converts an IN (?) argument: a slice or array expands to its
// elements; anything else is one element.
func convertList(arg any, n, pos int) ([]value.Value, error) {
	v, list, err := convert(arg, n, pos)
	if err != nil || !list {
		return []value.Value{v}, err
	}
	rv := reflect.ValueOf(arg)
	out := make([]value.Value, rv.Len())
	for i := range out {
		e, inner, err := convert(rv.Index(i).Interface(), n, pos)
		if err != nil {
			return nil, err
		}
		if inner {
			return nil, errorf(CodeBadArgument, pos, "argument %d: element %d is a list; IN (?) takes a flat list", n, i)
		}
		out[i] = e
	}
	return out, nil
}

var (
	timeType  = reflect.TypeFor[time.Time]()
	valueType = reflect.TypeFor[value.Value]()
)

// convert turns a Go argument into a value; list reports a slice or array
// (other than []byte) whose elements the caller converts.
func convert(arg any, n, pos int) (v value.Value, list bool, err error) {
	bad := func(format string, a ...any) (value.Value, bool, error) {
		return value.Value{}, false, errorf(CodeBadArgument, pos, "argument %d: %s", n, fmt.Sprintf(format, a...))
	}
	switch x := arg.(type) {
	case nil:
		return value.NullValue, false, nil
	case value.Value:
		switch x.Type() {
		case value.JSON:
			return bad("a jsonb value cannot be compared; compare a path into it with a scalar")
		case value.Ref:
			return value.TextOf(x.Text()), false, nil
		case value.Text:
			if err := checkText(x.Text()); err != "" {
				return bad("%s", err)
			}
		}
		return x, false, nil
	case string:
		if err := checkText(x); err != "" {
			return bad("%s", err)
		}
		return value.TextOf(x), false, nil
	case []byte:
		if x == nil {
			return value.NullValue, false, nil
		}
		return value.BytesOf(x), false, nil
	case time.Time:
		return value.TimeOf(x), false, nil
	case bool:
		return value.BoolOf(x), false, nil
	case int:
		return value.IntOf(int64(x)), false, nil
	case int64:
		return value.IntOf(x), false, nil
	case float64:
		return value.FloatOf(x), false, nil
	}
	rv := reflect.ValueOf(arg)
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			return value.NullValue, false, nil
		}
		return convert(rv.Elem().Interface(), n, pos)
	case reflect.String:
		return convert(rv.String(), n, pos)
	case reflect.Bool:
		return value.BoolOf(rv.Bool()), false, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return value.IntOf(rv.Int()), false, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if rv.Uint() > math.MaxInt64 {
			return bad("%d does not fit in bigint", rv.Uint())
		}
		return value.IntOf(int64(rv.Uint())), false, nil
	case reflect.Float32, reflect.Float64:
		return value.FloatOf(rv.Float()), false, nil
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			if rv.IsNil() {
				return value.NullValue, false, nil
			}
			return value.BytesOf(rv.Bytes()), false, nil
		}
		return value.Value{}, true, nil
	case reflect.Array:
		return value.Value{}, true, nil
	case reflect.Struct:
		if rv.Type().ConvertibleTo(timeType) {
			return convert(rv.Convert(timeType).Interface(), n, pos)
		}
		if rv.Type().ConvertibleTo(valueType) {
			return convert(rv.Convert(valueType).Interface(), n, pos)
		}
	}
	return bad("unsupported type %T (want string, integer, float, bool, []byte, time.Time, value.Value, nil or a slice for IN (?))", arg)
}

// checkText reports why s cannot be a Postgres text value ("" if it can).
func checkText(s string) string {
	if !utf8.ValidString(s) {
		return "string is not valid UTF-8"
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "string contains a NUL character, which Postgres text cannot hold"
	}
	return ""
}
