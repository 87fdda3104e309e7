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
