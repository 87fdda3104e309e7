package reactor

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/value"
)

// How a subscription is found. Each subscription is registered under one
// top-level conjunct of its query — the most selective one the index can
// use: equality, then IN (the field with the fewest keys), then IS NULL,
// then LIKE 'prefix%', then a range or BETWEEN (two-sided before
// one-sided), then a piece of a LIKE pattern's literal run — or, when none
// can be used (OR, NOT, NOT LIKE, JSON paths, a pattern without literal
// text), in the collection's unindexed list, which every change visits. An index only
// preselects: it must hand out every subscription the change can match (a
// superset is safe, a subset never is), and the compiled query decides.

// choice is the conjunct a subscription is registered under.
type choice struct {
	kind   choiceKind
	field  string
	keys   []string   // choiceEq: equality keys (see key.go)
	prefix string     // choicePrefix: the pattern's literal start; choiceGram: a piece of a literal run
	ranges []rangeReg // choiceRange: one entry per domain the bounds fall in
}

type choiceKind uint8

const (
	choiceNone choiceKind = iota
	choiceEq
	choiceNull
	choicePrefix
	choiceRange
	choiceGram
)

// Ranges. A field's value and a range literal are placed in a domain — the
// family within which the query language orders them — and mapped to a key
// ordered as the evaluator orders them there. A literal that stands for
// values of several families (text that reads as a timestamp, a date or a
// numeric) is registered in each. Entity values of a kind outside these
// domains (JSON, enums, uuids, intervals, arrays, char, …) visit every
// range subscription of the field: correct, merely slower.
type domain uint8

const (
	dNum       domain = iota // int, double, real, numeric: as float64 (NaN greatest)
	dText                    // text and refs: bytewise
	dTime                    // timestamptz: microseconds
	dTimestamp               // timestamp: microseconds
	dDate                    // date: days
	nDomains
)

// rkey is a position in a domain: n for the numeric domains, s for text.
type rkey struct {
	n uint64
	s string
}

func (a rkey) cmp(b rkey) int {
	switch {
	case a.n < b.n:
		return -1
	case a.n > b.n:
		return 1
	}
	return strings.Compare(a.s, b.s)
}

// floatKey orders float64s as the evaluator does: -0 = 0, NaN above +Inf.
func floatKey(f float64) rkey {
	switch {
	case math.IsNaN(f):
		return rkey{n: math.MaxUint64}
	case f == 0:
		f = 0
	}
	b := math.Float64bits(f)
	if b>>63 != 0 {
		return rkey{n: ^b}
	}
	return rkey{n: b | 1<<63}
}

func intKey(i int64) rkey { return rkey{n: uint64(i) ^ 1<<63} }

// entityRangeKey places an entity's value in its domain. all is true when
// the value's kind has no domain and every range subscription of the field
// must be visited; ok is false (and all too) for NULL, which no range matches.
func entityRangeKey(v value.Value) (d domain, k rkey, ok, all bool) {
	t := v.Type()
	switch t {
	case value.Null:
		return 0, rkey{}, false, false
	case value.Int, value.Float, value.Real, value.Numeric:
		// Rounding to float64 is monotonic, so comparisons the evaluator
		// makes exactly (bigint, numeric) hold non-strictly here; bounds
		// are inclusive, the matcher decides the boundary.
		return dNum, floatKey(v.Float()), true, false
	}
	switch t.Kind() {
	case value.Text, value.Ref:
		return dText, rkey{s: v.Raw()}, true, false
	case value.Time:
		return dTime, intKey(v.Int()), true, false
	case value.Timestamp:
		return dTimestamp, intKey(v.Int()), true, false
	case value.Date:
		return dDate, intKey(v.Int()), true, false
	}
	return 0, rkey{}, false, true
}

// litRange is where a range literal falls in one domain: an inclusive
// [lo, hi] (a point, except numbers, widened for real fields).
type litRange struct {
	d      domain
	lo, hi rkey
}

