package value

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Type is the type of a value or of a field.
//
// The low 8 bits are a kind: Text, Int, Numeric, Date, … (the constants
// below). A value's type is its kind, except for enums and arrays, whose
// values carry their full type (the labels; the element type). A field's
// type may add modifiers to a kind — integer (a 32-bit Int), numeric(10,2),
// varchar(20), char(3), time(3), json — or be an enum or an array; such
// types are interned in a registry and the bits above the kind index it.
// So two spellings of one type give the same Type, and Types compare with
// ==, work as map keys and print their canonical name.
type Type uint32

// The kinds. The zero Type is Null: the type of the NULL value, never the
// type of a field. The numbering of the first nine is fixed (stored data
// and the in-memory order of mixed types depend on it).
const (
	Null      Type = iota
	Text           // text (also varchar: a Text field with a length limit)
	Int            // bigint (also integer, smallint: Int fields with a range)
	Float          // double precision
	Bool           // boolean
	Bytes          // bytea
	Time           // timestamptz, microsecond precision, UTC
	JSON           // jsonb (also json)
	Ref            // a reference to another entity: its id, stored as text
	Numeric        // numeric: an exact decimal, or NaN, ±Infinity
	Real           // real: a float4, held widened to float64
	UUID           // uuid
	Date           // date: a day, years 1–9999
	TimeOfDay      // time (without time zone): microseconds since midnight, up to 24:00:00
	Timestamp      // timestamp (without time zone): a wall-clock time, read as UTC
	Interval       // interval: months, days and microseconds
	Char           // bpchar: blank-padded text (the values of char(n) fields)
	Enum           // an enum: only as a registered type with labels
	Array          // a one-dimensional array: only as a registered type with an element type
	YUpdate        // a Yjs update (format v1): the operation of a ytext field, never a field's type (see ytext.go)
	numKinds
)

const kindMask = 0xff

var kindNames = [...]string{
	Null:      "null",
	Text:      "text",
	Int:       "bigint",
	Float:     "double precision",
	Bool:      "boolean",
	Bytes:     "bytea",
	Time:      "timestamptz",
	JSON:      "jsonb",
	Ref:       "ref",
	Numeric:   "numeric",
	Real:      "real",
	UUID:      "uuid",
	Date:      "date",
	TimeOfDay: "time",
	Timestamp: "timestamp",
	Interval:  "interval",
	Char:      "bpchar",
	Enum:      "enum",
	Array:     "array",
	YUpdate:   "yjs update",
}

// typeDesc describes a registered type.
type typeDesc struct {
	kind Type
	name string // the canonical name
	// Modifiers; which apply depends on the kind.
	bits      int  // Int: 16 or 32 (0: 64)
	length    int  // Text (varchar) and Char: the length limit in characters; 0 for none
	varchar   bool // Text: varchar rather than text
	precision int  // Numeric: 1–1000 (0: none); time kinds and Interval: fractional digits 0–6 (-1: none)
	scale     int  // Numeric: -1000–1000
	json      bool // JSON: json rather than jsonb
	ytext     bool // Text: ytext, a collaborative text (a Yjs document), rather than text
	labels    []string
	ordinal   map[string]int // Enum: label → position
	elem      Type           // Array: the element's field type
	value     Type           // the type of this field's values
}

// The registry of types with modifiers. Lookups by Type read an immutable
// slice without locking; registration (rare: a new spelling) takes mu.
var registry struct {
	mu     sync.Mutex
	byName map[string]Type
	descs  atomic.Pointer[[]*typeDesc] // index 0 unused
}

func init() {
	registry.byName = map[string]Type{}
	descs := []*typeDesc{nil}
	registry.descs.Store(&descs)
}

// maxTypes bounds the registry: a process that interns millions of distinct
// types is being abused (every field of every collection is one type).
const maxTypes = 1 << 20

func (t Type) desc() *typeDesc {
	i := int(t >> 8)
	if i == 0 {
		return nil
	}
	descs := *registry.descs.Load()
	if i >= len(descs) {
		return nil
	}
	return descs[i]
}

