package value

import (
	"fmt"
	"time"
)

// Constructors and accessors of the kinds beyond the first eight.

// NumericOf returns a numeric value from decimal text (see ParseNumeric):
// "1.50", "-3e2", "NaN", "Infinity".
func NumericOf(s string) (Value, error) {
	c, err := ParseNumeric(s)
	if err != nil {
		return Value{}, err
	}
	return Value{t: Numeric, s: c}, nil
}

// NumericText returns the canonical decimal text of a Numeric, Int, Float
// or Real value (a float's shortest decimal form); "" for other values.
func (v Value) NumericText() string {
	switch v.t {
	case Numeric:
		return v.s
	case Int:
		c, _ := ParseNumeric(fmt.Sprint(v.i))
		return c
	case Float:
		return numericOfFloat(v.Float(), 64)
	case Real:
		return numericOfFloat(v.Float(), 32)
	}
	return ""
}

// UUIDOf returns a uuid value.
func UUIDOf(b [16]byte) Value { return Value{t: UUID, s: formatUUID(b)} }

// ParseUUID returns the uuid value of text in any form Postgres accepts
// (any case, hyphens after groups of four digits, braces).
func ParseUUID(s string) (Value, error) {
	c, err := parseUUID(s)
	if err != nil {
		return Value{}, err
	}
	return Value{t: UUID, s: c}, nil
}

// UUID returns the 16 bytes of a UUID value.
func (v Value) UUID() [16]byte {
	var b [16]byte
	if v.t != UUID {
		return b
	}
	j := 0
	for i := 0; i < len(v.s) && j < 16; i++ {
		if v.s[i] == '-' {
			continue
		}
		hi, _ := hexVal(v.s[i])
		lo, _ := hexVal(v.s[i+1])
		b[j] = hi<<4 | lo
		i++
		j++
	}
	return b
}

// DateOf returns the date value of a civil date, years 1–9999.
func DateOf(year int, month time.Month, day int) (Value, error) {
	if year < 1 || year > 9999 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, int(month)) {
		return Value{}, fmt.Errorf("date %04d-%02d-%02d: no such day in years 0001–9999", year, int(month), day)
	}
	return Value{t: Date, i: unixDays(year, int(month), day)}, nil
}

// DateOfDays returns the date that is days after 1970-01-01.
func DateOfDays(days int64) (Value, error) {
	if days < minDay || days > maxDay {
		return Value{}, fmt.Errorf("date: day %d is outside the years 0001–9999", days)
	}
	return Value{t: Date, i: days}, nil
}

// Days returns a Date value as days since 1970-01-01.
func (v Value) Days() int64 { return v.i }

// Civil returns a Date value's year, month and day.
func (v Value) Civil() (year int, month time.Month, day int) {
	y, m, d := civil(v.i)
	return y, time.Month(m), d
}

// TimeOfDayOf returns a time of day, 0 to 24:00:00 in microseconds.
func TimeOfDayOf(micros int64) (Value, error) {
	if micros < 0 || micros > MaxTimeOfDay {
		return Value{}, fmt.Errorf("time: %d µs is not between 00:00:00 and 24:00:00", micros)
	}
	return Value{t: TimeOfDay, i: micros}, nil
}

// Micros returns a TimeOfDay as microseconds since midnight, and a Time or
// Timestamp as microseconds since 1970-01-01T00:00:00 (UTC).
func (v Value) Micros() int64 { return v.i }

// TimestampOf returns the timestamp (without time zone) whose wall clock is
// t's in UTC, truncated to microseconds.
func TimestampOf(t time.Time) Value { return Value{t: Timestamp, i: t.UnixMicro()} }

// IntervalOf returns an interval of months, days and microseconds.
func IntervalOf(months, days int32, micros int64) Value {
	return Value{t: Interval, i: micros, u: uint64(uint32(months))<<32 | uint64(uint32(days))}
}

// Interval returns an Interval value's months, days and microseconds.
func (v Value) Interval() (months, days int32, micros int64) {
	return int32(v.u >> 32), int32(uint32(v.u)), v.i
}

func (v Value) interval() interval {
	m, d, us := v.Interval()
	return interval{months: m, days: d, micros: us}
}

// IntervalSpan returns an interval as Postgres compares intervals: days
// (a month being 30) and the microseconds of the last day (0 ≤ rem < 24 h).
// Two intervals are equal exactly when their spans are.
func (v Value) IntervalSpan() (days, rem int64) { return v.interval().span() }

// CharOf returns a bpchar value (blank-padded text; trailing blanks do not
// count in comparisons).
func CharOf(s string) Value { return Value{t: Char, s: s} }

// EnumOf returns the value of an enum type with the given label.
func EnumOf(t Type, label string) (Value, error) {
	if t.Kind() != Enum {
		return Value{}, fmt.Errorf("%s is not an enum type", t)
	}
	i, ok := t.Ordinal(label)
	if !ok {
		return Value{}, fmt.Errorf("%q is not a label of %s", clipString(label), t)
	}
	return Value{t: t, s: label, i: int64(i)}, nil
}

// Ordinal returns an Enum value's position in its type's declaration order.
func (v Value) Ordinal() int { return int(v.i) }

// ArrayOf returns an array of the given array type (or of arrays of its
// element type): each element is converted to the element type (see
// Convert); NULL elements are allowed.
func ArrayOf(t Type, elems []Value) (Value, error) {
	if t.Kind() != Array {
		return Value{}, fmt.Errorf("%s is not an array type", t)
	}
	et := t.Elem()
	b := []byte{'['}
	for i, e := range elems {
		c, err := Convert(e, et)
		if err != nil {
			return Value{}, fmt.Errorf("element %d: %w", i+1, err)
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = c.AppendJSON(b)
	}
	b = append(b, ']')
	return Value{t: t.ValueType(), s: string(b)}, nil
}

// Elements returns an Array value's elements (NULL ones as NULL).
func (v Value) Elements() []Value {
	if v.t.Kind() != Array {
		return nil
	}
	raws, err := splitJSONArray(v.s)
	if err != nil {
		return nil
	}
	et := v.t.Elem()
	out := make([]Value, len(raws))
	for i, r := range raws {
		out[i], _ = Decode(r, et)
	}
	return out
}

// Len returns the number of elements of an Array value.
func (v Value) Len() int {
	if v.t.Kind() != Array {
		return 0
	}
	raws, _ := splitJSONArray(v.s)
	return len(raws)
}
