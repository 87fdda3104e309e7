package replication

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ankurah/ankurah-go/value"
)

// pgoutput (protocol version 1) sends every column in the type's text output
// format, as the walsender session prints it. The consumer pins the settings
// that shape that output on its replication connection (see
// replicationConnConfig): DateStyle ISO, TimeZone UTC, IntervalStyle
// iso_8601, bytea_output hex and extra_float_digits 3, so the parsers here
// (and value.ParsePGText) need to understand one spelling only — though the
// timestamp parser accepts any UTC offset, and years past 9999 or BC,
// because Postgres can print them.
//
// Columns whose type the consumer cannot know from its OID alone — enums,
// domains, and arrays, whose element type the collection's catalog says —
// arrive as value.Text holding that output; the server types them by the
// collection's fields (value.ParsePGText), as it knows the catalog.

// Type OIDs of the column types Ankurah uses (and close relatives that decode
// the same way). From pg_type.dat; they are fixed across Postgres versions.
const (
	oidBool        = 16
	oidBytea       = 17
	oidChar        = 18
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidJSON        = 114
	oidFloat4      = 700
	oidFloat8      = 701
	oidBPChar      = 1042
	oidVarchar     = 1043
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidJSONB       = 3802
	oidTextArray   = 1009
	oidNumeric     = 1700
	oidUUID        = 2950
	oidDate        = 1082
	oidTime        = 1083
	oidInterval    = 1186
)

// arrayOIDs are the array types of the field types: passed on as their
// text, typed by the server (see above).
var arrayOIDs = map[uint32]bool{
	1000: true, 1001: true, 1005: true, 1007: true, 1009: true, 1014: true, 1015: true, 1016: true,
	1021: true, 1022: true, 1231: true, 1182: true, 1183: true, 1115: true, 1185: true, 1187: true,
	2951: true, 199: true, 3807: true,
}

// decodeFunc turns a column's text output into a value.
type decodeFunc func(raw []byte) (value.Value, error)

// decoderFor returns the decoder for a column type, and false when the type
// is not one Ankurah uses; such columns are kept as text.
func decoderFor(oid uint32) (decodeFunc, bool) {
	switch oid {
	case oidText, oidVarchar, oidName, oidChar:
		return decodeText, true
	case oidBPChar:
		return decodeAs(value.Char), true
	case oidInt8, oidInt4, oidInt2:
		return decodeInt, true
	case oidFloat8:
		return decodeFloat8, true
	case oidFloat4:
		return decodeFloat4, true
	case oidBool:
		return decodeBool, true
	case oidBytea:
		return decodeBytea, true
	case oidTimestamptz:
		return decodeTime, true
	case oidTimestamp:
		return decodeAs(value.Timestamp), true
	case oidJSONB, oidJSON:
		return decodeJSON, true
	case oidNumeric:
		return decodeAs(value.Numeric), true
	case oidUUID:
		return decodeAs(value.UUID), true
	case oidDate:
		return decodeAs(value.Date), true
	case oidTime:
		return decodeAs(value.TimeOfDay), true
	case oidInterval:
		return decodeAs(value.Interval), true
	}
	return decodeText, arrayOIDs[oid]
}

// decodeAs reads the text output of a type through value.ParsePGText.
func decodeAs(t value.Type) decodeFunc {
	return func(raw []byte) (value.Value, error) { return value.ParsePGText(string(raw), t) }
}

func decodeText(raw []byte) (value.Value, error) { return value.TextOf(string(raw)), nil }

func decodeInt(raw []byte) (value.Value, error) {
	i, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return value.Value{}, fmt.Errorf("integer %q: %w", clip(raw), err)
	}
	return value.IntOf(i), nil
}

func decodeFloat8(raw []byte) (value.Value, error) {
	f, err := parseFloat(string(raw), 64)
	return value.FloatOf(f), err
}

func decodeFloat4(raw []byte) (value.Value, error) {
	f, err := parseFloat(string(raw), 32)
	return value.RealOf(float32(f)), err
}

// parseFloat reads float4/float8 output: decimal or exponent notation, or
// NaN, Infinity, -Infinity. strconv would also take "inf", "0x1p3" and
// underscores, which Postgres never prints; those are refused so that a
// stray value does not pass as a number.
func parseFloat(s string, bits int) (float64, error) {
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
			return 0, fmt.Errorf("float %q: not a number", clip([]byte(s)))
		}
	}
	f, err := strconv.ParseFloat(s, bits)
	if err != nil {
		return 0, fmt.Errorf("float %q: %w", clip([]byte(s)), err)
	}
	return f, nil
}

func decodeBool(raw []byte) (value.Value, error) {
	switch string(raw) {
	case "t":
		return value.BoolOf(true), nil
	case "f":
		return value.BoolOf(false), nil
	}
	return value.Value{}, fmt.Errorf("boolean %q: want t or f", clip(raw))
}

// decodeBytea reads bytea_output = hex: \x followed by two hex digits per byte.
func decodeBytea(raw []byte) (value.Value, error) {
	if len(raw) < 2 || raw[0] != '\\' || raw[1] != 'x' {
		return value.Value{}, fmt.Errorf("bytea %q: want hex output (\\x…)", clip(raw))
	}
	b := make([]byte, hex.DecodedLen(len(raw)-2))
	if _, err := hex.Decode(b, raw[2:]); err != nil {
		return value.Value{}, fmt.Errorf("bytea %q: %w", clip(raw), err)
	}
	return value.BytesOf(b), nil
}

func decodeTime(raw []byte) (value.Value, error) {
	t, err := parseTimestamptz(string(raw))
	if err != nil {
		return value.Value{}, err
	}
	return value.TimeOf(t), nil
}

