package node_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/node"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/postgres"
)

func seedAlbums(t *testing.T, n *node.Node, albums *node.Collection[Album]) {
	t.Helper()
	ctx := context.Background()
	tx := n.Begin()
	for i := 0; i < 30; i++ {
		a := Album{Name: fmt.Sprintf("album %02d", i%17), ReleaseYear: int64(1995 + i%9), Live: i%4 == 0, Label: []string{"Taste", "Mushroom", "Warner", ""}[i%4]}
		if i%5 == 0 {
			r := float64(i) / 10
			a.Rating = &r
		}
		if _, err := albums.Create(tx, a); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

var fetchQueries = []string{
	"",
	"release_year >= 2000",
	"release_year >= 2000 ORDER BY release_year DESC LIMIT 5",
	"name = 'album 03' OR (live = true AND record_label <> 'Taste')",
	"rating IS NULL ORDER BY name, release_year DESC",
	"NOT (rating > 1) ORDER BY rating DESC LIMIT 7",
	"record_label IN ('Taste', 'Warner') AND name LIKE 'album 1%' ORDER BY record_label",
	"release_year BETWEEN 1997 AND 1999 ORDER BY live DESC, name LIMIT 10",
	"genre = 'rock'", // a field no entity has
}

// On Postgres the query runs as SQL; on memory it is evaluated: both give
// the same entities in the same order.
func TestFetchAgreesAcrossStores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := node.New(postgres.New(pgtest.Pool(t, pgtest.NewDatabase(t)), postgres.Options{}))
	pgAlbums, _ := register(t, pg)
	seedAlbums(t, pg, pgAlbums)

	// The in-memory evaluation of the same data: scan through the generic path.
	for _, q := range fetchQueries {
		sqlRows, err := pg.Fetch(ctx, "album", q)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		parsed, _ := query.Parse(q)
		evalRows, err := storage.Fetch(ctx, scanOnly{pg.Store()}, "album", parsed)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		if ids(sqlRows) != ids(evalRows) {
			t.Errorf("%q:\nSQL  %s\neval %s", q, ids(sqlRows), ids(evalRows))
		}
	}
}

// scanOnly hides the adapter's own Fetch so that storage.Fetch evaluates in memory.
type scanOnly struct{ storage.Store }

func ids(sts []*entity.State) string {
	s := ""
	for _, st := range sts {
		s += st.ID.String()[20:] + " "
	}
	return s
}

func TestTypedFetch(t *testing.T) {
	stores(t, func(t *testing.T, n *node.Node) {
		ctx := context.Background()
		albums, _ := register(t, n)
		seedAlbums(t, n, albums)
		got, err := albums.Fetch(ctx, "release_year >= ? AND live = ? ORDER BY release_year DESC, name", 2000, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			t.Fatal("no rows")
		}
		for i, v := range got {
			a := v.Value()
			if a.ReleaseYear < 2000 || !a.Live || a.ID != v.ID() {
				t.Fatalf("row %d does not match: %+v", i, a)
			}
			if i > 0 && got[i-1].Value().ReleaseYear < a.ReleaseYear {
				t.Fatal("not ordered by release_year desc")
			}
		}
		_, err = albums.Fetch(ctx, "release_year >= ")
		var qe *query.Error
		if !errors.As(err, &qe) || qe.Code != "parse_error" {
			t.Fatalf("bad query: %v", err)
		}
	})
}
