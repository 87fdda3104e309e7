package sqlite_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/storage/sqlite"
)

// Options follow the project's one convention: zero means the default,
// WithDefaults fills a copy, Validate (and so Open) reports every problem
// at once.
func TestOptions(t *testing.T) {
	t.Parallel()
	if d := (sqlite.Options{}).WithDefaults(); d.BusyTimeout != sqlite.DefaultBusyTimeout || d.Sync != sqlite.SyncFull || d.MaxReaders != 0 {
		t.Fatalf("defaults: %+v", d)
	}
	for _, tc := range []struct {
		opts sqlite.Options
		want []string
	}{
		{sqlite.Options{}, nil},
		{sqlite.Options{Sync: sqlite.SyncNormal, BusyTimeout: time.Second, MaxReaders: 4}, nil},
		{sqlite.Options{Sync: 7, BusyTimeout: -1, MaxReaders: -1}, []string{"Sync", "BusyTimeout", "MaxReaders"}},
	} {
		err := tc.opts.Validate()
		if (err == nil) != (len(tc.want) == 0) {
			t.Errorf("%+v: %v", tc.opts, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: %v does not name %s", tc.opts, err, w)
			}
		}
	}
	if _, err := sqlite.Open(filepath.Join(t.TempDir(), "x.db"), sqlite.Options{BusyTimeout: -1, MaxReaders: -1}); err == nil || !strings.Contains(err.Error(), "BusyTimeout") || !strings.Contains(err.Error(), "MaxReaders") {
		t.Errorf("Open with invalid options: %v", err)
	}
}