// intern returns the Type of d, registering it under d.name the first time.
func intern(d *typeDesc) (Type, error) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if t, ok := registry.byName[d.name]; ok {
		return t, nil
	}
	old := *registry.descs.Load()
	if len(old) >= maxTypes {
		return Null, fmt.Errorf("too many distinct field types (%d)", maxTypes)
	}
	descs := make([]*typeDesc, len(old), len(old)+1)
	copy(descs, old)
	t := Type(len(descs))<<8 | d.kind
	if d.value == Null {
		d.value = d.kind
		if d.kind == Enum || d.kind == Array {
			d.value = t // enums, and arrays of value types, are their own value types
		}
	}
	descs = append(descs, d)
	registry.descs.Store(&descs)
	registry.byName[d.name] = t
	return t, nil
}

// Kind returns the kind of t: Text for varchar(20), Int for integer, Enum
// for any enum, Array for any array.
func (t Type) Kind() Type { return t & kindMask }

// Valid reports whether t is a type a field can have.
func (t Type) Valid() bool {
	k := t.Kind()
	if k == Null || k >= numKinds {
		return false
	}
	if t>>8 != 0 {
		return t.desc() != nil
	}
	return k != Enum && k != Array && k != YUpdate
}

// ValueType returns the type of t's values: t without its modifiers
// (numeric(10,2) → numeric, varchar(20) → text, integer → bigint,
// char(3) → bpchar, time(3) → time, json → jsonb), an enum itself, and for
// an array the array of its element's value type.
func (t Type) ValueType() Type {
	if d := t.desc(); d != nil {
		return d.value
	}
	return t
}

// String returns the type's canonical name, the form ankurah.fields and
// the wire protocol hold: "text", "bigint", "numeric(10,2)",
// "varchar(20)", "enum('sad', 'ok', 'happy')", "integer[]", …
func (t Type) String() string {
	if d := t.desc(); d != nil {
		return d.name
	}
	if k := int(t.Kind()); t>>8 == 0 && k < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Type(%d)", uint32(t))
}

// Column returns the Postgres column type that holds values of t (a ref is
// text; an enum has no name of its own here: the column's type is an enum
// type created or named by ankurah.create_collection, and Column returns
// "text").
func (t Type) Column() string {
	if t.IsYText() {
		return "text"
	}
	switch t.Kind() {
	case Ref:
		return "text"
	case Enum:
		return "text"
	case Array:
		return t.Elem().Column() + "[]"
	}
	return t.String()
}

// Numeric reports whether t's values are numbers that compare with each
// other: bigint (and integer, smallint), double precision, real, numeric.
func (t Type) Numeric() bool {
	switch t.Kind() {
	case Int, Float, Real, Numeric:
		return true
	}
	return false
}

// IntBits returns the width of an Int type: 16, 32 or 64.
func (t Type) IntBits() int {
	if d := t.desc(); d != nil && d.bits != 0 {
		return d.bits
	}
	return 64
}

// Length returns the length limit of a varchar(n) or char(n) type, in
// characters (0: no limit).
func (t Type) Length() int {
	if d := t.desc(); d != nil {
		return d.length
	}
	return 0
}

// NumericScale returns the precision and scale of numeric(p,s); ok is false
// for an unconstrained numeric.
func (t Type) NumericScale() (precision, scale int, ok bool) {
	if d := t.desc(); d != nil && t.Kind() == Numeric && d.precision > 0 {
		return d.precision, d.scale, true
	}
	return 0, 0, false
}

// TimePrecision returns the fractional second digits kept by time(p),
// timestamp(p), timestamptz(p) or interval(p); ok is false without one.
func (t Type) TimePrecision() (int, bool) {
	if d := t.desc(); d != nil && d.precision >= 0 {
		switch t.Kind() {
		case TimeOfDay, Timestamp, Time, Interval:
			return d.precision, true
		}
	}
	return 0, false
}

// Labels returns an enum's labels in declaration order (nil for other
// types). The slice must not be modified.
func (t Type) Labels() []string {
	if d := t.desc(); d != nil {
		return d.labels
	}
	return nil
}

// Ordinal returns the position of label in an enum's declaration order.
func (t Type) Ordinal(label string) (int, bool) {
	if d := t.desc(); d != nil && d.ordinal != nil {
		i, ok := d.ordinal[label]
		return i, ok
	}
	return 0, false
}

// Elem returns an array's element type (Null for other types).
func (t Type) Elem() Type {
	if d := t.desc(); d != nil {
		return d.elem
	}
	return Null
}