// rangeLiteral returns the domains a literal orders values of. ok is false
// for literal types this index does not handle (the subscription is then
// not range-indexed); a NULL literal is ok with no domains (it matches
// nothing).
func rangeLiteral(l value.Value) (out []litRange, ok bool) {
	switch l.Type() {
	case value.Null:
		return nil, true
	case value.Int, value.Float, value.Real, value.Numeric:
		return []litRange{numRange(l.Float())}, true
	case value.Ref:
		return []litRange{{d: dText, lo: rkey{s: l.Raw()}, hi: rkey{s: l.Raw()}}}, true
	case value.Time:
		out = append(out, point(dTime, l.Int()))
		if w, err := value.Convert(l, value.Timestamp); err == nil {
			out = append(out, point(dTimestamp, w.Int()))
		}
		return out, true
	case value.Timestamp:
		out = append(out, point(dTimestamp, l.Int()))
		if w, err := value.Convert(l, value.Time); err == nil {
			out = append(out, point(dTime, w.Int()))
		}
		return out, true
	case value.Date:
		return []litRange{point(dDate, l.Int())}, true
	case value.Text:
		// What the text also stands for, as query's textForms reads it.
		s := l.Raw()
		out = append(out, litRange{d: dText, lo: rkey{s: s}, hi: rkey{s: s}})
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			out = append(out, point(dTime, value.TimeOf(t).Int()))
		}
		if len(s) <= 200 {
			if w, err := value.FromText(s, value.Timestamp); err == nil {
				out = append(out, point(dTimestamp, w.Int()))
			}
			if w, err := value.FromText(s, value.Date); err == nil {
				out = append(out, point(dDate, w.Int()))
			}
			if w, err := value.FromText(s, value.Numeric); err == nil {
				out = append(out, numRange(w.Float())) // compared with numeric fields
			}
		}
		return out, true
	}
	return nil, false
}

func point(d domain, i int64) litRange { return litRange{d: d, lo: intKey(i), hi: intKey(i)} }

// numRange widens a number literal to cover how a real field compares it:
// at real precision, the literal rounded to the nearest float32 (which a
// double rounding may miss by one float32 step).
func numRange(f float64) litRange {
	if math.IsNaN(f) {
		return litRange{d: dNum, lo: floatKey(f), hi: floatKey(f)}
	}
	f32 := float32(f)
	lo := math.Min(f, float64(math.Nextafter32(f32, float32(math.Inf(-1)))))
	hi := math.Max(f, float64(math.Nextafter32(f32, float32(math.Inf(1)))))
	return litRange{d: dNum, lo: floatKey(lo), hi: floatKey(hi)}
}

// rangeReg is one registration of a range subscription in a domain.
type rangeReg struct {
	d            domain
	hasLo, hasHi bool
	lo, hi       rkey
}

type rangeEntry struct {
	lo, hi rkey
	sub    *Subscription
}

// rangeSet holds a field's range subscriptions of one domain in lists
// sorted by bound: a value's candidates among the lower-bounded ones are a
// prefix, among the upper-bounded ones a suffix, and among the two-sided
// ones a prefix (by lower bound) whose blocks ending below the value are
// skipped whole. Lists are split into blocks of at most 2·blockSize
// entries, so that adding or removing a subscription moves one block's
// entries, not the whole list's.
type rangeSet struct {
	lower sortedList // by lo
	upper sortedList // by hi
	both  sortedList // by lo, blocks know their highest hi
}

func newRangeSet() *rangeSet { return &rangeSet{upper: sortedList{byHi: true}} }

func (r *rangeSet) empty() bool { return r.lower.n+r.upper.n+r.both.n == 0 }

func (r *rangeSet) list(reg *rangeReg) *sortedList {
	switch {
	case reg.hasLo && reg.hasHi:
		return &r.both
	case reg.hasLo:
		return &r.lower
	}
	return &r.upper
}

func (r *rangeSet) add(reg rangeReg, s *Subscription) {
	r.list(&reg).insert(rangeEntry{lo: reg.lo, hi: reg.hi, sub: s})
}

func (r *rangeSet) remove(reg rangeReg, s *Subscription) {
	r.list(&reg).remove(rangeEntry{lo: reg.lo, hi: reg.hi, sub: s})
}

