package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/internal/leakcheck"
	"github.com/ankurah/ankurah-go/internal/pgtest"
)

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
			// The lines the README shows, in its order, the ids aside.
			got := strings.Split(strings.TrimSpace(out.String()), "\n")
			want := readmeTranscript(t)
			if len(got) != len(want) {
				t.Fatalf("got %d lines, the README shows %d:\n%s", len(got), len(want), out.String())
			}
			for i := range want {
				if !want[i].MatchString(got[i]) {
					t.Errorf("line %d: %q does not have the README's shape %s", i+1, got[i], want[i])
				}
			}
		})
	}
}

// TestQuickstartFailsFast: on a Postgres that cannot feed Ankurah (wal_level
// replica) the example says so at once, with the fix, as `ankurah check`
// does; when the change stream fails to start for another reason (here its
// slot name is taken by a physical slot) it reports that and returns — it
// used to wait forever for the stream it had already seen end.
func TestQuickstartFailsFast(t *testing.T) {
	t.Parallel()
	t.Run("wal_level replica", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewCluster(t, "wal_level=replica")
		var out bytes.Buffer
		err := run(context.Background(), &out, db, "")
		if err == nil || !strings.Contains(err.Error(), "wal_level = replica") || !strings.Contains(err.Error(), "fix: run `ALTER SYSTEM SET wal_level = logical;`") {
			t.Fatalf("got %v, want the preflight's wal_level finding and its fix", err)
		}
		if out.Len() != 0 {
			t.Errorf("printed before failing:\n%s", out.String())
		}
	})
	t.Run("stream cannot start", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewCluster(t, "wal_level=logical")
		if _, err := pgtest.Pool(t, db).Exec(context.Background(), "select pg_create_physical_replication_slot('ankurah_quickstart')"); err != nil {
			t.Fatal(err)
		}
		err := run(context.Background(), io.Discard, db, "")
		if err == nil || !strings.Contains(err.Error(), "the change stream stopped") {
			t.Fatalf("got %v, want the stream's failure", err)
		}
	})
}

// TestQuickstartInterrupt: Ctrl-C stops the example while it waits on the
// network (here a "database" that accepts the connection and never
// answers): the process says it was interrupted and exits 1.
func TestQuickstartInterrupt(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "QUICKSTART_TEST_MAIN=1", "ANKURAH_DATABASE_URL=postgres://x@"+ln.Addr().String()+"/x?sslmode=disable")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	select {
	case c := <-accepted: // it is waiting for the server's answer
		defer c.Close()
	case <-time.After(30 * time.Second):
		t.Fatal("the example never connected")
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || strings.TrimSpace(stderr.String()) != "quickstart: interrupted" {
			t.Fatalf("exit %v, stderr %q; want 1 and \"quickstart: interrupted\"", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Ctrl-C did not stop the example")
	}
}

// TestMain lets the test binary run the example's main (for the interrupt
// test).
func TestMain(m *testing.M) {
	if os.Getenv("QUICKSTART_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	leakcheck.Main(m)
}

// readmeTranscript returns the output the README shows for
// `go run ./examples/quickstart`, as patterns in which ids match any id.
func readmeTranscript(t *testing.T) []*regexp.Regexp {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	ulid := regexp.MustCompile(`\b[0-9A-HJKMNP-TV-Z]{26}\b`)
	var out []*regexp.Regexp
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "$ go run ./examples/quickstart"):
			in = true
		case in && (strings.HasPrefix(line, "$ ") || strings.HasPrefix(line, "```")):
			return out
		case in:
			parts := ulid.Split(line, -1)
			for i := range parts {
				parts[i] = regexp.QuoteMeta(parts[i])
			}
			out = append(out, regexp.MustCompile("^"+strings.Join(parts, "[0-9A-HJKMNP-TV-Z]{26}")+"$"))
		}
	}
	t.Fatal("README.md has no transcript of go run ./examples/quickstart")
	return nil
}
