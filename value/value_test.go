package value_test

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/value"
)

func mustJSON(t testing.TB, s string) value.Value {
	t.Helper()
	v, err := value.JSONOf([]byte(s))
	if err != nil {
		t.Fatalf("JSONOf(%q): %v", s, err)
	}
	return v
}

// describe shows a value with its type, for failure messages.
func describe(v value.Value) string {
	return v.Type().String() + " " + v.String()
}

func TestTypeNames(t *testing.T) {
	t.Parallel()
	cases := []struct {
		typ    value.Type
		name   string
		column string
	}{
		{value.Null, "null", "null"},
		{value.Text, "text", "text"},
		{value.Int, "bigint", "bigint"},
		{value.Float, "double precision", "double precision"},
		{value.Bool, "boolean", "boolean"},
		{value.Bytes, "bytea", "bytea"},
		{value.Time, "timestamptz", "timestamptz"},
		{value.JSON, "jsonb", "jsonb"},
		{value.Ref, "ref", "text"},
		{value.Type(42), "Type(42)", "Type(42)"},
	}
	for _, c := range cases {
		if got := c.typ.String(); got != c.name {
			t.Errorf("Type(%d).String() = %q, want %q", uint8(c.typ), got, c.name)
		}
		if got := c.typ.Column(); got != c.column {
			t.Errorf("Type(%d).Column() = %q, want %q", uint8(c.typ), got, c.column)
		}
		if c.typ == value.Null || c.typ > value.Ref {
			continue
		}
		// Every field type's name parses back to the type.
		p, err := value.ParseType(c.name)
		if err != nil || p != c.typ {
			t.Errorf("ParseType(%q) = %v, %v; want %v", c.name, p, err, c.typ)
		}
		text, err := c.typ.MarshalText()
		if err != nil || string(text) != c.name {
			t.Errorf("%v.MarshalText() = %q, %v", c.typ, text, err)
		}
	}
	for _, n := range []value.Type{value.Int, value.Float} {
		if !n.Numeric() {
			t.Errorf("%v.Numeric() = false", n)
		}
	}
	for _, n := range []value.Type{value.Null, value.Text, value.Bool, value.Bytes, value.Time, value.JSON, value.Ref} {
		if n.Numeric() {
			t.Errorf("%v.Numeric() = true", n)
		}
	}
}

