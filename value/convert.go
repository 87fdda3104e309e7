package value

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// Errors that Convert wraps when a value has a usable type but does not fit
// its field, so that callers can give them codes of their own.
var (
	// ErrOutOfRange: a number or time outside the field's range (an
	// integer beyond smallint, a numeric(5,2) of 1000, a real of 1e39).
	ErrOutOfRange = errors.New("out of range")
	// ErrTooLong: text longer than a varchar(n) or char(n) field.
	ErrTooLong = errors.New("value too long")
)

// Convert returns v as a value of field type t — a value of t's value type,
// with t's modifiers applied as Postgres applies them when it stores the
// value: integers checked against smallint and integer, numerics rounded to
// numeric(p,s)'s scale (half away from zero) and checked against its
// precision, reals rounded to float4, text checked against varchar(n)
// (trailing blanks beyond n are cut, anything else is too long) and padded
// to char(n), times rounded to time(p) and friends. NULL converts to
// anything.
//
// Between types it converts when nothing is lost, or when Postgres's own
// assignment would round the same way:
//
//   - Int → Float exactly (2^53+1 is refused), Float → Int when integral;
//   - Int, Float, Real → Numeric (a float's shortest decimal form), Numeric
//     → Int when integral, Numeric → Float or Real (rounded, as Postgres
//     casts), Int or Float → Real (rounded to float4), Real → Float;
//   - Text ↔ Ref; text → any type with a text form (see FromText), and
//     Char, Enum → Text (a char loses its trailing blanks, as in Postgres);
//   - Time ↔ Timestamp (a timestamp's wall clock is UTC), Date → Time or
//     Timestamp (midnight), a midnight Timestamp → Date;
//   - an array to another array type, element by element;
//   - any value → JSON (its natural JSON is the document).
//
// Other combinations are errors.
func Convert(v Value, t Type) (Value, error) {
	if v.t == Null {
		return v, nil
	}
	if v.t == YUpdate {
		if t.IsYText() {
			return v, nil
		}
		return Value{}, fmt.Errorf("a Yjs update where %s is expected (only a ytext field takes one)", t)
	}
	if !t.Valid() {
		return Value{}, fmt.Errorf("%s is not a field type", t)
	}
	w, err := convertKind(v, t)
	if err != nil {
		return Value{}, err
	}
	return applyModifiers(w, t)
}

// convertKind converts v to t's value type, without t's modifiers.
func convertKind(v Value, t Type) (Value, error) {
	vt, k := v.t, t.Kind()
	if vt == t.ValueType() {
		return v, nil
	}
	fail := func() (Value, error) {
		return Value{}, fmt.Errorf("a %s value where %s is expected", vt, t)
	}
	switch k {
	case JSON:
		// A scalar stored in a jsonb field: its natural JSON is the document.
		return JSONOf(v.AppendJSON(nil))
	case Array:
		if vt.Kind() != Array {
			if vt == Text {
				return ParseArrayText(v.s, t)
			}
			return fail()
		}
		return ArrayOf(t, v.Elements())
	}
	switch vt.Kind() {
	case Text:
		return FromText(v.s, t)
	case Ref:
		if k == Text {
			return TextOf(v.s), nil
		}
	case Char:
		if k == Text {
			return TextOf(strings.TrimRight(v.s, " ")), nil
		}
	case Enum:
		switch k {
		case Text:
			return TextOf(v.s), nil
		case Enum:
			return EnumOf(t, v.s)
		}
	case Int:
		switch k {
		case Float:
			f := float64(v.i)
			// 2^63 (MaxInt64 rounded) does not fit int64; converting it back is
			// implementation-defined, so range-check before comparing.
			if f >= 9.223372036854775808e18 || int64(f) != v.i {
				return Value{}, fmt.Errorf("integer %d is not exact as double precision", v.i)
			}
			return FloatOf(f), nil
		case Real:
			return toReal(float64(v.i))
		case Numeric:
			return Value{t: Numeric, s: v.NumericText()}, nil
		}
	case Float, Real:
		f := v.Float()
		switch k {
		case Int:
			if f != math.Trunc(f) || f < -9.223372036854775808e18 || f >= 9.223372036854775808e18 {
				return Value{}, fmt.Errorf("%v is not an integer", f)
			}
			return IntOf(int64(f)), nil
		case Float:
			return FloatOf(f), nil
		case Real:
			return toReal(f)
		case Numeric:
			return Value{t: Numeric, s: v.NumericText()}, nil
		}
	case Numeric:
		switch k {
		case Int:
			if i, ok := numericInt(v.s); ok {
				return IntOf(i), nil
			}
			return Value{}, fmt.Errorf("numeric %s is not an integer that fits bigint", clipString(v.s))
		case Float:
			f := numericFloat(v.s)
			if math.IsInf(f, 0) && !strings.HasSuffix(v.s, "Infinity") {
				return Value{}, fmt.Errorf("numeric %s is %w of double precision", clipString(v.s), ErrOutOfRange)
			}
			return FloatOf(f), nil
		case Real:
			f := numericFloat(v.s)
			if math.IsInf(f, 0) && !strings.HasSuffix(v.s, "Infinity") {
				return Value{}, fmt.Errorf("numeric %s is %w of real", clipString(v.s), ErrOutOfRange)
			}
			return toReal(f)
		}
	case Time:
		if k == Timestamp {
			return Value{t: Timestamp, i: v.i}, nil
		}
	case Timestamp:
		switch k {
		case Time:
			return Value{t: Time, i: v.i}, nil
		case Date:
			if v.i%microsPerDay == 0 {
				return Value{t: Date, i: v.i / microsPerDay}, nil
			}
			return Value{}, fmt.Errorf("timestamp %s is not a date (it is not midnight)", v)
		}
	case Date:
		switch k {
		case Time:
			return Value{t: Time, i: v.i * microsPerDay}, nil
		case Timestamp:
			return Value{t: Timestamp, i: v.i * microsPerDay}, nil
		}
	}
	return fail()
}

