package value

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// TimeLayout is the canonical text form of a Time value: RFC 3339 in UTC with
// microseconds. Decoding accepts any RFC 3339 time (Postgres's to_jsonb writes
// the session's offset).
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// MarshalJSON writes the value's natural JSON form:
//
//	NULL        null
//	text, ref   "string" (char(n): padded to n, as stored)
//	bigint      123               (exact, never a float; integer and smallint too)
//	double      1.5, or "NaN" / "Infinity" / "-Infinity" (as Postgres's to_jsonb writes them)
//	real        0.1               (its shortest float4 form)
//	numeric     "1.50"            (exact decimal text, as Postgres prints it; "NaN", "Infinity")
//	boolean     true
//	bytea       "\\x0a0b"         (Postgres's hex form)
//	timestamptz "2024-01-02T03:04:05.000000Z"
//	timestamp   "2024-01-02T03:04:05.5"
//	date        "2024-01-02"
//	time        "03:04:05.5"
//	interval    "P1Y2M3DT4H5M6.5S" (ISO 8601 as Postgres's iso_8601 style)
//	uuid        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
//	enum        "label"
//	jsonb, json the JSON itself
//	array       [elements in their natural JSON, null for NULL]
//	yjs update  {"yjs":"<base64>"} (an operation of a ytext field, whose values are text)
func (v Value) MarshalJSON() ([]byte, error) {
	return v.AppendJSON(nil), nil
}

