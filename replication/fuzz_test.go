package replication

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/event"
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

// FuzzVersions checks the fast _versions scanner against encoding/json:
// whatever scanVersions accepts, encoding/json reads identically, and
// parseVersions (scanner, then encoding/json) never disagrees with
// encoding/json alone about success.
func FuzzVersions(f *testing.F) {
	for _, s := range []string{`{}`, ` { } `, `{"name": "01JD8X5Z8K3T7Q2W9E4R6Y1M0N"}`,
		`{"a": "01JD8X5Z8K3T7Q2W9E4R6Y1M0N", "b_2": "01JD8X6A2C4V0E3H1Q7N5R8T6B"}`,
		`{"a\u00e9": "01JD8X5Z8K3T7Q2W9E4R6Y1M0N"}`, `{"a": "01JD8X5Z8K3T7Q2W9E4R6Y1M0N",}`,
		`{"a": 1}`, `{"a": "x"}`, `{"a": "01JD8X5Z8K3T7Q2W9E4R6Y1M0N"} x`, `{"a":"01JD8X5Z8K3T7Q2W9E4R6Y1M0N","a":"01JD8X6A2C4V0E3H1Q7N5R8T6B"}`,
		`null`, `{"é": "01JD8X5Z8K3T7Q2W9E4R6Y1M0N"}`, "{\"\xff\": \"01JD8X5Z8K3T7Q2W9E4R6Y1M0N\"}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		viaJSON := func() (map[string]event.ID, error) {
			var m map[string]string
			if err := json.Unmarshal([]byte(s), &m); err != nil {
				return nil, err
			}
			out := map[string]event.ID{}
			for k, v := range m {
				id, err := event.ParseID(v)
				if err != nil {
					return nil, err
				}
				out[k] = id
			}
			return out, nil
		}
		want, werr := viaJSON()
		if fast, ok := scanVersions([]byte(s)); ok {
			if werr != nil || !maps.Equal(fast, want) {
				t.Fatalf("%q: scanner %v, encoding/json %v, %v", s, fast, want, werr)
			}
		}
		got, err := parseVersions([]byte(s))
		if (err == nil) != (werr == nil) || (err == nil && !maps.Equal(got, want)) {
			t.Fatalf("%q: parseVersions %v, %v; encoding/json %v, %v", s, got, err, want, werr)
		}
	})
}
