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
//	text, ref   "string"
//	bigint      123               (exact, never a float)
//	double      1.5, or "NaN" / "Infinity" / "-Infinity" (as Postgres's to_jsonb writes them)
//	boolean     true
//	bytea       "\\x0a0b"         (Postgres's hex form)
//	timestamptz "2024-01-02T03:04:05.000000Z"
//	jsonb       the JSON itself
func (v Value) MarshalJSON() ([]byte, error) {
	return v.AppendJSON(nil), nil
}

// AppendJSON appends the natural JSON form of v to b.
func (v Value) AppendJSON(b []byte) []byte {
	switch v.t {
	case Null:
		return append(b, "null"...)
	case Text, Ref:
		return appendJSONString(b, v.s)
	case Int:
		return strconv.AppendInt(b, v.i, 10)
	case Float:
		switch {
		case math.IsNaN(v.f):
			return append(b, `"NaN"`...)
		case math.IsInf(v.f, 1):
			return append(b, `"Infinity"`...)
		case math.IsInf(v.f, -1):
			return append(b, `"-Infinity"`...)
		}
		return strconv.AppendFloat(b, v.f, 'g', -1, 64)
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
	case JSON:
		return append(b, v.s...)
	}
	return append(b, "null"...)
}

func appendJSONString(b []byte, s string) []byte {
	enc, _ := json.Marshal(s) // cannot fail for a string
	return append(b, enc...)
}

// Decode reads the natural JSON form of a value of type t. JSON null gives
// NULL for every type. Errors say what was expected.
func Decode(raw []byte, t Type) (Value, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return Value{}, fmt.Errorf("empty JSON where %s is expected", t)
	}
	if string(raw) == "null" {
		return Value{}, nil
	}
	switch t {
	case JSON:
		return JSONOf(raw)
	case Text, Ref:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Value{}, expected(raw, t)
		}
		return Value{t: t, s: s}, nil
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
	case Float:
		if raw[0] == '"' {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return Value{}, expected(raw, t)
			}
			switch s {
			case "NaN":
				return FloatOf(math.NaN()), nil
			case "Infinity":
				return FloatOf(math.Inf(1)), nil
			case "-Infinity":
				return FloatOf(math.Inf(-1)), nil
			}
			return Value{}, expected(raw, t)
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return Value{}, expected(raw, t)
		}
		return FloatOf(f), nil
	case Bool:
		switch string(raw) {
		case "true":
			return BoolOf(true), nil
		case "false":
			return BoolOf(false), nil
		}
		return Value{}, expected(raw, t)
	case Bytes:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Value{}, expected(raw, t)
		}
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
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Value{}, expected(raw, t)
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return Value{}, fmt.Errorf("timestamptz: want RFC 3339, got %q", s)
		}
		v := TimeOf(tm)
		if err := v.CheckTime(); err != nil {
			return Value{}, err
		}
		return v, nil
	}
	return Value{}, fmt.Errorf("cannot decode a value of type %s", t)
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

// CheckTime reports an error for a Time value whose UTC year is outside
// 0001–9999: RFC 3339, and so the JSON form, has four-digit years only.
func (v Value) CheckTime() error {
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
