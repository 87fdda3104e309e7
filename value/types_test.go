package value_test

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/value"
)

func mustType(t testing.TB, name string) value.Type {
	t.Helper()
	ty, err := value.ParseType(name)
	if err != nil {
		t.Fatalf("ParseType(%q): %v", name, err)
	}
	return ty
}

// Every spelling maps to one canonical name, whose type has the expected
// kind and value type, and the canonical name parses back to the same Type.
func TestParseTypeCanonical(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, canon string
		kind      value.Type
		valueType string
	}{
		{"smallint", "smallint", value.Int, "bigint"},
		{"INT2", "smallint", value.Int, "bigint"},
		{"integer", "integer", value.Int, "bigint"},
		{"int", "integer", value.Int, "bigint"},
		{"int4", "integer", value.Int, "bigint"},
		{"bigint", "bigint", value.Int, "bigint"},
		{"numeric", "numeric", value.Numeric, "numeric"},
		{"decimal", "numeric", value.Numeric, "numeric"},
		{"numeric(10,2)", "numeric(10,2)", value.Numeric, "numeric"},
		{"NUMERIC ( 10 , 2 )", "numeric(10,2)", value.Numeric, "numeric"},
		{"decimal(5)", "numeric(5,0)", value.Numeric, "numeric"},
		{"numeric(3,-1)", "numeric(3,-1)", value.Numeric, "numeric"},
		{"real", "real", value.Real, "real"},
		{"float4", "real", value.Real, "real"},
		{"double precision", "double precision", value.Float, "double precision"},
		{"float8", "double precision", value.Float, "double precision"},
		{"boolean", "boolean", value.Bool, "boolean"},
		{"text", "text", value.Text, "text"},
		{"varchar", "varchar", value.Text, "text"},
		{"varchar(20)", "varchar(20)", value.Text, "text"},
		{"character varying(20)", "varchar(20)", value.Text, "text"},
		{"char(3)", "char(3)", value.Char, "bpchar"},
		{"character(3)", "char(3)", value.Char, "bpchar"},
		{"char", "char(1)", value.Char, "bpchar"},
		{"bpchar", "bpchar", value.Char, "bpchar"},
		{"uuid", "uuid", value.UUID, "uuid"},
		{"date", "date", value.Date, "date"},
		{"time", "time", value.TimeOfDay, "time"},
		{"time without time zone", "time", value.TimeOfDay, "time"},
		{"time(3)", "time(3)", value.TimeOfDay, "time"},
		{"timestamp", "timestamp", value.Timestamp, "timestamp"},
		{"timestamp(0) without time zone", "timestamp(0)", value.Timestamp, "timestamp"},
		{"timestamptz", "timestamptz", value.Time, "timestamptz"},
		{"timestamp with time zone", "timestamptz", value.Time, "timestamptz"},
		{"timestamp(3) with time zone", "timestamptz(3)", value.Time, "timestamptz"},
		{"interval", "interval", value.Interval, "interval"},
		{"interval(2)", "interval(2)", value.Interval, "interval"},
		{"bytea", "bytea", value.Bytes, "bytea"},
		{"json", "json", value.JSON, "jsonb"},
		{"jsonb", "jsonb", value.JSON, "jsonb"},
		{"ref", "ref", value.Ref, "ref"},
		{"enum('sad','ok','happy')", "enum('sad', 'ok', 'happy')", value.Enum, "enum('sad', 'ok', 'happy')"},
		{"ENUM ( 'Sad' , 'it''s ok' )", "enum('Sad', 'it''s ok')", value.Enum, "enum('Sad', 'it''s ok')"},
		{"enum('a,b', ' x ')", "enum('a,b', ' x ')", value.Enum, "enum('a,b', ' x ')"},
		{"integer[]", "integer[]", value.Array, "bigint[]"},
		{"text[]", "text[]", value.Array, "text[]"},
		{"numeric(10,2)[]", "numeric(10,2)[]", value.Array, "numeric[]"},
		{"enum('a','b')[]", "enum('a', 'b')[]", value.Array, "enum('a', 'b')[]"},
		{"timestamp with time zone[]", "timestamptz[]", value.Array, "timestamptz[]"},
	}
	for _, c := range cases {
		ty, err := value.ParseType(c.in)
		if err != nil {
			t.Errorf("ParseType(%q): %v", c.in, err)
			continue
		}
		if ty.String() != c.canon || ty.Kind() != c.kind || ty.ValueType().String() != c.valueType || !ty.Valid() {
			t.Errorf("ParseType(%q) = %q kind %v value type %q valid %v; want %q kind %v value type %q",
				c.in, ty, ty.Kind(), ty.ValueType(), ty.Valid(), c.canon, c.kind, c.valueType)
		}
		if again := mustType(t, c.canon); again != ty {
			t.Errorf("ParseType(%q) = %d, ParseType(%q) = %d: not the same Type", c.in, ty, c.canon, again)
		}
		b, _ := json.Marshal(ty)
		var back value.Type
		if err := json.Unmarshal(b, &back); err != nil || back != ty {
			t.Errorf("JSON round trip of %v: %s → %v, %v", ty, b, back, err)
		}
	}
	for _, bad := range []string{"numeric(0)", "numeric(1001)", "numeric(10,1001)", "varchar(0)", "char(0)",
		"time(7)", "enum()", "enum('a','a')", "enum('')", "enum(a)", "enum('a'", "text[][]", "ref[]",
		"integer(4)", "mood", "public.mood", "timetz", "int[3]", "enum('" + string(make([]byte, 64)) + "')"} {
		if ty, err := value.ParseType(bad); err == nil {
			t.Errorf("ParseType(%q) = %v, want an error", bad, ty)
		}
	}
	if value.Enum.Valid() || value.Array.Valid() || value.Null.Valid() {
		t.Error("bare Enum, Array or Null are valid field types")
	}
	e := mustType(t, "enum('sad', 'ok', 'happy')")
	if got := e.Labels(); len(got) != 3 || got[2] != "happy" {
		t.Errorf("Labels = %q", got)
	}
	if i, ok := e.Ordinal("ok"); !ok || i != 1 {
		t.Errorf("Ordinal(ok) = %d, %v", i, ok)
	}
	if p, s, ok := mustType(t, "numeric(10,2)").NumericScale(); !ok || p != 10 || s != 2 {
		t.Errorf("NumericScale = %d, %d, %v", p, s, ok)
	}
	if mustType(t, "smallint").IntBits() != 16 || mustType(t, "integer").IntBits() != 32 || value.Int.IntBits() != 64 {
		t.Error("IntBits")
	}
	if got := mustType(t, "numeric(10,2)[]").Column(); got != "numeric(10,2)[]" {
		t.Errorf("Column = %q", got)
	}
}

