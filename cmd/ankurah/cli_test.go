package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/internal/pgtest"
)

func TestCLI(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	cases := []struct {
		name   string
		args   []string
		env    map[string]string
		status int
		out    string // fragment of stdout
		errout string // fragment of stderr
	}{
		{"no args", nil, nil, 2, "", "Usage"},
		{"help", []string{"help"}, nil, 0, "ankurah migrate", ""},
		{"unknown", []string{"frobnicate"}, nil, 2, "", `unknown command "frobnicate"`},
		{"migrate without url", []string{"migrate"}, nil, 2, "", "ANKURAH_DATABASE_URL"},
		{"bad url", []string{"migrate", "--database-url", "postgres://%zz"}, nil, 2, "", "bad database URL"},
		{"migrate", []string{"migrate", "--database-url", url}, nil, 0, "up to date", ""},
		{"migrate again from env", []string{"migrate"}, map[string]string{"ANKURAH_DATABASE_URL": url}, 0, "up to date", ""},
		{"check", []string{"check", "--database-url", url}, nil, 0, "ok   wal_level: wal_level = logical", ""},
		{"check unreachable", []string{"check", "--database-url", "postgres://nobody@127.0.0.1:1/x?connect_timeout=2"}, nil, 1, "FAIL connect", ""},
		{"stray argument", []string{"check", "--database-url", url, "extra"}, nil, 2, "", "unexpected argument"},
	}
	for _, c := range cases {
		var out, errout bytes.Buffer
		status := run(context.Background(), c.args, env(c.env), &out, &errout)
		if status != c.status || !strings.Contains(out.String(), c.out) || !strings.Contains(errout.String(), c.errout) {
			t.Errorf("%s: status %d\nstdout: %s\nstderr: %s", c.name, status, out.String(), errout.String())
		}
	}
}