// AppendJSON appends the natural JSON form of v to b.
func (v Value) AppendJSON(b []byte) []byte {
	switch v.t.Kind() {
	case Null:
		return append(b, "null"...)
	case Text, Ref, Char, Enum:
		return appendJSONString(b, v.s)
	case Int:
		return strconv.AppendInt(b, v.i, 10)
	case Float, Real:
		f := v.Float()
		switch {
		case math.IsNaN(f):
			return append(b, `"NaN"`...)
		case math.IsInf(f, 1):
			return append(b, `"Infinity"`...)
		case math.IsInf(f, -1):
			return append(b, `"-Infinity"`...)
		}
		if v.t == Real {
			return strconv.AppendFloat(b, f, 'g', -1, 32)
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case Numeric, UUID:
		b = append(b, '"')
		b = append(b, v.s...)
		return append(b, '"')
	case Bool:
		return strconv.AppendBool(b, v.i != 0)
	case Bytes:
		b = append(b, `"\\x`...)
		b = hex.AppendEncode(b, []byte(v.s))
		return append(b, '"')
	case Time:
		b = append(b, '"')
		b = v.Time().AppendFormat(b, TimeLayout)
		return append(b, '"')
	case Timestamp:
		b = append(b, '"')
		b = appendTimestamp(b, v.i, 'T')
		return append(b, '"')
	case Date:
		b = append(b, '"')
		b = appendDate(b, v.i)
		return append(b, '"')
	case TimeOfDay:
		b = append(b, '"')
		b = appendClock(b, v.i)
		return append(b, '"')
	case Interval:
		b = append(b, '"')
		b = appendInterval(b, v.interval())
		return append(b, '"')
	case JSON, Array:
		return append(b, v.s...)
	case YUpdate:
		return appendYUpdate(b, v.s)
	}
	return append(b, "null"...)
}

func appendJSONString(b []byte, s string) []byte {
	enc, _ := json.Marshal(s) // cannot fail for a string
	return append(b, enc...)
}

// Decode reads the natural JSON form of a value of field type t (a value of
// t's value type: modifiers such as numeric(10,2) or varchar(20) are
// applied by Convert). For a ytext field it reads its text, or a Yjs
// update ({"yjs":"…"}: an operation). JSON null gives NULL for every type. Besides the
// natural forms it accepts: a numeric as a JSON number (read exactly, from
// its text), a real or double as a string holding a number, and a bytea in
// base64. Errors say what was expected.
func Decode(raw []byte, t Type) (Value, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return Value{}, fmt.Errorf("empty JSON where %s is expected", t)
	}
	if string(raw) == "null" {
		return Value{}, nil
	}
	if raw[0] == '{' && (t.IsYText() || t == YUpdate) {
		return decodeYUpdate(raw) // an operation; the field's values are text
	}
	k := t.Kind()
	switch k {
	case JSON:
		return JSONOf(raw)
	case Array:
		return decodeArray(raw, t)
	case Int, Bool, Float, Real:
		// Numbers and booleans, below.
	case Numeric:
		if raw[0] != '"' {
			if !json.Valid(raw) {
				return Value{}, expected(raw, t)
			}
			return NumericOf(string(raw))
		}
		fallthrough
	default:
		if raw[0] != '"' {
			return Value{}, expected(raw, t)
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Value{}, expected(raw, t)
		}
		return FromText(s, t)
	}
	switch k {
	case Int:
		if raw[0] == '"' {
			return Value{}, expected(raw, t)
		}
		i, err := strconv.ParseInt(string(raw), 10, 64)
		if err == nil {
			return IntOf(i), nil
		}
		// 2.0 and 2e3 are integers too (JSON has one number type), but
		// only when exactly so: no rounding through float64.
		r, ok := new(big.Rat).SetString(string(raw))
		if !ok || !json.Valid(raw) {
			return Value{}, expected(raw, t)
		}
		if !r.IsInt() || !r.Num().IsInt64() {
			return Value{}, fmt.Errorf("%s is not an integer that fits bigint", clipped(raw))
		}
		return IntOf(r.Num().Int64()), nil
	case Float, Real:
		bits := 64
		if k == Real {
			bits = 32
		}
		if raw[0] == '"' {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return Value{}, expected(raw, t)
			}
			switch s {
			case "NaN":
				return floatValue(k, math.NaN()), nil
			case "Infinity":
				return floatValue(k, math.Inf(1)), nil
			case "-Infinity":
				return floatValue(k, math.Inf(-1)), nil
			}
			return Value{}, expected(raw, t)
		}
		if !json.Valid(raw) {
			return Value{}, expected(raw, t)
		}
		f, err := strconv.ParseFloat(string(raw), bits)
		if err != nil {
			return Value{}, fmt.Errorf("%s is out of the range of %s", clipped(raw), k)
		}
		return floatValue(k, f), nil
	case Bool:
		switch string(raw) {
		case "true":
			return BoolOf(true), nil
		case "false":
			return BoolOf(false), nil
		}
		return Value{}, expected(raw, t)
	}
	return Value{}, fmt.Errorf("cannot decode a value of type %s", t)
}

func floatValue(k Type, f float64) Value {
	if k == Real {
		return RealOf(float32(f))
	}
	return FloatOf(f)
}

// FromText returns the value of field type t whose natural JSON form is the
// string s: text, a ref, a bpchar or an enum label as it is, a numeric's
// decimal text (or NaN, Infinity), a uuid in any form Postgres reads,
// YYYY-MM-DD, HH:MM:SS[.f], a timestamp with 'T' or a space and no offset
// (or an RFC 3339 offset, converted to UTC), an RFC 3339 timestamptz, an
// ISO 8601 interval, a bytea as \x-hex or base64. Strings of other types
// are errors.
func FromText(s string, t Type) (Value, error) {
	switch t.Kind() {
	case Text:
		return TextOf(s), nil
	case Ref:
		return RefOf(s), nil
	case Char:
		return CharOf(s), nil
	case Enum:
		return EnumOf(t, s)
	case Numeric:
		return NumericOf(s)
	case UUID:
		return ParseUUID(s)
	case Date:
		d, err := parseDate(s)
		if err != nil {
			return Value{}, err
		}
		return Value{t: Date, i: d}, nil
	case TimeOfDay:
		us, err := parseClock(s)
		if err != nil {
			return Value{}, err
		}
		return Value{t: TimeOfDay, i: us}, nil
	case Timestamp:
		us, _, err := parseTimestamp(s)
		if err != nil {
			return Value{}, err
		}
		return Value{t: Timestamp, i: us}, nil
	case Interval:
		iv, err := parseInterval(s)
		if err != nil {
			return Value{}, err
		}
		return IntervalOf(iv.months, iv.days, iv.micros), nil
	case Bytes:
		if h, ok := strings.CutPrefix(s, `\x`); ok {
			b, err := hex.DecodeString(h)
			if err != nil {
				return Value{}, fmt.Errorf("bytea: bad hex: %v", err)
			}
			return BytesOf(b), nil
		}
		// Base64 is accepted from clients that prefer it.
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return Value{}, fmt.Errorf(`bytea: want "\\x<hex>" or base64`)
		}
		return BytesOf(b), nil
	case Time:
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return Value{}, fmt.Errorf("timestamptz: want RFC 3339, got %q", clipString(s))
		}
		v := TimeOf(tm)
		if err := v.CheckTime(); err != nil {
			return Value{}, err
		}
		return v, nil
	}
	return Value{}, fmt.Errorf("%s where %s is expected", clipped(appendJSONString(nil, s)), t)
}