// toReal rounds a float64 to float4, refusing overflow and underflow as
// Postgres does.
func toReal(f float64) (Value, error) {
	r := float32(f)
	if math.IsInf(float64(r), 0) && !math.IsInf(f, 0) || r == 0 && f != 0 {
		return Value{}, fmt.Errorf("%v is %w of real", f, ErrOutOfRange)
	}
	return RealOf(r), nil
}

// applyModifiers checks or adjusts a value of t's value type for t.
func applyModifiers(v Value, t Type) (Value, error) {
	switch t.Kind() {
	case Int:
		switch t.IntBits() {
		case 16:
			if v.i < math.MinInt16 || v.i > math.MaxInt16 {
				return Value{}, fmt.Errorf("%d is %w of smallint", v.i, ErrOutOfRange)
			}
		case 32:
			if v.i < math.MinInt32 || v.i > math.MaxInt32 {
				return Value{}, fmt.Errorf("%d is %w of integer", v.i, ErrOutOfRange)
			}
		}
	case Numeric:
		if p, s, ok := t.NumericScale(); ok {
			r, err := RoundNumeric(v.s, p, s)
			if err != nil {
				return Value{}, fmt.Errorf("%s: %w (%v)", clipString(v.s), ErrOutOfRange, err)
			}
			v.s = r
		}
	case Text:
		if n := t.Length(); n > 0 {
			s, err := fitLength(v.s, n, t)
			if err != nil {
				return Value{}, err
			}
			v.s = s
		}
	case Char:
		if n := t.Length(); n > 0 {
			s, err := fitLength(v.s, n, t)
			if err != nil {
				return Value{}, err
			}
			if c := utf8.RuneCountInString(s); c < n {
				s += strings.Repeat(" ", n-c)
			}
			v.s = s
		}
	case TimeOfDay, Timestamp, Time:
		if p, ok := t.TimePrecision(); ok {
			v.i = roundMicros(v.i, p)
			if t.Kind() == TimeOfDay && v.i > MaxTimeOfDay || t.Kind() != TimeOfDay && (v.i < minTimestamp || v.i > maxTimestamp) {
				return Value{}, fmt.Errorf("%s rounded to %s is %w", v, t, ErrOutOfRange)
			}
		}
		if err := v.CheckTime(); err != nil {
			return Value{}, fmt.Errorf("%w: %v", ErrOutOfRange, err)
		}
	case Interval:
		if p, ok := t.TimePrecision(); ok {
			m, d, us := v.Interval()
			v = IntervalOf(m, d, roundMicros(us, p))
		}
	case Enum:
		if v.t != t {
			return EnumOf(t, v.s)
		}
	case Array:
		if t.Elem() != t.Elem().ValueType() {
			// Modifiers on the elements (numeric(10,2)[]): convert each.
			return ArrayOf(t, v.Elements())
		}
	}
	return v, nil
}

// fitLength applies varchar(n)/char(n): more than n characters is an error
// unless the excess is blanks, which are cut.
func fitLength(s string, n int, t Type) (string, error) {
	if utf8.RuneCountInString(s) <= n {
		return s, nil
	}
	i, c := 0, 0
	for i < len(s) && c < n {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		c++
	}
	if strings.TrimRight(s[i:], " ") != "" {
		return "", fmt.Errorf("%s: %w for %s (%d characters)", clipString(s), ErrTooLong, t, utf8.RuneCountInString(s))
	}
	return s[:i], nil
}
