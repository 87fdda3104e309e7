package query

import (
	"testing"

	"github.com/ankurah/ankurah-go/value"
)

// field and benchRecord are a minimal Record: ten fields in a slice, found by a
// linear scan, prepared once outside the timed loop.
type field struct {
	name string
	v    value.Value
}

type benchRecord struct{ fields []field }

func (e *benchRecord) Get(name string) value.Value {
	for i := range e.fields {
		if e.fields[i].name == name {
			return e.fields[i].v
		}
	}
	return value.Value{}
}

func benchEntity() *benchRecord {
	return &benchRecord{fields: []field{
		{"id", value.TextOf("01ARZ3NDEKTSV4RRFFQ69G5FAV")},
		{"name", value.TextOf("Origin of Symmetry")},
		{"artist", value.TextOf("Muse")},
		{"year", value.IntOf(2001)},
		{"score", value.FloatOf(9.5)},
		{"explicit", value.BoolOf(false)},
		{"label", value.TextOf("Taste Media")},
		{"tracks", value.IntOf(11)},
		{"genre", value.TextOf("rock")},
		{"licensing", jsonv(`{"territory":"US","rights":{"holder":"Label A"}}`)},
	}}
}

const (
	bench3Conjuncts = `artist = 'Muse' AND year >= 2000 AND score > 5`
	benchJSON       = `artist = 'Muse' AND year >= 2000 AND licensing.rights.holder = 'Label A'`
	benchSubscribe  = `name = 'Origin of Symmetry' AND year >= 2000 AND licensing.territory IN ('US', 'CA') ORDER BY year DESC LIMIT 20`
)

func benchMatch(b *testing.B, src string) {
	m, err := MustParse(src).Compile()
	if err != nil {
		b.Fatal(err)
	}
	e := benchEntity()
	if !m.Match(e) {
		b.Fatal("no match")
	}
	b.ReportAllocs()
	for b.Loop() {
		if !m.Match(e) {
			b.Fatal("no match")
		}
	}
}

// BenchmarkMatch3Conjuncts: a compiled three-conjunct predicate against a
// ten-field entity (target: ≤ 200 ns/op, 0 allocs/op).
func BenchmarkMatch3Conjuncts(b *testing.B) { benchMatch(b, bench3Conjuncts) }

// BenchmarkMatchJSONPath: the same with one conjunct on a nested JSON path.
func BenchmarkMatchJSONPath(b *testing.B) { benchMatch(b, benchJSON) }

// BenchmarkParse: parsing (and binding) a typical subscription query.
func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(benchSubscribe); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseCompile: parsing and compiling, what a new subscription costs.
func BenchmarkParseCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		q, err := Parse(benchSubscribe)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := q.Compile(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSQL: translating the subscription query to SQL.
func BenchmarkSQL(b *testing.B) {
	q := MustParse(benchSubscribe)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := q.SQL(testSchema, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompare: the ORDER BY comparator on two entities equal in the
// sort key (so it falls through to the id).
func BenchmarkCompare(b *testing.B) {
	m, _ := MustParse(`ORDER BY year DESC, licensing.territory`).Compile()
	x, y := benchEntity(), benchEntity()
	y.fields[0].v = value.TextOf("01ARZ3NDEKTSV4RRFFQ69G5FAW")
	b.ReportAllocs()
	for b.Loop() {
		if m.Compare(x, y) >= 0 {
			b.Fatal("wrong order")
		}
	}
}

// TestMatchAllocatesNothing holds the zero-allocation promise without
// running benchmarks. (Not parallel: AllocsPerRun forbids it.)
func TestMatchAllocatesNothing(t *testing.T) {
	e := benchEntity()
	for _, src := range []string{bench3Conjuncts, benchJSON,
		`name LIKE '%Sym%' OR year IN (1999, 2001) OR NOT (score BETWEEN 1 AND 2.5) OR licensing.territory IS NULL`} {
		m := must(MustParse(src).Compile())
		if n := testing.AllocsPerRun(100, func() { m.Match(e) }); n != 0 {
			t.Errorf("%s: %v allocations per Match", src, n)
		}
	}
	m := must(MustParse(`ORDER BY year DESC, licensing.territory, name`).Compile())
	if n := testing.AllocsPerRun(100, func() { m.Compare(e, e) }); n != 0 {
		t.Errorf("Compare: %v allocations", n)
	}
}

func must[T any](x T, err error) T {
	if err != nil {
		panic(err)
	}
	return x
}
