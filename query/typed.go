package query

import (
	"cmp"
	"math"
	"strings"

	"github.com/ankurah/ankurah-go/value"
)

// How a literal meets a typed (non-JSON) field: the one rule both the
// evaluator and the SQL translation follow. docs/query-language.md and
// docs/types.md state it in prose.
//
// A literal compares with a field when it stands for a value of the field's
// value type (typedAs): text for text, varchar, char and refs; a number for
// any number; a date, time, timestamp, uuid or interval value, or text in
// that type's form ('2024-01-02', '12:30:00', 'P1D', a uuid in any case); an
// enum's label; an array of the element type (or its literal text,
// '{1,2}'). Numbers compare across types as Postgres compares them: bigint
// and numeric exactly, anything with double precision as double precision
// — except a real field, which compares at real precision (the literal
// rounded to the nearest real), so that a real read as 0.1 is found by 0.1.
// Everything else is a type mismatch.

// cmpNumbers compares a number field value with a number literal, or
// reports that they are not both numbers.
func cmpNumbers(v *value.Value, l *lit) (int, bool) {
	if !l.num {
		return 0, false
	}
	lt := l.v.Type()
	switch v.Type() {
	case value.Int:
		switch lt {
		case value.Int:
			return cmp.Compare(v.Int(), l.v.Int()), true
		case value.Numeric:
			return l.ib.cmpInt(v.Int()), true
		}
		return cmpFloat(float64(v.Int()), l.f), true // double precision, real
	case value.Float:
		return cmpFloat(v.Float(), l.f), true
	case value.Real:
		// A real compares at real precision: the literal rounded to the
		// nearest real, as if written 0.1::real (Postgres would widen the
		// real instead, so that real 0.1 never equals 0.1).
		return cmpFloat(v.Float(), float64(l.f32)), true
	case value.Numeric:
		d := numericDecimal(v.Raw())
		if lt == value.Float || lt == value.Real || lt == value.Int || lt == value.Numeric {
			return cmpDecimal(&d, &l.dec), true
		}
	}
	return 0, false
}

// typedAs returns the literal as a value of value type t, when it stands
// for one (see above); numbers are handled by cmpNumbers.
func (l *lit) typedAs(t value.Type) (value.Value, bool) {
	v := l.v
	vt := v.Type()
	if vt == value.Null {
		return value.Value{}, false
	}
	switch t.Kind() {
	case value.Text, value.Ref:
		switch vt {
		case value.Text, value.Ref:
			return value.TextOf(v.Raw()), true
		case value.Char:
			return value.TextOf(strings.TrimRight(v.Raw(), " ")), true
		}
	case value.Char:
		if vt == value.Text || vt == value.Char {
			return value.CharOf(v.Raw()), true
		}
	case value.Bool, value.Bytes, value.UUID, value.Date, value.TimeOfDay, value.Interval:
		if vt == t {
			return v, true
		}
		return l.alt(t)
	case value.Time:
		switch vt {
		case value.Time:
			return v, true
		case value.Timestamp:
			w, err := value.Convert(v, value.Time)
			return w, err == nil
		}
		return l.alt(t)
	case value.Timestamp:
		switch vt {
		case value.Timestamp:
			return v, true
		case value.Time:
			w, err := value.Convert(v, value.Timestamp)
			return w, err == nil
		}
		return l.alt(t)
	case value.Numeric:
		if vt == value.Text {
			return l.alt(t)
		}
	case value.Enum:
		switch vt {
		case value.Text:
			w, err := value.EnumOf(t, v.Raw())
			return w, err == nil
		case t:
			return v, true
		}
	case value.Array:
		switch {
		case vt.Kind() == value.Array:
			if vt == t {
				return v, true
			}
			w, err := value.ArrayOf(t, v.Elements())
			return w, err == nil
		case vt == value.Text:
			w, err := value.ParseArrayText(v.Raw(), t)
			return w, err == nil
		}
	}
	return value.Value{}, false
}

// alt returns the text literal's reading as a value of type t, computed
// when the literal was compiled.
func (l *lit) alt(t value.Type) (value.Value, bool) {
	for _, a := range l.alts {
		if a.Type() == t {
			return a, true
		}
	}
	return value.Value{}, false
}

// textForms returns what a text literal also stands for: a timestamptz
// (RFC 3339), a timestamp, a date, a time of day, a uuid, an interval, a
// numeric — whichever it parses as.
func textForms(s string) []value.Value {
	var out []value.Value
	if t, ok := parseTime(s); ok {
		out = append(out, value.TimeOf(t))
	}
	for _, t := range []value.Type{value.Timestamp, value.Date, value.TimeOfDay, value.UUID, value.Interval, value.Numeric} {
		if len(s) > 200 {
			break // no such value is this long; do not parse megabytes
		}
		if v, err := value.FromText(s, t); err == nil {
			out = append(out, v)
		}
	}
	return out
}