func TestParseTypeAliases(t *testing.T) {
	t.Parallel()
	aliases := map[string]value.Type{
		"string": value.Text, "int8": value.Int, "bigint": value.Int,
		"float": value.Float, "float8": value.Float, "double": value.Float,
		"bool": value.Bool, "bytes": value.Bytes, "timestamptz": value.Time,
		"timestamp with time zone": value.Time, "jsonb": value.JSON,
		// Case and spacing do not matter, as in ankurah.normalize_type.
		"TEXT": value.Text, " text": value.Text, "double  precision": value.Float,
	}
	for name, want := range aliases {
		got, err := value.ParseType(name)
		if err != nil || got != want {
			t.Errorf("ParseType(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	for _, bad := range []string{"", "null", "doubleprecision", "text(3)", "varchar(0)", "enum()", "ref[]", "int[][]"} {
		if got, err := value.ParseType(bad); err == nil {
			t.Errorf("ParseType(%q) = %v, want an error", bad, got)
		}
	}
	// Type works as a JSON map value / struct field through TextMarshaler.
	var m map[string]value.Type
	if err := json.Unmarshal([]byte(`{"a":"double precision","b":"ref","c":"jsonb"}`), &m); err != nil {
		t.Fatal(err)
	}
	if m["a"] != value.Float || m["b"] != value.Ref || m["c"] != value.JSON {
		t.Errorf("unmarshalled %v", m)
	}
	if err := json.Unmarshal([]byte(`{"a":"varchar(x)"}`), &m); err == nil {
		t.Error("unmarshalling an unknown type name succeeded")
	}
	b, err := json.Marshal(map[string]value.Type{"x": value.Time})
	if err != nil || string(b) != `{"x":"timestamptz"}` {
		t.Errorf("json.Marshal = %s, %v", b, err)
	}
}

// TestJSONRoundTrip checks the natural JSON form of every type and that
// Decode with the value's type gives the value back.
func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		v    value.Value
		want string
	}{
		{"null", value.NullValue, `null`},
		{"zero value", value.Value{}, `null`},

		{"text empty", value.TextOf(""), `""`},
		{"text ascii", value.TextOf("hello"), `"hello"`},
		{"text unicode", value.TextOf("héllo, 世界 🎵"), `"héllo, 世界 🎵"`},
		{"text quotes and backslashes", value.TextOf(`say "hi" \ C:\x`), `"say \"hi\" \\ C:\\x"`},
		{"text control chars", value.TextOf("a\nb\tc\x00d"), `"a\nb\tc\u0000d"`},
		{"text html", value.TextOf("<a&b>"), `"\u003ca\u0026b\u003e"`},
		{"text line separator", value.TextOf("a\u2028b"), `"a\u2028b"`},
		{"text looks like null", value.TextOf("null"), `"null"`},

		{"int zero", value.IntOf(0), `0`},
		{"int negative", value.IntOf(-42), `-42`},
		{"int max", value.IntOf(math.MaxInt64), `9223372036854775807`},
		{"int min", value.IntOf(math.MinInt64), `-9223372036854775808`},
		{"int beyond float precision", value.IntOf(1<<53 + 1), `9007199254740993`},

		{"float", value.FloatOf(1.5), `1.5`},
		{"float integral", value.FloatOf(2), `2`},
		{"float zero", value.FloatOf(0), `0`},
		{"float negative zero", value.FloatOf(math.Copysign(0, -1)), `-0`},
		{"float big", value.FloatOf(1e300), `1e+300`},
		{"float small", value.FloatOf(1e-300), `1e-300`},
		{"float max", value.FloatOf(math.MaxFloat64), `1.7976931348623157e+308`},
		{"float smallest subnormal", value.FloatOf(math.SmallestNonzeroFloat64), `5e-324`},
		{"float pi", value.FloatOf(math.Pi), `3.141592653589793`},
		{"float NaN", value.FloatOf(math.NaN()), `"NaN"`},
		{"float +Inf", value.FloatOf(math.Inf(1)), `"Infinity"`},
		{"float -Inf", value.FloatOf(math.Inf(-1)), `"-Infinity"`},

		{"bool true", value.BoolOf(true), `true`},
		{"bool false", value.BoolOf(false), `false`},

		{"bytes", value.BytesOf([]byte{0x0a, 0x0b, 0xff}), `"\\x0a0bff"`},
		{"bytes empty", value.BytesOf([]byte{}), `"\\x"`},
		{"bytes nil", value.BytesOf(nil), `"\\x"`},
		{"bytes zero byte", value.BytesOf([]byte{0}), `"\\x00"`},
		{"bytes text", value.BytesOf([]byte(`a"\`)), `"\\x61225c"`},

		{"time", value.TimeOf(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)), `"2024-01-02T03:04:05.000000Z"`},
		{"time micros", value.TimeOf(time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)), `"2024-01-02T03:04:05.123456Z"`},
		{"time nanos truncated", value.TimeOf(time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)), `"2024-01-02T03:04:05.123456Z"`},
		{"time offset to UTC", value.TimeOf(time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("", 2*3600))), `"2024-01-02T01:04:05.000000Z"`},
		{"time epoch", value.TimeOf(time.Unix(0, 0)), `"1970-01-01T00:00:00.000000Z"`},
		{"time before epoch", value.TimeOf(time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC)), `"1969-12-31T23:59:59.999999Z"`},
		{"time year 1", value.TimeOf(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)), `"0001-01-01T00:00:00.000000Z"`},
		{"time year 9999", value.TimeOf(time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)), `"9999-12-31T23:59:59.999999Z"`},

		{"json object", mustJSON(t, `{"b": 1, "a": [true, null]}`), `{"b":1,"a":[true,null]}`},
		{"json nested compaction", mustJSON(t, " {\n\t\"a\" : { \"b\" : [ 1 , 2 , { } , [ ] ] } } \n"), `{"a":{"b":[1,2,{},[]]}}`},
		{"json string scalar", mustJSON(t, ` "x y" `), `"x y"`},
		{"json number scalar", mustJSON(t, `1.50`), `1.50`},
		{"json big number kept", mustJSON(t, `123456789012345678901234567890`), `123456789012345678901234567890`},
		{"json bool scalar", mustJSON(t, `false`), `false`},
		{"json whitespace inside strings kept", mustJSON(t, `{"a b" : " c "}`), `{"a b":" c "}`},
		{"json unicode escapes kept", mustJSON(t, `"\u00e9\n"`), `"\u00e9\n"`},

		{"ref", value.RefOf("01HZX3K9Q8J7M6N5P4R3S2T1V0"), `"01HZX3K9Q8J7M6N5P4R3S2T1V0"`},
		{"ref empty", value.RefOf(""), `""`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.v.MarshalJSON()
			if err != nil {
				t.Fatalf("MarshalJSON: %v", err)
			}
			if string(got) != c.want {
				t.Errorf("MarshalJSON = %s, want %s", got, c.want)
			}
			if !json.Valid(got) {
				t.Errorf("MarshalJSON gave invalid JSON %s", got)
			}
			if s := c.v.String(); s != c.want {
				t.Errorf("String() = %s, want %s", s, c.want)
			}
			// AppendJSON appends, leaving the prefix alone.
			prefix := []byte("prefix:")
			app := c.v.AppendJSON(prefix)
			if string(app) != "prefix:"+c.want {
				t.Errorf("AppendJSON = %s", app)
			}
			// json.Marshal uses MarshalJSON (and may re-compact JSON values).
			jm, err := json.Marshal(map[string]value.Value{"k": c.v})
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			var probe map[string]json.RawMessage
			if err := json.Unmarshal(jm, &probe); err != nil {
				t.Fatalf("json.Marshal output %s: %v", jm, err)
			}

			back, err := value.Decode(got, c.v.Type())
			if err != nil {
				t.Fatalf("Decode(%s, %v): %v", got, c.v.Type(), err)
			}
			if !value.Equal(back, c.v) {
				t.Errorf("Decode(%s, %v) = %s, want %s", got, c.v.Type(), describe(back), describe(c.v))
			}
			if back.Type() != c.v.Type() {
				t.Errorf("Decode type = %v, want %v", back.Type(), c.v.Type())
			}
		})
	}
}

func TestAccessors(t *testing.T) {
	t.Parallel()
	tm := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", -5*3600))
	if got := value.TimeOf(tm).Time(); !got.Equal(tm.Truncate(time.Microsecond)) || got.Location() != time.UTC {
		t.Errorf("TimeOf(%v).Time() = %v", tm, got)
	}
	if got := value.TextOf("x").Text(); got != "x" {
		t.Errorf("Text() = %q", got)
	}
	if got := value.RefOf("r").Text(); got != "r" {
		t.Errorf("RefOf.Text() = %q", got)
	}
	if got := value.IntOf(-3).Int(); got != -3 {
		t.Errorf("Int() = %d", got)
	}
	if got := value.IntOf(-3).Float(); got != -3 {
		t.Errorf("IntOf.Float() = %v", got)
	}
	if got := value.FloatOf(2.5).Float(); got != 2.5 {
		t.Errorf("Float() = %v", got)
	}
	if !value.BoolOf(true).Bool() || value.BoolOf(false).Bool() {
		t.Error("Bool() wrong")
	}
	if !value.NullValue.IsNull() || value.TextOf("").IsNull() || value.IntOf(0).IsNull() {
		t.Error("IsNull wrong")
	}

	// BytesOf copies its argument, Bytes returns a copy.
	src := []byte{1, 2, 3}
	bv := value.BytesOf(src)
	src[0] = 9
	out := bv.Bytes()
	if !bytes.Equal(out, []byte{1, 2, 3}) {
		t.Errorf("BytesOf did not copy: %v", out)
	}
	out[1] = 9
	if !bytes.Equal(bv.Bytes(), []byte{1, 2, 3}) {
		t.Errorf("Bytes did not copy: %v", bv.Bytes())
	}
	if bv.Raw() != "\x01\x02\x03" {
		t.Errorf("Raw() = %q", bv.Raw())
	}

	j := mustJSON(t, `{ "a" : 1 }`)
	if j.JSONText() != `{"a":1}` || j.Raw() != `{"a":1}` {
		t.Errorf("JSONText() = %q", j.JSONText())
	}

	// Go returns plain Go values.
	goCases := []struct {
		v    value.Value
		want any
	}{
		{value.NullValue, nil},
		{value.TextOf("t"), "t"},
		{value.RefOf("r"), "r"},
		{value.IntOf(7), int64(7)},
		{value.FloatOf(1.25), 1.25},
		{value.BoolOf(true), true},
	}
	for _, c := range goCases {
		if got := c.v.Go(); got != c.want {
			t.Errorf("%s.Go() = %#v, want %#v", describe(c.v), got, c.want)
		}
	}
	if got, ok := value.BytesOf([]byte("ab")).Go().([]byte); !ok || string(got) != "ab" {
		t.Errorf("Bytes.Go() = %#v", value.BytesOf([]byte("ab")).Go())
	}
	if got, ok := value.TimeOf(tm).Go().(time.Time); !ok || !got.Equal(tm.Truncate(time.Microsecond)) {
		t.Errorf("Time.Go() = %#v", value.TimeOf(tm).Go())
	}
	if got, ok := j.Go().(json.RawMessage); !ok || string(got) != `{"a":1}` {
		t.Errorf("JSON.Go() = %#v", j.Go())
	}
}

func TestJSONOfAndJSONFrom(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{``, ` `, `{`, `{"a":}`, `[1,]`, `nul`, `'x'`, `{"a":1}{}`, `1 2`, "\"a\x01\"", `NaN`} {
		if v, err := value.JSONOf([]byte(bad)); err == nil {
			t.Errorf("JSONOf(%q) = %s, want an error", bad, describe(v))
		}
	}
	v, err := value.JSONFrom(map[string]any{"b": []int{1, 2}, "a": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Type() != value.JSON || v.JSONText() != `{"a":"x","b":[1,2]}` {
		t.Errorf("JSONFrom = %s", describe(v))
	}
	if _, err := value.JSONFrom(make(chan int)); err == nil {
		t.Error("JSONFrom(chan) succeeded")
	}
	if _, err := value.JSONFrom(math.NaN()); err == nil {
		t.Error("JSONFrom(NaN) succeeded")
	}
	n, err := value.JSONFrom(nil)
	if err != nil || n.Type() != value.JSON || n.JSONText() != "null" || n.IsNull() {
		t.Errorf("JSONFrom(nil) = %s, %v; want the JSON document null (not NULL)", describe(n), err)
	}
}

// TestDecodeAccepts covers inputs that are not the canonical form but decode.
func TestDecodeAccepts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		raw  string
		typ  value.Type
		want value.Value
	}{
		// null is NULL for every type.
		{`null`, value.Text, value.NullValue},
		{`null`, value.Int, value.NullValue},
		{`null`, value.Float, value.NullValue},
		{`null`, value.Bool, value.NullValue},
		{`null`, value.Bytes, value.NullValue},
		{`null`, value.Time, value.NullValue},
		{`null`, value.JSON, value.NullValue},
		{`null`, value.Ref, value.NullValue},
		{`  null  `, value.Int, value.NullValue},

		// Surrounding JSON whitespace.
		{" \t\n42\r\n", value.Int, value.IntOf(42)},
		{` "x" `, value.Text, value.TextOf("x")},

		// Text escapes.
		{`"\u00e9\"\\\/"`, value.Text, value.TextOf(`é"\/`)},
		{`"\ud83c\udfb5"`, value.Text, value.TextOf("🎵")},

		// JSON has one number type: integral numbers decode as bigint.
		{`2.0`, value.Int, value.IntOf(2)},
		{`2e3`, value.Int, value.IntOf(2000)},
		{`-1.0E2`, value.Int, value.IntOf(-100)},
		{`-0`, value.Int, value.IntOf(0)},
		{`-9223372036854775808`, value.Int, value.IntOf(math.MinInt64)},

		// Numbers as doubles.
		{`1`, value.Float, value.FloatOf(1)},
		{`-0.0`, value.Float, value.FloatOf(math.Copysign(0, -1))},
		{`1E300`, value.Float, value.FloatOf(1e300)},
		{`"NaN"`, value.Float, value.FloatOf(math.NaN())},
		{`"Infinity"`, value.Float, value.FloatOf(math.Inf(1))},
		{`"-Infinity"`, value.Float, value.FloatOf(math.Inf(-1))},
		{`"\u004eaN"`, value.Float, value.FloatOf(math.NaN())},

		// bytea: hex with either case, or base64.
		{`"\\x0A0b"`, value.Bytes, value.BytesOf([]byte{0x0a, 0x0b})},
		{`"\\x"`, value.Bytes, value.BytesOf(nil)},
		{`"AQID"`, value.Bytes, value.BytesOf([]byte{1, 2, 3})},
		{`"aGk="`, value.Bytes, value.BytesOf([]byte("hi"))},
		{`""`, value.Bytes, value.BytesOf(nil)},

		// Time: any RFC 3339 offset; converted to UTC and truncated to µs.
		{`"2024-01-02T03:04:05Z"`, value.Time, value.TimeOf(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))},
		{`"2024-01-02T03:04:05+02:00"`, value.Time, value.TimeOf(time.Date(2024, 1, 2, 1, 4, 5, 0, time.UTC))},
		{`"2024-01-02T03:04:05-05:30"`, value.Time, value.TimeOf(time.Date(2024, 1, 2, 8, 34, 5, 0, time.UTC))},
		{`"2024-01-01T00:30:00+01:00"`, value.Time, value.TimeOf(time.Date(2023, 12, 31, 23, 30, 0, 0, time.UTC))},
		{`"2024-01-02T03:04:05.123456789Z"`, value.Time, value.TimeOf(time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC))},
		{`"2024-01-02T03:04:05.1Z"`, value.Time, value.TimeOf(time.Date(2024, 1, 2, 3, 4, 5, 100000000, time.UTC))},
		{`"2024-02-29T23:59:59.999999999+00:00"`, value.Time, value.TimeOf(time.Date(2024, 2, 29, 23, 59, 59, 999999000, time.UTC))},

		// JSON: compacted; scalars are documents too.
		{`[ 1, "a" ]`, value.JSON, mustJSON(t, `[1,"a"]`)},
		{`"s"`, value.JSON, mustJSON(t, `"s"`)},
		{`3`, value.JSON, mustJSON(t, `3`)},
		{`true`, value.JSON, mustJSON(t, `true`)},

		// Ref: any string.
		{`"anything"`, value.Ref, value.RefOf("anything")},
	}
	for _, c := range cases {
		got, err := value.Decode([]byte(c.raw), c.typ)
		if err != nil {
			t.Errorf("Decode(%s, %v): %v", c.raw, c.typ, err)
			continue
		}
		if !value.Equal(got, c.want) {
			t.Errorf("Decode(%s, %v) = %s, want %s", c.raw, c.typ, describe(got), describe(c.want))
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		raw     string
		typ     value.Type
		mention string // a substring the error must contain
	}{
		{``, value.Text, "empty"},
		{"  \n", value.Int, "empty"},

		{`1`, value.Text, "text"},
		{`true`, value.Text, "text"},
		{`{"a":1}`, value.Text, "text"},
		{`"unterminated`, value.Text, "text"},
		{`"a" "b"`, value.Text, "text"},
		{`1`, value.Ref, "ref"},

		{`"12"`, value.Int, "bigint"},
		{`1.5`, value.Int, "is not an integer"},
		{`-0.5`, value.Int, "is not an integer"},
		{`1e300`, value.Int, "is not an integer"},
		{`9223372036854775808`, value.Int, "is not an integer"},
		{`1e400`, value.Int, "bigint"},
		{`true`, value.Int, "bigint"},
		{`[1]`, value.Int, "bigint"},
		{`abc`, value.Int, "bigint"},
		{`"NaN"`, value.Int, "bigint"},

		{`"1.5"`, value.Float, "double precision"},
		{`"nan"`, value.Float, "double precision"},
		{`"inf"`, value.Float, "double precision"},
		{`"-Inf"`, value.Float, "double precision"},
		{`1e400`, value.Float, "double precision"},
		{`false`, value.Float, "double precision"},
		{`"NaN`, value.Float, "double precision"},

		{`1`, value.Bool, "boolean"},
		{`"true"`, value.Bool, "boolean"},
		{`True`, value.Bool, "boolean"},
		{`t`, value.Bool, "boolean"},

		{`"abc"`, value.Bytes, "bytea"},
		{`"\\xabc"`, value.Bytes, "bytea"},
		{`"\\xzz"`, value.Bytes, "bytea"},
		{`"\\X0a"`, value.Bytes, "bytea"},
		{`"a b="`, value.Bytes, "bytea"},
		{`12`, value.Bytes, "bytea"},
		{`[1,2]`, value.Bytes, "bytea"},

		{`"2024-01-02"`, value.Time, "timestamptz"},
		{`"2024-01-02 03:04:05Z"`, value.Time, "timestamptz"},
		{`"2024-01-02T03:04:05"`, value.Time, "timestamptz"},
		{`"2024-13-02T03:04:05Z"`, value.Time, "timestamptz"},
		{`"2024-02-30T03:04:05Z"`, value.Time, "timestamptz"},
		{`"yesterday"`, value.Time, "timestamptz"},
		{`1700000000`, value.Time, "timestamptz"},

		{`{`, value.JSON, "JSON"},
		{`{"a":1,}`, value.JSON, "JSON"},

		{`1`, value.Null, "null"},
		{`1`, value.Type(99), "Type(99)"},
	}
	for _, c := range cases {
		got, err := value.Decode([]byte(c.raw), c.typ)
		if err == nil {
			t.Errorf("Decode(%s, %v) = %s, want an error", c.raw, c.typ, describe(got))
			continue
		}
		if !strings.Contains(err.Error(), c.mention) {
			t.Errorf("Decode(%s, %v) error %q does not mention %q", c.raw, c.typ, err, c.mention)
		}
		if !got.IsNull() {
			t.Errorf("Decode(%s, %v) failed but returned %s", c.raw, c.typ, describe(got))
		}
	}
}

func TestDecodeErrorClipsLongInput(t *testing.T) {
	t.Parallel()
	long := `"` + strings.Repeat("x", 500) + `"`
	_, err := value.Decode([]byte(long), value.Int)
	if err == nil {
		t.Fatal("no error")
	}
	if len(err.Error()) > 120 {
		t.Errorf("error is %d bytes long: %q", len(err.Error()), err)
	}
}

func TestInfer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		raw  string
		want value.Value
	}{
		{`null`, value.NullValue},
		{` null `, value.NullValue},
		{`"x"`, value.TextOf("x")},
		{`""`, value.TextOf("")},
		{`"2024-01-02T03:04:05Z"`, value.TextOf("2024-01-02T03:04:05Z")}, // no schema: text
		{`"NaN"`, value.TextOf("NaN")},
		{`0`, value.IntOf(0)},
		{`-17`, value.IntOf(-17)},
		{`9223372036854775807`, value.IntOf(math.MaxInt64)},
		{`-9223372036854775808`, value.IntOf(math.MinInt64)},
		{`1.5`, value.FloatOf(1.5)},
		{`-0.25`, value.FloatOf(-0.25)},
		{`9223372036854775808`, value.FloatOf(9223372036854775808)},
		{`1e300`, value.FloatOf(1e300)},
		{`true`, value.BoolOf(true)},
		{`false`, value.BoolOf(false)},
		{`{"b":1, "a":2}`, mustJSON(t, `{"b":1,"a":2}`)},
		{`[ ]`, mustJSON(t, `[]`)},
		{` [1, "x", null] `, mustJSON(t, `[1,"x",null]`)},
	}
	for _, c := range cases {
		got, err := value.Infer([]byte(c.raw))
		if err != nil {
			t.Errorf("Infer(%s): %v", c.raw, err)
			continue
		}
		if !value.Equal(got, c.want) {
			t.Errorf("Infer(%s) = %s, want %s", c.raw, describe(got), describe(c.want))
		}
		// UnmarshalJSON is Infer.
		var u value.Value
		if err := u.UnmarshalJSON([]byte(c.raw)); err != nil || !value.Equal(u, c.want) {
			t.Errorf("UnmarshalJSON(%s) = %s, %v", c.raw, describe(u), err)
		}
	}
	for _, bad := range []string{``, `   `, `nul`, `nulll`, `"x`, `tru`, `falsey`, `{`, `[1,`, `abc`, `-`, `1.2.3`, `'x'`} {
		if got, err := value.Infer([]byte(bad)); err == nil {
			t.Errorf("Infer(%q) = %s, want an error", bad, describe(got))
		}
	}
}

func TestUnmarshalIntoMap(t *testing.T) {
	t.Parallel()
	var m map[string]value.Value
	in := `{"t":"x","i":3,"f":0.5,"b":true,"n":null,"j":{"k":[1]}}`
	if err := json.Unmarshal([]byte(in), &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]value.Value{
		"t": value.TextOf("x"), "i": value.IntOf(3), "f": value.FloatOf(0.5),
		"b": value.BoolOf(true), "n": value.NullValue, "j": mustJSON(t, `{"k":[1]}`),
	}
	if len(m) != len(want) {
		t.Fatalf("got %v", m)
	}
	for k, w := range want {
		if !value.Equal(m[k], w) {
			t.Errorf("%s = %s, want %s", k, describe(m[k]), describe(w))
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"b":true,"f":0.5,"i":3,"j":{"k":[1]},"n":null,"t":"x"}` {
		t.Errorf("json.Marshal = %s", out)
	}
}

func TestEqual(t *testing.T) {
	t.Parallel()
	negZero := math.Copysign(0, -1)
	tm := time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC)
	cases := []struct {
		a, b value.Value
		want bool
	}{
		{value.NullValue, value.NullValue, true},
		{value.NullValue, value.TextOf(""), false},
		{value.NullValue, value.IntOf(0), false},
		{value.NullValue, value.BoolOf(false), false},
		{value.TextOf("a"), value.TextOf("a"), true},
		{value.TextOf("a"), value.TextOf("b"), false},
		{value.TextOf("a"), value.RefOf("a"), false},
		{value.TextOf(""), value.BytesOf(nil), false},
		{value.IntOf(1), value.IntOf(1), true},
		{value.IntOf(1), value.FloatOf(1), false},
		{value.IntOf(1), value.BoolOf(true), false},
		{value.FloatOf(math.NaN()), value.FloatOf(math.NaN()), true},
		{value.FloatOf(math.Inf(1)), value.FloatOf(math.Inf(1)), true},
		{value.FloatOf(math.Inf(1)), value.FloatOf(math.Inf(-1)), false},
		{value.FloatOf(0), value.FloatOf(negZero), false}, // by bits
		{value.FloatOf(math.Nextafter(0.3, 1)), value.FloatOf(0.3), false},
		{value.BoolOf(true), value.BoolOf(true), true},
		{value.BoolOf(true), value.BoolOf(false), false},
		{value.BytesOf(nil), value.BytesOf([]byte{}), true},
		{value.BytesOf([]byte{1}), value.BytesOf([]byte{1}), true},
		{value.BytesOf([]byte{1}), value.BytesOf([]byte{1, 0}), false},
		{value.TimeOf(tm), value.TimeOf(tm.Add(999)), true}, // sub-µs difference truncated
		{value.TimeOf(tm), value.TimeOf(tm.In(time.FixedZone("", 3600))), true},
		{value.TimeOf(tm), value.TimeOf(tm.Add(time.Microsecond)), false},
		{value.RefOf("a"), value.RefOf("a"), true},
		{mustJSON(t, `{"a":1,"b":2}`), mustJSON(t, `{"b":2,"a":1}`), true},
		{mustJSON(t, `{"a":{"x":1,"y":[1,2]},"b":2}`), mustJSON(t, `{"b":2,"a":{"y":[1,2],"x":1}}`), true},
		{mustJSON(t, `"\u00e9"`), mustJSON(t, `"é"`), true},
		{mustJSON(t, `[1,2]`), mustJSON(t, `[2,1]`), false},
		{mustJSON(t, `{"a":1}`), mustJSON(t, `{"a":1,"b":null}`), false},
		{mustJSON(t, `{"a":1}`), mustJSON(t, `{"a":"1"}`), false},
		{mustJSON(t, `1`), value.IntOf(1), false},
		{mustJSON(t, `"x"`), value.TextOf("x"), false},
		{mustJSON(t, `null`), value.NullValue, false},
	}
	for _, c := range cases {
		if got := value.Equal(c.a, c.b); got != c.want {
			t.Errorf("Equal(%s, %s) = %v, want %v", describe(c.a), describe(c.b), got, c.want)
		}
		if got := value.Equal(c.b, c.a); got != c.want {
			t.Errorf("Equal(%s, %s) = %v, want %v (symmetry)", describe(c.b), describe(c.a), got, c.want)
		}
	}
}

func TestConvert(t *testing.T) {
	t.Parallel()
	tm := time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)
	allTypes := []value.Type{value.Text, value.Int, value.Float, value.Bool, value.Bytes, value.Time, value.JSON, value.Ref}
	samples := []value.Value{
		value.TextOf("hello"),
		value.IntOf(3),
		value.FloatOf(2.5),
		value.BoolOf(true),
		value.BytesOf([]byte{1, 2}),
		value.TimeOf(tm),
		mustJSON(t, `{"a":1}`),
		value.RefOf("01HZX3K9Q8J7M6N5P4R3S2T1V0"),
	}

	// NULL converts to anything (staying NULL); identity always works.
	for _, typ := range allTypes {
		got, err := value.Convert(value.NullValue, typ)
		if err != nil || !got.IsNull() {
			t.Errorf("Convert(NULL, %v) = %s, %v", typ, describe(got), err)
		}
	}
	for _, s := range samples {
		got, err := value.Convert(s, s.Type())
		if err != nil || !value.Equal(got, s) {
			t.Errorf("Convert(%s, %v) = %s, %v", describe(s), s.Type(), describe(got), err)
		}
	}

	// Everything converts to JSON: the natural JSON form becomes the document.
	toJSON := map[value.Type]string{
		value.Text:  `"hello"`,
		value.Int:   `3`,
		value.Float: `2.5`,
		value.Bool:  `true`,
		value.Bytes: `"\\x0102"`,
		value.Time:  `"2024-01-02T03:04:05.123456Z"`,
		value.JSON:  `{"a":1}`,
		value.Ref:   `"01HZX3K9Q8J7M6N5P4R3S2T1V0"`,
	}
	for _, s := range samples {
		got, err := value.Convert(s, value.JSON)
		if err != nil {
			t.Errorf("Convert(%s, jsonb): %v", describe(s), err)
			continue
		}
		if got.Type() != value.JSON || got.JSONText() != toJSON[s.Type()] {
			t.Errorf("Convert(%s, jsonb) = %s, want %s", describe(s), describe(got), toJSON[s.Type()])
		}
	}
	if got, err := value.Convert(value.FloatOf(math.NaN()), value.JSON); err != nil || got.JSONText() != `"NaN"` {
		t.Errorf("Convert(NaN, jsonb) = %s, %v", describe(got), err)
	}

	// The allowed cross-type conversions (besides → JSON).
	allowed := []struct {
		from value.Value
		to   value.Type
		want value.Value
	}{
		{value.IntOf(3), value.Float, value.FloatOf(3)},
		{value.IntOf(-(1 << 53)), value.Float, value.FloatOf(-(1 << 53))},
		{value.IntOf(1 << 62), value.Float, value.FloatOf(1 << 62)},
		{value.IntOf(math.MinInt64), value.Float, value.FloatOf(math.MinInt64)},
		{value.FloatOf(3), value.Int, value.IntOf(3)},
		{value.FloatOf(-1e15), value.Int, value.IntOf(-1e15)},
		{value.FloatOf(math.Copysign(0, -1)), value.Int, value.IntOf(0)},
		{value.FloatOf(-9223372036854775808), value.Int, value.IntOf(math.MinInt64)},
		{value.FloatOf(9223372036854774784), value.Int, value.IntOf(9223372036854774784)}, // largest double below 2^63
		{value.TextOf("x"), value.Ref, value.RefOf("x")},
		{value.RefOf("x"), value.Text, value.TextOf("x")},
		{value.TextOf("2024-01-02T04:04:05.123456+01:00"), value.Time, value.TimeOf(tm)},
		{value.TextOf(`\x0102`), value.Bytes, value.BytesOf([]byte{1, 2})},
		{value.TextOf("AQI="), value.Bytes, value.BytesOf([]byte{1, 2})},
	}
	for _, c := range allowed {
		got, err := value.Convert(c.from, c.to)
		if err != nil {
			t.Errorf("Convert(%s, %v): %v", describe(c.from), c.to, err)
			continue
		}
		if !value.Equal(got, c.want) {
			t.Errorf("Convert(%s, %v) = %s, want %s", describe(c.from), c.to, describe(got), describe(c.want))
		}
	}

	// Lossy conversions within allowed pairs are rejected.
	lossy := []struct {
		from value.Value
		to   value.Type
	}{
		{value.IntOf(1<<53 + 1), value.Float},
		{value.IntOf(math.MinInt64 + 1), value.Float},
		{value.FloatOf(2.5), value.Int},
		{value.FloatOf(-0.1), value.Int},
		{value.FloatOf(9223372036854775808), value.Int}, // 2^63
		{value.FloatOf(-9223372036854777856), value.Int},
		{value.FloatOf(1e300), value.Int},
		{value.FloatOf(math.NaN()), value.Int},
		{value.FloatOf(math.Inf(1)), value.Int},
		{value.FloatOf(math.Inf(-1)), value.Int},
		{value.TextOf("not a time"), value.Time},
		{value.TextOf("2024-01-02"), value.Time},
		{value.TextOf("abc"), value.Bytes},
		{value.TextOf(`\xzz`), value.Bytes},
	}
	for _, c := range lossy {
		if got, err := value.Convert(c.from, c.to); err == nil {
			t.Errorf("Convert(%s, %v) = %s, want an error", describe(c.from), c.to, describe(got))
		}
	}

	// Every other pair is rejected.
	allowedPair := func(from, to value.Type) bool {
		switch {
		case from == to, to == value.JSON:
			return true
		case from == value.Int && to == value.Float, from == value.Float && to == value.Int:
			return true
		case from == value.Text && (to == value.Ref || to == value.Time || to == value.Bytes):
			return true
		case from == value.Ref && to == value.Text:
			return true
		}
		return false
	}
	for _, s := range samples {
		for _, typ := range allTypes {
			if allowedPair(s.Type(), typ) {
				continue
			}
			got, err := value.Convert(s, typ)
			if err == nil {
				t.Errorf("Convert(%s, %v) = %s, want an error", describe(s), typ, describe(got))
				continue
			}
			if !strings.Contains(err.Error(), typ.String()) {
				t.Errorf("Convert(%s, %v) error %q does not name the wanted type", describe(s), typ, err)
			}
		}
	}
	// Conversions from JSON to anything else are rejected, even when the document is a scalar.
	for _, typ := range []value.Type{value.Text, value.Int, value.Bool} {
		if got, err := value.Convert(mustJSON(t, `1`), typ); err == nil {
			t.Errorf("Convert(jsonb 1, %v) = %s, want an error", typ, describe(got))
		}
	}
}

// int64(float64(MaxInt64)) is implementation-dependent in Go: amd64 gives
// MinInt64 (so Convert rejects), arm64 saturates to MaxInt64 (so Convert
// would wrongly accept 2^63 as exact).
func TestConvertMaxInt64ToFloat(t *testing.T) {
	t.Parallel()
	got, err := value.Convert(value.IntOf(math.MaxInt64), value.Float)
	if err == nil {
		t.Errorf("Convert(MaxInt64, double precision) = %v, want an error", got)
	}
}

// RFC 3339 has four-digit years, so times outside 0001–9999 are refused
// rather than encoded into JSON that cannot be decoded again.
func TestTimeOutsideYearRangeRejected(t *testing.T) {
	t.Parallel()
	for _, v := range []value.Value{
		value.TimeOf(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)),
		value.TimeOf(time.Date(-1, 12, 31, 23, 59, 0, 0, time.UTC)),
	} {
		if err := v.CheckTime(); err == nil {
			t.Errorf("CheckTime(%v) accepted", v.Time())
		}
	}
	if v, err := value.Decode([]byte(`"0000-01-01T00:00:00+00:01"`), value.Time); err == nil {
		t.Errorf("Decode of a time in year -1 (UTC) = %v, want an error", v)
	}
	if err := value.TimeOf(time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)).CheckTime(); err != nil {
		t.Errorf("year 9999 refused: %v", err)
	}
}

func TestJSONEqualLargeNumbers(t *testing.T) {
	t.Parallel()
	a := mustJSON(t, `12345678901234567890`)
	b := mustJSON(t, `12345678901234567891`)
	if value.Equal(a, b) {
		t.Error("Equal(12345678901234567890, 12345678901234567891) = true")
	}
	a = mustJSON(t, `{"id":9007199254740993}`)
	b = mustJSON(t, `{"id":9007199254740992}`)
	if value.Equal(a, b) {
		t.Errorf("Equal(%s, %s) = true", a, b)
	}
}

func TestDecodeIntRejectsInexactNumbers(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{`1.00000000000000000001`, `-9223372036854775809`, `9007199254740993.5`} {
		if v, err := value.Decode([]byte(raw), value.Int); err == nil {
			t.Errorf("Decode(%s, bigint) = %s, want an error", raw, v)
		}
	}
	// Exact integers written as decimals are integers: no rounding through float64.
	if v, err := value.Decode([]byte(`9007199254740993.0`), value.Int); err != nil || v.Int() != 9007199254740993 {
		t.Errorf("Decode(9007199254740993.0, bigint) = %v, %v", v, err)
	}
}

// The JSON document null and SQL NULL share one natural JSON form; decoding
// gives NULL (as Decode documents).
func TestJSONNullDocument(t *testing.T) {
	t.Parallel()
	doc := mustJSON(t, ` null `)
	if doc.IsNull() || doc.Type() != value.JSON || doc.JSONText() != "null" {
		t.Fatalf("JSONOf(null) = %s", describe(doc))
	}
	if value.Equal(doc, value.NullValue) {
		t.Error("the jsonb document null equals NULL")
	}
	if b, _ := doc.MarshalJSON(); string(b) != "null" {
		t.Errorf("MarshalJSON = %s", b)
	}
	got, err := value.Decode([]byte("null"), value.JSON)
	if err != nil || !got.IsNull() {
		t.Errorf("Decode(null, jsonb) = %s, %v; want NULL", describe(got), err)
	}
}
