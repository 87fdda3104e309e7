package replication

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/value"
)

func mustNumeric(s string) value.Value {
	v, err := value.NumericOf(s)
	if err != nil {
		panic(err)
	}
	return v
}

func mustText(s string, t value.Type) value.Value {
	v, err := value.FromText(s, t)
	if err != nil {
		panic(err)
	}
	return v
}

// formatTextArray prints a text[] as Postgres's array_out does, for round
// trips in tests and fuzzing.
func formatTextArray(elems []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range elems {
		if i > 0 {
			b.WriteByte(',')
		}
		quote := e == "" || strings.EqualFold(e, "NULL")
		for j := 0; j < len(e) && !quote; j++ {
			c := e[j]
			quote = c == '"' || c == '\\' || c == '{' || c == '}' || c == ',' || isArraySpace(c)
		}
		if !quote {
			b.WriteString(e)
			continue
		}
		b.WriteByte('"')
		for j := 0; j < len(e); j++ {
			if e[j] == '"' || e[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(e[j])
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// formatTimestamptz prints t as Postgres does with DateStyle ISO and the
// given fixed offset (seconds east of UTC).
func formatTimestamptz(t time.Time, offset int) string {
	t = t.In(time.FixedZone("", offset))
	year, bc := t.Year(), false
	if year <= 0 {
		year, bc = 1-year, true
	}
	s := fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d", year, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second())
	if us := t.Nanosecond() / 1000; us != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%06d", us), "0")
	}
	sign := "+"
	if offset < 0 {
		sign, offset = "-", -offset
	}
	s += fmt.Sprintf("%s%02d", sign, offset/3600)
	if offset%3600 != 0 {
		s += fmt.Sprintf(":%02d", offset%3600/60)
		if offset%60 != 0 {
			s += fmt.Sprintf(":%02d", offset%60)
		}
	}
	if bc {
		s += " BC"
	}
	return s
}

func TestParseTextArray(t *testing.T) {
	t.Parallel()
	good := []struct {
		in   string
		want []string
	}{
		{`{}`, []string{}},
		{`{A}`, []string{"A"}},
		{`{01J0000000000000000000000A,01J0000000000000000000000B}`, []string{"01J0000000000000000000000A", "01J0000000000000000000000B"}},
		{`{"a b","x\"y","back\\slash",""}`, []string{"a b", `x"y`, `back\slash`, ""}},
		{`{"NULL",null2}`, []string{"NULL", "null2"}},
		{`{"{}",","}`, []string{"{}", ","}},
		{`{ a , b }`, []string{"a", "b"}},
		{`{a\ ,b}`, []string{"a ", "b"}},
		{`{\N\U\L\L}`, []string{"NULL"}},
		{`[0:1]={x,y}`, []string{"x", "y"}},
		{`{héllo,"日本"}`, []string{"héllo", "日本"}},
	}
	for _, c := range good {
		got, err := parseTextArray(c.in)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("parseTextArray(%s) = %q, %v; want %q", c.in, got, err, c.want)
		}
		if err == nil {
			again, err := parseTextArray(formatTextArray(got))
			if err != nil || !slices.Equal(again, got) {
				t.Errorf("round trip of %q through %s: %q, %v", got, formatTextArray(got), again, err)
			}
		}
	}
	bad := []string{``, `{`, `}`, `a,b`, `{a,}`, `{,a}`, `{"a}`, `{a"b}`, `{{a},{b}}`, `{"a" b}`, `{a\}`, `[1:2]{a}`, `{a}x`}
	for _, in := range bad {
		if got, err := parseTextArray(in); err == nil {
			t.Errorf("parseTextArray(%s) = %q, want an error", in, got)
		}
	}
	if _, err := parseTextArray(`{a,NULL}`); !errors.Is(err, errNullElement) {
		t.Errorf("NULL element: %v, want errNullElement", err)
	}
}

func TestParseTimestamptz(t *testing.T) {
	t.Parallel()
	utc := func(y int, mo time.Month, d, h, mi, s, us int) time.Time {
		return time.Date(y, mo, d, h, mi, s, us*1000, time.UTC)
	}
	good := []struct {
		in   string
		want time.Time
	}{
		{"2024-01-02 03:04:05.123456+00", utc(2024, 1, 2, 3, 4, 5, 123456)},
		{"2024-01-02 03:04:05+00", utc(2024, 1, 2, 3, 4, 5, 0)},
		{"2024-01-02 03:04:05.5+00", utc(2024, 1, 2, 3, 4, 5, 500000)},
		{"2024-01-02 08:34:05.000001+05:30", utc(2024, 1, 2, 3, 4, 5, 1)},
		{"2023-12-31 19:04:05-08", utc(2024, 1, 1, 3, 4, 5, 0)},
		{"2024-01-01 23:30:00-03:30", utc(2024, 1, 2, 3, 0, 0, 0)},
		{"1850-01-01 00:19:32+00:19:32", utc(1850, 1, 1, 0, 0, 0, 0)},
		{"1969-12-31 23:59:59.999999+00", utc(1969, 12, 31, 23, 59, 59, 999999)},
		{"12345-06-07 08:09:10+00", utc(12345, 6, 7, 8, 9, 10, 0)},
		{"0044-03-15 12:00:00+00 BC", utc(-43, 3, 15, 12, 0, 0, 0)},
		{"0001-01-01 00:00:00+00 BC", utc(0, 1, 1, 0, 0, 0, 0)},
		{"2024-02-29 00:00:00+00", utc(2024, 2, 29, 0, 0, 0, 0)},
		{"2024-01-02 03:04:05", utc(2024, 1, 2, 3, 4, 5, 0)}, // timestamp without time zone
	}
	for _, c := range good {
		got, err := parseTimestamptz(c.in)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("parseTimestamptz(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	bad := []string{"", "2024-01-02", "2024-01-02T03:04:05Z", "24-01-02 03:04:05+00", "2024-13-02 03:04:05+00",
		"2023-02-29 00:00:00+00", "2024-01-02 24:00:00+00", "2024-01-02 03:04:05.+00", "2024-01-02 03:04:05.1234567+00",
		"2024-01-02 03:04:05+0", "2024-01-02 03:04:05+16", "2024-01-02 03:04:05+05:60", "2024-01-02 03:04:05+00 AD",
		"0000-01-01 00:00:00+00", "2024-01-02 03:04:05Z"}
	for _, in := range bad {
		if got, err := parseTimestamptz(in); err == nil {
			t.Errorf("parseTimestamptz(%q) = %v, want an error", in, got)
		}
	}
	for _, in := range []string{"infinity", "-infinity"} {
		if _, err := parseTimestamptz(in); !errors.Is(err, errInfinite) {
			t.Errorf("parseTimestamptz(%q): %v, want errInfinite", in, err)
		}
	}
}

func TestDecoders(t *testing.T) {
	t.Parallel()
	jv, _ := value.JSONOf([]byte(`{"a":[1,2.5,"x"],"b":null}`))
	cases := []struct {
		oid  uint32
		raw  string
		want value.Value
	}{
		{oidText, "héllo", value.TextOf("héllo")},
		{oidVarchar, "", value.TextOf("")},
		{oidInt8, "-9223372036854775808", value.IntOf(math.MinInt64)},
		{oidInt4, "2147483647", value.IntOf(math.MaxInt32)},
		{oidInt2, "-7", value.IntOf(-7)},
		{oidFloat8, "NaN", value.FloatOf(math.NaN())},
		{oidFloat8, "Infinity", value.FloatOf(math.Inf(1))},
		{oidFloat8, "-Infinity", value.FloatOf(math.Inf(-1))},
		{oidFloat8, "-0", value.FloatOf(math.Copysign(0, -1))},
		{oidFloat8, "0.1", value.FloatOf(0.1)},
		{oidFloat8, "1.7976931348623157e+308", value.FloatOf(math.MaxFloat64)},
		{oidFloat8, "5e-324", value.FloatOf(5e-324)},
		{oidFloat4, "0.1", value.RealOf(0.1)},
		{oidNumeric, "12345678901234567890.120", mustNumeric("12345678901234567890.120")},
		{oidNumeric, "NaN", mustNumeric("NaN")},
		{oidUUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", mustText("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", value.UUID)},
		{oidDate, "2024-01-02", mustText("2024-01-02", value.Date)},
		{oidTime, "24:00:00", mustText("24:00:00", value.TimeOfDay)},
		{oidTimestamp, "2024-01-02 03:04:05.5", mustText("2024-01-02T03:04:05.5", value.Timestamp)},
		{oidInterval, "P1Y-2M3DT-4H5M-6.5S", mustText("P10M3DT-3H-55M-6.5S", value.Interval)},
		{oidBPChar, "a  ", value.CharOf("a  ")},
		{oidBool, "t", value.BoolOf(true)},
		{oidBool, "f", value.BoolOf(false)},
		{oidBytea, `\x`, value.BytesOf(nil)},
		{oidBytea, `\x00ff10`, value.BytesOf([]byte{0, 0xff, 0x10})},
		{oidTimestamptz, "2024-01-02 03:04:05.123456+00", value.TimeOf(time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC))},
		{oidJSONB, `{"a": [1, 2.5, "x"], "b": null}`, jv},
	}
	for _, c := range cases {
		dec, known := decoderFor(c.oid)
		got, err := dec([]byte(c.raw))
		if !known || err != nil || !value.Equal(got, c.want) {
			t.Errorf("oid %d %q: %v (known %v, err %v), want %v", c.oid, c.raw, got, known, err, c.want)
		}
	}
	bad := []struct {
		oid uint32
		raw string
	}{
		{oidInt8, "1.5"}, {oidInt8, "9223372036854775808"}, {oidFloat8, "inf"}, {oidFloat8, "0x1p3"},
		{oidFloat8, "1_000"}, {oidBool, "true"}, {oidBytea, `\x0`}, {oidBytea, `abc`}, {oidBytea, `\xzz`},
		{oidJSONB, `{`}, {oidTimestamptz, "infinity"}, {oidDate, "infinity"}, {oidTimestamp, "0044-03-15 00:00:00 BC"},
		{oidInterval, "1 day"}, {oidNumeric, "1e3x"}, {oidUUID, "x"},
	}
	for _, c := range bad {
		dec, _ := decoderFor(c.oid)
		if got, err := dec([]byte(c.raw)); err == nil {
			t.Errorf("oid %d %q = %v, want an error", c.oid, c.raw, got)
		}
	}
	if _, known := decoderFor(16500); known { // an enum or a domain: typed by the server
		t.Error("a type of the database's own should be passed on as text")
	}
	if dec, known := decoderFor(1007); !known || dec == nil { // integer[]
		t.Error("integer[] should be known (passed on as text)")
	}
}

// isArraySpace is Postgres's array_isspace: the bytes array_in skips.
func isArraySpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
