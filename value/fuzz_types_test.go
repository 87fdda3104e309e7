package value_test

import (
	"math/big"
	"strconv"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/value"
)

// Fuzz targets for the parsers of the types beyond the first eight. Seeds
// are committed under testdata/fuzz; run longer with make fuzz.

// FuzzParseNumeric: ParseNumeric never panics, its result is canonical
// (parses to itself), stands for the same number strconv reads, and rounds
// to numeric(p,s) without panicking into canonical text again.
func FuzzParseNumeric(f *testing.F) {
	for _, s := range []string{"0", "-0.00", "1.50", "1e3", ".5", "5.", "+inf", "NaN", "1e-20", "12345678901234567890.123",
		"1e131071", "1e-16383", "9.99e2", "-1.005", "00012", "1_0", "0x10", "", "-", "1e", "e1"} {
		f.Add(s, uint16(10), int16(2))
	}
	f.Fuzz(func(t *testing.T, s string, p uint16, sc int16) {
		c, err := value.ParseNumeric(s)
		if err != nil {
			return
		}
		if again, err := value.ParseNumeric(c); err != nil || again != c {
			t.Fatalf("%q → %q → %q, %v: not canonical", s, c, again, err)
		}
		if !strings.ContainsAny(c, "NI") {
			want, err1 := strconv.ParseFloat(strings.TrimPrefix(s, "+"), 64)
			got, err2 := strconv.ParseFloat(c, 64)
			if err1 == nil && err2 == nil && got != want && !(got == 0 && want == 0) {
				t.Fatalf("%q is %v, its canonical %q is %v", s, want, c, got)
			}
		}
		precision := int(p%1000) + 1
		scale := int(sc % 1001)
		if r, err := value.RoundNumeric(c, precision, scale); err == nil {
			if again, err := value.ParseNumeric(r); err != nil || again != r {
				t.Fatalf("RoundNumeric(%q, %d, %d) = %q: not canonical (%q, %v)", c, precision, scale, r, again, err)
			}
		}
	})
}

// FuzzIntervalText: the ISO 8601 parser never panics, and what it reads
// prints (as Postgres's iso_8601 style) to text that reads back to the same
// interval and prints the same.
func FuzzIntervalText(f *testing.F) {
	for _, s := range []string{"P1Y2M3DT4H5M6.5S", "PT0S", "P-1M", "PT-0.5S", "P1W", "PT1.999999999S", "P9999999999Y",
		"PT-9223372036854S", "P1D2Y", "PT", "P", "1 day", "P1.5Y", "pt1h", "P+1D"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := value.FromText(s, value.Interval)
		if err != nil {
			return
		}
		text := v.PGText()
		back, err := value.FromText(text, value.Interval)
		if err != nil || !value.Equal(back, v) || back.PGText() != text {
			t.Fatalf("%q → %v prints %q → %v, %v", s, v, text, back, err)
		}
		// The span is Postgres's (months·30 + days)·day + µs, exactly.
		m, d, us := v.Interval()
		days, rem := v.IntervalSpan()
		day := big.NewInt(86400e6)
		want := new(big.Int).Mul(big.NewInt(int64(m)*30+int64(d)), day)
		want.Add(want, big.NewInt(us))
		got := new(big.Int).Mul(big.NewInt(days), day)
		got.Add(got, big.NewInt(rem))
		if rem < 0 || rem >= 86400e6 || got.Cmp(want) != 0 {
			t.Fatalf("%v: span (%d, %d) is %v µs, want %v", v, days, rem, got, want)
		}
	})
}

// FuzzArrayText: array literals never panic the parser, and what it reads
// survives both text forms (Postgres's literal, the natural JSON).
func FuzzArrayText(f *testing.F) {
	for _, s := range []string{`{}`, `{1,2,NULL}`, `{"a b","x\"y",NULL,""}`, `[0:1]={1,2}`, `{{1},{2}}`, `{ a , b }`,
		`{a\,b}`, `{"\\"}`, `{null,"NULL",NuLl}`, `{1.50,NaN}`, `{2024-01-02}`, `{P1M}`} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(1))
	}
	types := []string{"text[]", "integer[]", "numeric[]", "date[]", "interval[]", "boolean[]", "enum('a', 'b', 'NULL')[]", "char(2)[]", "uuid[]", "jsonb[]"}
	f.Fuzz(func(t *testing.T, s string, which uint8) {
		ty, err := value.ParseType(types[int(which)%len(types)])
		if err != nil {
			t.Fatal(err)
		}
		v, err := value.ParseArrayText(s, ty)
		if err != nil {
			return
		}
		back, err := value.ParseArrayText(v.PGText(), ty)
		if err != nil || !value.Equal(back, v) {
			t.Fatalf("%q → %v prints %q → %v, %v", s, v, v.PGText(), back, err)
		}
		dec, err := value.Decode(v.AppendJSON(nil), ty)
		if err != nil || !value.Equal(dec, v) {
			t.Fatalf("%q → %v: its JSON %s decodes to %v, %v", s, v, v.AppendJSON(nil), dec, err)
		}
	})
}

// FuzzDateTimeText: the date, time, timestamp and uuid parsers never
// panic, and what they read round-trips through the natural JSON and
// Postgres's text forms.
func FuzzDateTimeText(f *testing.F) {
	for _, s := range []string{"2024-02-29", "0001-01-01", "9999-12-31", "0000-01-01", "2023-02-29", "12:34:56.789", "24:00:00",
		"24:00:01", "23:59:60", "2024-01-02T03:04:05.5", "2024-01-02 03:04:05+05:30", "2024-01-02T03:04:05Z",
		"9999-12-31T23:59:59.9999999-01:00", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "{a0eebc999c0b4ef8bb6d6bb9bd380a11}",
		"a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11", "infinity", "0044-03-15 BC"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, ty := range []value.Type{value.Date, value.TimeOfDay, value.Timestamp, value.UUID, value.Time} {
			v, err := value.FromText(s, ty)
			if err != nil {
				continue
			}
			dec, err := value.Decode(v.AppendJSON(nil), ty)
			if err != nil || !value.Equal(dec, v) {
				t.Fatalf("%q as %v → %v: JSON %s decodes to %v, %v", s, ty, v, v.AppendJSON(nil), dec, err)
			}
			if ty == value.Time {
				continue
			}
			back, err := value.ParsePGText(v.PGText(), ty)
			if err != nil || !value.Equal(back, v) {
				t.Fatalf("%q as %v → %v prints %q → %v, %v", s, ty, v, v.PGText(), back, err)
			}
		}
	})
}

// FuzzParseType: type names never panic the parser, and a type's
// canonical name parses back to the same Type.
func FuzzParseType(f *testing.F) {
	for _, s := range []string{"numeric(10,2)", "NUMERIC ( 10 , 2 )", "varchar(5)[]", "enum('a','it''s')", "timestamp(3) with time zone",
		"character varying", "enum()", "int[][]", "ref[]", "double  precision", "char", "interval(7)", "enum('a'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ty, err := value.ParseType(s)
		if err != nil {
			return
		}
		if !ty.Valid() {
			t.Fatalf("ParseType(%q) = %v, not a valid field type", s, ty)
		}
		again, err := value.ParseType(ty.String())
		if err != nil || again != ty {
			t.Fatalf("ParseType(%q) = %q, which parses to %v, %v", s, ty, again, err)
		}
	})
}
