package query

import (
	"errors"
	"strings"
	"testing"
)

// TestParseAccept checks the tree each query parses to. The first group is
// every accepted case of the original Rust ankql's parser fixture
// (ankql/test_fixtures/parse_cases.json); where the original's tree is a
// known quirk, the comment says what it did and why we differ.
func TestParseAccept(t *testing.T) {
	t.Parallel()
	cases := []struct{ src, want string }{
		// From the original's fixture and tests.
		{`name = 'test'`, `where=(= "name" text:"test")`},
		{`name = 'Origin of Symmetry'`, `where=(= "name" text:"Origin of Symmetry")`},
		{`year > 2000 AND (artist = 'Muse' OR artist = 'Radiohead')`, `where=(and (> "year" int:2000) (or (= "artist" text:"Muse") (= "artist" text:"Radiohead")))`},
		{`name <> 'test'`, `where=(<> "name" text:"test")`},
		{`name != 'test'`, `where=(<> "name" text:"test")`},
		{`score > 5`, `where=(> "score" int:5)`},
		{`score >= 5`, `where=(>= "score" int:5)`},
		{`score < 5`, `where=(< "score" int:5)`},
		{`score <= 5`, `where=(<= "score" int:5)`},
		{`status IN ('a', 'b')`, `where=(in "status" text:"a" text:"b")`},
		{`status IN ('a')`, `where=(in "status" text:"a")`}, // the original rejects one-element lists
		// The original drops the NOT of NOT IN (a bug); we keep it.
		{`status NOT IN ('a', 'b')`, `where=(notin "status" text:"a" text:"b")`},
		{`n = 0`, `where=(= "n" int:0)`},
		{`n = 2147483647`, `where=(= "n" int:2147483647)`},
		{`n = 9007199254740993`, `where=(= "n" int:9007199254740993)`},
		{`n = 9223372036854775807`, `where=(= "n" int:9223372036854775807)`},
		{`TRUE`, `where=true`},
		{`true`, `where=true`},
		{`FALSE`, `where=false`},
		{`flag = true`, `where=(= "flag" bool:true)`},
		{`name = 'hello'`, `where=(= "name" text:"hello")`},
		// The original reads '''' as two quotes; in SQL it is one.
		{`name = ''''`, `where=(= "name" text:"'")`},
		{`name = ''`, `where=(= "name" text:"")`},
		{`name = 'café 日本語 🚀 مرحبا'`, `where=(= "name" text:"café 日本語 🚀 مرحبا")`},
		{`name = 'a b  c'`, `where=(= "name" text:"a b  c")`},
		{`name = 'ORDER BY'`, `where=(= "name" text:"ORDER BY")`},
		{`licensing.territory = 'US'`, `where=(= "licensing"."territory" text:"US")`},
		{`licensing.rights.holder = 'Label A'`, `where=(= "licensing"."rights"."holder" text:"Label A")`},
		{`a.b.c = 1`, `where=(= "a"."b"."c" int:1)`},
		// The original keeps the quotes in the name; SQL strips them.
		{`"quoted" = 1`, `where=(= "quoted" int:1)`},
		{`MixedCase = 1`, `where=(= "MixedCase" int:1)`},
		{`snake_case = 1`, `where=(= "snake_case" int:1)`},
		{`имя = 1`, `where=(= "имя" int:1)`},
		{`optional = 1`, `where=(= "optional" int:1)`},
		{`leftish = 1`, `where=(= "leftish" int:1)`},
		{`limit = 1`, `where=(= "limit" int:1)`},
		{`order = 1`, `where=(= "order" int:1)`},
		{`a = 1 AND b = 2`, `where=(and (= "a" int:1) (= "b" int:2))`},
		{`a = 1 OR b = 2`, `where=(or (= "a" int:1) (= "b" int:2))`},
		// The original reads these two left to right; AND binds tighter.
		{`a = 1 OR b = 2 AND c = 3`, `where=(or (= "a" int:1) (and (= "b" int:2) (= "c" int:3)))`},
		{`a = 1 AND b = 2 OR c = 3`, `where=(or (and (= "a" int:1) (= "b" int:2)) (= "c" int:3))`},
		{`(a = 1 OR b = 2) AND c = 3`, `where=(and (or (= "a" int:1) (= "b" int:2)) (= "c" int:3))`},
		{`a = 1 AND (b = 2 OR c = 3)`, `where=(and (= "a" int:1) (or (= "b" int:2) (= "c" int:3)))`},
		{`a = 1 AND b = 2 AND c = 3`, `where=(and (= "a" int:1) (= "b" int:2) (= "c" int:3))`},
		{`a = 1 OR b = 2 OR c = 3`, `where=(or (= "a" int:1) (= "b" int:2) (= "c" int:3))`},
		{`and_field = 1`, `where=(= "and_field" int:1)`},
		{`NOT (a = 1)`, `where=(not (= "a" int:1))`},
		// The original drops "AND b = 2" here (a bug).
		{`NOT (a = 1) AND b = 2`, `where=(and (not (= "a" int:1)) (= "b" int:2))`},
		{`a IS NULL`, `where=(isnull "a")`},
		{`a IS NOT NULL`, `where=(notisnull "a")`},
		{`licensing.territory IS NULL`, `where=(isnull "licensing"."territory")`},
		{`a IS NULL AND b = 1`, `where=(and (isnull "a") (= "b" int:1))`},
		{`a = ?`, `where=(= "a" ?1)`},
		{`a = ? AND b = ?`, `where=(and (= "a" ?1) (= "b" ?2))`},
		{`a = 1 ORDER BY created_at`, `where=(= "a" int:1) order=["created_at" asc]`},
		{`a = 1 ORDER BY created_at DESC`, `where=(= "a" int:1) order=["created_at" desc]`},
		{`a = 1 ORDER BY created_at ASC`, `where=(= "a" int:1) order=["created_at" asc]`},
		{`a = 1 ORDER BY created_at desc`, `where=(= "a" int:1) order=["created_at" desc]`},
		{`a = 1 ORDER BY x ASC, y DESC`, `where=(= "a" int:1) order=["x" asc, "y" desc]`},
		{`a = 1 order by x`, `where=(= "a" int:1) order=["x" asc]`},
		{`a = 1 LIMIT 0`, `where=(= "a" int:1) limit=int:0`},
		{`a = 1 LIMIT 10`, `where=(= "a" int:1) limit=int:10`},
		{`a = 1 ORDER BY x DESC LIMIT 5`, `where=(= "a" int:1) order=["x" desc] limit=int:5`},
		{``, `where=nil`},
		{`   `, `where=nil`},
		{"a\n=\n1", `where=(= "a" int:1)`},
		{"a\r\n=\r\n1", `where=(= "a" int:1)`},
		{`a  =  1`, `where=(= "a" int:1)`},
		// Things the original rejects and the issue asks for.
		{`n = -1`, `where=(= "n" int:-1)`},
		{`n = -9223372036854775808`, `where=(= "n" int:-9223372036854775808)`},
		{`n = 9223372036854775808`, `where=(= "n" numeric:"9223372036854775808")`}, // beyond 64 bits: an exact numeric
		{`n = 1.5`, `where=(= "n" numeric:"1.5")`},
		{`n = -0.25`, `where=(= "n" numeric:"-0.25")`},
		{`n = 1e3`, `where=(= "n" numeric:"1000")`},
		{`n = 2.5E-3`, `where=(= "n" numeric:"0.0025")`},
		{`flag = NULL`, `where=(= "flag" null)`},
		{`name = 'it''s'`, `where=(= "name" text:"it's")`},
		{`NOT a = 1`, `where=(not (= "a" int:1))`},
		{`a = 1 AND NOT (b = 2)`, `where=(and (= "a" int:1) (not (= "b" int:2)))`},
		{`NOT NOT a = 1`, `where=(not (not (= "a" int:1)))`},
		{`NOT a = 1 AND b = 2`, `where=(and (not (= "a" int:1)) (= "b" int:2))`},
		{`nothing = 1`, `where=(= "nothing" int:1)`},
		{`not_field = 1`, `where=(= "not_field" int:1)`},
		{`a = 1 ORDER BY licensing.territory`, `where=(= "a" int:1) order=["licensing"."territory" asc]`},
		{"a\r=\r1", `where=(= "a" int:1)`},
		{`score BETWEEN 1 AND 10`, `where=(between "score" int:1 int:10)`},
		{`score NOT BETWEEN 1 AND 10 AND x = 1`, `where=(and (notbetween "score" int:1 int:10) (= "x" int:1))`},
		{`name LIKE 'a%'`, `where=(like "name" text:"a%")`},
		{`name NOT LIKE '_b'`, `where=(notlike "name" text:"_b")`},
		{`name LIKE NULL`, `where=(like "name" null)`},
		{`a = 1 and b = 2 Or c = 3`, `where=(or (and (= "a" int:1) (= "b" int:2)) (= "c" int:3))`},
		{`x iS nOt NuLl`, `where=(notisnull "x")`},
		{`x not in (1, NULL, 'a', 2.5, true)`, `where=(notin "x" int:1 null text:"a" numeric:"2.5" bool:true)`},
		{`x between -1 and 2.5`, `where=(between "x" int:-1 numeric:"2.5")`},
		{`id = '01ARZ3NDEKTSV4RRFFQ69G5FAV'`, `where=(= "id" text:"01ARZ3NDEKTSV4RRFFQ69G5FAV")`},
		{`a."b c".d = 1`, `where=(= "a"."b c"."d" int:1)`},
		{`"order" = 1 ORDER BY "order" DESC`, `where=(= "order" int:1) order=["order" desc]`},
		{`"in" = 1 AND "a""b" = 2`, `where=(and (= "in" int:1) (= "a\"b" int:2))`},
		{`asc = 1 ORDER BY desc DESC`, `where=(= "asc" int:1) order=["desc" desc]`},
		{`ORDER BY year DESC`, `where=nil order=["year" desc]`},
		{`LIMIT 5`, `where=nil limit=int:5`},
		{`ORDER BY year LIMIT ?`, `where=nil order=["year" asc] limit=?1`},
		{`a IN (?)`, `where=(in "a" ?1)`},
		{`a IN (1, ?, 'x') OR b BETWEEN ? AND ? OR c LIKE ?`, `where=(or (in "a" int:1 ?1 text:"x") (between "b" ?2 ?3) (like "c" ?4))`},
		{`((a = 1))`, `where=(= "a" int:1)`},
		{`(a = 1 AND b = 2) AND (c = 3 AND d = 4)`, `where=(and (= "a" int:1) (= "b" int:2) (= "c" int:3) (= "d" int:4))`},
		{`(a = 1 OR b = 2) OR c = 3`, `where=(or (= "a" int:1) (= "b" int:2) (= "c" int:3))`},
		{`NOT (a = 1 OR b = 2)`, `where=(not (or (= "a" int:1) (= "b" int:2)))`},
		{`TRUE AND a = 1 OR FALSE`, `where=(or (and true (= "a" int:1)) false)`},
		{`名前 = 1`, `where=(= "名前" int:1)`},
		{`_x = 1`, `where=(= "_x" int:1)`},
		{`a=1AND b=2`, ``}, // see TestParseReject: "1AND" is a malformed number
	}
	for _, c := range cases {
		if c.want == "" {
			continue
		}
		q, err := Parse(c.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.src, err)
			continue
		}
		if got := dump(q); got != c.want {
			t.Errorf("Parse(%q)\n got %s\nwant %s", c.src, got, c.want)
		}
		// Every accepted query prints canonically and parses back the same.
		q2, err := Parse(q.String())
		if err != nil {
			t.Errorf("Parse(%q).String() = %q does not parse: %v", c.src, q.String(), err)
		} else if dump(q2) != dump(q) {
			t.Errorf("round trip of %q via %q: got %s", c.src, q.String(), dump(q2))
		}
	}
}

