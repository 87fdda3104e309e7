// Package value holds the typed values that entity properties carry.
//
// A Value is small and comparable by its parts so that the query evaluator can
// compare values without allocating. Every value has one natural JSON form
// (numbers for numeric types, strings for text and times, the value itself for
// JSON), which is what the events table, the wire protocol and the CLI show.
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

// Type is the type of a field (a typed column in Postgres) or of a value.
type Type uint8

// The supported types. The zero Type is Null: the type of the NULL value,
// never the type of a field.
const (
	Null  Type = iota
	Text       // text
	Int        // bigint
	Float      // double precision
	Bool       // boolean
	Bytes      // bytea
	Time       // timestamptz, microsecond precision, UTC
	JSON       // jsonb
	Ref        // a reference to another entity: its id, stored as text
)

var typeNames = [...]string{
	Null:  "null",
	Text:  "text",
	Int:   "bigint",
	Float: "double precision",
	Bool:  "boolean",
	Bytes: "bytea",
	Time:  "timestamptz",
	JSON:  "jsonb",
	Ref:   "ref",
}

// String returns the type's name as used in ankurah.create_collection and the
// catalog: "text", "bigint", "double precision", "boolean", "bytea",
// "timestamptz", "jsonb" or "ref".
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Column returns the Postgres column type that holds values of t.
func (t Type) Column() string {
	if t == Ref {
		return "text"
	}
	return t.String()
}

// Numeric reports whether t is Int or Float; numeric values compare with each other.
func (t Type) Numeric() bool { return t == Int || t == Float }

// ParseType parses a type name as written in a schema. Aliases accepted:
// string, int/integer/int8, float/float8/double, bool, json, bytes, time/timestamp.
func ParseType(name string) (Type, error) {
	switch name {
	case "text", "string":
		return Text, nil
	case "bigint", "int", "integer", "int8":
		return Int, nil
	case "double precision", "float", "float8", "double":
		return Float, nil
	case "boolean", "bool":
		return Bool, nil
	case "bytea", "bytes":
		return Bytes, nil
	case "timestamptz", "time", "timestamp":
		return Time, nil
	case "jsonb", "json":
		return JSON, nil
	case "ref":
		return Ref, nil
	}
	return Null, fmt.Errorf("unknown type %q (want text, bigint, double precision, boolean, bytea, timestamptz, jsonb or ref)", name)
}

// MarshalText writes the type's name.
func (t Type) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText parses a type name (see ParseType).
func (t *Type) UnmarshalText(b []byte) error {
	p, err := ParseType(string(b))
	if err != nil {
		return err
	}
	*t = p
	return nil
}

// Value is one typed value. The zero Value is NULL.
//
// Representation: Int and Bool in i, Time as Unix microseconds in i, Float in
// f, Text, Ref, Bytes and JSON (compact JSON text) in s.
type Value struct {
	t Type
	i int64
	f float64
	s string
}

// NullValue is the NULL value (the zero Value).
var NullValue = Value{}

// TextOf returns a text value.
func TextOf(s string) Value { return Value{t: Text, s: s} }

// IntOf returns an integer value.
func IntOf(i int64) Value { return Value{t: Int, i: i} }

// FloatOf returns a float value.
func FloatOf(f float64) Value { return Value{t: Float, f: f} }

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

// Text returns the string of a Text or Ref value ("" otherwise).
func (v Value) Text() string { return v.s }

// Int returns the integer of an Int value (0 otherwise).
func (v Value) Int() int64 { return v.i }

// Float returns the number of a Float or Int value as float64.
func (v Value) Float() float64 {
	if v.t == Int {
		return float64(v.i)
	}
	return v.f
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
	switch a.t {
	case Float:
		return math.Float64bits(a.f) == math.Float64bits(b.f)
	case JSON:
		return a.s == b.s || jsonEqual(a.s, b.s)
	}
	return a.i == b.i && a.s == b.s
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
// bool, []byte, time.Time or json.RawMessage. Refs are strings.
func (v Value) Go() any {
	switch v.t {
	case Text, Ref:
		return v.s
	case Int:
		return v.i
	case Float:
		return v.f
	case Bool:
		return v.i != 0
	case Bytes:
		return []byte(v.s)
	case Time:
		return v.Time()
	case JSON:
		return json.RawMessage(v.s)
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

// Convert returns v as a value of type t when the conversion loses nothing:
// identity, Int→Float (exact only), Float→Int (integral only), Text↔Ref,
// Text→Time and Text→Bytes (parsing their JSON text forms), any value→JSON,
// and NULL to anything. Other combinations are errors.
func Convert(v Value, t Type) (Value, error) {
	if v.t == t || v.t == Null {
		return v, nil
	}
	switch {
	case v.t == Int && t == Float:
		f := float64(v.i)
		// 2^63 (MaxInt64 rounded) does not fit int64; converting it back is
		// implementation-defined, so range-check before comparing.
		if f >= 9.223372036854775808e18 || int64(f) != v.i {
			return Value{}, fmt.Errorf("integer %d is not exact as double precision", v.i)
		}
		return FloatOf(f), nil
	case v.t == Float && t == Int:
		if v.f != math.Trunc(v.f) || v.f < -9.223372036854775808e18 || v.f >= 9.223372036854775808e18 {
			return Value{}, fmt.Errorf("%v is not an integer", v.f)
		}
		return IntOf(int64(v.f)), nil
	case v.t == Text && t == Ref:
		return RefOf(v.s), nil
	case v.t == Ref && t == Text:
		return TextOf(v.s), nil
	case t == JSON:
		// A scalar stored in a jsonb field: its natural JSON is the document.
		return JSONOf(v.AppendJSON(nil))
	case v.t == Text && (t == Time || t == Bytes):
		// Text that came from JSON without a schema (see Infer).
		return Decode(appendJSONString(nil, v.s), t)
	}
	return Value{}, fmt.Errorf("a %s value where %s is expected", v.t, t)
}
