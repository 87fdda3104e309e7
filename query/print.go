package query

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/ankurah/ankurah-go/value"
)

// String prints the query in canonical form: keywords upper case, one
// space between tokens, <> for inequality, identifiers quoted only when they
// must be, parentheses only where precedence needs them (and around an AND
// inside an OR, for readability). Parsing the result gives the same query.
//
// Bound values print as literals. Types without a literal syntax print for
// humans and parse back only approximately: bytea as '\x…' text, timestamps
// as RFC 3339 text, NaN and infinite floats as bare words (which do not parse).
func (q *Query) String() string {
	var b strings.Builder
	if q.Where != nil {
		writeExpr(&b, q.Where, precOr)
	}
	if len(q.OrderBy) > 0 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("ORDER BY ")
		for i, k := range q.OrderBy {
			if i > 0 {
				b.WriteString(", ")
			}
			writePath(&b, k.Path)
			if k.Desc {
				b.WriteString(" DESC")
			}
		}
	}
	if q.Limit != nil {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("LIMIT ")
		writeOperand(&b, *q.Limit)
	}
	return b.String()
}

// Precedence levels of the printed operators.
const (
	precOr = iota
	precAnd
	precNot
)

func writeExpr(b *strings.Builder, e Expr, ctx int) {
	switch x := e.(type) {
	case *Bool:
		if x.Value {
			b.WriteString("TRUE")
		} else {
			b.WriteString("FALSE")
		}
	case *And:
		writeJoined(b, x.Terms, " AND ", precAnd, ctx > precAnd)
	case *Or:
		writeJoined(b, x.Terms, " OR ", precOr, ctx > precOr)
	case *Not:
		b.WriteString("NOT ")
		writeExpr(b, x.X, precNot)
	case *Compare:
		writePath(b, x.Path)
		b.WriteByte(' ')
		b.WriteString(x.Op.String())
		b.WriteByte(' ')
		writeOperand(b, x.Value)
	case *In:
		writePath(b, x.Path)
		if x.Not {
			b.WriteString(" NOT")
		}
		b.WriteString(" IN (")
		for i, o := range x.Values {
			if i > 0 {
				b.WriteString(", ")
			}
			writeOperand(b, o)
		}
		b.WriteByte(')')
	case *IsNull:
		writePath(b, x.Path)
		if x.Not {
			b.WriteString(" IS NOT NULL")
		} else {
			b.WriteString(" IS NULL")
		}
	case *Between:
		writePath(b, x.Path)
		if x.Not {
			b.WriteString(" NOT")
		}
		b.WriteString(" BETWEEN ")
		writeOperand(b, x.Low)
		b.WriteString(" AND ")
		writeOperand(b, x.High)
	case *Like:
		writePath(b, x.Path)
		if x.Not {
			b.WriteString(" NOT")
		}
		b.WriteString(" LIKE ")
		writeOperand(b, x.Pattern)
	}
}

// writeJoined prints the terms of an AND or OR. A term that is itself an AND
// or OR is parenthesised (an OR inside an AND must be; an AND inside an OR
// need not be, but reads better).
func writeJoined(b *strings.Builder, terms []Expr, sep string, prec int, paren bool) {
	if paren {
		b.WriteByte('(')
	}
	for i, t := range terms {
		if i > 0 {
			b.WriteString(sep)
		}
		switch t.(type) {
		case *And, *Or:
			writeExpr(b, t, precNot)
		default:
			writeExpr(b, t, prec)
		}
	}
	if paren {
		b.WriteByte(')')
	}
}

func writePath(b *strings.Builder, p Path) {
	for i, s := range p.Steps {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(quoteIdent(s))
	}
}

func writeOperand(b *strings.Builder, o Operand) {
	if o.Param != 0 {
		b.WriteByte('?')
		return
	}
	writeValue(b, o.Value)
}

func writeValue(b *strings.Builder, v value.Value) {
	switch v.Type() {
	case value.Null:
		b.WriteString("NULL")
	case value.Text, value.Ref:
		b.WriteString(quoteString(v.Text()))
	case value.Int:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case value.Float:
		b.WriteString(formatFloat(v.Float()))
	case value.Numeric:
		b.WriteString(formatNumeric(v.NumericText()))
	case value.Bool:
		if v.Bool() {
			b.WriteString("TRUE")
		} else {
			b.WriteString("FALSE")
		}
	case value.Bytes:
		b.WriteString(`'\x` + hex.EncodeToString([]byte(v.Raw())) + `'`)
	case value.Time:
		b.WriteString(quoteString(v.Time().Format(value.TimeLayout)))
	case value.Real:
		b.WriteString(formatFloat(v.Float())) // the real's exact value
	default:
		// Types without a literal: their text, which compares with fields
		// of their type as the value does (a uuid, a date, an interval, an
		// enum label, an array's '{…}').
		switch v.Type().Kind() {
		case value.Array:
			b.WriteString(quoteString(v.PGText()))
		case value.JSON:
			b.WriteString(quoteString(v.String()))
		default:
			var s string
			if err := json.Unmarshal(v.AppendJSON(nil), &s); err != nil {
				s = v.String()
			}
			b.WriteString(quoteString(s))
		}
	}
}

// formatFloat prints a float so that it parses back as the same float and
// never as an integer: 5 prints as 5.0.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

// formatNumeric prints a numeric so that it parses back as the same
// numeric: with its point, or with e0 when it is integral (1000 prints as
// 1000e0, which is the numeric 1000 and not the bigint). NaN and the
// infinities, which have no literal, print as bare words for humans.
func formatNumeric(s string) string {
	if strings.ContainsAny(s, ".IN") {
		return s
	}
	t := strings.TrimRight(s, "0")
	if t == "" || t == "-" {
		return "0e0"
	}
	return t + "e" + strconv.Itoa(len(s)-len(t))
}

// quoteString writes a string literal: single quotes, a quote doubled.
func quoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// quoteIdent returns a name as written in a query: bare when it is a plain
// ASCII identifier that is no keyword, otherwise double-quoted.
func quoteIdent(s string) string {
	if isPlainIdent(s) && !isKeyword(s) {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func isPlainIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
