package query

import (
	"strings"
	"unicode/utf8"

	"github.com/ankurah/ankurah-go/value"
)

// LIKE follows Postgres: % matches any sequence of characters (also none),
// _ exactly one character (not byte), and the escape character — a
// backslash, Postgres's default — makes the next character literal. A
// pattern may not end with a lone backslash (Postgres refuses it too).

type likeKind uint8

const (
	likeLit likeKind = iota // a run of literal text
	likeOne                 // _
	likeAny                 // %
)

type likeTok struct {
	kind likeKind
	lit  string
}

// checkPattern refuses LIKE patterns Postgres would refuse: not text, or
// ending with the escape character. NULL and unbound patterns pass.
func checkPattern(o Operand) error {
	if o.Param != 0 || o.Value.IsNull() {
		return nil
	}
	if o.Value.Type() != value.Text {
		return errorf(CodeBadArgument, o.Pos, "LIKE needs a text pattern, got %s", o.Value)
	}
	if _, ok := compileLike(o.Value.Text()); !ok {
		return errorf(CodeBadArgument, o.Pos, "LIKE pattern must not end with the escape character \\ (write \\\\ for a backslash)")
	}
	return nil
}

// compileLike splits a pattern into literal runs, _ and %. Consecutive %
// collapse into one.
func compileLike(pat string) ([]likeTok, bool) {
	var toks []likeTok
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			toks = append(toks, likeTok{kind: likeLit, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; c {
		case '\\':
			if i+1 >= len(pat) {
				return nil, false
			}
			_, n := utf8.DecodeRuneInString(pat[i+1:])
			lit.WriteString(pat[i+1 : i+1+n])
			i += n
		case '%':
			flush()
			if len(toks) == 0 || toks[len(toks)-1].kind != likeAny {
				toks = append(toks, likeTok{kind: likeAny})
			}
		case '_':
			flush()
			toks = append(toks, likeTok{kind: likeOne})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return toks, true
}

// matchLike matches s against a compiled pattern. It is the classic
// wildcard matcher that backtracks only to the last %, so it takes at most
// O(len(s) * len(toks)) steps and allocates nothing.
func matchLike(toks []likeTok, s string) bool {
	ti, si := 0, 0
	starT, starS := -1, 0
	for {
		if ti < len(toks) {
			t := &toks[ti]
			switch t.kind {
			case likeAny:
				starT, starS = ti, si
				ti++
				continue
			case likeOne:
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					si += n
					ti++
					continue
				}
			case likeLit:
				if strings.HasPrefix(s[si:], t.lit) {
					si += len(t.lit)
					ti++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		// Mismatch: let the last % swallow one more character.
		if starT < 0 || starS >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		ti, si = starT+1, starS
	}
}
