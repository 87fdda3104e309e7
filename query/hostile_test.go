package query

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestHostileInput feeds inputs meant to exhaust the parser. Each must fail
// with its coded error, promptly.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		src  string
		code string
	}{
		{"1 MB query", "a = '" + strings.Repeat("x", 1<<20) + "'", CodeTooLong},
		{"1 MB of AND", strings.Repeat("a = 1 AND ", 100_000) + "a = 1", CodeTooLong},
		{"10,000 nested parentheses", strings.Repeat("(", 10_000) + "a = 1" + strings.Repeat(")", 10_000), CodeTooDeep},
		{"10,000 open parentheses", strings.Repeat("(", 10_000), CodeTooDeep},
		{"10,000 NOTs", strings.Repeat("NOT ", 10_000) + "a = 1", CodeTooDeep},
		{"invalid UTF-8 in a string", "name = '\xc3\x28'", CodeInvalidUTF8},
		{"invalid UTF-8 in a name", "na\xffme = 1", CodeInvalidUTF8},
		{"truncated UTF-8 at the end", "name = 'é\xc3", CodeInvalidUTF8},
		{"surrogate half", "name = '\xed\xa0\x80'", CodeInvalidUTF8},
		{"NUL byte", "name = 'a\x00b'", CodeParse},
		{"65 nested parentheses", strings.Repeat("(", 65) + "a = 1" + strings.Repeat(")", 65), CodeTooDeep},
	}
	for _, c := range cases {
		start := time.Now()
		_, err := Parse(c.src)
		took := time.Since(start)
		var qe *Error
		if !errors.As(err, &qe) || qe.Code != c.code {
			t.Errorf("%s: got %v, want code %s", c.name, err, c.code)
			continue
		}
		if qe.Offset < 0 || qe.Offset > len(c.src) {
			t.Errorf("%s: offset %d outside the text", c.name, qe.Offset)
		}
		if took > time.Second {
			t.Errorf("%s: took %v", c.name, took)
		}
	}
}

// TestLimitsAreInclusive: the limits reject only what exceeds them.
func TestLimitsAreInclusive(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("(", MaxDepth) + "a = 1" + strings.Repeat(")", MaxDepth)
	if _, err := Parse(deep); err != nil {
		t.Errorf("%d nested parentheses: %v", MaxDepth, err)
	}
	long := "a = '" + strings.Repeat("x", MaxLength-6) + "'"
	if _, err := Parse(long); err != nil || len(long) != MaxLength {
		t.Errorf("%d bytes: %v", len(long), err)
	}
	// A long flat chain stays flat: no depth limit, no deep recursion later.
	flat := strings.Repeat("a = 1 AND ", 5000) + "a = 1"
	q, err := Parse(flat)
	if err != nil {
		t.Fatalf("flat chain: %v", err)
	}
	if n := len(q.Where.(*And).Terms); n != 5001 {
		t.Errorf("flat chain has %d terms, want 5001", n)
	}
	if _, err := q.Compile(); err != nil {
		t.Fatal(err)
	}
}