// TestParseReject checks that errors carry a code, the byte offset where
// the query goes wrong, and what was expected there.
func TestParseReject(t *testing.T) {
	t.Parallel()
	cases := []struct {
		src    string
		code   string
		offset int
		msg    string
	}{
		{`status IN ()`, CodeParse, 11, `expected a value`},
		{`n = +1`, CodeParse, 4, `unexpected character '+'`},
		{`a = 1;`, CodeParse, 5, `unexpected character ';'`},
		{`name = `, CodeParse, 7, `expected a value (a 'string', a number, TRUE, FALSE, NULL or ?), found end of query`},
		{`= 1`, CodeParse, 0, `expected a field name, TRUE, FALSE, NOT or '(', found "="`},
		{`(a = 1`, CodeParse, 6, `expected ')' to close the '(' at offset 0`},
		{`a = 1)`, CodeParse, 5, `unbalanced ')'`},
		{`name = 'unterminated`, CodeParse, 7, `unterminated string`},
		{`"unterminated = 1`, CodeParse, 0, `unterminated quoted identifier`},
		{`a === 1`, CodeParse, 3, `expected a value`},
		{`a = 1 LIMIT 5 ORDER BY x`, CodeParse, 14, `expected end of query after LIMIT, found "ORDER"`},
		{`a = 1 LIMIT -1`, CodeParse, 12, `LIMIT must be a non-negative integer`},
		{`a = 1 LIMIT 1.5`, CodeParse, 12, `LIMIT must be a non-negative integer`},
		{`a = 1 LIMIT x`, CodeParse, 12, `expected a non-negative integer or ? after LIMIT, found "x"`},
		{`a = 1 ORDER x`, CodeParse, 12, `expected BY after ORDER`},
		{`a`, CodeParse, 1, `expected an operator (= <> != < <= > >= IN, NOT IN, IS, BETWEEN, LIKE) after a, found end of query`},
		{`a = 1 AND`, CodeParse, 9, `expected a field name`},
		{`NOT`, CodeParse, 3, `expected a field name`},
		{`a IS 5`, CodeParse, 5, `expected NULL or NOT NULL after IS`},
		{`a IS NOT 5`, CodeParse, 9, `expected NULL after IS NOT`},
		{`a NOT 5`, CodeParse, 6, `expected IN, BETWEEN or LIKE after NOT`},
		{`a BETWEEN 1 OR 2`, CodeParse, 12, `expected AND in BETWEEN`},
		{`a IN 1`, CodeParse, 5, `expected '(' after IN`},
		{`a IN (1 2)`, CodeParse, 8, `expected ',' or ')' in the IN list`},
		{`a LIKE 5`, CodeBadArgument, 7, `LIKE needs a text pattern`},
		{`a LIKE 'x\'`, CodeBadArgument, 7, `must not end with the escape character`},
		{`1 = a`, CodeParse, 0, `found number 1`},
		{`a = b`, CodeParse, 4, `expected a value`},
		{`a. = 1`, CodeParse, 3, `expected a key name after '.'`},
		{`"" = 1`, CodeParse, 0, `expected a name between the double quotes`},
		{"a = 'x\x00'", CodeParse, 6, `NUL character`},
		{`a = 1e999999`, CodeParse, 4, `out of range`},
		{`a = 1.`, CodeParse, 6, `expected digits after the decimal point`},
		{`a = 1e`, CodeParse, 6, `expected digits in the exponent`},
		{`a = 1x`, CodeParse, 5, `malformed number`},
		{`a=1AND b=2`, CodeParse, 3, `malformed number`},
		{`a = - 1`, CodeParse, 4, `unexpected character '-'`},
		{`in = 1`, CodeParse, 0, `expected a field name, TRUE, FALSE, NOT or '(', found "in"`},
		{`ORDER BY`, CodeParse, 8, `expected a field name to order by`},
		{`ORDER BY x,`, CodeParse, 11, `expected a field name to order by`},
		{`a = 1 ORDER BY x y`, CodeParse, 17, `expected ',', ASC, DESC, LIMIT or end of query, found "y"`},
		{`a = 1 a = 2`, CodeParse, 6, `expected AND, OR, ORDER BY, LIMIT or end of query, found "a"`},
		{`(a = 1 a = 2)`, CodeParse, 7, `expected AND, OR or ')'`},
		{`?`, CodeParse, 0, `found placeholder ?`},
		{`a = #`, CodeParse, 4, `unexpected character '#'`},
		{`a = 1 OR`, CodeParse, 8, `found end of query`},
		{`TRUE = 1`, CodeParse, 5, `expected AND, OR, ORDER BY, LIMIT or end of query`},
		{`a = 'x' ORDER BY y ASC DESC`, CodeParse, 23, `found "DESC"`},
		{"a = 1 \xff", CodeInvalidUTF8, 6, `not valid UTF-8`},
	}
	for _, c := range cases {
		_, err := Parse(c.src)
		var qe *Error
		if !errors.As(err, &qe) {
			t.Errorf("Parse(%q) = %v, want a *query.Error", c.src, err)
			continue
		}
		if qe.Code != c.code || qe.Offset != c.offset || !strings.Contains(qe.Message, c.msg) {
			t.Errorf("Parse(%q):\n got %s %d %q\nwant %s %d …%q…", c.src, qe.Code, qe.Offset, qe.Message, c.code, c.offset, c.msg)
		}
		if !strings.Contains(err.Error(), "offset") {
			t.Errorf("Parse(%q): message %q does not say where", c.src, err)
		}
	}
}

