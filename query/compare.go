package query

import (
	"cmp"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ankurah/ankurah-go/value"
)

// This file is the one definition of how values compare; docs/query-language.md
// states it in prose and sql.go emits SQL that behaves the same.

// item is a field value seen through a path: either a typed value (not
// jsonb), or a piece of JSON text with its JSON kind.
type item struct {
	v    value.Value // when kind == jMissing and !v.IsNull(): a typed value
	kind jsonKind    // for JSON: jNull…jObject; jMissing for typed values and NULL
	raw  string      // the JSON text, for JSON kinds
}

// null reports whether the item counts as NULL: SQL NULL, a missing field or
// key, or a JSON null.
func (it *item) null() bool {
	return it.kind == jNull || it.kind == jMissing && it.v.IsNull()
}

// accessor resolves a path against records.
type accessor struct {
	field string
	keys  []string
}

func newAccessor(p Path) accessor { return accessor{field: p.Steps[0], keys: p.Steps[1:]} }

func (a *accessor) resolve(r Record) item {
	v := r.Get(a.field)
	switch v.Type() {
	case value.JSON:
	case value.Null:
		return item{}
	case value.Ref:
		if len(a.keys) > 0 {
			return item{}
		}
		return item{v: value.TextOf(v.Text())}
	default:
		if len(a.keys) > 0 {
			return item{} // a path into a non-JSON value is missing
		}
		return item{v: v}
	}
	raw := trimJSON(v.Raw())
	for _, k := range a.keys {
		if raw = jsonLookup(raw, k); raw == "" {
			return item{}
		}
	}
	return item{kind: jsonClassify(raw), raw: raw}
}

// lit is a compiled literal: the value and the forms it takes when compared
// with other types (see typed.go).
type lit struct {
	v value.Value
	// Numbers (Int, Float, Real, Numeric).
	num     bool
	dec     decimal  // exact: a float's shortest decimal form; for JSON numbers and numeric fields
	decText string   // … as bound in SQL ($n::numeric)
	f       float64  // as double precision: a numeric rounded to the nearest (±Inf beyond the range)
	f32     float32  // as real: rounded once to the nearest float4 (±Inf beyond the range)
	ib      intBound // a numeric among the int64s
	// Text: what else it stands for when it parses as it (RFC 3339 → a
	// timestamptz, a timestamp, a date, a time, a uuid, an interval, a
	// numeric).
	alts []value.Value
}

func newLit(v value.Value) lit {
	l := lit{v: v}
	switch v.Type() {
	case value.Int, value.Float, value.Real, value.Numeric:
		l.num = true
		l.f = v.Float()
		switch v.Type() {
		case value.Int:
			l.decText = strconv.FormatInt(v.Int(), 10)
			l.dec, _ = parseDecimal(l.decText)
		case value.Float:
			l.dec, l.decText = decimalOfFloat(v.Float())
		default:
			l.decText = v.NumericText()
			l.dec = numericDecimal(l.decText)
		}
		l.ib = newIntBound(&l.dec)
		switch v.Type() {
		case value.Numeric:
			f, _ := strconv.ParseFloat(l.decText, 32) // rounds once, to float32
			if l.decText == "NaN" {
				f = math.NaN()
			} else if l.decText == "Infinity" || l.decText == "-Infinity" {
				f = l.f
			}
			l.f32 = float32(f)
		case value.Int:
			l.f32 = float32(v.Int())
		default:
			l.f32 = float32(l.f)
		}
	case value.Text:
		l.alts = textForms(v.Text())
		for _, a := range l.alts {
			if a.Type() == value.Numeric {
				// Text in numeric form compares with numeric fields
				// (only: see typedAs), exactly.
				l.decText = a.Raw()
				l.dec = numericDecimal(l.decText)
			}
		}
	}
	return l
}

// parseTime reads a text literal compared with a timestamptz: RFC 3339,
// truncated to microseconds as Postgres stores it.
func parseTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return value.TimeOf(t).Time(), true
}

// outcome is how a value relates to a literal.
type outcome uint8

const (
	oCmp      outcome = iota // comparable; the int is the order
	oNull                    // either side is NULL: unknown
	oMismatch                // types do not compare: unequal and unordered
)

// compareLit compares an item with a literal. Types compare only within
// their family (text; bigint and double precision; boolean; bytea;
// timestamptz, also with RFC 3339 text; JSON strings with text, JSON
// numbers with numbers, JSON booleans with booleans); anything else is a
// mismatch.
func compareLit(it *item, l *lit) (int, outcome) {
	if it.kind == jMissing {
		return compareValue(&it.v, l)
	}
	if it.kind == jNull || l.v.IsNull() {
		return 0, oNull
	}
	lt := l.v.Type()
	switch it.kind {
	case jString:
		if lt == value.Text {
			if s, ok := jsonString(it.raw); ok {
				return strings.Compare(s, l.v.Raw()), oCmp
			}
		}
	case jNumber:
		if l.num {
			if d, ok := parseDecimal(it.raw); ok {
				return cmpDecimal(&d, &l.dec), oCmp
			}
		}
	case jBool:
		if lt == value.Bool {
			return cmpBool(it.raw[0] == 't', l.v.Bool()), oCmp
		}
	}
	return 0, oMismatch
}

