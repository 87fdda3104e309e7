package embedcompare

import (
	"context"
	"fmt"
	"testing"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/storagetest"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// The KV adapters pass the conformance suite every Ankurah store passes,
// synced and not, so the benchmarks compare stores that do the real work.
func TestConformance(t *testing.T) {
	for _, k := range kvKinds {
		t.Run(k.name, func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T) storage.Store {
				s, err := k.openAt(t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			})
		})
	}
}

// What a KV adapter wrote reads back after Close and Open: states (created,
// edited, deleted), history, the catalog with a field added by a commit.
func TestReadBackAfterReopen(t *testing.T) {
	ctx := context.Background()
	for _, k := range kvKinds {
		t.Run(k.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := k.openAt(dir)
			if err != nil {
				t.Fatal(err)
			}
			ensureAlbums(t, s)
			ids := populate(t, s, 1200)
			var edits []event.Event
			for i, id := range ids[:600] {
				edits = append(edits, event.Event{ID: event.NewID(id), Collection: "album", Entity: id, Parents: event.Head{id},
					Ops: map[string]value.Value{"year": value.IntOf(int64(3000 + i)), "label": value.TextOf("new field")}})
			}
			mustCommit(t, s, edits...)
			del := event.Event{ID: event.NewID(edits[0].ID), Collection: "album", Entity: ids[0], Parents: event.Head{edits[0].ID}, Delete: true}
			mustCommit(t, s, del)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			s, err = k.openAt(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			c, err := s.Collection(ctx, "album")
			if f, ok := c.Field("label"); err != nil || !ok || f.Type != value.Text {
				t.Fatalf("catalog %+v, %v", c, err)
			}
			n := 0
			if err := s.Scan(ctx, "album", func(st *entity.State) bool {
				i := n + 1 // ids[0] is deleted
				want := album(i)
				if i < 600 {
					want["year"] = value.IntOf(int64(3000 + i))
					want["label"] = value.TextOf("new field")
				}
				if st.ID != ids[i] || fmt.Sprint(st.Values) != fmt.Sprint(want) {
					t.Fatalf("entity %d: %s %v, want %s %v", i, st.ID, st.Values, ids[i], want)
				}
				n++
				return true
			}); err != nil {
				t.Fatal(err)
			}
			if n != len(ids)-1 {
				t.Fatalf("scanned %d entities, want %d", n, len(ids)-1)
			}
			if got, err := s.Get(ctx, "album", []event.ID{ids[0], ids[1], ids[1100]}); err != nil || len(got) != 2 ||
				got[0].Get("year").Int() != 3001 || got[1].Get("name").Raw() != "album 1100" {
				t.Fatalf("get: %v %v", got, err)
			}
			hist, err := s.History(ctx, "album", ids[0])
			if err != nil || len(hist) != 3 || hist[0].ID != ids[0] || hist[1].ID != edits[0].ID || !hist[2].Delete {
				t.Fatalf("history %+v %v", hist, err)
			}
			if got, _ := s.Events(ctx, []event.ID{edits[5].ID}); len(got) != 1 || got[0].Ops["label"].Raw() != "new field" {
				t.Fatalf("events %+v", got)
			}
		})
	}
}
