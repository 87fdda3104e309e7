package query

import "testing"

func TestLike(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pat, s string
		want   bool
	}{
		{"", "", true},
		{"", "a", false},
		{"%", "", true},
		{"%", "anything", true},
		{"_", "", false},
		{"_", "é", true}, // one character, two bytes
		{"__", "é", false},
		{"a%", "abc", true},
		{"a%", "ba", false},
		{"%a", "ba", true},
		{"%a%", "xxaxx", true},
		{"a%b%c", "aXbYc", true},
		{"a%b%c", "aXcYb", false},
		{"a%%b", "ab", true},
		{"%ab%ab%", "xabyab", true},
		{"%aab", "aaab", true},
		{"a_c", "abc", true},
		{"a_c", "abbc", false},
		{`a\%b`, "a%b", true},
		{`a\%b`, "axb", false},
		{`a\_b`, "a_b", true},
		{`a\_b`, "axb", false},
		{`a\\b`, `a\b`, true},
		{`\a`, "a", true},
		{`\é`, "é", true},
		{"A%", "abc", false}, // case-sensitive
		{"%Ω%", "Ωmega", true},
		{"_mega", "Ωmega", true},
	}
	for _, c := range cases {
		toks, ok := compileLike(c.pat)
		if !ok {
			t.Errorf("compileLike(%q) failed", c.pat)
			continue
		}
		if got := matchLike(toks, c.s); got != c.want {
			t.Errorf("%q LIKE %q = %v, want %v", c.s, c.pat, got, c.want)
		}
	}
	for _, bad := range []string{`\`, `a\`, `a\\\`} {
		if _, ok := compileLike(bad); ok {
			t.Errorf("compileLike(%q) accepted a trailing escape", bad)
		}
	}
}

// TestLikeIsNotExponential: a pattern of many % against a long miss is
// quadratic at worst, not exponential.
func TestLikeIsNotExponential(t *testing.T) {
	t.Parallel()
	pat := ""
	for range 30 {
		pat += "%a"
	}
	s := ""
	for range 2000 {
		s += "a"
	}
	toks, _ := compileLike(pat + "b")
	if matchLike(toks, s) {
		t.Fatal("matched")
	}
}
