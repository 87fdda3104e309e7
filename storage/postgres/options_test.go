package postgres_test

import (
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/storage/postgres"
)

// Options follow the project's one convention: zero means the default,
// WithDefaults fills a copy, Validate reports every problem at once.
func TestOptions(t *testing.T) {
	t.Parallel()
	if d := (postgres.Options{}).WithDefaults(); d.Schema != postgres.DefaultSchema {
		t.Fatalf("defaults: %+v", d)
	}
	for _, tc := range []struct {
		opts postgres.Options
		ok   bool
	}{
		{postgres.Options{}, true},
		{postgres.Options{Schema: "music"}, true},
		{postgres.Options{Schema: strings.Repeat("s", 64)}, false},
		{postgres.Options{Schema: "a\x00b"}, false},
	} {
		if err := tc.opts.Validate(); (err == nil) != tc.ok {
			t.Errorf("%q: %v", tc.opts.Schema, err)
		}
	}
}