func TestErrorIs(t *testing.T) {
	t.Parallel()
	_, err := Parse("a =")
	if !errors.Is(err, &Error{Code: CodeParse}) {
		t.Fatalf("errors.Is(%v, parse_error) = false", err)
	}
	if errors.Is(err, &Error{Code: CodeTooDeep}) {
		t.Fatalf("errors.Is(%v, too_deep) = true", err)
	}
	want := `query: parse_error at offset 3: expected a value (a 'string', a number, TRUE, FALSE, NULL or ?), found end of query`
	if err.Error() != want {
		t.Fatalf("Error() = %q\nwant %q", err.Error(), want)
	}
}

// TestString pins the canonical form.
func TestString(t *testing.T) {
	t.Parallel()
	cases := []struct{ src, want string }{
		{``, ``},
		{`a=1`, `a = 1`},
		{`a != 1`, `a <> 1`},
		{`not (a = 1 or b = 2) and c in (1,2.0,'x''y', null, true)`, `NOT (a = 1 OR b = 2) AND c IN (1, 2.0, 'x''y', NULL, TRUE)`},
		{`a = 1 or b = 2 and c = 3`, `a = 1 OR (b = 2 AND c = 3)`},
		{`(a = 1 or b = 2) and c = 3`, `(a = 1 OR b = 2) AND c = 3`},
		{`"order" = 1 and "a b".c = 'x' and "Select" = 2 and limit = 3`, `"order" = 1 AND "a b".c = 'x' AND Select = 2 AND "limit" = 3`},
		{`x is not null and y is null`, `x IS NOT NULL AND y IS NULL`},
		{`x not between 1 and 1e21 and y not like 'a%'`, `x NOT BETWEEN 1 AND 1e21 AND y NOT LIKE 'a%'`},
		{`order by a desc, b asc limit 3`, `ORDER BY a DESC, b LIMIT 3`},
		{`a = ? limit ?`, `a = ? LIMIT ?`},
		{`not not true`, `NOT NOT TRUE`},
		{`x = -0.0`, `x = 0.0`}, // numeric has no negative zero
		{`имя = 1`, `"имя" = 1`},
	}
	for _, c := range cases {
		q, err := Parse(c.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.src, err)
			continue
		}
		if got := q.String(); got != c.want {
			t.Errorf("Parse(%q).String()\n got %s\nwant %s", c.src, got, c.want)
		}
	}
}
