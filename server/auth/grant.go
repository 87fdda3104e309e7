package auth

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/value"
)

// Grant is what one principal may do in one collection: its rules bound to
// the principal's claims. It is immutable and safe for concurrent use.
type Grant struct {
	collection string
	// read and write are nil when denied; readAll/writeAll when the rule
	// folded to TRUE (no predicate to add).
	read, write       query.Expr
	readAll, writeAll bool
	writeMatch        *query.Matcher
	readMatch         *query.Matcher
	hidden            map[string]bool
	schema            bool
}

// unknown is a predicate that is unknown (NULL) for every entity, in
// memory and in SQL: what a claim test on a missing claim folds to, so that
// NOT of it stays unknown (denied) rather than becoming true.
var unknown = &query.Compare{Path: query.Path{Steps: []string{"id"}}, Op: query.Eq}

// Grant binds the principal's roles' rules for a collection. Several roles
// combine with OR (each may allow what the others do not); their hidden
// fields add up. A principal no role of which reaches the collection gets
// a grant that denies everything.
func (p *Policy) Grant(pr *Principal, collection string) (*Grant, error) {
	g := &Grant{collection: collection, hidden: map[string]bool{}}
	var reads, writes []query.Expr
	for _, rn := range p.RolesOf(pr) {
		r := p.roles[rn]
		if r.schema {
			g.schema = true
		}
		c := r.colls[collection]
		if c == nil {
			c = r.colls[AnyCollection]
		}
		if c == nil {
			continue
		}
		for h := range c.hidden {
			g.hidden[h] = true
		}
		for _, it := range []struct {
			rule *query.Query
			out  *[]query.Expr
			kind string
		}{{c.read, &reads, "read"}, {c.write, &writes, "write"}} {
			if it.rule == nil {
				continue
			}
			e, err := bindRule(it.rule, pr)
			if err != nil {
				return nil, fmt.Errorf("role %s, collection %s, %s rule: %w", rn, collection, it.kind, err)
			}
			*it.out = append(*it.out, e)
		}
	}
	g.read, g.readAll = anyOf(reads)
	g.write, g.writeAll = anyOf(writes)
	if g.write != nil && !g.writeAll {
		m, err := (&query.Query{}).And(g.write).Compile()
		if err != nil {
			return nil, err
		}
		g.writeMatch = m
	}
	if g.read != nil && !g.readAll {
		m, err := (&query.Query{}).And(g.read).Compile()
		if err != nil {
			return nil, err
		}
		g.readMatch = m
	}
	return g, nil
}

// Readable reports whether the principal may read an entity in this state
// (get by id, history, events).
func (g *Grant) Readable(r query.Record) bool {
	switch {
	case g.read == nil:
		return false
	case g.readAll:
		return true
	}
	return g.readMatch.Match(r)
}

// HiddenFields returns the hidden fields, sorted; nil when none.
func (g *Grant) HiddenFields() []string {
	if len(g.hidden) == 0 {
		return nil
	}
	return sortedKeys(g.hidden)
}

// anyOf combines rules with OR: nil for none, allAllowed when one is TRUE.
func anyOf(es []query.Expr) (e query.Expr, all bool) {
	var terms []query.Expr
	for _, x := range es {
		switch b := x.(type) {
		case *query.Bool:
			if b.Value {
				return x, true
			}
			continue // FALSE adds nothing
		case *query.Or:
			terms = append(terms, b.Terms...)
			continue
		}
		terms = append(terms, x)
	}
	switch {
	case len(es) == 0:
		return nil, false
	case len(terms) == 0:
		return &query.Bool{Value: false}, false
	case len(terms) == 1:
		return terms[0], false
	}
	return &query.Or{Terms: terms}, false
}

// CanRead reports whether the principal may read anything at all.
func (g *Grant) CanRead() bool { return g.read != nil }

// CanWrite reports whether the principal may write anything at all.
func (g *Grant) CanWrite() bool { return g.write != nil }

// CanChangeSchema reports whether the principal may create collections and
// add fields.
func (g *Grant) CanChangeSchema() bool { return g.schema }

// Hidden reports whether a field is hidden from the principal.
func (g *Grant) Hidden(field string) bool { return g.hidden[field] }

// HidesAny reports whether the grant hides any field.
func (g *Grant) HidesAny() bool { return len(g.hidden) > 0 }

// ReadFilter is the predicate an entity must satisfy to be read: nil when
// the principal reads everything it may read at all (check CanRead first).
func (g *Grant) ReadFilter() query.Expr {
	if g.readAll {
		return nil
	}
	return g.read
}

// Narrow returns the query the server runs for the principal: q AND the
// read rule. A query that names a hidden field, or a collection the
// principal may not read, is refused with permission_denied.
func (g *Grant) Narrow(q *query.Query) (*query.Query, error) {
	if g.read == nil {
		return nil, protocol.Errorf(protocol.CodePermissionDenied, "you may not read collection %q", g.collection)
	}
	for _, f := range q.Fields() {
		if g.hidden[f] {
			return nil, protocol.Errorf(protocol.CodePermissionDenied, "field %q of collection %q is not visible to you", f, g.collection)
		}
	}
	return q.And(g.ReadFilter()), nil
}

