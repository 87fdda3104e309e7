package reactor_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/reactor"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/value"
)

// BenchmarkApply measures matching one changed row against N equality
// subscriptions over 1,000 keys (each key has N/1000 subscribers, so a change
// yields that many items): the per-change cost should grow with the
// subscriptions a change touches, not with N.
func BenchmarkApply(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			re := reactor.New(nil)
			for i := 0; i < n; i++ {
				q := query.MustParse("artist = ? AND year >= 2000", fmt.Sprint("artist", i%1000))
				if _, err := re.Subscribe("album", q, nil); err != nil {
					b.Fatal(err)
				}
			}
			// Entities that match on the key but fail the range: the index
			// hands out candidates, the matcher rejects them, no member
			// bookkeeping skews the figure.
			states := make([]*entity.State, 1000)
			for i := range states {
				st := entity.New("album", event.NewID())
				st.Head = event.Head{st.ID}
				st.Values["artist"] = value.TextOf(fmt.Sprint("artist", i))
				st.Values["year"] = value.IntOf(1999)
				states[i] = st
			}
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st := states[i%len(states)]
				if _, err := re.Apply(ctx, []reactor.Change{{Collection: "album", ID: st.ID, New: st}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "changes/s")
		})
	}
}

// BenchmarkShapes measures one changed row against 10,000 subscriptions of
// one predicate shape, every shape in the same run so that they compare.
// Each subscription is `<shape> AND note <> 'skip'` and every changed row
// has note 'skip': the index (or the unindexed walk) hands out candidates,
// the compiled query rejects them, no member bookkeeping skews the figure.
// The keys are spread so that an indexed shape has ≈ 10 candidates per
// change, as BenchmarkApply at 10,000 has:
//
//	eq       artist = 'artist<k>'                      k = i mod 1000
//	in       artist IN ('artist<k>', 'other<k>')
//	range    year > <i>                                 rows have year 0–19
//	between  year BETWEEN <10k> AND <10k+9>             rows have year 0–9,999
//	prefix   name LIKE 'n<k>-%'
//	like     name LIKE '%<k>-x%'                         (no index: every subscription is a candidate)
//	mixed    a fifth each of eq, in, between, prefix, like
func BenchmarkShapes(b *testing.B) {
	const n = 10000
	shapes := map[string]func(i int) (string, []any){
		"eq": func(i int) (string, []any) { return "artist = ?", []any{fmt.Sprint("artist", i%1000)} },
		"in": func(i int) (string, []any) {
			return "artist IN (?, ?)", []any{fmt.Sprint("artist", i%1000), fmt.Sprint("other", i%1000)}
		},
		"range":   func(i int) (string, []any) { return "year > ?", []any{i} },
		"between": func(i int) (string, []any) { return "year BETWEEN ? AND ?", []any{i % 1000 * 10, i%1000*10 + 9} },
		"prefix":  func(i int) (string, []any) { return "name LIKE ?", []any{fmt.Sprintf("n%03d-%%", i%1000)} },
		"like":    func(i int) (string, []any) { return "name LIKE ?", []any{fmt.Sprintf("%%%03d-x%%", i%1000)} },
	}
	shapes["mixed"] = func(i int) (string, []any) {
		return shapes[[]string{"eq", "in", "between", "prefix", "like"}[i%5]](i / 5 * 5)
	}
	for _, name := range []string{"eq", "in", "range", "between", "prefix", "like", "mixed"} {
		b.Run(name, func(b *testing.B) {
			re := reactor.New(nil)
			for i := 0; i < n; i++ {
				text, args := shapes[name](i)
				q := query.MustParse(text+" AND note <> 'skip'", args...)
				if _, err := re.Subscribe("album", q, nil); err != nil {
					b.Fatal(err)
				}
			}
			states := make([]*entity.State, 1000)
			for i := range states {
				st := entity.New("album", event.NewID())
				st.Head = event.Head{st.ID}
				st.Values["artist"] = value.TextOf(fmt.Sprint("artist", i))
				year := i * 10
				if name == "range" {
					year = i % 20
				}
				st.Values["year"] = value.IntOf(int64(year))
				st.Values["name"] = value.TextOf(fmt.Sprintf("n%03d-x %s", i, "a title of some length"))
				st.Values["note"] = value.TextOf("skip")
				states[i] = st
			}
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st := states[i%len(states)]
				if _, err := re.Apply(ctx, []reactor.Change{{Collection: "album", ID: st.ID, New: st}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "changes/s")
		})
	}
}
