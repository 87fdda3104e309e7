package query

import "testing"

func TestJSONLookup(t *testing.T) {
	t.Parallel()
	cases := []struct {
		doc, key, want string
	}{
		{`{"a":1}`, "a", "1"},
		{`{"a":1}`, "b", ""},
		{` { "a" : "x y" , "b" : [1, {"a": 2}] } `, "b", `[1, {"a": 2}]`},
		{`{"a":{"b":{"c":true}},"c":3}`, "c", "3"},
		{`{"a":1,"a":2}`, "a", "2"},      // the last duplicate wins, as in jsonb
		{`{"\u0061":1}`, "a", "1"},       // escaped key
		{`{"a\"b":"v"}`, `a"b`, `"v"`},   // escaped quote in a key
		{`{"s":"}\"{","t":0}`, "t", "0"}, // braces inside strings
		{`{"n":null}`, "n", "null"},
		{`[{"a":1}]`, "a", ""}, // arrays are not indexed by keys
		{`"a"`, "a", ""},
		{`5`, "a", ""},
		{`{"a":`, "a", ""}, // malformed: no panic, nothing found
		{`{"a"`, "a", ""},
		{`{`, "a", ""},
		{``, "a", ""},
	}
	for _, c := range cases {
		if got := jsonLookup(c.doc, c.key); got != c.want {
			t.Errorf("lookup(%s, %q) = %q, want %q", c.doc, c.key, got, c.want)
		}
	}
}

func TestJSONString(t *testing.T) {
	t.Parallel()
	cases := []struct{ raw, want string }{
		{`"abc"`, "abc"},
		{`""`, ""},
		{`"caf\u00e9"`, "café"},
		{`"a\"b\\c\/d\n\t\r\b\f"`, "a\"b\\c/d\n\t\r\b\f"},
		{`"\ud83d\ude80"`, "🚀"},
		{`"\ud83d"`, "\ufffd"},
	}
	for _, c := range cases {
		got, ok := jsonString(c.raw)
		if !ok || got != c.want {
			t.Errorf("jsonString(%s) = %q %v, want %q", c.raw, got, ok, c.want)
		}
	}
	for _, bad := range []string{`"abc`, `abc"`, `"\x"`, `"\u12"`, `"\`} {
		if _, ok := jsonString(bad); ok {
			t.Errorf("jsonString(%s) accepted", bad)
		}
	}
}
