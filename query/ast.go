package query

import "github.com/ankurah/ankurah-go/value"

// Query is a parsed query: a predicate, sort keys and a limit. It is
// immutable once parsed or bound, so one Query may be shared by goroutines.
//
// The fields are exported for inspection (the fan-out indexes conjuncts,
// authorisation combines predicates); build queries with Parse, not by hand.
type Query struct {
	// Where is the predicate; nil means every entity.
	Where Expr
	// OrderBy lists the sort keys. The entity id always follows as the
	// final, ascending tie-break, so the order is total.
	OrderBy []SortKey
	// Limit is nil when there is no LIMIT; otherwise an Int once bound.
	Limit *Operand

	params  int      // number of ? in the text
	unbound int      // ? still without a value (0 after Bind)
	firstQ  int      // offset of the first unbound ?, for errors
	names   []string // rules only: each placeholder's variable name (see Vars)
}

// And returns q with e as a further conjunct of its predicate, keeping its
// order and limit: authorisation narrows a query this way. Conjunctions are
// flattened, so equality conjuncts of either side stay visible to indexes
// (see Equalities). Both must be bound.
func (q *Query) And(e Expr) *Query {
	if e == nil {
		return q
	}
	out := *q
	out.names = nil
	switch {
	case q.Where == nil:
		out.Where = e
	default:
		out.Where = &And{Terms: flatten[*And](flatten[*And](nil, q.Where), e)}
	}
	return &out
}

// Expr is a node of a predicate: *Bool, *And, *Or, *Not, *Compare, *In,
// *IsNull, *Between or *Like.
type Expr interface{ expr() }

// Bool is the predicate TRUE or FALSE.
type Bool struct {
	Value bool
	Pos   int
}

// And is the conjunction of two or more terms; nested ANDs are flattened.
type And struct{ Terms []Expr }

// Or is the disjunction of two or more terms; nested ORs are flattened.
type Or struct{ Terms []Expr }

// Not negates X (three-valued: NOT of unknown is unknown).
type Not struct {
	X   Expr
	Pos int
}

// Compare is `path op value`.
type Compare struct {
	Path  Path
	Op    Op
	Value Operand
}

// In is `path [NOT] IN (v1, v2, …)`. A ? bound to a slice expands into its
// elements, so Values may be empty after binding (then IN is false and
// NOT IN true).
type In struct {
	Path   Path
	Not    bool
	Values []Operand
}

// IsNull is `path IS [NOT] NULL`. A missing field, a missing JSON key and a
// JSON null are all NULL.
type IsNull struct {
	Path Path
	Not  bool
}

// Between is `path [NOT] BETWEEN low AND high`, inclusive: exactly
// `path >= low AND path <= high` under three-valued logic.
type Between struct {
	Path      Path
	Not       bool
	Low, High Operand
}

// Like is `path [NOT] LIKE pattern`: % matches any sequence of characters,
// _ exactly one character, and a backslash makes the next character literal.
type Like struct {
	Path    Path
	Not     bool
	Pattern Operand
}

func (*Bool) expr()    {}
func (*And) expr()     {}
func (*Or) expr()      {}
func (*Not) expr()     {}
func (*Compare) expr() {}
func (*In) expr()      {}
func (*IsNull) expr()  {}
func (*Between) expr() {}
func (*Like) expr()    {}

// Path names a field and, for a jsonb field, a chain of object keys inside
// it: `licensing.rights.holder` is field licensing, keys rights and holder.
// The field "id" is the entity id.
type Path struct {
	Steps []string
	Pos   int // byte offset in the query text
}

// Field returns the field the path starts with.
func (p Path) Field() string { return p.Steps[0] }

// Keys returns the JSON object keys after the field (none for a plain field).
func (p Path) Keys() []string { return p.Steps[1:] }

// Operand is a value in a query: a literal, or a placeholder not yet bound.
type Operand struct {
	// Value is the literal (value.NullValue for NULL). Bound placeholders
	// become literals.
	Value value.Value
	// Param is n > 0 for the n-th ? of the text while it is unbound, else 0.
	Param int
	// Pos is the byte offset in the query text.
	Pos int
}

// SortKey is one ORDER BY item.
type SortKey struct {
	Path Path
	Desc bool
}

// Op is a comparison operator.
type Op uint8

// The comparison operators. != and <> are the same operator, Ne.
const (
	Eq Op = iota + 1
	Ne
	Lt
	Le
	Gt
	Ge
)

var opNames = [...]string{Eq: "=", Ne: "<>", Lt: "<", Le: "<=", Gt: ">", Ge: ">="}

// String returns the operator as the canonical query text writes it.
func (o Op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return "?op"
}
