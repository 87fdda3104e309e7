package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/internal/yjs"
	"github.com/ankurah/ankurah-go/storage/postgres"
	"github.com/ankurah/ankurah-go/value"
)

// BenchmarkTextKeystroke: one keystroke of a collaborative text committed
// through the API, as a server commits each keystroke a browser sends: an
// event with its Yjs update, merged into the stored document (the row
// locked, the document read, merged, written back with its runs for SQL)
// and the text column written. On a note just created, and on one that
// has seen 10,000 keystrokes before (the document's fragments grow with
// them). docs/benchmarks.md reports it.
func BenchmarkTextKeystroke(b *testing.B) {
	pool := pgtest.Pool(b, pgtest.NewDatabase(b))
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `select ankurah.create_collection('note', '{"body":"ytext"}')`); err != nil {
		b.Fatal(err)
	}
	store := postgres.New(pool, postgres.Options{})
	for _, before := range []int{0, 10_000} {
		b.Run(fmt.Sprintf("after=%d", before), func(b *testing.B) {
			r := rand.New(rand.NewPCG(16, uint64(before)))
			d := yjs.NewDoc(yjs.Options{})
			cursor := 0
			key := func() []byte {
				var u []byte
				var err error
				switch x := r.IntN(100); {
				case x < 3 && d.Len() > 0:
					cursor = r.IntN(d.Len() + 1)
					u, err = d.Insert(cursor, "x")
					cursor++
				case x < 9 && cursor > 0:
					u, err = d.Delete(cursor-1, 1)
					cursor--
				default:
					u, err = d.Insert(cursor, string(rune('a'+r.IntN(26))))
					cursor++
				}
				if err != nil {
					b.Fatal(err)
				}
				return u
			}
			for range before {
				key()
			}
			id := event.NewID()
			if _, err := store.Commit(ctx, []event.Event{{ID: id, Collection: "note", Entity: id,
				Ops: map[string]value.Value{"body": value.YUpdateOf(d.EncodeStateAsUpdate())}}}); err != nil {
				b.Fatal(err)
			}
			head := event.Head{id}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				ev := event.Event{ID: event.NewID(head...), Collection: "note", Entity: id, Parents: head,
					Ops: map[string]value.Value{"body": value.YUpdateOf(key())}}
				if _, err := store.Commit(ctx, []event.Event{ev}); err != nil {
					b.Fatal(err)
				}
				head = event.Head{ev.ID}
			}
			b.StopTimer()
			var state int
			if err := pool.QueryRow(ctx, `select octet_length(state) from ankurah.ytext where entity_id = $1`, id.String()).Scan(&state); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(state), "state-bytes")
		})
	}
}
