package query

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/value"
)

var fuzzRecords = []rec{
	{"id": value.TextOf("01H0000000000000000000000A"), "name": value.TextOf("a"), "year": value.IntOf(1), "data": jsonv(`{"a":{"b":[1,"x"]},"n":9.5,"s":"caf\u00e9"}`)},
	{"id": value.TextOf("01H0000000000000000000000B"), "score": value.FloatOf(math.NaN()), "data": jsonv(`[{"a":1}]`), "at": value.TimeOf(time.Unix(0, 0))},
	{"id": value.TextOf("01H0000000000000000000000C")},
}

var knownCodes = map[string]bool{CodeParse: true, CodeTooLong: true, CodeTooDeep: true, CodeInvalidUTF8: true, CodeBadArgument: true}

// FuzzParse: the parser never panics or hangs; errors are coded and point
// into the text; an accepted query prints canonically, parses back to the
// same tree, and compiles, evaluates and translates to SQL without panics.
// Seeds are in testdata/fuzz/FuzzParse; run with
//
//	go test ./query/ -run '^$' -fuzz FuzzParse -fuzztime 60s
func FuzzParse(f *testing.F) {
	f.Add("year > 2000 AND (artist = 'Muse' OR artist = 'Radiohead') ORDER BY year DESC LIMIT 20")
	f.Fuzz(func(t *testing.T, src string) {
		q, err := Parse(src)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) || !knownCodes[qe.Code] || qe.Offset < -1 || qe.Offset > len(src) || qe.Message == "" {
				t.Fatalf("Parse(%q): bad error %#v", src, err)
			}
			return
		}
		s := q.String()
		q2, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", src, s, err)
		}
		if dump(q2) != dump(q) {
			t.Fatalf("round trip of %q via %q:\n%s\n%s", src, s, dump(q), dump(q2))
		}
		if s2 := q2.String(); s2 != s {
			t.Fatalf("String is not canonical: %q then %q", s, s2)
		}
		if q.unbound > 0 {
			if _, err := q.Compile(); err == nil {
				t.Fatalf("%q: Compile accepted unbound placeholders", src)
			}
			return
		}
		m, err := q.Compile()
		if err != nil {
			t.Fatalf("Compile(%q): %v", src, err)
		}
		_ = evalIDs(m, fuzzRecords)
		if _, err := q.SQL(testSchema, 1); err != nil {
			t.Fatalf("SQL(%q): %v", src, err)
		}
		_ = q.Equalities()
		_ = q.Check(testSchema)
	})
}