// IsJSONText reports a json (not jsonb) field.
func (t Type) IsJSONText() bool {
	d := t.desc()
	return d != nil && d.json
}

// MarshalText writes the type's name.
func (t Type) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText parses a type name (see ParseType).
func (t *Type) UnmarshalText(b []byte) error {
	p, err := ParseType(string(b))
	if err != nil {
		return err
	}
	*t = p
	return nil
}

// Limits of Postgres types.
const (
	MaxNumericPrecision = 1000     // numeric(p, s): 1 ≤ p ≤ 1000
	MaxVarcharLength    = 10485760 // varchar(n), char(n)
	MaxEnumLabel        = 63       // bytes in an enum label (NAMEDATALEN - 1)
)

// ParseType parses a field type as written in a schema, in
// ankurah.create_collection or in the wire protocol. Case and spacing do
// not matter (except inside enum labels). Accepted, with aliases:
//
//	text string   varchar varchar(n) "character varying(n)"   char(n) character(n) char bpchar
//	smallint int2   integer int int4   bigint int8
//	numeric decimal numeric(p) numeric(p,s)   real float4   double precision float float8 double
//	boolean bool   bytea bytes   uuid   date
//	time time(p) "time without time zone"   timestamp timestamp(p) "timestamp without time zone"
//	timestamptz timestamptz(p) "timestamp with time zone"   interval interval(p)
//	json jsonb   ref   enum('label', …)   ytext
//	any of these but ref and ytext followed by [] (a one-dimensional array)
//
// The name of a Postgres enum or domain type is accepted by
// ankurah.create_collection only, which knows the database's types.
func ParseType(name string) (Type, error) {
	s, err := normalizeTypeName(name)
	if err != nil {
		return Null, err
	}
	if t, ok := lookupName(s); ok {
		return t, nil
	}
	return parseNormalized(s, name)
}

func lookupName(s string) (Type, bool) {
	registry.mu.Lock()
	t, ok := registry.byName[s]
	registry.mu.Unlock()
	return t, ok
}

func unknownType(name string) error {
	return fmt.Errorf("unknown type %q (want text, varchar(n), char(n), smallint, integer, bigint, numeric(p,s), real, double precision, boolean, bytea, uuid, date, time, timestamp, timestamptz, interval, json, jsonb, ref, enum('label', …), ytext, or one of these followed by [])", clipString(name))
}