// Canonical numeric text: what Postgres's numeric_in then numeric_out give
// (the Postgres test checks the same table against a real server).
var numericCases = []struct{ in, want string }{
	{"0", "0"}, {"-0", "0"}, {"-0.00", "0.00"}, {"00012", "12"}, {"1.50", "1.50"},
	{"1.5e1", "15"}, {"150e-2", "1.50"}, {"1.50e1", "15.0"}, {".5", "0.5"}, {"5.", "5"}, {"+5", "5"},
	{"1e3", "1000"}, {"1E-3", "0.001"}, {"0.0e-3", "0.0000"}, {"-12.340", "-12.340"},
	{"123456789012345678901234567890.123456789", "123456789012345678901234567890.123456789"},
	{"NaN", "NaN"}, {"nan", "NaN"}, {"Infinity", "Infinity"}, {"inf", "Infinity"}, {"-INFINITY", "-Infinity"},
	{"+inf", "Infinity"}, {"1e-20", "0.00000000000000000001"}, {"-1e2", "-100"},
}

func TestParseNumeric(t *testing.T) {
	t.Parallel()
	for _, c := range numericCases {
		got, err := value.ParseNumeric(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseNumeric(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "-", ".", "e3", "1e", "1e+", "1.2.3", "0x10", "1_000", " 1", "1 ", "-NaN", "Infinit", "1e1000000", "1e-20000", "--1"} {
		if got, err := value.ParseNumeric(bad); err == nil {
			t.Errorf("ParseNumeric(%q) = %q, want an error", bad, got)
		}
	}
}

func TestRoundNumeric(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		p, s int
		want string // "" for an error
	}{
		{"1.005", 10, 2, "1.01"}, {"-1.005", 10, 2, "-1.01"}, {"1.5", 10, 2, "1.50"}, {"1.004", 10, 2, "1.00"},
		{"123.4", 3, -1, "120"}, {"125", 3, -1, "130"}, {"0.0001", 3, 5, "0.00010"}, {"99.995", 4, 2, ""},
		{"99.994", 4, 2, "99.99"}, {"NaN", 4, 2, "NaN"}, {"Infinity", 4, 2, ""}, {"-0.001", 10, 2, "0.00"},
		{"5", 3, -3, "0"}, {"500", 4, -3, "1000"}, {"12345", 5, 0, "12345"}, {"123456", 5, 0, ""},
		{"0.5", 1, 0, "1"}, {"9.5", 1, 0, ""}, {"0", 1, 0, "0"}, {"0.000", 5, 2, "0.00"},
	}
	for _, c := range cases {
		got, err := value.RoundNumeric(c.in, c.p, c.s)
		if c.want == "" {
			if err == nil {
				t.Errorf("RoundNumeric(%s, %d, %d) = %s, want an error", c.in, c.p, c.s, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("RoundNumeric(%s, %d, %d) = %q, %v; want %q", c.in, c.p, c.s, got, err, c.want)
		}
	}
}

func mustFromText(t testing.TB, s string, ty value.Type) value.Value {
	t.Helper()
	v, err := value.FromText(s, ty)
	if err != nil {
		t.Fatalf("FromText(%q, %v): %v", s, ty, err)
	}
	return v
}

// The natural JSON of the new kinds, and Decode back.
func TestJSONRoundTripNewKinds(t *testing.T) {
	t.Parallel()
	num := func(s string) value.Value { v, err := value.NumericOf(s); must(t, err); return v }
	date := func(y int, m time.Month, d int) value.Value { v, err := value.DateOf(y, m, d); must(t, err); return v }
	tod := func(us int64) value.Value { v, err := value.TimeOfDayOf(us); must(t, err); return v }
	mood := mustType(t, "enum('sad', 'ok', 'happy')")
	enum := func(l string) value.Value { v, err := value.EnumOf(mood, l); must(t, err); return v }
	arr := func(ty string, es ...value.Value) value.Value {
		v, err := value.ArrayOf(mustType(t, ty), es)
		must(t, err)
		return v
	}
	cases := []struct {
		v    value.Value
		want string
	}{
		{num("1.50"), `"1.50"`},
		{num("-0.001"), `"-0.001"`},
		{num("NaN"), `"NaN"`},
		{num("-Infinity"), `"-Infinity"`},
		{num("123456789012345678901234567890.5"), `"123456789012345678901234567890.5"`},
		{value.RealOf(0.1), `0.1`},
		{value.RealOf(float32(math.Inf(1))), `"Infinity"`},
		{value.RealOf(16777216), `1.6777216e+07`},
		{value.UUIDOf([16]byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11}), `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`},
		{date(2024, 1, 2), `"2024-01-02"`},
		{date(1, 1, 1), `"0001-01-01"`},
		{date(9999, 12, 31), `"9999-12-31"`},
		{date(1969, 12, 31), `"1969-12-31"`},
		{tod(0), `"00:00:00"`},
		{tod(12*3600e6 + 34*60e6 + 56e6 + 500000), `"12:34:56.5"`},
		{tod(1), `"00:00:00.000001"`},
		{tod(value.MaxTimeOfDay), `"24:00:00"`},
		{value.TimestampOf(time.Date(2024, 1, 2, 3, 4, 5, 500000000, time.UTC)), `"2024-01-02T03:04:05.5"`},
		{value.TimestampOf(time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC)), `"1969-12-31T23:59:59.999999"`},
		{value.IntervalOf(0, 0, 0), `"PT0S"`},
		{value.IntervalOf(14, 3, 4*3600e6+5*60e6+6500000), `"P1Y2M3DT4H5M6.5S"`},
		{value.IntervalOf(10, 3, -(4*3600e6 + 5*60e6 + 6500000)), `"P10M3DT-4H-5M-6.5S"`},
		{value.IntervalOf(0, 0, -500000), `"PT-0.5S"`},
		{value.IntervalOf(0, 0, -90*60e6), `"PT-1H-30M"`},
		{value.IntervalOf(-14, -1, 0), `"P-1Y-2M-1D"`},
		{value.CharOf("a  "), `"a  "`},
		{enum("ok"), `"ok"`},
		{arr("integer[]", value.IntOf(1), value.NullValue, value.IntOf(3)), `[1,null,3]`},
		{arr("text[]"), `[]`},
		{arr("numeric[]", num("1.50"), num("NaN")), `["1.50","NaN"]`},
		{arr("date[]", date(2024, 1, 2)), `["2024-01-02"]`},
		{arr("enum('sad', 'ok', 'happy')[]", enum("happy"), value.NullValue), `["happy",null]`},
	}
	for _, c := range cases {
		got := string(c.v.AppendJSON(nil))
		if got != c.want {
			t.Errorf("%v: AppendJSON = %s, want %s", c.v.Type(), got, c.want)
			continue
		}
		back, err := value.Decode([]byte(got), c.v.Type())
		if err != nil || !value.Equal(back, c.v) || back.Type() != c.v.Type() {
			t.Errorf("Decode(%s, %v) = %v (%v), %v; want %v", got, c.v.Type(), back, back.Type(), err, c.v)
		}
		// And through Postgres's text forms.
		pg := c.v.PGText()
		if c.v.Type().Kind() == value.Time {
			continue
		}
		back, err = value.ParsePGText(pg, c.v.Type())
		if c.v.Type().Kind() == value.Timestamp || c.v.Type().Kind() == value.Array {
			if err != nil || !value.Equal(back, c.v) {
				t.Errorf("ParsePGText(%q, %v) = %v, %v", pg, c.v.Type(), back, err)
			}
			continue
		}
		if err != nil || !value.Equal(back, c.v) {
			t.Errorf("ParsePGText(%q, %v) = %v, %v", pg, c.v.Type(), back, err)
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Decode accepts a numeric as a JSON number (exactly) and other spellings.
func TestDecodeNewKinds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		raw, typ, want string // want: the natural JSON, or "" for an error
	}{
		{`1.50`, "numeric", `"1.50"`},
		{`12345678901234567890.123456789`, "numeric", `"12345678901234567890.123456789"`},
		{`1e2`, "numeric", `"100"`},
		{`"abc"`, "numeric", ``},
		{`true`, "numeric", ``},
		{`0.1`, "real", `0.1`},
		{`1e39`, "real", ``},
		{`"NaN"`, "real", `"NaN"`},
		{`"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"`, "uuid", `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`},
		{`"{a0eebc999c0b4ef8bb6d6bb9bd380a11}"`, "uuid", `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`},
		{`"a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11"`, "uuid", `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`},
		{`"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"`, "uuid", ``},
		{`"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-"`, "uuid", ``},
		{`"2024-02-29"`, "date", `"2024-02-29"`},
		{`"2023-02-29"`, "date", ``},
		{`"0000-01-01"`, "date", ``},
		{`"10000-01-01"`, "date", ``},
		{`"2024-1-2"`, "date", ``},
		{`"12:34"`, "time", `"12:34:00"`},
		{`"12:34:56.1234567"`, "time", `"12:34:56.123456"`},
		{`"24:00:00"`, "time", `"24:00:00"`},
		{`"24:00:01"`, "time", ``},
		{`"12:60:00"`, "time", ``},
		{`"2024-01-02 03:04:05"`, "timestamp", `"2024-01-02T03:04:05"`},
		{`"2024-01-02T03:04:05+02:00"`, "timestamp", `"2024-01-02T01:04:05"`},
		{`"2024-01-02T03:04:05Z"`, "timestamp", `"2024-01-02T03:04:05"`},
		{`"2024-01-02"`, "timestamp", ``},
		{`"P1W"`, "interval", `"P7D"`},
		{`"PT36H"`, "interval", `"PT36H"`},
		{`"P1Y-13M"`, "interval", `"P-1M"`},
		{`"PT1.5S"`, "interval", `"PT1.5S"`},
		{`"P1.5Y"`, "interval", ``},
		{`"P"`, "interval", ``},
		{`"PT"`, "interval", ``},
		{`"P1D2Y"`, "interval", ``},
		{`"1 day"`, "interval", ``},
		{`"P9999999999Y"`, "interval", ``},
		{`"ok"`, "enum('sad', 'ok')", `"ok"`},
		{`"OK"`, "enum('sad', 'ok')", ``},
		{`1`, "enum('sad', 'ok')", ``},
		{`[1,null]`, "integer[]", `[1,null]`},
		{`[1,"x"]`, "integer[]", ``},
		{`[[1]]`, "integer[]", ``},
		{`"{1,2}"`, "integer[]", ``},
		{`{"a":1}`, "json", `{"a":1}`},
		{`"x"`, "char(3)", `"x"`},
	}
	for _, c := range cases {
		v, err := value.Decode([]byte(c.raw), mustType(t, c.typ))
		if c.want == "" {
			if err == nil {
				t.Errorf("Decode(%s, %s) = %v, want an error", c.raw, c.typ, v)
			}
			continue
		}
		if err != nil || string(v.AppendJSON(nil)) != c.want {
			t.Errorf("Decode(%s, %s) = %v, %v; want %s", c.raw, c.typ, v, err, c.want)
		}
	}
}

// Convert applies field modifiers as Postgres applies them on assignment.
func TestConvertModifiers(t *testing.T) {
	t.Parallel()
	num := func(s string) value.Value { v, err := value.NumericOf(s); must(t, err); return v }
	cases := []struct {
		v    value.Value
		typ  string
		want string // natural JSON; "" error
		err  error  // the wrapped error, if any
	}{
		{value.IntOf(32767), "smallint", `32767`, nil},
		{value.IntOf(32768), "smallint", ``, value.ErrOutOfRange},
		{value.IntOf(-2147483648), "integer", `-2147483648`, nil},
		{value.IntOf(2147483648), "integer", ``, value.ErrOutOfRange},
		{num("1.005"), "numeric(10,2)", `"1.01"`, nil},
		{num("1000"), "numeric(5,2)", ``, value.ErrOutOfRange},
		{value.IntOf(7), "numeric(5,2)", `"7.00"`, nil},
		{value.FloatOf(0.1), "numeric", `"0.1"`, nil},
		{value.FloatOf(math.NaN()), "numeric", `"NaN"`, nil},
		{num("12"), "bigint", `12`, nil},
		{num("12.5"), "bigint", ``, nil},
		{num("0.1"), "double precision", `0.1`, nil},
		{num("1e400"), "double precision", ``, value.ErrOutOfRange},
		{value.FloatOf(0.1), "real", `0.1`, nil},
		{value.FloatOf(1e39), "real", ``, value.ErrOutOfRange},
		{value.FloatOf(1e-50), "real", ``, value.ErrOutOfRange},
		{value.IntOf(16777217), "real", `1.6777216e+07`, nil},
		{value.RealOf(0.5), "double precision", `0.5`, nil},
		{value.TextOf("héllo"), "varchar(5)", `"héllo"`, nil},
		{value.TextOf("héllo!"), "varchar(5)", ``, value.ErrTooLong},
		{value.TextOf("ab   "), "varchar(2)", `"ab"`, nil},
		{value.TextOf("a"), "char(3)", `"a  "`, nil},
		{value.TextOf("abc  "), "char(3)", `"abc"`, nil},
		{value.TextOf("abcd"), "char(3)", ``, value.ErrTooLong},
		{value.CharOf("a  "), "text", `"a"`, nil},
		{value.TextOf("12:34:56.789"), "time(1)", `"12:34:56.8"`, nil},
		{value.TextOf("23:59:59.5"), "time(0)", `"24:00:00"`, nil},
		{value.TextOf("2024-01-02T03:04:05.25"), "timestamp(1)", `"2024-01-02T03:04:05.3"`, nil},
		{value.TextOf("9999-12-31T23:59:59.5"), "timestamp(0)", ``, value.ErrOutOfRange},
		{value.TimeOf(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)), "timestamp", `"2024-01-02T03:04:05"`, nil},
		{value.TimestampOf(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)), "timestamptz", `"2024-01-02T03:04:05.000000Z"`, nil},
		{value.TextOf("2024-01-02"), "timestamp", ``, nil},
		{mustFromText(t, "2024-01-02", value.Date), "timestamp", `"2024-01-02T00:00:00"`, nil},
		{value.TextOf("PT1.25S"), "interval(1)", `"PT1.3S"`, nil},
		{value.TextOf("PT-1.25S"), "interval(1)", `"PT-1.3S"`, nil},
		{value.TextOf("ok"), "enum('sad', 'ok')", `"ok"`, nil},
		{value.TextOf("meh"), "enum('sad', 'ok')", ``, nil},
		{value.TextOf("{1,NULL,3}"), "smallint[]", `[1,null,3]`, nil},
		{value.TextOf("{1,70000}"), "smallint[]", ``, value.ErrOutOfRange},
		{value.TextOf("2024-01-02"), "date", `"2024-01-02"`, nil},
		{value.TextOf("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "uuid", `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`, nil},
		{value.IntOf(1), "uuid", ``, nil},
	}
	for _, c := range cases {
		got, err := value.Convert(c.v, mustType(t, c.typ))
		if c.want == "" {
			if err == nil {
				t.Errorf("Convert(%v %v, %s) = %v, want an error", c.v.Type(), c.v, c.typ, got)
			} else if c.err != nil && !errors.Is(err, c.err) {
				t.Errorf("Convert(%v, %s): %v, want it to wrap %v", c.v, c.typ, err, c.err)
			}
			continue
		}
		if err != nil || string(got.AppendJSON(nil)) != c.want {
			t.Errorf("Convert(%v %v, %s) = %v, %v; want %s", c.v.Type(), c.v, c.typ, got, err, c.want)
		}
		if err == nil && got.Type() != mustType(t, c.typ).ValueType() {
			t.Errorf("Convert(%v, %s) has type %v, want %v", c.v, c.typ, got.Type(), mustType(t, c.typ).ValueType())
		}
	}
}

// Interval spans: Postgres's equality, where 1 mon = 30 days and 1 day = 24 h.
func TestIntervalSpan(t *testing.T) {
	t.Parallel()
	day := int64(86400e6)
	eq := [][2]value.Value{
		{value.IntervalOf(1, 0, 0), value.IntervalOf(0, 30, 0)},
		{value.IntervalOf(0, 1, 0), value.IntervalOf(0, 0, day)},
		{value.IntervalOf(0, 1, -1), value.IntervalOf(0, 0, day-1)},
		{value.IntervalOf(0, -1, 0), value.IntervalOf(0, 0, -day)},
		{value.IntervalOf(12, 0, 0), value.IntervalOf(0, 360, 0)},
	}
	for _, p := range eq {
		d1, r1 := p[0].IntervalSpan()
		d2, r2 := p[1].IntervalSpan()
		if d1 != d2 || r1 != r2 {
			t.Errorf("%v and %v: spans (%d, %d) and (%d, %d) differ", p[0], p[1], d1, r1, d2, r2)
		}
	}
	d, r := value.IntervalOf(0, 0, -1).IntervalSpan()
	if d != -1 || r != day-1 {
		t.Errorf("span of -1 µs = (%d, %d)", d, r)
	}
}

func TestArrayText(t *testing.T) {
	t.Parallel()
	ints := mustType(t, "integer[]")
	texts := mustType(t, "text[]")
	cases := []struct {
		in   string
		typ  value.Type
		want string
	}{
		{`{1,2,NULL}`, ints, `[1,2,null]`},
		{`{}`, ints, `[]`},
		{`[0:1]={1,2}`, ints, `[1,2]`},
		{`{"a b","x\"y",NULL,"NULL","",\\}`, texts, `["a b","x\"y",null,"NULL","","\\"]`},
		{` { a , b } `, texts, ``},
		{`{ a , b }`, texts, `["a","b"]`},
		{`{{1},{2}}`, ints, ``},
		{`[1:2][1:1]={{1},{2}}`, ints, ``},
		{`{1,}`, ints, ``},
		{`{"a}`, texts, ``},
	}
	for _, c := range cases {
		v, err := value.ParseArrayText(c.in, c.typ)
		if c.want == "" {
			if err == nil {
				t.Errorf("ParseArrayText(%q) = %v, want an error", c.in, v)
			}
			continue
		}
		if err != nil || string(v.AppendJSON(nil)) != c.want {
			t.Errorf("ParseArrayText(%q) = %v, %v; want %s", c.in, v, err, c.want)
			continue
		}
		back, err := value.ParseArrayText(v.PGText(), c.typ)
		if err != nil || !value.Equal(back, v) {
			t.Errorf("PGText %q does not parse back: %v, %v", v.PGText(), back, err)
		}
	}
}
