package query

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/value"
)

type status string

func TestBind(t *testing.T) {
	t.Parallel()
	when := time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)
	seven := 7
	var nilInt *int
	cases := []struct {
		src  string
		args []any
		want string
	}{
		{`a = ?`, []any{"x"}, `where=(= "a" text:"x")`},
		{`a = ?`, []any{status("open")}, `where=(= "a" text:"open")`},
		{`a = ?`, []any{int8(-3)}, `where=(= "a" int:-3)`},
		{`a = ?`, []any{uint64(math.MaxInt64)}, `where=(= "a" int:9223372036854775807)`},
		{`a = ?`, []any{float32(1.5)}, `where=(= "a" float:1.5)`},
		{`a = ?`, []any{math.NaN()}, `where=(= "a" float:NaN)`},
		{`a = ?`, []any{true}, `where=(= "a" bool:true)`},
		{`a = ?`, []any{nil}, `where=(= "a" null)`},
		{`a = ?`, []any{nilInt}, `where=(= "a" null)`},
		{`a = ?`, []any{&seven}, `where=(= "a" int:7)`},
		{`a = ?`, []any{[]byte{1, 2}}, `where=(= "a" bytea:"\\x0102")`},
		{`a = ?`, []any{when}, `where=(= "a" timestamptz:"2024-01-02T03:04:05.123456Z")`},
		{`a = ?`, []any{value.RefOf("01ARZ3NDEKTSV4RRFFQ69G5FAV")}, `where=(= "a" text:"01ARZ3NDEKTSV4RRFFQ69G5FAV")`},
		{`a = ?`, []any{value.IntOf(4)}, `where=(= "a" int:4)`},
		{`a IN (?)`, []any{[]string{"x", "y"}}, `where=(in "a" text:"x" text:"y")`},
		{`a IN (?)`, []any{[]int{}}, `where=(in "a")`},
		{`a IN (?)`, []any{"x"}, `where=(in "a" text:"x")`},
		{`a IN (0, ?, 9)`, []any{[]any{1, "two", nil, 3.5}}, `where=(in "a" int:0 int:1 text:"two" null float:3.5 int:9)`},
		{`a IN (?, ?)`, []any{[2]int64{1, 2}, []status{"s"}}, `where=(in "a" int:1 int:2 text:"s")`},
		{`a BETWEEN ? AND ? AND b LIKE ? LIMIT ?`, []any{1, 2, "x%", 10}, `where=(and (between "a" int:1 int:2) (like "b" text:"x%")) limit=int:10`},
		{`a = 1`, nil, `where=(= "a" int:1)`},
	}
	for _, c := range cases {
		q, err := Parse(c.src, c.args...)
		if err != nil {
			t.Errorf("Parse(%q, %v): %v", c.src, c.args, err)
			continue
		}
		if got := dump(q); got != c.want {
			t.Errorf("Parse(%q, %v)\n got %s\nwant %s", c.src, c.args, got, c.want)
		}
	}
}

func TestBindErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		src    string
		args   []any
		offset int
		msg    string
	}{
		{`a = ?`, []any{1, 2}, -1, `the query has one placeholder (?) but 2 values were given`},
		{`a = ? AND b = ?`, []any{1}, -1, `the query has 2 placeholders (?) but one value was given`},
		{`a = 1`, []any{1}, -1, `the query has no placeholders (?) but one value was given`},
		{`a = ?`, []any{[]string{"x"}}, 4, `argument 1 is a []string; a list is only allowed as IN (?)`},
		{`a IN (?)`, []any{[][]int{{1}}}, 6, `element 0 is a list`},
		{`a = ?`, []any{uint64(math.MaxUint64)}, 4, `does not fit in bigint`},
		{`a = ?`, []any{struct{}{}}, 4, `unsupported type struct {}`},
		{`a = ?`, []any{"a\x00b"}, 4, `NUL character`},
		{`a = ?`, []any{"\xff"}, 4, `not valid UTF-8`},
		{`a = ?`, []any{jsonv(`{"a":1}`)}, 4, `jsonb value cannot be compared`},
		{`a LIKE ?`, []any{5}, 7, `LIKE needs a text pattern`},
		{`a LIKE ?`, []any{`x\`}, 7, `must not end with the escape character`},
		{`LIMIT ?`, []any{-1}, 6, `LIMIT ? needs a non-negative integer`},
		{`LIMIT ?`, []any{"5"}, 6, `LIMIT ? needs a non-negative integer`},
	}
	for _, c := range cases {
		_, err := Parse(c.src, c.args...)
		var qe *Error
		if !errors.As(err, &qe) || qe.Code != CodeBadArgument || qe.Offset != c.offset || !strings.Contains(qe.Message, c.msg) {
			t.Errorf("Parse(%q, %v) = %v; want bad_argument at %d …%s…", c.src, c.args, err, c.offset, c.msg)
		}
	}
}

// TestBindLater: a query parsed without arguments keeps its placeholders
// and refuses to run until bound; binding makes a new query.
func TestBindLater(t *testing.T) {
	t.Parallel()
	tpl, err := Parse(`year > ? AND name IN (?)`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tpl.Compile(); !errors.Is(err, &Error{Code: CodeBadArgument}) {
		t.Fatalf("Compile of an unbound query: %v", err)
	}
	if _, err := tpl.SQL(testSchema, 1); !errors.Is(err, &Error{Code: CodeBadArgument}) {
		t.Fatalf("SQL of an unbound query: %v", err)
	}
	q, err := tpl.Bind(2000, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := q.String(), `year > 2000 AND name IN ('a', 'b')`; got != want {
		t.Fatalf("bound: %s, want %s", got, want)
	}
	if got := tpl.String(); got != `year > ? AND name IN (?)` {
		t.Fatalf("template changed: %s", got)
	}
	if _, err := q.Bind(1); err == nil {
		t.Fatal("binding a bound query again succeeded")
	}
}
