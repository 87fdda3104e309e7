package value

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Postgres's text forms. AppendPGText writes what Postgres's input
// functions read whatever the session's DateStyle and IntervalStyle are
// (ISO dates, ISO 8601 intervals); ParsePGText reads what its output
// functions print on a session with DateStyle ISO, IntervalStyle
// iso_8601, bytea_output hex and extra_float_digits ≥ 1 (the replication
// connection pins these).

// AppendPGText appends v's Postgres text input form: the SQL for binding v
// as a text parameter cast to its column type. NULL appends nothing
// (callers bind NULL themselves).
func (v Value) AppendPGText(b []byte) []byte {
	switch v.t.Kind() {
	case Text, Ref, Char, Enum, Numeric, UUID, JSON:
		return append(b, v.s...)
	case Int:
		return strconv.AppendInt(b, v.i, 10)
	case Float, Real:
		f := v.Float()
		switch {
		case math.IsNaN(f):
			return append(b, "NaN"...)
		case math.IsInf(f, 1):
			return append(b, "Infinity"...)
		case math.IsInf(f, -1):
			return append(b, "-Infinity"...)
		}
		if v.t == Real {
			return strconv.AppendFloat(b, f, 'g', -1, 32)
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case Bool:
		return strconv.AppendBool(b, v.i != 0)
	case Bytes:
		b = append(b, `\x`...)
		return hex.AppendEncode(b, []byte(v.s))
	case Time:
		return v.Time().AppendFormat(b, TimeLayout)
	case Timestamp:
		return appendTimestamp(b, v.i, ' ')
	case Date:
		return appendDate(b, v.i)
	case TimeOfDay:
		return appendClock(b, v.i)
	case Interval:
		return appendInterval(b, v.interval())
	case Array:
		return appendArrayText(b, v.Elements())
	}
	return b
}

// PGText returns v's Postgres text input form (see AppendPGText).
func (v Value) PGText() string { return string(v.AppendPGText(nil)) }

// appendArrayText writes a Postgres array literal, every element quoted
// (NULL bare): {"a","b\"c",NULL}.
func appendArrayText(b []byte, elems []Value) []byte {
	b = append(b, '{')
	for i, e := range elems {
		if i > 0 {
			b = append(b, ',')
		}
		if e.IsNull() {
			b = append(b, "NULL"...)
			continue
		}
		b = append(b, '"')
		for _, c := range e.AppendPGText(nil) {
			if c == '"' || c == '\\' {
				b = append(b, '\\')
			}
			b = append(b, c)
		}
		b = append(b, '"')
	}
	return append(b, '}')
}

// ParsePGText reads a column's Postgres text output as a value of field
// type t (its value type; Convert applies modifiers).
func ParsePGText(s string, t Type) (Value, error) {
	switch t.Kind() {
	case Text:
		return TextOf(s), nil
	case Ref:
		return RefOf(s), nil
	case Char:
		return CharOf(s), nil
	case JSON:
		v, err := JSONOf([]byte(s))
		if err != nil {
			return Value{}, fmt.Errorf("%s %q: %w", t, clipString(s), err)
		}
		return v, nil
	case Int:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Value{}, fmt.Errorf("integer %q: %w", clipString(s), err)
		}
		return IntOf(i), nil
	case Float, Real:
		bits := 64
		if t.Kind() == Real {
			bits = 32
		}
		f, err := ParsePGFloat(s, bits)
		if err != nil {
			return Value{}, err
		}
		return floatValue(t.Kind(), f), nil
	case Bool:
		switch s {
		case "t":
			return BoolOf(true), nil
		case "f":
			return BoolOf(false), nil
		}
		return Value{}, fmt.Errorf("boolean %q: want t or f", clipString(s))
	case Bytes:
		h, ok := strings.CutPrefix(s, `\x`)
		if !ok {
			return Value{}, fmt.Errorf("bytea %q: want hex output (\\x…)", clipString(s))
		}
		raw, err := hex.DecodeString(h)
		if err != nil {
			return Value{}, fmt.Errorf("bytea %q: %w", clipString(s), err)
		}
		return BytesOf(raw), nil
	case Array:
		return ParseArrayText(s, t)
	case Time:
		us, _, err := parseTimestamp(s)
		if err != nil {
			return Value{}, err
		}
		return Value{t: Time, i: us}, nil
	}
	// The remaining kinds print as their natural JSON text (timestamps
	// with a space, which FromText reads).
	return FromText(s, t)
}

// ParsePGFloat reads float4/float8 output: decimal or exponent notation,
// or NaN, Infinity, -Infinity. strconv would also take "inf", "0x1p3" and
// underscores, which Postgres never prints; those are refused so that a
// stray value does not pass as a number.
func ParsePGFloat(s string, bits int) (float64, error) {
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			return 0, fmt.Errorf("float %q: not a number", clipString(s))
		}
	}
	f, err := strconv.ParseFloat(s, bits)
	if err != nil {
		return 0, fmt.Errorf("float %q: %w", clipString(s), err)
	}
	return f, nil
}

