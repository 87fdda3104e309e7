package query

import (
	"slices"
	"strings"
	"testing"
)

// Policy rules: $variables are named placeholders, and a predicate may test
// a variable's path; plain queries refuse both.
func TestParseRule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		src, want string
		vars      []string
	}{
		{`owner = $jwt.sub`, `where=(= "owner" ?1)`, []string{"$jwt.sub"}},
		{`team IN $jwt.teams`, `where=(in "team" ?1)`, []string{"$jwt.teams"}},
		{`team IN ($jwt.a, 'x', $jwt.b.c)`, `where=(in "team" ?1 text:"x" ?2)`, []string{"$jwt.a", "$jwt.b.c"}},
		{`$jwt.role = 'admin' OR owner = $jwt.sub`, `where=(or (= "$jwt"."role" text:"admin") (= "owner" ?1))`, []string{"$jwt.sub"}},
		{`n BETWEEN $jwt.lo AND $jwt.hi`, `where=(between "n" ?1 ?2)`, []string{"$jwt.lo", "$jwt.hi"}},
		{`a = ? AND b = $jwt.x`, `where=(and (= "a" ?1) (= "b" ?2))`, []string{"", "$jwt.x"}},
	} {
		q, err := ParseRule(tc.src)
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		if got := dump(q); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.src, got, tc.want)
		}
		if !slices.Equal(q.Vars(), tc.vars) {
			t.Errorf("%s: vars %q, want %q", tc.src, q.Vars(), tc.vars)
		}
	}
	for _, tc := range []struct{ src, want string }{
		{`owner = $jwt.sub`, "only allowed in policy rules"},
		{`$jwt.role = 'admin'`, "only allowed in policy rules"},
		{`team IN $jwt.teams`, "only allowed in policy rules"},
		{`a.$b = 1`, "only allowed in policy rules"},
	} {
		if _, err := Parse(tc.src); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%s): %v, want %q", tc.src, err, tc.want)
		}
	}
	for _, tc := range []struct{ src, want string }{
		{`a.$b = 1`, "expected a key name after '.'"},
		{`owner = $`, "unexpected character"},
		{`owner = $1`, "unexpected character"},
	} {
		if _, err := ParseRule(tc.src); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRule(%s): %v, want %q", tc.src, err, tc.want)
		}
	}
	// A rule binds its variables like placeholders, lists expanding in IN.
	q, err := ParseRule(`owner = $jwt.sub AND team IN $jwt.teams`)
	if err != nil {
		t.Fatal(err)
	}
	b, err := q.Bind("alice", []any{"red", "blue"})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != `owner = 'alice' AND team IN ('red', 'blue')` {
		t.Fatalf("bound: %s", got)
	}
}

func TestQueryAnd(t *testing.T) {
	t.Parallel()
	rule := MustParse(`owner = 'alice' AND NOT hidden = true`)
	for _, tc := range []struct{ q, want string }{
		{``, `owner = 'alice' AND NOT hidden = TRUE`},
		{`a = 1 AND b = 2 ORDER BY a LIMIT 3`, `a = 1 AND b = 2 AND owner = 'alice' AND NOT hidden = TRUE ORDER BY a LIMIT 3`},
		{`a = 1 OR b = 2`, `(a = 1 OR b = 2) AND owner = 'alice' AND NOT hidden = TRUE`},
	} {
		got := MustParse(tc.q).And(rule.Where)
		if got.String() != tc.want {
			t.Errorf("%q AND rule: %s, want %s", tc.q, got, tc.want)
		}
		if _, err := got.Compile(); err != nil {
			t.Error(err)
		}
	}
	q := MustParse(`a = 1`)
	if q.And(nil) != q {
		t.Error("And(nil) must return the query itself")
	}
}