// stab visits every subscription whose range contains k.
func (r *rangeSet) stab(k rkey, visit func(*Subscription)) {
	for _, b := range r.lower.blocks {
		if b.es[0].lo.cmp(k) > 0 {
			break
		}
		for i := range b.es {
			if b.es[i].lo.cmp(k) > 0 {
				break
			}
			visit(b.es[i].sub)
		}
	}
	for j := len(r.upper.blocks) - 1; j >= 0; j-- {
		b := r.upper.blocks[j]
		if b.es[len(b.es)-1].hi.cmp(k) < 0 {
			break
		}
		for i := len(b.es) - 1; i >= 0 && b.es[i].hi.cmp(k) >= 0; i-- {
			visit(b.es[i].sub)
		}
	}
	for _, b := range r.both.blocks {
		if b.es[0].lo.cmp(k) > 0 {
			break
		}
		if b.maxHi.cmp(k) < 0 {
			continue // every range in this block ends below k
		}
		for i := range b.es {
			e := &b.es[i]
			if e.lo.cmp(k) > 0 {
				break
			}
			if e.hi.cmp(k) >= 0 {
				visit(e.sub)
			}
		}
	}
}

func (r *rangeSet) each(visit func(*Subscription)) {
	for _, l := range []*sortedList{&r.lower, &r.upper, &r.both} {
		for _, b := range l.blocks {
			for i := range b.es {
				visit(b.es[i].sub)
			}
		}
	}
}

const blockSize = 128

// sortedList is a list of entries sorted by lo (or hi), in blocks.
type sortedList struct {
	blocks []*rangeBlock
	byHi   bool
	n      int
	size   int // blockSize, or smaller in tests
}

type rangeBlock struct {
	es    []rangeEntry // never empty
	maxHi rkey         // the highest hi in es
}

func (l *sortedList) key(e *rangeEntry) rkey {
	if l.byHi {
		return e.hi
	}
	return e.lo
}

// find returns the first block whose last key is ≥ k (len(blocks) if none).
func (l *sortedList) find(k rkey) int {
	return sort.Search(len(l.blocks), func(i int) bool {
		b := l.blocks[i]
		return l.key(&b.es[len(b.es)-1]).cmp(k) >= 0
	})
}

func (l *sortedList) insert(e rangeEntry) {
	l.n++
	k := l.key(&e)
	if len(l.blocks) == 0 {
		l.blocks = []*rangeBlock{{es: []rangeEntry{e}, maxHi: e.hi}}
		return
	}
	j := l.find(k)
	if j == len(l.blocks) {
		j-- // beyond every key: at the end of the last block
	}
	b := l.blocks[j]
	i := sort.Search(len(b.es), func(i int) bool { return l.key(&b.es[i]).cmp(k) > 0 })
	b.es = slices.Insert(b.es, i, e)
	if e.hi.cmp(b.maxHi) > 0 {
		b.maxHi = e.hi
	}
	if size := cmp.Or(l.size, blockSize); len(b.es) > 2*size {
		tail := &rangeBlock{es: slices.Clone(b.es[size:])}
		b.es = slices.Clip(b.es[:size])
		b.maxHi, tail.maxHi = maxHi(b.es), maxHi(tail.es)
		l.blocks = slices.Insert(l.blocks, j+1, tail)
	}
}

func (l *sortedList) remove(e rangeEntry) {
	k := l.key(&e)
	for j := l.find(k); j < len(l.blocks); j++ {
		b := l.blocks[j]
		i := sort.Search(len(b.es), func(i int) bool { return l.key(&b.es[i]).cmp(k) >= 0 })
		for ; i < len(b.es) && l.key(&b.es[i]).cmp(k) == 0; i++ {
			if b.es[i].sub != e.sub {
				continue
			}
			b.es = slices.Delete(b.es, i, i+1)
			l.n--
			switch {
			case len(b.es) == 0:
				l.blocks = slices.Delete(l.blocks, j, j+1)
			case e.hi.cmp(b.maxHi) == 0:
				b.maxHi = maxHi(b.es)
			}
			return
		}
		if i < len(b.es) {
			return // past the key: not here
		}
	}
}

func maxHi(es []rangeEntry) rkey {
	m := es[0].hi
	for i := range es[1:] {
		if es[i+1].hi.cmp(m) > 0 {
			m = es[i+1].hi
		}
	}
	return m
}