// compareValue compares a typed (non-JSON) value with a literal.
func compareValue(v *value.Value, l *lit) (int, outcome) {
	if v.IsNull() || l.v.IsNull() {
		return 0, oNull
	}
	vt := v.Type()
	switch vt.Kind() {
	case value.Text, value.Ref:
		// The hot path: text against a text literal.
		if l.v.Type() == value.Text {
			return strings.Compare(v.Raw(), l.v.Raw()), oCmp
		}
	case value.Int, value.Float, value.Real:
		if c, ok := cmpNumbers(v, l); ok {
			return c, oCmp
		}
		return 0, oMismatch
	case value.Numeric:
		if c, ok := cmpNumbers(v, l); ok {
			return c, oCmp
		}
		if l.v.Type() == value.Text && l.decText != "" {
			d := numericDecimal(v.Raw())
			return cmpDecimal(&d, &l.dec), oCmp
		}
		return 0, oMismatch
	case value.Array:
		if !arrayComparable(vt) {
			return 0, oMismatch
		}
	}
	w, ok := l.typedAs(vt)
	if !ok {
		return 0, oMismatch
	}
	return cmpSame(v, &w), oCmp
}

// test compares an item with a literal under op.
func test(op Op, it *item, l *lit) tri {
	c, o := compareLit(it, l)
	return apply(op, c, o)
}

// apply turns a comparison outcome into a truth value for op. A mismatch is
// definitely unequal: = and the orderings are false, <> is true.
func apply(op Op, c int, o outcome) tri {
	switch o {
	case oNull:
		return tNull
	case oMismatch:
		return triOf(op == Ne)
	}
	switch op {
	case Eq:
		return triOf(c == 0)
	case Ne:
		return triOf(c != 0)
	case Lt:
		return triOf(c < 0)
	case Le:
		return triOf(c <= 0)
	case Gt:
		return triOf(c > 0)
	case Ge:
		return triOf(c >= 0)
	}
	return tFalse
}

// cmpFloat orders floats as Postgres does: NaN equals NaN and is greater
// than every other value (including +Infinity); -0 equals 0.
func cmpFloat(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an || bn:
		return cmpBool(an, bn)
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

// textOf returns the text of an item that is text (a text value or a JSON
// string), for LIKE.
func textOf(it *item) (string, bool) {
	switch {
	case it.kind == jString:
		return jsonString(it.raw)
	case it.kind == jMissing && (it.v.Type() == value.Text || it.v.Type() == value.Char):
		// A char(n) matches with its padding, as Postgres's bpcharlike does.
		return it.v.Raw(), true
	}
	return "", false
}

// compareSort orders two items for ORDER BY, ascending with NULLs last.
// Typed values of one column all have one type; within a JSON path the
// order is by kind first — string < number < boolean < array < object —
// then by value within strings, numbers and booleans (arrays and objects
// are equal to each other).
func compareSort(a, b *item) int {
	an, bn := a.null(), b.null()
	if an || bn {
		return cmpBool(an, bn) // NULL is greater than everything
	}
	if a.kind != jMissing || b.kind != jMissing {
		if c := cmp.Compare(int64(sortRank(a)), int64(sortRank(b))); c != 0 {
			return c
		}
		switch a.kind {
		case jString:
			sa, _ := jsonString(a.raw)
			sb, _ := jsonString(b.raw)
			return strings.Compare(sa, sb)
		case jNumber:
			da, _ := parseDecimal(a.raw)
			db, _ := parseDecimal(b.raw)
			return cmpDecimal(&da, &db)
		case jBool:
			return cmpBool(a.raw[0] == 't', b.raw[0] == 't')
		}
		return 0
	}
	// Two typed values. They share a type in a real column; an in-memory
	// record may mix them, so order numbers together and other types by
	// type so that the order stays total.
	ta, tb := a.v.Type(), b.v.Type()
	if ta != tb {
		if ta.Numeric() && tb.Numeric() {
			return cmpFloat(a.v.Float(), b.v.Float())
		}
		return cmp.Compare(int64(ta), int64(tb))
	}
	if ta.Kind() == value.Array && !arrayComparable(ta) {
		return 0 // arrays of json do not order
	}
	return cmpSame(&a.v, &b.v)
}

// sortRank places typed values (in-memory mixtures only) before JSON kinds.
func sortRank(it *item) int {
	switch it.kind {
	case jString:
		return 1
	case jNumber:
		return 2
	case jBool:
		return 3
	case jArray:
		return 4
	case jObject:
		return 5
	}
	return 0
}