// CheckWrite checks one event: the entity's state before it (nil when the
// event creates the entity) and after it (nil when it deletes the entity)
// must satisfy the write rule, and the event may not set hidden fields.
func (g *Grant) CheckWrite(before, after query.Record, fields []string) error {
	if g.write == nil {
		return protocol.Errorf(protocol.CodePermissionDenied, "you may not write collection %q", g.collection)
	}
	for _, f := range fields {
		if g.hidden[f] {
			return protocol.Errorf(protocol.CodePermissionDenied, "field %q of collection %q is not visible to you, so you may not write it", f, g.collection)
		}
	}
	if g.writeAll {
		return nil
	}
	if before != nil && !g.writeMatch.Match(before) {
		return protocol.Errorf(protocol.CodePermissionDenied, "you may not change this entity of collection %q", g.collection)
	}
	if after != nil && !g.writeMatch.Match(after) {
		return protocol.Errorf(protocol.CodePermissionDenied, "the entity would not satisfy your write rule for collection %q afterwards", g.collection)
	}
	return nil
}

// bindRule binds a rule's variables to the principal's claims and folds
// the predicates that test a claim itself ($jwt.role = 'admin') to
// constants, keeping SQL's three-valued logic: a test of a missing claim
// is unknown, never false, so NOT of it does not allow anything.
func bindRule(rule *query.Query, pr *Principal) (query.Expr, error) {
	claims := map[string]any{}
	if pr != nil && pr.Claims != nil {
		claims = pr.Claims
	}
	names := rule.Vars()
	args := make([]any, len(names))
	for i, n := range names {
		v, err := claimArg(claims, strings.Split(strings.TrimPrefix(n, "$jwt."), "."))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		args[i] = v
	}
	q, err := rule.Bind(args...)
	if err != nil {
		return nil, err
	}
	doc, err := json.Marshal(claims)
	if err != nil {
		return nil, err
	}
	jv, err := value.JSONOf(doc)
	if err != nil {
		return nil, err
	}
	return fold(q.Where, claimsRecord{jv})
}

// claimArg reads a claim as a bind argument: JSON numbers become int64
// (or float64 when not integral), arrays become slices for IN, and a
// missing claim is NULL (which matches nothing).
func claimArg(claims map[string]any, path []string) (any, error) {
	var cur any = claims
	for _, step := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, nil
		}
		if cur, ok = m[step]; !ok {
			return nil, nil
		}
	}
	return jsonArg(cur)
}

func jsonArg(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("the number %s is out of range", x)
		}
		return f, nil
	case float64:
		if x == float64(int64(x)) {
			return int64(x), nil
		}
		return x, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			a, err := jsonArg(e)
			if err != nil {
				return nil, err
			}
			if _, isList := a.([]any); isList {
				return nil, fmt.Errorf("a nested array cannot be bound")
			}
			out[i] = a
		}
		return out, nil
	case map[string]any:
		return nil, fmt.Errorf("an object claim cannot be compared with a field; name one of its keys")
	}
	return v, nil // string, bool, nil
}

// claimsRecord is the record claim tests are evaluated against: field
// "$jwt" is the claims document.
type claimsRecord struct{ claims value.Value }

func (r claimsRecord) Get(field string) value.Value {
	if field == "$jwt" {
		return r.claims
	}
	return value.NullValue
}

// fold replaces each claim test by its truth value and simplifies AND, OR
// and NOT over constants.
func fold(e query.Expr, claims claimsRecord) (query.Expr, error) {
	switch x := e.(type) {
	case *query.And:
		var terms []query.Expr
		for _, t := range x.Terms {
			f, err := fold(t, claims)
			if err != nil {
				return nil, err
			}
			if b, ok := f.(*query.Bool); ok {
				if !b.Value {
					return f, nil
				}
				continue
			}
			terms = append(terms, f)
		}
		return join(terms, true), nil
	case *query.Or:
		var terms []query.Expr
		for _, t := range x.Terms {
			f, err := fold(t, claims)
			if err != nil {
				return nil, err
			}
			if b, ok := f.(*query.Bool); ok {
				if b.Value {
					return f, nil
				}
				continue
			}
			terms = append(terms, f)
		}
		return join(terms, false), nil
	case *query.Not:
		f, err := fold(x.X, claims)
		if err != nil {
			return nil, err
		}
		if b, ok := f.(*query.Bool); ok {
			return &query.Bool{Value: !b.Value}, nil
		}
		return &query.Not{X: f, Pos: x.Pos}, nil
	}
	if !testsClaim(e) {
		return e, nil
	}
	yes, err := (&query.Query{}).And(e).Compile()
	if err != nil {
		return nil, err
	}
	no, err := (&query.Query{}).And(&query.Not{X: e}).Compile()
	if err != nil {
		return nil, err
	}
	switch {
	case yes.Match(claims):
		return &query.Bool{Value: true}, nil
	case no.Match(claims):
		return &query.Bool{Value: false}, nil
	}
	return unknown, nil
}

// join makes the AND (or OR) of folded terms; none left is TRUE (FALSE).
func join(terms []query.Expr, and bool) query.Expr {
	switch len(terms) {
	case 0:
		return &query.Bool{Value: and}
	case 1:
		return terms[0]
	}
	if and {
		return &query.And{Terms: terms}
	}
	return &query.Or{Terms: terms}
}

func testsClaim(e query.Expr) bool {
	claim := false
	visitPredicates(e, func(p query.Path) { claim = p.Field() == "$jwt" })
	return claim
}