// fieldIndex holds the subscriptions registered under one field.
type fieldIndex struct {
	eq     map[string]subSet // equality / IN key → subscriptions
	null   subSet            // IS NULL
	ranges [nDomains]*rangeSet
	// LIKE 'prefix%': prefix → subscriptions, and how many prefixes of
	// each length there are, so that a value looks up only lengths in use.
	prefix     map[string]subSet
	prefixLens []prefixLen // sorted by n
	// LIKE '%run%': a piece of up to maxPiece bytes of the pattern's
	// longest literal run → subscriptions; a value looks up each of its
	// substrings of the lengths in use (or, when that would cost more,
	// visits them all).
	gram     map[string]subSet
	gramLens []prefixLen
	grams    int // subscriptions in gram
	subs     int // registered subscriptions (the index is dropped at 0)
}

type prefixLen struct{ n, count int }

func newFieldIndex() *fieldIndex {
	return &fieldIndex{eq: map[string]subSet{}, null: subSet{}, prefix: map[string]subSet{}, gram: map[string]subSet{}}
}

func (f *fieldIndex) add(ch *choice, s *Subscription) {
	f.subs++
	switch ch.kind {
	case choiceEq:
		for _, k := range ch.keys {
			if f.eq[k] == nil {
				f.eq[k] = subSet{}
			}
			f.eq[k][s] = struct{}{}
		}
	case choiceNull:
		f.null[s] = struct{}{}
	case choicePrefix:
		addByLen(f.prefix, &f.prefixLens, ch.prefix, s)
	case choiceGram:
		ch.prefix = f.piece(ch.prefix)
		addByLen(f.gram, &f.gramLens, ch.prefix, s)
		f.grams++
	case choiceRange:
		for _, reg := range ch.ranges {
			if f.ranges[reg.d] == nil {
				f.ranges[reg.d] = newRangeSet()
			}
			f.ranges[reg.d].add(reg, s)
		}
	}
}

func (f *fieldIndex) remove(ch *choice, s *Subscription) {
	f.subs--
	switch ch.kind {
	case choiceEq:
		for _, k := range ch.keys {
			delete(f.eq[k], s)
			if len(f.eq[k]) == 0 {
				delete(f.eq, k)
			}
		}
	case choiceNull:
		delete(f.null, s)
	case choicePrefix:
		removeByLen(f.prefix, &f.prefixLens, ch.prefix, s)
	case choiceGram:
		removeByLen(f.gram, &f.gramLens, ch.prefix, s)
		f.grams--
	case choiceRange:
		for _, reg := range ch.ranges {
			if rs := f.ranges[reg.d]; rs != nil {
				rs.remove(reg, s)
				if rs.empty() {
					f.ranges[reg.d] = nil
				}
			}
		}
	}
}

// maxPiece bounds the keys of the gram index: a value looks up each of its
// substrings of every key length in use, so lengths must be few; within
// that, a longer piece is rarer in values and hands out fewer candidates
// (three bytes of '%00000012-%' would be '000', in nearly every value).
const maxPiece = 8

// piece picks the key a run is registered under: the run itself when it is
// short enough, else the piece of maxPiece bytes with the fewest
// subscriptions so far, so that no key collects a common piece's crowd.
func (f *fieldIndex) piece(run string) string {
	if len(run) <= maxPiece {
		return run
	}
	best := run[:maxPiece]
	for i := 1; i+maxPiece <= len(run); i++ {
		if p := run[i : i+maxPiece]; len(f.gram[p]) < len(f.gram[best]) {
			best = p
		}
	}
	return best
}

func cmpLen(p prefixLen, n int) int { return p.n - n }

// addByLen registers s under key k, counting the keys of each length.
func addByLen(m map[string]subSet, lens *[]prefixLen, k string, s *Subscription) {
	if m[k] == nil {
		m[k] = subSet{}
		i, found := slices.BinarySearchFunc(*lens, len(k), cmpLen)
		if !found {
			*lens = slices.Insert(*lens, i, prefixLen{n: len(k)})
		}
		(*lens)[i].count++
	}
	m[k][s] = struct{}{}
}

func removeByLen(m map[string]subSet, lens *[]prefixLen, k string, s *Subscription) {
	set := m[k]
	delete(set, s)
	if len(set) == 0 {
		delete(m, k)
		i, _ := slices.BinarySearchFunc(*lens, len(k), cmpLen)
		if (*lens)[i].count--; (*lens)[i].count == 0 {
			*lens = slices.Delete(*lens, i, i+1)
		}
	}
}