// decodeArray reads a JSON array whose elements are natural JSON of t's
// element type.
func decodeArray(raw []byte, t Type) (Value, error) {
	if raw[0] != '[' {
		return Value{}, expected(raw, t)
	}
	raws, err := splitJSONArray(string(raw))
	if err != nil {
		return Value{}, expected(raw, t)
	}
	et := t.Elem()
	b := []byte{'['}
	for i, r := range raws {
		e, err := Decode(r, et)
		if err != nil {
			return Value{}, fmt.Errorf("%s, element %d: %w", t, i+1, err)
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = e.AppendJSON(b)
	}
	return Value{t: t.ValueType(), s: string(append(b, ']'))}, nil
}

// splitJSONArray returns the raw elements of a JSON array.
func splitJSONArray(s string) ([][]byte, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal([]byte(s), &raws); err != nil {
		return nil, err
	}
	out := make([][]byte, len(raws))
	for i, r := range raws {
		out[i] = r
	}
	return out, nil
}

func expected(raw []byte, t Type) error {
	return fmt.Errorf("%s where %s is expected", clipped(raw), t)
}

func clipped(raw []byte) string {
	if len(raw) > 40 {
		return string(raw[:40]) + "…"
	}
	return string(raw)
}

// CheckTime reports an error for a Time (timestamptz) or Timestamp value
// whose UTC year is outside 0001–9999: RFC 3339, and so the JSON form, has
// four-digit years only.
func (v Value) CheckTime() error {
	if v.t == Timestamp && (v.i < minTimestamp || v.i > maxTimestamp) {
		return fmt.Errorf("timestamp: %s is outside the years 0001–9999", v.Time().Format(time.RFC3339Nano))
	}
	if v.t != Time {
		return nil
	}
	if y := v.Time().Year(); y < 1 || y > 9999 {
		return fmt.Errorf("timestamptz: year %d is outside 0001–9999", y)
	}
	return nil
}

// Infer decodes JSON whose type is not known from a schema: strings become
// Text, integral numbers Int, other numbers Float, booleans Bool, objects and
// arrays JSON.
func Infer(raw []byte) (Value, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return Value{}, fmt.Errorf("empty JSON")
	}
	switch c := raw[0]; {
	case c == 'n':
		return Decode(raw, Text) // null
	case c == '"':
		return Decode(raw, Text)
	case c == 't' || c == 'f':
		return Decode(raw, Bool)
	case c == '{' || c == '[':
		return JSONOf(raw)
	default:
		if i, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
			return IntOf(i), nil
		}
		return Decode(raw, Float)
	}
}

// UnmarshalJSON infers the value's type from its JSON (see Infer). Code that
// knows the field's type should use Decode, or Convert the result.
func (v *Value) UnmarshalJSON(b []byte) error {
	p, err := Infer(b)
	if err != nil {
		return err
	}
	*v = p
	return nil
}
