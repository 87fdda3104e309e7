package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/internal/leakcheck"
	"github.com/ankurah/ankurah-go/internal/pgtest"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestQuickstart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		db, dir func(t *testing.T) string
	}{
		{name: "memory"},
		{name: "embedded", dir: func(t *testing.T) string { return t.TempDir() }},
		{name: "postgres", db: func(t *testing.T) string { return pgtest.NewDatabase(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var db, dir string
			if tc.db != nil {
				db = tc.db(t)
			}
			if tc.dir != nil {
				dir = tc.dir(t)
			}
			var out bytes.Buffer
			if err := run(context.Background(), &out, db, dir); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if db != "" {
				// The example drops its replication slot (a slot left
				// behind keeps WAL forever).
				var slots int
				if err := pgtest.Pool(t, db).QueryRow(context.Background(), "select count(*) from pg_replication_slots where slot_name = 'ankurah_quickstart' and database = current_database()").Scan(&slots); err != nil || slots != 0 {
					t.Errorf("replication slots left: %d (%v)", slots, err)
				}
			}
			got := out.String()
			for _, want := range []string{"Received changes: initial []", "Received changes: [add ", "Name:Origin of Symmetry Year:2001", `now holds "Origin of Symmetry"`} {
				if !strings.Contains(got, want) {
					t.Errorf("output lacks %q:\n%s", want, got)
				}
			}
		})
	}
}
