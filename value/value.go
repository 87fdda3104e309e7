// Package value holds field types — every common Postgres column type, with
// its modifiers (docs/types.md) — and the typed values that entity
// properties carry.
//
// A Value is small and comparable by its parts so that the query evaluator can
// compare values without allocating. Every value has one natural JSON form
// (numbers for integers and floats, a string for a numeric so that it stays
// exact, strings for text, times, uuids and intervals, the value itself for
// JSON), which is what the events table, the wire protocol and the CLI show,
// and Postgres text forms for binding and reading columns.
//
// This package is part of the module's public API: docs/api.md says what
// its compatibility promise covers.
package value

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
)

// Value is one typed value. The zero Value is NULL.
//
// Representation: Int and Bool in i; Time and Timestamp as Unix
// microseconds in i (a timestamp's wall clock read as UTC), Date as days
// since 1970-01-01 in i, TimeOfDay as microseconds since midnight in i;
// Float and Real as IEEE 754 bits in u; Interval as microseconds in i and
// months and days (two int32) in u; Text, Ref, Char, Bytes and JSON
// (compact JSON text) in s; Numeric (canonical decimal text) and UUID
// (canonical lowercase text) in s; Enum as its label in s and its position
// in i (t is the enum's type); Array as the compact natural JSON of its
// elements in s (t is the array's value type).
type Value struct {
	t Type
	i int64
	u uint64
	s string
}

// NullValue is the NULL value (the zero Value).
var NullValue = Value{}

// TextOf returns a text value.
func TextOf(s string) Value { return Value{t: Text, s: s} }

// IntOf returns an integer value.
func IntOf(i int64) Value { return Value{t: Int, i: i} }

// FloatOf returns a float value.
func FloatOf(f float64) Value { return Value{t: Float, u: math.Float64bits(f)} }

// RealOf returns a real (float4) value.
func RealOf(f float32) Value { return Value{t: Real, u: math.Float64bits(float64(f))} }

// BoolOf returns a boolean value.
func BoolOf(b bool) Value {
	if b {
		return Value{t: Bool, i: 1}
	}
	return Value{t: Bool}
}

// BytesOf returns a bytea value holding a copy of b.
func BytesOf(b []byte) Value { return Value{t: Bytes, s: string(b)} }

// TimeOf returns a timestamp value, truncated to microseconds (Postgres's precision).
func TimeOf(t time.Time) Value { return Value{t: Time, i: t.UnixMicro()} }

// RefOf returns a reference to the entity with the given id.
func RefOf(id string) Value { return Value{t: Ref, s: id} }

// JSONOf returns a jsonb value from JSON text. The text is validated and compacted.
func JSONOf(raw []byte) (Value, error) {
	if !json.Valid(raw) {
		return Value{}, fmt.Errorf("invalid JSON")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return Value{}, err
	}
	return Value{t: JSON, s: buf.String()}, nil
}

// JSONFrom marshals v with encoding/json and returns it as a jsonb value.
func JSONFrom(v any) (Value, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Value{}, err
	}
	return Value{t: JSON, s: string(b)}, nil
}

// Type returns the value's type; Null for NULL.
func (v Value) Type() Type { return v.t }

// IsNull reports whether v is NULL.
func (v Value) IsNull() bool { return v.t == Null }

// Text returns the string of a Text, Ref or Char value, the label of an
// Enum, the canonical text of a Numeric or UUID ("" otherwise).
func (v Value) Text() string { return v.s }

// Int returns the integer of an Int value (0 otherwise).
func (v Value) Int() int64 { return v.i }

// Float returns the number of a Float, Real or Int value as float64, and
// the nearest float64 to a Numeric.
func (v Value) Float() float64 {
	switch v.t {
	case Int:
		return float64(v.i)
	case Float, Real:
		return math.Float64frombits(v.u)
	case Numeric:
		return numericFloat(v.s)
	}
	return 0
}

// Bool returns the boolean of a Bool value.
func (v Value) Bool() bool { return v.i != 0 }

// Bytes returns a copy of a Bytes value's content.
func (v Value) Bytes() []byte { return []byte(v.s) }

// Time returns the time of a Time value, in UTC.
func (v Value) Time() time.Time { return time.UnixMicro(v.i).UTC() }

// JSONText returns the compact JSON text of a JSON value.
func (v Value) JSONText() string { return v.s }

// Raw returns the string payload (Text, Ref, Bytes, JSON) without copying.
// It is meant for hot paths such as query evaluation.
func (v Value) Raw() string { return v.s }

// Equal reports whether a and b are the same typed value. NULL equals NULL
// here (this is identity, not SQL's three-valued comparison). Floats compare
// by bits so that NaN equals NaN.
func Equal(a, b Value) bool {
	if a.t != b.t {
		return false
	}
	if a.t == JSON {
		return a.s == b.s || jsonEqual(a.s, b.s)
	}
	return a.i == b.i && a.u == b.u && a.s == b.s
}

// jsonEqual compares two JSON documents as jsonb does: object key order does
// not matter and numbers compare by value, exactly (1.0 = 1, but no float64
// rounding: 9007199254740993 ≠ 9007199254740992).
func jsonEqual(a, b string) bool {
	x, errX := decodeJSONNumbers(a)
	y, errY := decodeJSONNumbers(b)
	return errX == nil && errY == nil && jsonValuesEqual(x, y)
}

func decodeJSONNumbers(s string) (any, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

func jsonValuesEqual(x, y any) bool {
	switch x := x.(type) {
	case json.Number:
		y, ok := y.(json.Number)
		if !ok {
			return false
		}
		rx, okx := new(big.Rat).SetString(string(x))
		ry, oky := new(big.Rat).SetString(string(y))
		return okx && oky && rx.Cmp(ry) == 0
	case map[string]any:
		y, ok := y.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !jsonValuesEqual(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := y.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonValuesEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	default: // string, bool, nil
		return x == y
	}
}

// Go returns the value as a plain Go value: nil, string, int64, float64,
// bool, []byte, time.Time or json.RawMessage. Refs, chars, enum labels,
// numerics (canonical text), UUIDs, dates, times of day and intervals (their
// natural JSON text) are strings; timestamps are time.Time in UTC; reals
// are float64; arrays are []any of their elements' Go values.
func (v Value) Go() any {
	switch v.t.Kind() {
	case Text, Ref, Char, Numeric, UUID, Enum:
		return v.s
	case Int:
		return v.i
	case Float, Real:
		return v.Float()
	case Bool:
		return v.i != 0
	case Bytes:
		return []byte(v.s)
	case Time, Timestamp:
		return v.Time()
	case JSON:
		return json.RawMessage(v.s)
	case Date, TimeOfDay, Interval:
		b := v.AppendJSON(nil)
		return string(b[1 : len(b)-1])
	case Array:
		elems := v.Elements()
		out := make([]any, len(elems))
		for i, e := range elems {
			out[i] = e.Go()
		}
		return out
	case YUpdate:
		return []byte(v.s)
	}
	return nil
}

// String formats v for humans and error messages (its JSON form).
func (v Value) String() string {
	b, err := v.MarshalJSON()
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(b)
}