// visit calls fn for every subscription registered under the field that an
// entity with value v there may match.
func (f *fieldIndex) visit(v value.Value, fn func(*Subscription)) {
	if len(f.eq) > 0 {
		if k, ok := entityKey(v); ok {
			for s := range f.eq[k] {
				fn(s)
			}
		}
	}
	if len(f.null) > 0 && (v.IsNull() || v.Type() == value.JSON) {
		// A JSON null is NULL too; other JSON documents just over-select.
		for s := range f.null {
			fn(s)
		}
	}
	if len(f.prefix) > 0 || len(f.gram) > 0 {
		f.visitLike(v, fn)
	}
	d, k, ok, all := entityRangeKey(v)
	switch {
	case ok:
		if rs := f.ranges[d]; rs != nil {
			rs.stab(k, fn)
		}
	case all:
		for _, rs := range f.ranges {
			if rs != nil {
				rs.each(fn)
			}
		}
	}
}

func (f *fieldIndex) visitLike(v value.Value, fn func(*Subscription)) {
	var s string
	switch v.Type().Kind() {
	case value.Text, value.Char, value.Ref:
		s = v.Raw() // LIKE sees a char with its padding, a ref as its text
	case value.JSON:
		// A JSON string matches by its unescaped text: visit them all.
		visitAll(f.prefix, fn)
		visitAll(f.gram, fn)
		return
	default:
		return // LIKE is false (or unknown) for anything but text
	}
	for _, pl := range f.prefixLens {
		if pl.n > len(s) {
			break
		}
		for sub := range f.prefix[s[:pl.n]] {
			fn(sub)
		}
	}
	if len(f.gram) == 0 {
		return
	}
	if len(s)*len(f.gramLens) > 4*f.grams+64 {
		// A long text: visiting every subscription costs less than the
		// lookups (one lookup is a fraction of a visit's evaluation).
		visitAll(f.gram, fn)
		return
	}
	for _, gl := range f.gramLens {
		for i := 0; i+gl.n <= len(s); i++ {
			for sub := range f.gram[s[i:i+gl.n]] {
				fn(sub)
			}
		}
	}
}

func visitAll(m map[string]subSet, fn func(*Subscription)) {
	for _, set := range m {
		for sub := range set {
			fn(sub)
		}
	}
}