// ParseArrayText reads a one-dimensional Postgres array literal — {1,2},
// {}, {"a b",NULL,"x\"y"} — as a value of array type t, each element read
// by ParsePGText with t's element type. Elements are quoted when they are
// empty, spell NULL, or hold blanks, commas, braces, quotes or
// backslashes; inside quotes a backslash escapes the next byte; unquoted
// NULL (any case) is a NULL element. A dimension decoration ([0:1]={…}) is
// accepted and dropped: Ankurah's arrays are lists. Nested arrays
// (multidimensional) are refused.
func ParseArrayText(s string, t Type) (Value, error) {
	if t.Kind() != Array {
		return Value{}, fmt.Errorf("%s is not an array type", t)
	}
	items, nulls, err := SplitArrayText(s)
	if err != nil {
		return Value{}, err
	}
	et := t.Elem()
	b := []byte{'['}
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		if nulls[i] {
			b = append(b, "null"...)
			continue
		}
		if !utf8.ValidString(it) {
			// Postgres text is UTF-8; the natural JSON could not carry it.
			return Value{}, fmt.Errorf("%s, element %d: not valid UTF-8", t, i+1)
		}
		e, err := ParsePGText(it, et)
		if err != nil {
			return Value{}, fmt.Errorf("%s, element %d: %w", t, i+1, err)
		}
		b = e.AppendJSON(b)
	}
	return Value{t: t.ValueType(), s: string(append(b, ']'))}, nil
}

// SplitArrayText splits a one-dimensional Postgres array literal into its
// elements' text, with nulls[i] set for NULL elements.
func SplitArrayText(s string) (items []string, nulls []bool, err error) {
	bad := func(why string) ([]string, []bool, error) {
		return nil, nil, fmt.Errorf("array %q: %s", clipString(s), why)
	}
	p := s
	if strings.HasPrefix(p, "[") {
		i := strings.IndexByte(p, '=')
		if i < 0 {
			return bad("dimension decoration without =")
		}
		if strings.Count(p[:i], "[") > 1 {
			return bad("multidimensional arrays are not supported")
		}
		p = p[i+1:]
	}
	if len(p) < 2 || p[0] != '{' || p[len(p)-1] != '}' {
		return bad("want {…}")
	}
	body := p[1 : len(p)-1]
	items, nulls = []string{}, []bool{}
	if strings.TrimLeft(body, " \t\n\r\v\f") == "" {
		return items, nulls, nil
	}
	i := 0
	var b strings.Builder
	for {
		for i < len(body) && isArraySpace(body[i]) {
			i++
		}
		if i == len(body) {
			return bad("missing element")
		}
		b.Reset()
		switch body[i] {
		case '{':
			return bad("multidimensional arrays are not supported")
		case '"':
			i++
			closed := false
			for i < len(body) && !closed {
				switch c := body[i]; c {
				case '\\':
					if i+1 == len(body) {
						return bad("backslash at the end")
					}
					b.WriteByte(body[i+1])
					i += 2
				case '"':
					closed = true
					i++
				default:
					b.WriteByte(c)
					i++
				}
			}
			if !closed {
				return bad("unterminated quoted element")
			}
			items, nulls = append(items, b.String()), append(nulls, false)
		default:
			// Unquoted: up to the next comma; backslash escapes the next
			// byte; unescaped trailing whitespace is not part of it.
			keep, escaped := 0, false
			for i < len(body) && body[i] != ',' {
				switch c := body[i]; c {
				case '"', '{', '}':
					return bad(fmt.Sprintf("unexpected %q in an unquoted element", c))
				case '\\':
					if i+1 == len(body) {
						return bad("backslash at the end")
					}
					b.WriteByte(body[i+1])
					keep, escaped = b.Len(), true
					i += 2
				default:
					b.WriteByte(c)
					if !isArraySpace(c) {
						keep = b.Len()
					}
					i++
				}
			}
			if keep == 0 {
				return bad("empty unquoted element")
			}
			elem := b.String()[:keep]
			isNull := !escaped && strings.EqualFold(elem, "NULL")
			if isNull {
				elem = ""
			}
			items, nulls = append(items, elem), append(nulls, isNull)
		}
		for i < len(body) && isArraySpace(body[i]) {
			i++
		}
		if i == len(body) {
			return items, nulls, nil
		}
		if body[i] != ',' {
			return bad("want , between elements")
		}
		i++
	}
}

// isArraySpace is Postgres's array_isspace: the bytes array_in skips.
func isArraySpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
