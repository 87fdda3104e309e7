package query

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ankurah/ankurah-go/value"
)

// tokKind is the kind of a lexical token.
type tokKind uint8

const (
	tEOF    tokKind = iota
	tWord           // bare identifier or keyword
	tIdent          // "double-quoted identifier"
	tString         // 'single-quoted string'
	tInt            // integer literal
	tFloat          // decimal or exponent literal (an exact numeric)
	tParam          // ?
	tOp             // = != <> < <= > >=
	tLParen
	tRParen
	tComma
	tDot
)

// token is one lexical token. text is the decoded content for strings and
// quoted identifiers and the source text otherwise.
type token struct {
	kind     tokKind
	pos, end int
	text     string
	op       Op
	i        int64
	num      string // tFloat: canonical numeric text
}

// describe names a token for "expected …, found …" messages.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of query"
	case tString:
		return "string " + clip(quoteString(t.text))
	case tIdent:
		return "identifier " + clip(quoteIdent(t.text))
	case tInt, tFloat:
		return "number " + t.text
	case tParam:
		return "placeholder ?"
	}
	return strconv.Quote(clip(t.text))
}

func clip(s string) string {
	if len(s) > 40 {
		i := 40
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		return s[:i] + "…"
	}
	return s
}

// is reports whether t is the keyword kw (given in upper case). Keywords are
// case-insensitive in ASCII only, so that no Unicode case folding (the Kelvin
// sign folds to k) can turn an identifier into a keyword.
func (t token) is(kw string) bool {
	return t.kind == tWord && asciiEqualFold(t.text, kw)
}

func asciiEqualFold(s, upper string) bool {
	if len(s) != len(upper) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != upper[i] {
			return false
		}
	}
	return true
}

// keywords are the words that are never bare identifiers (write "in" to
// name a field called in). ORDER, BY, LIMIT, ASC and DESC are keywords only
// where a clause can start, so fields may be called order or limit; the
// printer quotes all of them anyway.
var reserved = []string{"AND", "OR", "NOT", "IN", "IS", "NULL", "BETWEEN", "LIKE", "TRUE", "FALSE"}
var contextual = []string{"ORDER", "BY", "LIMIT", "ASC", "DESC"}

func isReserved(word string) bool {
	for _, kw := range reserved {
		if asciiEqualFold(word, kw) {
			return true
		}
	}
	return false
}

func isKeyword(word string) bool {
	if isReserved(word) {
		return true
	}
	for _, kw := range contextual {
		if asciiEqualFold(word, kw) {
			return true
		}
	}
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }

func isIdentPart(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// lex scans the token that starts at or after pos. It is stateless, so the
// parser can peek by scanning from a token's end.
func lex(src string, pos int) (token, error) {
	for pos < len(src) && isSpace(src[pos]) {
		pos++
	}
	if pos >= len(src) {
		return token{kind: tEOF, pos: pos, end: pos}, nil
	}
	c := src[pos]
	one := func(k tokKind) (token, error) {
		return token{kind: k, pos: pos, end: pos + 1, text: src[pos : pos+1]}, nil
	}
	op := func(o Op, n int) (token, error) {
		return token{kind: tOp, pos: pos, end: pos + n, text: src[pos : pos+n], op: o}, nil
	}
	next := byte(0)
	if pos+1 < len(src) {
		next = src[pos+1]
	}
	switch {
	case c == '(':
		return one(tLParen)
	case c == ')':
		return one(tRParen)
	case c == ',':
		return one(tComma)
	case c == '.':
		return one(tDot)
	case c == '?':
		return one(tParam)
	case c == '=':
		return op(Eq, 1)
	case c == '!' && next == '=':
		return op(Ne, 2)
	case c == '<' && next == '>':
		return op(Ne, 2)
	case c == '<' && next == '=':
		return op(Le, 2)
	case c == '<':
		return op(Lt, 1)
	case c == '>' && next == '=':
		return op(Ge, 2)
	case c == '>':
		return op(Gt, 1)
	case c == '\'':
		return lexQuoted(src, pos, '\'', tString)
	case c == '"':
		return lexQuoted(src, pos, '"', tIdent)
	case c >= '0' && c <= '9' || c == '-' && next >= '0' && next <= '9':
		return lexNumber(src, pos)
	}
	r, n := utf8.DecodeRuneInString(src[pos:])
	variable := false
	if c == '$' && pos+1 < len(src) {
		// $name is a variable of a policy rule ($jwt.sub); the parser
		// refuses it anywhere else.
		next, _ := utf8.DecodeRuneInString(src[pos+1:])
		variable = isIdentStart(next)
	}
	if isIdentStart(r) || variable {
		end := pos + n
		for end < len(src) {
			r, n := utf8.DecodeRuneInString(src[end:])
			if !isIdentPart(r) {
				break
			}
			end += n
		}
		return token{kind: tWord, pos: pos, end: end, text: src[pos:end]}, nil
	}
	return token{}, errorf(CodeParse, pos, "unexpected character %s", strconv.QuoteRune(r))
}

// lexQuoted scans a 'string' or "identifier"; a doubled quote stands for one.
func lexQuoted(src string, pos int, q byte, kind tokKind) (token, error) {
	what := "string"
	if kind == tIdent {
		what = "quoted identifier"
	}
	var b strings.Builder
	start := pos + 1
	for i := start; i < len(src); i++ {
		switch src[i] {
		case 0:
			return token{}, errorf(CodeParse, i, "%s contains a NUL character, which Postgres text cannot hold", what)
		case q:
			if i+1 < len(src) && src[i+1] == q {
				b.WriteString(src[start : i+1])
				i++
				start = i + 1
				continue
			}
			b.WriteString(src[start:i])
			t := token{kind: kind, pos: pos, end: i + 1, text: b.String()}
			if kind == tIdent && t.text == "" {
				return token{}, errorf(CodeParse, pos, "expected a name between the double quotes")
			}
			return t, nil
		}
	}
	return token{}, errorf(CodeParse, pos, "unterminated %s: expected a closing %c", what, q)
}

// lexNumber scans -?digits[.digits][e[+-]digits]. An integer must fit in 64
// bits; a decimal or exponent form is a double-precision float.
func lexNumber(src string, pos int) (token, error) {
	i := pos
	if src[i] == '-' {
		i++
	}
	digits := func() int {
		s := i
		for i < len(src) && src[i] >= '0' && src[i] <= '9' {
			i++
		}
		return i - s
	}
	digits()
	isFloat := false
	if i < len(src) && src[i] == '.' {
		i++
		isFloat = true
		if digits() == 0 {
			return token{}, errorf(CodeParse, i, "expected digits after the decimal point")
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		isFloat = true
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		if digits() == 0 {
			return token{}, errorf(CodeParse, i, "expected digits in the exponent")
		}
	}
	if i < len(src) {
		if r, _ := utf8.DecodeRuneInString(src[i:]); isIdentPart(r) || r == '.' {
			return token{}, errorf(CodeParse, i, "malformed number: unexpected %s after %s", strconv.QuoteRune(r), src[pos:i])
		}
	}
	t := token{kind: tInt, pos: pos, end: i, text: src[pos:i]}
	if !isFloat {
		n, err := strconv.ParseInt(t.text, 10, 64)
		if err == nil {
			t.i = n
			return t, nil
		}
		// An integer beyond 64 bits is an exact numeric, like a decimal.
	}
	num, err := value.ParseNumeric(t.text)
	if err != nil {
		return token{}, errorf(CodeParse, pos, "number %s is out of range: %v", clip(t.text), err)
	}
	t.kind, t.num = tFloat, num
	return t, nil
}
