package migrations_test

import (
	"context"
	"io/fs"
	"sync"
	"testing"

	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/migrations"
)

// Two migrators at once, then a third on the up-to-date database: all succeed.
func TestApplyConcurrentAndIdempotent(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t) // already migrated once (from the template)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = migrations.Apply(ctx, url, nil) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := migrations.Apply(ctx, url, nil); err != nil {
		t.Fatal(err)
	}
	pool := pgtest.Pool(t, url)
	var n int
	if err := pool.QueryRow(ctx, "select count(*) from "+migrations.VersionTable+" where version_id > 0").Scan(&n); err != nil {
		t.Fatal(err)
	}
	files, err := fs.Glob(migrations.Files, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if n != len(files) {
		t.Fatalf("goose versions recorded: %d, want %d (one per migration)", n, len(files))
	}
}
