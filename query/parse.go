package query

import (
	"strings"
	"unicode/utf8"

	"github.com/ankurah/ankurah-go/value"
)

// Parse parses a query:
//
//	[predicate] [ORDER BY path [ASC|DESC], …] [LIMIT n]
//
// An empty (or blank) text is the query for every entity. With args, the ?
// placeholders are bound to them in order (see Bind); without args the
// query may keep unbound placeholders, to be bound later. Errors are *Error.
func Parse(src string, args ...any) (*Query, error) {
	if len(src) > MaxLength {
		return nil, errorf(CodeTooLong, MaxLength, "query is %d bytes long; the limit is %d (pass long lists as IN (?) arguments)", len(src), MaxLength)
	}
	if !utf8.ValidString(src) {
		return nil, errorf(CodeInvalidUTF8, invalidUTF8At(src), "query text is not valid UTF-8")
	}
	p := &parser{src: src}
	q, err := p.query()
	if err != nil {
		return nil, err
	}
	if len(args) > 0 || q.params == 0 {
		return q.Bind(args...)
	}
	return q, nil
}

// ParseRule parses a policy rule: a query whose values may be variables
// such as $jwt.sub (named placeholders: see Vars) and whose predicates may
// test a variable itself ($jwt.role = 'admin': a path whose first step is
// "$jwt", for the caller to resolve before evaluating). Variables are the
// only placeholders a rule binds; ? is allowed too.
func ParseRule(src string) (*Query, error) {
	if len(src) > MaxLength {
		return nil, errorf(CodeTooLong, MaxLength, "rule is %d bytes long; the limit is %d", len(src), MaxLength)
	}
	if !utf8.ValidString(src) {
		return nil, errorf(CodeInvalidUTF8, invalidUTF8At(src), "rule text is not valid UTF-8")
	}
	p := &parser{src: src, vars: true}
	return p.query()
}

// Vars returns the name of each placeholder of a rule parsed by ParseRule,
// in the order Bind takes their values: "jwt.sub" for $jwt.sub, "" for ?.
// It is nil for a query parsed by Parse.
func (q *Query) Vars() []string { return q.names }

// MustParse is Parse for queries known to be valid (constants, tests); it panics on error.
func MustParse(src string, args ...any) *Query {
	q, err := Parse(src, args...)
	if err != nil {
		panic(err)
	}
	return q
}

func invalidUTF8At(s string) int {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(s)
}

// parser is a recursive-descent parser with one token of lookahead (two
// where ORDER/LIMIT may be a field name).
type parser struct {
	src    string
	tok    token
	depth  int
	params int
	firstQ int
	// vars allows $variables (ParseRule): in a predicate's path, and as
	// named placeholders where a value goes.
	vars  bool
	names []string // the name of each placeholder, "" for ?
}

func (p *parser) advance() error {
	t, err := lex(p.src, p.tok.end)
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) peek() token {
	t, err := lex(p.src, p.tok.end)
	if err != nil {
		return token{kind: tEOF, pos: p.tok.end}
	}
	return t
}

func (p *parser) expected(what string) error {
	return errorf(CodeParse, p.tok.pos, "expected %s, found %s", what, p.tok.describe())
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return errorf(CodeTooDeep, p.tok.pos, "parentheses and NOT nest more than %d levels deep", MaxDepth)
	}
	return nil
}

// atOrderBy and atLimit recognise the start of a clause. ORDER and LIMIT
// are clause keywords only when followed by BY and by a number or ?, so that
// fields called order and limit still work in predicates.
func (p *parser) atOrderBy() bool { return p.tok.is("ORDER") && p.peek().is("BY") }

func (p *parser) atLimit() bool {
	if !p.tok.is("LIMIT") {
		return false
	}
	k := p.peek().kind
	return k == tInt || k == tFloat || k == tParam
}