// choose picks the conjunct a subscription is registered under.
func choose(q *query.Query) choice {
	// Equality and IN: the field with the fewest keys (as before).
	var best choice
	for f, vals := range q.Equalities() {
		var keys []string
		for _, v := range vals {
			keys = append(keys, literalKeys(v)...)
		}
		if len(keys) == 0 && len(vals) > 0 {
			continue // values the index cannot key (e.g. JSON documents)
		}
		if best.kind == choiceNone || len(keys) < len(best.keys) || len(keys) == len(best.keys) && f < best.field {
			best = choice{kind: choiceEq, field: f, keys: keys}
		}
	}
	if best.kind != choiceNone {
		return best
	}
	var terms []query.Expr
	switch w := q.Where.(type) {
	case nil:
		return best
	case *query.And:
		terms = w.Terms
	default:
		terms = []query.Expr{w}
	}
	plain := func(p query.Path) bool { return len(p.Steps) == 1 }
	for _, t := range terms {
		if x, ok := t.(*query.IsNull); ok && !x.Not && plain(x.Path) {
			return choice{kind: choiceNull, field: x.Path.Field()}
		}
	}
	// LIKE 'prefix%': the longest prefix.
	for _, t := range terms {
		x, ok := t.(*query.Like)
		if !ok || x.Not || !plain(x.Path) || x.Pattern.Param != 0 || x.Pattern.Value.Type() != value.Text {
			continue
		}
		if p := likePrefix(x.Pattern.Value.Raw()); p != "" && (best.kind == choiceNone || len(p) > len(best.prefix)) {
			best = choice{kind: choicePrefix, field: x.Path.Field(), prefix: p}
		}
	}
	if best.kind != choiceNone {
		return best
	}
	// Ranges: per field, the first lower and the first upper bound.
	type bounds struct{ lo, hi *value.Value }
	byField := map[string]*bounds{}
	var order []string
	get := func(f string) *bounds {
		b := byField[f]
		if b == nil {
			b = &bounds{}
			byField[f] = b
			order = append(order, f)
		}
		return b
	}
	for _, t := range terms {
		switch x := t.(type) {
		case *query.Compare:
			if !plain(x.Path) || x.Value.Param != 0 {
				continue
			}
			b := get(x.Path.Field())
			v := x.Value.Value
			switch x.Op {
			case query.Gt, query.Ge:
				if b.lo == nil {
					b.lo = &v
				}
			case query.Lt, query.Le:
				if b.hi == nil {
					b.hi = &v
				}
			}
		case *query.Between:
			if x.Not || !plain(x.Path) || x.Low.Param != 0 || x.High.Param != 0 {
				continue
			}
			b := get(x.Path.Field())
			lo, hi := x.Low.Value, x.High.Value
			if b.lo == nil {
				b.lo = &lo
			}
			if b.hi == nil {
				b.hi = &hi
			}
		}
	}
	var one *choice
	for _, f := range order {
		b := byField[f]
		if b.lo == nil && b.hi == nil {
			continue
		}
		regs, ok := rangeRegs(b.lo, b.hi)
		if !ok {
			continue
		}
		// A NULL bound leaves regs empty: the query matches nothing and
		// is registered nowhere.
		c := choice{kind: choiceRange, field: f, ranges: regs}
		if b.lo != nil && b.hi != nil {
			return c // two-sided: the tightest
		}
		if one == nil {
			one = &c
		}
	}
	if one != nil {
		return *one
	}
	// LIKE '%run%': any piece of a literal run must occur in the value.
	// The longest run; fieldIndex.add picks the piece.
	for _, t := range terms {
		x, ok := t.(*query.Like)
		if !ok || x.Not || !plain(x.Path) || x.Pattern.Param != 0 || x.Pattern.Value.Type() != value.Text {
			continue
		}
		run := longestRun(x.Pattern.Value.Raw())
		if run != "" && (best.kind == choiceNone || len(run) > len(best.prefix)) {
			best = choice{kind: choiceGram, field: x.Path.Field(), prefix: run}
		}
	}
	return best
}

// rangeRegs places a range's bounds in the domains both fall in: an entity
// of a domain one bound does not order is a type mismatch for it, and a
// mismatch makes the comparison (and so the conjunction) false.
func rangeRegs(lo, hi *value.Value) ([]rangeReg, bool) {
	var los, his []litRange
	var ok bool
	if lo != nil {
		if los, ok = rangeLiteral(*lo); !ok {
			return nil, false
		}
	}
	if hi != nil {
		if his, ok = rangeLiteral(*hi); !ok {
			return nil, false
		}
	}
	var out []rangeReg
	for d := domain(0); d < nDomains; d++ {
		reg := rangeReg{d: d}
		if lo != nil {
			l, found := find(los, d)
			if !found {
				continue
			}
			reg.hasLo, reg.lo = true, l.lo
		}
		if hi != nil {
			h, found := find(his, d)
			if !found {
				continue
			}
			reg.hasHi, reg.hi = true, h.hi
		}
		out = append(out, reg)
	}
	return out, true
}

func find(rs []litRange, d domain) (litRange, bool) {
	for _, r := range rs {
		if r.d == d {
			return r, true
		}
	}
	return litRange{}, false
}

// longestRun returns the longest run of literal text in a LIKE pattern
// (between % and _), its escapes resolved.
func longestRun(pat string) string {
	var best string
	var b strings.Builder
	end := func() {
		if b.Len() > len(best) {
			best = b.String()
		}
		b.Reset()
	}
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; c {
		case '\\':
			if i+1 >= len(pat) {
				break
			}
			_, n := utf8.DecodeRuneInString(pat[i+1:])
			b.WriteString(pat[i+1 : i+1+n])
			i += n
		case '%', '_':
			end()
		default:
			b.WriteByte(c)
		}
	}
	end()
	return best
}

// likePrefix returns the literal text a LIKE pattern starts with (before
// its first % or _), its escapes resolved.
func likePrefix(pat string) string {
	var b strings.Builder
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; c {
		case '\\':
			if i+1 >= len(pat) {
				return b.String()
			}
			_, n := utf8.DecodeRuneInString(pat[i+1:])
			b.WriteString(pat[i+1 : i+1+n])
			i += n
		case '%', '_':
			return b.String()
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
