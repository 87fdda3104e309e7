package replication

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzTextArray checks that parseTextArray never panics, that whatever it
// accepts survives a round trip through array_out's format, and that any
// list of strings printed that way parses back to itself. The input is used
// both as an array literal and, split on NUL bytes, as a list of elements.
func FuzzTextArray(f *testing.F) {
	for _, s := range []string{`{}`, `{A,B}`, `{"a b","x\"y",""}`, `{ a , b }`, `[0:1]={x,y}`,
		`{NULL}`, `{"NULL"}`, `{a\ ,b}`, `{{a}}`, "a\x00b c\x00", "\x00", `{"\\"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseTextArray(s)
		if err == nil {
			again, err := parseTextArray(formatTextArray(got))
			if err != nil || !slices.Equal(again, got) {
				t.Fatalf("%q parsed to %q, printed as %s, reparsed to %q, %v", s, got, formatTextArray(got), again, err)
			}
		} else if got != nil {
			t.Fatalf("%q: error %v with a result %q", s, err, got)
		}
		elems := strings.Split(s, "\x00")
		back, err := parseTextArray(formatTextArray(elems))
		if err != nil || !slices.Equal(back, elems) {
			t.Fatalf("%q printed as %s parsed to %q, %v", elems, formatTextArray(elems), back, err)
		}
	})
}

// FuzzTimestamptz checks that parseTimestamptz never panics, that what it
// accepts prints back (in UTC and with its own offset kept out of the
// comparison) to a string that parses to the same instant, and that every
// instant Postgres can print — any microsecond from 4713 BC to 294276 AD, at
// any offset — parses back exactly.
func FuzzTimestamptz(f *testing.F) {
	f.Add("2024-01-02 03:04:05.123456+00", int64(1704164645123456), int32(0))
	f.Add("1850-01-01 00:19:32+00:19:32", int64(-3786825600000000), int32(1172))
	f.Add("0044-03-15 12:00:00+00 BC", int64(-63549489600000000), int32(-28800))
	f.Add("12345-06-07 08:09:10+05:30", int64(327410208550000000), int32(19800))
	f.Add("infinity", int64(0), int32(-12600))
	f.Add("2024-01-02 03:04:05", int64(-1), int32(3600))
	f.Fuzz(func(t *testing.T, s string, us int64, offset int32) {
		if got, err := parseTimestamptz(s); err == nil {
			printed := formatTimestamptz(got, 0)
			again, err := parseTimestamptz(printed)
			if err != nil || !again.Equal(got) {
				t.Fatalf("%q parsed to %v, printed as %q, reparsed to %v, %v", s, got, printed, again, err)
			}
		} else if errors.Is(err, errInfinite) != (s == "infinity" || s == "-infinity") {
			t.Fatalf("%q: %v", s, err)
		}

		// Postgres's range from 4714-11-24 BC up to year ~287000 (Postgres
		// goes on to 294276, past what int64 Unix microseconds hold), and
		// offsets up to ±15:59:59.
		const lo, hi = -210866803200000000, 9_000_000_000_000_000_000
		us = lo + int64(uint64(us)%uint64(hi-lo))
		off := int(offset) % (16 * 3600)
		want := time.UnixMicro(us).UTC()
		printed := formatTimestamptz(want, off)
		got, err := parseTimestamptz(printed)
		if err != nil || !got.Equal(want) {
			t.Fatalf("%v printed as %q parsed to %v, %v", want, printed, got, err)
		}
	})
}