func (p *parser) query() (*Query, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	q := &Query{}
	if p.tok.kind != tEOF && !p.atOrderBy() && !p.atLimit() {
		w, err := p.or()
		if err != nil {
			return nil, err
		}
		q.Where = w
	}
	if p.atOrderBy() {
		if err := p.advance(); err != nil { // ORDER
			return nil, err
		}
		if err := p.advance(); err != nil { // BY
			return nil, err
		}
		for {
			path, err := p.path("a field name to order by")
			if err != nil {
				return nil, err
			}
			k := SortKey{Path: path}
			switch {
			case p.tok.is("DESC"):
				k.Desc = true
				fallthrough
			case p.tok.is("ASC"):
				if err := p.advance(); err != nil {
					return nil, err
				}
			}
			q.OrderBy = append(q.OrderBy, k)
			if p.tok.kind != tComma {
				break
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
	}
	if p.atLimit() {
		if err := p.advance(); err != nil {
			return nil, err
		}
		switch p.tok.kind {
		case tParam:
			o := p.param()
			q.Limit = &o
		case tInt:
			if p.tok.i < 0 {
				return nil, errorf(CodeParse, p.tok.pos, "LIMIT must be a non-negative integer, found %s", p.tok.text)
			}
			q.Limit = &Operand{Value: value.IntOf(p.tok.i), Pos: p.tok.pos}
		default:
			return nil, errorf(CodeParse, p.tok.pos, "LIMIT must be a non-negative integer, found %s", p.tok.describe())
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if p.tok.kind != tEOF {
		switch {
		case q.Limit == nil && p.tok.is("LIMIT"):
			return nil, errorf(CodeParse, p.peek().pos, "expected a non-negative integer or ? after LIMIT, found %s", p.peek().describe())
		case q.OrderBy == nil && q.Limit == nil && p.tok.is("ORDER"):
			return nil, errorf(CodeParse, p.peek().pos, "expected BY after ORDER, found %s", p.peek().describe())
		case q.Limit != nil:
			return nil, p.expected("end of query after LIMIT")
		case q.OrderBy != nil:
			return nil, p.expected("',', ASC, DESC, LIMIT or end of query")
		case p.tok.kind == tRParen:
			return nil, errorf(CodeParse, p.tok.pos, "unbalanced ')': no '(' is open here")
		default:
			return nil, p.expected("AND, OR, ORDER BY, LIMIT or end of query")
		}
	}
	q.params, q.unbound, q.firstQ = p.params, p.params, p.firstQ
	if p.vars {
		q.names = p.names
	}
	return q, nil
}

func (p *parser) or() (Expr, error) {
	first, err := p.and()
	if err != nil {
		return nil, err
	}
	if !p.tok.is("OR") {
		return first, nil
	}
	terms := flatten[*Or](nil, first)
	for p.tok.is("OR") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		t, err := p.and()
		if err != nil {
			return nil, err
		}
		terms = flatten[*Or](terms, t)
	}
	return &Or{Terms: terms}, nil
}

func (p *parser) and() (Expr, error) {
	first, err := p.not()
	if err != nil {
		return nil, err
	}
	if !p.tok.is("AND") {
		return first, nil
	}
	terms := flatten[*And](nil, first)
	for p.tok.is("AND") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		t, err := p.not()
		if err != nil {
			return nil, err
		}
		terms = flatten[*And](terms, t)
	}
	return &And{Terms: terms}, nil
}

// flatten appends t to terms, splicing in the terms of a parenthesised
// group of the same operator: (a AND b) AND c is And[a b c]. This keeps
// trees shallow and makes printing canonical.
func flatten[T *And | *Or](terms []Expr, t Expr) []Expr {
	switch x := t.(type) {
	case *And:
		if _, same := any(T(nil)).(*And); same {
			return append(terms, x.Terms...)
		}
	case *Or:
		if _, same := any(T(nil)).(*Or); same {
			return append(terms, x.Terms...)
		}
	}
	return append(terms, t)
}

func (p *parser) not() (Expr, error) {
	if !p.tok.is("NOT") {
		return p.primary()
	}
	pos := p.tok.pos
	if err := p.enter(); err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	x, err := p.not()
	if err != nil {
		return nil, err
	}
	p.depth--
	return &Not{X: x, Pos: pos}, nil
}

func (p *parser) primary() (Expr, error) {
	switch {
	case p.tok.kind == tLParen:
		if err := p.enter(); err != nil {
			return nil, err
		}
		open := p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			if p.tok.kind == tEOF {
				return nil, errorf(CodeParse, p.tok.pos, "expected ')' to close the '(' at offset %d, found end of query", open)
			}
			return nil, p.expected("AND, OR or ')'")
		}
		p.depth--
		return x, p.advance()
	case p.tok.is("TRUE"), p.tok.is("FALSE"):
		b := &Bool{Value: p.tok.is("TRUE"), Pos: p.tok.pos}
		return b, p.advance()
	case p.tok.kind == tWord && isReserved(p.tok.text), p.tok.kind != tWord && p.tok.kind != tIdent:
		return nil, p.expected("a field name, TRUE, FALSE, NOT or '('")
	}
	path, err := p.path("a field name")
	if err != nil {
		return nil, err
	}
	return p.predicate(path)
}

// path parses name(.name)*.
func (p *parser) path(what string) (Path, error) {
	path := Path{Pos: p.tok.pos}
	for {
		if p.tok.kind == tWord && strings.HasPrefix(p.tok.text, "$") {
			if err := p.checkVar(len(path.Steps) == 0); err != nil {
				return path, err
			}
		}
		if p.tok.kind == tIdent || p.tok.kind == tWord && !isReserved(p.tok.text) {
			path.Steps = append(path.Steps, p.tok.text)
		} else if len(path.Steps) == 0 {
			return path, p.expected(what)
		} else {
			return path, p.expected("a key name after '.'")
		}
		if err := p.advance(); err != nil {
			return path, err
		}
		if p.tok.kind != tDot {
			return path, nil
		}
		if err := p.advance(); err != nil {
			return path, err
		}
	}
}

// predicate parses what follows a path: a comparison, [NOT] IN, IS [NOT]
// NULL, [NOT] BETWEEN or [NOT] LIKE.
func (p *parser) predicate(path Path) (Expr, error) {
	if p.tok.kind == tOp {
		op := p.tok.op
		if err := p.advance(); err != nil {
			return nil, err
		}
		v, err := p.operand()
		if err != nil {
			return nil, err
		}
		return &Compare{Path: path, Op: op, Value: v}, nil
	}
	if p.tok.is("IS") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		neg := p.tok.is("NOT")
		if neg {
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
		if !p.tok.is("NULL") {
			if neg {
				return nil, p.expected("NULL after IS NOT")
			}
			return nil, p.expected("NULL or NOT NULL after IS")
		}
		return &IsNull{Path: path, Not: neg}, p.advance()
	}
	neg := p.tok.is("NOT")
	if neg {
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	switch {
	case p.tok.is("IN"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		in := &In{Path: path, Not: neg}
		if p.tok.kind == tWord && strings.HasPrefix(p.tok.text, "$") {
			// IN $jwt.teams: the variable's list, as IN (?) binds a slice.
			v, err := p.operand()
			if err != nil {
				return nil, err
			}
			in.Values = append(in.Values, v)
			return in, nil
		}
		if p.tok.kind != tLParen {
			return nil, p.expected("'(' after IN")
		}
		for {
			if err := p.advance(); err != nil {
				return nil, err
			}
			v, err := p.operand()
			if err != nil {
				return nil, err
			}
			in.Values = append(in.Values, v)
			if p.tok.kind == tRParen {
				return in, p.advance()
			}
			if p.tok.kind != tComma {
				return nil, p.expected("',' or ')' in the IN list")
			}
		}
	case p.tok.is("BETWEEN"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		lo, err := p.operand()
		if err != nil {
			return nil, err
		}
		if !p.tok.is("AND") {
			return nil, p.expected("AND in BETWEEN … AND …")
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		hi, err := p.operand()
		if err != nil {
			return nil, err
		}
		return &Between{Path: path, Not: neg, Low: lo, High: hi}, nil
	case p.tok.is("LIKE"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		pat, err := p.operand()
		if err != nil {
			return nil, err
		}
		if err := checkPattern(pat); err != nil {
			return nil, err
		}
		return &Like{Path: path, Not: neg, Pattern: pat}, nil
	}
	if neg {
		return nil, p.expected("IN, BETWEEN or LIKE after NOT")
	}
	name := strings.Join(path.Steps, ".")
	return nil, p.expected("an operator (= <> != < <= > >= IN, NOT IN, IS, BETWEEN, LIKE) after " + clip(name))
}

// operand parses a literal or a placeholder.
func (p *parser) operand() (Operand, error) {
	t := p.tok
	o := Operand{Pos: t.pos}
	switch {
	case t.kind == tParam:
		o = p.param()
	case t.kind == tString:
		o.Value = value.TextOf(t.text)
	case t.kind == tInt:
		o.Value = value.IntOf(t.i)
	case t.kind == tFloat:
		o.Value, _ = value.NumericOf(t.num) // canonical already
	case t.is("TRUE"), t.is("FALSE"):
		o.Value = value.BoolOf(t.is("TRUE"))
	case t.is("NULL"):
	case t.kind == tWord && strings.HasPrefix(t.text, "$"):
		return p.variable()
	default:
		return o, p.expected("a value (a 'string', a number, TRUE, FALSE, NULL or ?)")
	}
	return o, p.advance()
}

func (p *parser) param() Operand {
	p.params++
	if p.params == 1 {
		p.firstQ = p.tok.pos
	}
	p.names = append(p.names, "")
	return Operand{Param: p.params, Pos: p.tok.pos}
}

// checkVar refuses a $variable outside policy rules, and one that is not
// the first step of a path.
func (p *parser) checkVar(first bool) error {
	if !p.vars {
		return errorf(CodeParse, p.tok.pos, "variables such as %s are only allowed in policy rules", clip(p.tok.text))
	}
	if !first {
		return p.expected("a key name after '.'")
	}
	return nil
}

// variable parses $name(.key)* where a value goes: a named placeholder,
// bound like ? (see Vars).
func (p *parser) variable() (Operand, error) {
	if err := p.checkVar(true); err != nil {
		return Operand{}, err
	}
	pos := p.tok.pos
	path, err := p.path("a variable")
	if err != nil {
		return Operand{}, err
	}
	o := p.param()
	o.Pos = pos
	p.names[len(p.names)-1] = strings.Join(path.Steps, ".")
	return o, nil
}