func decodeJSON(raw []byte) (value.Value, error) {
	v, err := value.JSONOf(raw)
	if err != nil {
		return value.Value{}, fmt.Errorf("jsonb %q: %w", clip(raw), err)
	}
	return v, nil
}

// errInfinite is returned for the timestamps 'infinity' and '-infinity',
// which value.Time cannot represent.
var errInfinite = errors.New("infinite timestamp")

// parseTimestamptz parses a timestamp in DateStyle ISO output:
//
//	2024-01-02 03:04:05.123456+00
//	1999-12-31 23:59:59-08
//	1850-01-01 00:00:00+00:53:28   (an offset with seconds: local mean time)
//	12345-06-07 08:09:10+05:30     (years past 9999)
//	0044-03-15 12:00:00+00 BC
//
// The fraction has 1 to 6 digits (Postgres keeps microseconds and trims
// trailing zeros); the offset is ±HH[:MM[:SS]]. Without an offset (a
// timestamp without time zone) the time is taken as UTC. The result is in UTC.
func parseTimestamptz(s string) (time.Time, error) {
	bad := func(why string) (time.Time, error) {
		return time.Time{}, fmt.Errorf("timestamp %q: %s", clip([]byte(s)), why)
	}
	if s == "infinity" || s == "-infinity" {
		return time.Time{}, fmt.Errorf("timestamp %q: %w", s, errInfinite)
	}
	p := s
	bc := strings.HasSuffix(p, " BC")
	if bc {
		p = p[:len(p)-3]
	}
	// Year: 4 or more digits (at most 7: Postgres stops at 294276).
	n := 0
	for n < len(p) && p[n] >= '0' && p[n] <= '9' {
		n++
	}
	if n < 4 || n > 7 {
		return bad("want a year of 4 to 7 digits")
	}
	year, _ := strconv.Atoi(p[:n])
	p = p[n:]
	var month, day, hour, minute, sec int
	var ok bool
	if month, p, ok = field(p, '-', 2); !ok {
		return bad("want -MM")
	}
	if day, p, ok = field(p, '-', 2); !ok {
		return bad("want -DD")
	}
	if hour, p, ok = field(p, ' ', 2); !ok {
		return bad("want a space and HH")
	}
	if minute, p, ok = field(p, ':', 2); !ok {
		return bad("want :MM")
	}
	if sec, p, ok = field(p, ':', 2); !ok {
		return bad("want :SS")
	}
	nsec := 0
	if len(p) > 0 && p[0] == '.' {
		n := 1
		for n < len(p) && p[n] >= '0' && p[n] <= '9' {
			n++
		}
		digits := p[1:n]
		if len(digits) == 0 || len(digits) > 6 {
			return bad("want 1 to 6 fractional digits")
		}
		nsec, _ = strconv.Atoi(digits + "000000000"[len(digits):])
		p = p[n:]
	}
	offset := 0
	if len(p) > 0 {
		sign := 1
		switch p[0] {
		case '+':
		case '-':
			sign = -1
		default:
			return bad("want an offset ±HH[:MM[:SS]]")
		}
		var oh, om, os int
		if oh, p, ok = field(p, p[0], 2); !ok || oh > 15 {
			return bad("want an offset hour 00..15")
		}
		if len(p) > 0 {
			if om, p, ok = field(p, ':', 2); !ok || om > 59 {
				return bad("want offset minutes 00..59")
			}
		}
		if len(p) > 0 {
			if os, p, ok = field(p, ':', 2); !ok || os > 59 {
				return bad("want offset seconds 00..59")
			}
		}
		if len(p) > 0 {
			return bad("unexpected text after the offset")
		}
		offset = sign * (oh*3600 + om*60 + os)
	}
	if year == 0 {
		return bad("year 0 does not exist (1 BC precedes 1 AD)")
	}
	if bc {
		year = 1 - year // astronomical numbering: 1 BC is year 0
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour > 23 || minute > 59 || sec > 59 {
		return bad("field out of range")
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), nil
}

// field consumes a separator byte followed by exactly width digits.
func field(p string, sep byte, width int) (int, string, bool) {
	if len(p) < 1+width || p[0] != sep {
		return 0, p, false
	}
	v := 0
	for i := 1; i <= width; i++ {
		c := p[i]
		if c < '0' || c > '9' {
			return 0, p, false
		}
		v = v*10 + int(c-'0')
	}
	return v, p[1+width:], true
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// errNullElement is returned for an array with a NULL element: heads and
// parents never hold one.
var errNullElement = errors.New("array has a NULL element")

// parseTextArray parses the text output of a one-dimensional text[]:
// {A,B}, {} or {"a b","x\"y",""}. Elements are quoted when they are empty,
// spell NULL, or contain whitespace, a comma, braces, a double quote or a
// backslash; inside quotes a backslash escapes the next byte. An optional
// dimension decoration ([0:1]={…}) is skipped. Unquoted NULL is a NULL
// element, which is an error here (errNullElement); nested arrays are errors.
func parseTextArray(s string) ([]string, error) {
	items, nulls, err := value.SplitArrayText(s) // the one array literal parser
	if err != nil {
		return nil, fmt.Errorf("text[]: %w", err)
	}
	if slices.Contains(nulls, true) {
		return nil, fmt.Errorf("text[] %q: %w", clip([]byte(s)), errNullElement)
	}
	return items, nil
}

// clip shortens raw column text for error messages and logs.
func clip(raw []byte) string {
	if len(raw) > 64 {
		return string(raw[:64]) + "…"
	}
	return string(raw)
}
