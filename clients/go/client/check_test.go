package client_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	client "github.com/ankurah/ankurah-go/clients/go/client"
	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/query"
)

// Record has a jsonb field, for JSON paths.
type Record struct {
	Name  string
	Year  int64
	Label map[string]string
}

// A query that names a field the model lacks is an error when the call is
// made — Subscribe, Update, Fetch, WatchQuery —, coded unknown_field with
// the field and the model's fields, on a connected client and on a purely
// local one (where no server could say anything), as in the TypeScript
// client. Valid queries of every form pass.
func TestQueryFieldsChecked(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Memory, servertest.Options{})
	local, err := client.Open("", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	clients := map[string]*client.Client{"connected": dial(t, env.URL, client.Options{}), "local": local}

	type call func(ctx context.Context, records *client.Collection[Record], q string, args []any) error
	calls := map[string]call{
		"Subscribe": func(ctx context.Context, records *client.Collection[Record], q string, args []any) error {
			lq, err := records.Subscribe(ctx, func(client.ChangeSet[Record]) {}, q, args...)
			if err == nil {
				lq.Close()
			}
			return err
		},
		"Update": func(ctx context.Context, records *client.Collection[Record], q string, args []any) error {
			lq, err := records.Subscribe(ctx, nil, "name = 'kept'")
			if err != nil {
				return err
			}
			defer lq.Close()
			if cs := recv(t, lq.Changes()); len(cs.Items) != 1 {
				t.Fatalf("initial change set %v, want the one record named kept", cs)
			}
			err = lq.Update(ctx, q, args...)
			if err != nil {
				// Refused at call time: the previous selection stays.
				if res := lq.Results(); len(res) != 1 || res[0].Value().Name != "kept" {
					t.Errorf("results after a refused Update: %v", res)
				}
			}
			return err
		},
		"Fetch": func(ctx context.Context, records *client.Collection[Record], q string, args []any) error {
			_, err := records.Fetch(ctx, q, args...)
			return err
		},
		"WatchQuery": func(ctx context.Context, records *client.Collection[Record], q string, args []any) error {
			lq, err := records.WatchQuery(ctx, nil, q, args...)
			if err == nil {
				lq.Close()
			}
			return err
		},
	}
	cases := []struct {
		q     string
		args  []any
		field string // "": valid
	}{
		{"", nil, ""},
		{"name = ? AND year >= ? ORDER BY year DESC, name LIMIT 3", []any{"kept", 2000}, ""},
		{"id = ? OR id IN (?)", []any{"01ARZ3NDEKTSV4RRFFQ69G5FAV", []string{"x"}}, ""},
		{"label.genre = 'rock' AND label IS NOT NULL", nil, ""},
		{"NOT (name LIKE 'S%') AND year BETWEEN 1990 AND 2000", nil, ""},
		{"yeer >= ?", []any{2000}, "yeer"},
		{"name = 'a' ORDER BY yaer", nil, "yaer"},
		{"lable.genre = 'rock'", nil, "lable"},
		{"year IN (1, 2) OR artist IS NULL", nil, "artist"},
		{"NOT (titel LIKE 'S%')", nil, "titel"},
		{"year BETWEEN 1 AND 2 AND (name = 'x' OR rating > 3)", nil, "rating"},
	}
	wantFields := []string{"id", "name", "year", "label"}
	for cname, c := range clients {
		ctx := testCtx(t)
		records, err := client.Register[Record](ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		tx := c.Begin()
		if _, err := records.Create(tx, Record{Name: "kept", Year: 2001}); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Commit(client.Confirmed(ctx)); err != nil {
			t.Fatal(err)
		}
		for name, call := range calls {
			for _, tc := range cases {
				err := call(ctx, records, tc.q, tc.args)
				if tc.field == "" {
					if err != nil {
						t.Errorf("%s %s(%q): %v", cname, name, tc.q, err)
					}
					continue
				}
				var qe *query.Error
				switch {
				case err == nil:
					t.Errorf("%s %s(%q) succeeded; want unknown_field %s", cname, name, tc.q, tc.field)
				case client.Code(err) != query.CodeUnknownField || !errors.As(err, &qe):
					t.Errorf("%s %s(%q): %v (code %q), want unknown_field", cname, name, tc.q, err, client.Code(err))
				case qe.Field != tc.field || !slices.Equal(qe.Fields, wantFields):
					t.Errorf("%s %s(%q): field %q, fields %q; want %q, %q", cname, name, tc.q, qe.Field, qe.Fields, tc.field, wantFields)
				case !strings.Contains(err.Error(), "its fields are id, name, year, label"):
					t.Errorf("%s %s(%q): message %q does not list the fields", cname, name, tc.q, err)
				}
			}
		}
	}
}