// cmpSame orders two non-NULL values of one value type as Postgres orders
// them (and, for types that do not order, as compareSort needs).
func cmpSame(a, b *value.Value) int {
	switch a.Type().Kind() {
	case value.Text, value.Ref, value.Bytes, value.UUID:
		return strings.Compare(a.Raw(), b.Raw())
	case value.Char:
		return strings.Compare(strings.TrimRight(a.Raw(), " "), strings.TrimRight(b.Raw(), " "))
	case value.Int, value.Time, value.Timestamp, value.Date, value.TimeOfDay:
		return cmp.Compare(a.Int(), b.Int())
	case value.Float, value.Real:
		return cmpFloat(a.Float(), b.Float())
	case value.Numeric:
		da, db := numericDecimal(a.Raw()), numericDecimal(b.Raw())
		return cmpDecimal(&da, &db)
	case value.Bool:
		return cmpBool(a.Bool(), b.Bool())
	case value.Interval:
		ad, ar := a.IntervalSpan()
		bd, br := b.IntervalSpan()
		if c := cmp.Compare(ad, bd); c != 0 {
			return c
		}
		return cmp.Compare(ar, br)
	case value.Enum:
		return cmp.Compare(a.Ordinal(), b.Ordinal())
	case value.Array:
		return cmpArrays(a, b)
	}
	return 0
}

// cmpArrays orders arrays as Postgres's array_cmp: element by element, a
// NULL element greater than any value and equal to another NULL, then the
// shorter first. Arrays of json and jsonb do not order (comparable is
// false for them: see arrayComparable).
func cmpArrays(a, b *value.Value) int {
	ea, eb := a.Elements(), b.Elements()
	for i := 0; i < len(ea) && i < len(eb); i++ {
		x, y := &ea[i], &eb[i]
		xn, yn := x.IsNull(), y.IsNull()
		if xn || yn {
			if c := cmpBool(xn, yn); c != 0 {
				return c
			}
			continue
		}
		if c := cmpSame(x, y); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(ea), len(eb))
}

// arrayComparable reports whether arrays of type t compare (not json/jsonb
// elements, which have no order in the query language).
func arrayComparable(t value.Type) bool {
	return t.Elem().Kind() != value.JSON
}

// numericDecimal views a canonical numeric text as a decimal.
func numericDecimal(s string) decimal {
	switch s {
	case "NaN":
		return decimal{special: 2}
	case "Infinity":
		return decimal{special: 1}
	case "-Infinity":
		return decimal{special: -1}
	}
	d, _ := parseDecimal(s)
	return d
}

// intBound places a numeric literal among the int64s, to compare bigint
// values with it exactly without formatting them: below every int64, above
// every int64, or between floor and floor+1 (frac: strictly above floor).
type intBound struct {
	where int8 // -1 below all, +1 above all, 0 within
	floor int64
	frac  bool
}

func newIntBound(d *decimal) intBound {
	switch d.special {
	case 1, 2:
		return intBound{where: 1} // Infinity and NaN are above every number
	case -1:
		return intBound{where: -1}
	}
	lead, pos := d.norm()
	if lead < 0 {
		return intBound{} // zero
	}
	if pos > 19 { // at least 10^19 in magnitude: beyond int64
		if d.neg {
			return intBound{where: -1}
		}
		return intBound{where: 1}
	}
	// Accumulate the integer part; anything after it is the fraction.
	var ip uint64
	frac := false
	n := len(d.intp) + len(d.frac)
	for k := lead; k < n; k++ {
		place := pos - int64(k-lead) // the power of ten of digit k, plus one
		c := d.digit(k)
		if place > 0 {
			ip = ip*10 + uint64(c-'0')
		} else if c != '0' {
			frac = true
		}
	}
	for place := pos - int64(n-lead); place > 0; place-- {
		ip *= 10 // trailing zeros implied by the exponent
	}
	if d.neg {
		if ip > 1<<63 || ip == 1<<63 && frac {
			return intBound{where: -1}
		}
		// -ip - (frac? something): floor is -ip-1 when there is a fraction.
		f := -int64(ip-1) - 1
		if frac {
			if f == math.MinInt64 {
				return intBound{where: -1}
			}
			f--
		}
		return intBound{floor: f, frac: frac}
	}
	if ip > math.MaxInt64 {
		return intBound{where: 1}
	}
	return intBound{floor: int64(ip), frac: frac}
}

// cmpInt compares an int64 with the literal.
func (b intBound) cmpInt(i int64) int {
	switch {
	case b.where != 0:
		return -int(b.where)
	case i < b.floor:
		return -1
	case i > b.floor:
		return 1
	case b.frac:
		return -1
	}
	return 0
}