// normalizeTypeName lowercases a type name and reduces its spacing to one
// space between words and none around punctuation, leaving quoted enum
// labels as they are.
func normalizeTypeName(name string) (string, error) {
	var b strings.Builder
	space := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '\'':
			// A quoted label, '' for a quote.
			j := i + 1
			for {
				if j >= len(name) {
					return "", fmt.Errorf("type %q: unterminated quoted label", clipString(name))
				}
				if name[j] == '\'' {
					if j+1 < len(name) && name[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			if space && b.Len() > 0 && isWordByte(lastByte(&b)) {
				b.WriteByte(' ')
			}
			space = false
			b.WriteString(name[i : j+1])
			i = j
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			space = true
		case c == '(' || c == ')' || c == ',' || c == '[' || c == ']':
			space = false
			b.WriteByte(c)
		default:
			if space && b.Len() > 0 && (isWordByte(lastByte(&b)) || lastByte(&b) == ')') {
				b.WriteByte(' ')
			}
			space = false
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func lastByte(b *strings.Builder) byte { s := b.String(); return s[len(s)-1] }

func isWordByte(c byte) bool { return c != '(' && c != ')' && c != ',' && c != '[' && c != ']' }

func parseNormalized(s, orig string) (Type, error) {
	if elem, ok := strings.CutSuffix(s, "[]"); ok {
		et, err := parseNormalized(elem, orig)
		if err != nil {
			return Null, err
		}
		return ArrayType(et)
	}
	if rest, ok := strings.CutPrefix(s, "enum("); ok && strings.HasSuffix(rest, ")") {
		labels, err := parseLabels(rest[:len(rest)-1])
		if err != nil {
			return Null, fmt.Errorf("type %q: %w", clipString(orig), err)
		}
		return EnumType(labels)
	}
	base, args, hasArgs := s, "", false
	if i := strings.IndexByte(s, '('); i >= 0 {
		j := strings.IndexByte(s, ')')
		if j < i {
			return Null, unknownType(orig)
		}
		base, args, hasArgs = s[:i], s[i+1:j], true
		// "time(3) with time zone" and friends keep words after the ).
		base += s[j+1:]
	}
	var nums []int
	if hasArgs {
		for _, a := range strings.Split(args, ",") {
			n, err := strconv.Atoi(a)
			if err != nil {
				return Null, unknownType(orig)
			}
			nums = append(nums, n)
		}
	}
	one := func() (int, bool) {
		if len(nums) == 1 {
			return nums[0], true
		}
		return 0, false
	}
	switch base {
	case "text", "string":
		if hasArgs {
			break
		}
		return Text, nil
	case "ytext":
		if hasArgs {
			break
		}
		return YText, nil
	case "bigint", "int8":
		if hasArgs {
			break
		}
		return Int, nil
	case "integer", "int", "int4":
		if hasArgs {
			break
		}
		return register(&typeDesc{kind: Int, name: "integer", bits: 32, precision: -1})
	case "smallint", "int2":
		if hasArgs {
			break
		}
		return register(&typeDesc{kind: Int, name: "smallint", bits: 16, precision: -1})
	case "double precision", "float", "float8", "double":
		if hasArgs {
			break
		}
		return Float, nil
	case "real", "float4":
		if hasArgs {
			break
		}
		return Real, nil
	case "boolean", "bool":
		if hasArgs {
			break
		}
		return Bool, nil
	case "bytea", "bytes":
		if hasArgs {
			break
		}
		return Bytes, nil
	case "jsonb":
		if hasArgs {
			break
		}
		return JSON, nil
	case "json":
		if hasArgs {
			break
		}
		return register(&typeDesc{kind: JSON, name: "json", json: true, precision: -1})
	case "ref":
		if hasArgs {
			break
		}
		return Ref, nil
	case "uuid":
		if hasArgs {
			break
		}
		return UUID, nil
	case "date":
		if hasArgs {
			break
		}
		return Date, nil
	case "numeric", "decimal":
		switch len(nums) {
		case 0:
			if hasArgs {
				break
			}
			return Numeric, nil
		case 1, 2:
			p, sc := nums[0], 0
			if len(nums) == 2 {
				sc = nums[1]
			}
			if p < 1 || p > MaxNumericPrecision {
				return Null, fmt.Errorf("type %q: NUMERIC precision %d must be between 1 and %d", clipString(orig), p, MaxNumericPrecision)
			}
			if sc < -MaxNumericPrecision || sc > MaxNumericPrecision {
				return Null, fmt.Errorf("type %q: NUMERIC scale %d must be between %d and %d", clipString(orig), sc, -MaxNumericPrecision, MaxNumericPrecision)
			}
			return register(&typeDesc{kind: Numeric, name: fmt.Sprintf("numeric(%d,%d)", p, sc), precision: p, scale: sc})
		}
	case "varchar", "character varying":
		if !hasArgs {
			return register(&typeDesc{kind: Text, name: "varchar", varchar: true, precision: -1})
		}
		if n, ok := one(); ok {
			if n < 1 || n > MaxVarcharLength {
				return Null, fmt.Errorf("type %q: length for type varchar must be between 1 and %d", clipString(orig), MaxVarcharLength)
			}
			return register(&typeDesc{kind: Text, name: fmt.Sprintf("varchar(%d)", n), varchar: true, length: n, precision: -1})
		}
	case "char", "character":
		n := 1
		if hasArgs {
			var ok bool
			if n, ok = one(); !ok {
				break
			}
		}
		if n < 1 || n > MaxVarcharLength {
			return Null, fmt.Errorf("type %q: length for type char must be between 1 and %d", clipString(orig), MaxVarcharLength)
		}
		return register(&typeDesc{kind: Char, name: fmt.Sprintf("char(%d)", n), length: n, value: Char, precision: -1})
	case "bpchar":
		if hasArgs {
			break
		}
		return Char, nil
	case "time", "time without time zone":
		return timeType(TimeOfDay, "time", nums, hasArgs, orig)
	case "timestamp", "timestamp without time zone":
		return timeType(Timestamp, "timestamp", nums, hasArgs, orig)
	case "timestamptz", "timestamp with time zone":
		return timeType(Time, "timestamptz", nums, hasArgs, orig)
	case "interval":
		return timeType(Interval, "interval", nums, hasArgs, orig)
	}
	return Null, unknownType(orig)
}

func timeType(kind Type, name string, nums []int, hasArgs bool, orig string) (Type, error) {
	if !hasArgs {
		return kind, nil
	}
	if len(nums) != 1 || nums[0] < 0 || nums[0] > 6 {
		return Null, fmt.Errorf("type %q: the precision of %s must be between 0 and 6", clipString(orig), name)
	}
	return register(&typeDesc{kind: kind, name: fmt.Sprintf("%s(%d)", name, nums[0]), precision: nums[0]})
}

func register(d *typeDesc) (Type, error) {
	if t, ok := lookupName(d.name); ok {
		return t, nil
	}
	return intern(d)
}

// parseLabels reads 'a', 'b', … (normalized: no spaces outside quotes).
func parseLabels(s string) ([]string, error) {
	var labels []string
	for i := 0; i < len(s); {
		if s[i] != '\'' {
			return nil, fmt.Errorf("want a quoted label")
		}
		var b strings.Builder
		j := i + 1
		for {
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated label")
			}
			if s[j] == '\'' {
				if j+1 < len(s) && s[j+1] == '\'' {
					b.WriteByte('\'')
					j += 2
					continue
				}
				break
			}
			b.WriteByte(s[j])
			j++
		}
		labels = append(labels, b.String())
		i = j + 1
		if i < len(s) {
			if s[i] != ',' || i+1 == len(s) {
				return nil, fmt.Errorf("want , between labels")
			}
			i++
		}
	}
	return labels, nil
}

// EnumType returns the enum type with the given labels, in declaration
// order (which is how enum values compare). Labels are 1 to 63 bytes of
// UTF-8 without NUL, and distinct.
func EnumType(labels []string) (Type, error) {
	if len(labels) == 0 {
		return Null, fmt.Errorf("an enum needs at least one label")
	}
	ord := make(map[string]int, len(labels))
	var b strings.Builder
	b.WriteString("enum(")
	for i, l := range labels {
		if err := checkLabel(l); err != nil {
			return Null, err
		}
		if _, dup := ord[l]; dup {
			return Null, fmt.Errorf("enum label %q appears twice", l)
		}
		ord[l] = i
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteLabel(l))
	}
	b.WriteByte(')')
	return register(&typeDesc{kind: Enum, name: b.String(), labels: append([]string(nil), labels...), ordinal: ord, precision: -1})
}

func checkLabel(l string) error {
	if l == "" || len(l) > MaxEnumLabel {
		return fmt.Errorf("enum label %q: a label has 1 to %d bytes", clipString(l), MaxEnumLabel)
	}
	if strings.IndexByte(l, 0) >= 0 || !utf8.ValidString(l) {
		return fmt.Errorf("enum label %q: not valid text", clipString(l))
	}
	return nil
}

// quoteLabel writes a label as a SQL string literal.
func quoteLabel(l string) string { return "'" + strings.ReplaceAll(l, "'", "''") + "'" }

// ArrayType returns the type of one-dimensional arrays of elem. Arrays of
// arrays and of refs are not supported.
func ArrayType(elem Type) (Type, error) {
	if !elem.Valid() {
		return Null, fmt.Errorf("array of an invalid type")
	}
	switch elem.Kind() {
	case Array:
		return Null, fmt.Errorf("arrays of arrays are not supported (Postgres arrays of arrays are multidimensional)")
	case Ref:
		return Null, fmt.Errorf("arrays of refs are not supported (use text[])")
	}
	if elem.IsYText() {
		return Null, fmt.Errorf("arrays of ytext are not supported (a ytext field is one document)")
	}
	name := elem.String() + "[]"
	if t, ok := lookupName(name); ok {
		return t, nil
	}
	var value Type
	if ev := elem.ValueType(); ev != elem {
		vt, err := ArrayType(ev)
		if err != nil {
			return Null, err
		}
		value = vt
	}
	return intern(&typeDesc{kind: Array, name: name, elem: elem, value: value, precision: -1})
}

func clipString(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
