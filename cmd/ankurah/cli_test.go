package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/ankurah/ankurah-go/internal/pgtest"
)

// invoke runs one command line in-process with an empty environment.
func invoke(args ...string) (status int, stdout, stderr string) {
	var out, errout bytes.Buffer
	status = run(context.Background(), args, func(string) string { return "" }, &out, &errout)
	return status, out.String(), errout.String()
}

// internals are words a message to a person must not contain: wire codes
// and members, Go API and package names, driver and network layers.
var internals = regexp.MustCompile(`bad_request|no_collection|bad_name|type_mismatch|parse_error|bad_argument|invalid_event|entity_id|"ids"|Parse or Bind|wire:|pgx|pgconn|dial tcp|failed to|protocol\.|storage\.|%!|<nil>|goroutine|panic|\bevent [0-9A-Z]{26}`)

// checkMessage checks that stderr is one line in the user's terms,
// "ankurah CMD: …", optionally followed by one "fix: …" line.
func checkMessage(t *testing.T, what, stderr string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if stderr == "" || len(lines) > 2 || !strings.HasPrefix(lines[0], "ankurah") || len(lines) == 2 && !strings.HasPrefix(lines[1], "fix: ") {
		t.Errorf("%s: want one line and an optional fix: line, got:\n%s", what, stderr)
	}
	if m := internals.FindString(stderr); m != "" {
		t.Errorf("%s: message shows an internal (%q):\n%s", what, m, stderr)
	}
}

// TestHelpForEveryCommand: `ankurah help CMD`, `ankurah CMD --help` and
// `ankurah CMD -h` print the command's usage with its arguments, on stdout,
// and exit 0; `ankurah help` lists every command and every ANKURAH_*
// variable.
func TestHelpForEveryCommand(t *testing.T) {
	t.Parallel()
	status, overview, _ := invoke("help")
	if status != exitOK {
		t.Fatalf("help: %d", status)
	}
	for _, v := range envVars {
		if !strings.Contains(overview, v.name) {
			t.Errorf("help does not list %s", v.name)
		}
	}
	if s, _, errout := invoke(); s != exitUsage || errout != overview {
		t.Errorf("no arguments: status %d, want 2 and the overview on stderr", s)
	}
	for _, c := range commands() {
		if !strings.Contains(overview, "  "+c.name+" ") {
			t.Errorf("help does not list %s", c.name)
		}
		status, help, errout := invoke("help", c.name)
		if status != exitOK || errout != "" || !strings.HasPrefix(help, "Usage:\n  ankurah "+c.name) {
			t.Errorf("help %s: status %d\n%s%s", c.name, status, help, errout)
		}
		for _, a := range c.args {
			if !strings.Contains(help, strings.TrimSpace("ankurah "+c.name+" "+a)+"\n") {
				t.Errorf("help %s does not show its arguments %q:\n%s", c.name, a, help)
			}
		}
		if !strings.Contains(help, "Exit status: 0 ok, 1 failure") {
			t.Errorf("help %s does not document the exit status", c.name)
		}
		for _, flag := range []string{"--help", "-h"} {
			args := []string{c.name, flag}
			if c.name == "gen" {
				args = []string{"gen", flag}
			}
			if s, out, errout := invoke(args...); s != exitOK || out != help || errout != "" {
				t.Errorf("%s %s: status %d, stdout equal to help: %v, stderr %q", c.name, flag, s, out == help, errout)
			}
		}
	}
	if s, out, _ := invoke("gen", "ts", "--help"); s != exitOK || !strings.Contains(out, "--package") {
		t.Errorf("gen ts --help: %d\n%s", s, out)
	}
	if s, out, _ := invoke("version"); s != exitOK || !strings.HasPrefix(out, "ankurah ") || strings.Count(out, "\n") != 1 {
		t.Errorf("version: %d %q", s, out)
	}
}

// TestCLIAsAUser drives the binary as a person would, with every kind of
// mistake: each gets the documented exit status and one line in the user's
// terms (with a fix: line where there is one). It runs against a real
// embedded server and a real Postgres, and ends with a second server on
// the same data folder, and a restart after kill -9.
func TestCLIAsAUser(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	dir := t.TempDir()
	srv, url := startServe(t, "--data-dir", dir)
	id := strings.TrimSpace(cli(t, "put", "--url", url, "album", `{"name":"Origin of Symmetry","year":2001}`))
	missing := "01JD8X5Z8K3T7Q2W9E4R6Y1M0N"

	cases := []struct {
		name   string
		args   []string
		status int
		msg    string // fragment of the message (stderr)
	}{
		// The command line itself.
		{"unknown command", []string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{"help for an unknown command", []string{"help", "frobnicate"}, exitUsage, `no command "frobnicate"`},
		{"unknown flag", []string{"query", "--zz", "album"}, exitUsage, "unknown flag --zz"},
		{"flag without its value", []string{"query", "album", "--url"}, exitUsage, "--url needs a value"},
		{"bad flag value", []string{"bench", "--conns", "many"}, exitUsage, `--conns "many" is not a valid value`},
		{"missing collection", []string{"subscribe"}, exitUsage, "missing COLLECTION"},
		{"missing id", []string{"get", "album"}, exitUsage, "missing ID"},
		{"too many arguments", []string{"delete", "album", id, "extra"}, exitUsage, "too many arguments"},
		{"stray argument", []string{"check", "--database-url", db, "extra"}, exitUsage, `unexpected argument "extra"`},
		{"gen without a generator", []string{"gen"}, exitUsage, "say what to generate"},
		{"gen ts unknown flag", []string{"gen", "ts", "--zz"}, exitUsage, "unknown flag --zz"},
		{"bad log level", []string{"serve", "--log-level", "loud"}, exitUsage, `--log-level "loud" is not a level`},
		{"bad listen address", []string{"serve", "--listen", "nowhere"}, exitUsage, `--listen "nowhere" is not an address`},
		{"bad log format", []string{"serve", "--log-format", "xml"}, exitUsage, `--log-format "xml" is not a format`},
		{"bad pprof address", []string{"serve", "--pprof-addr", "6060"}, exitUsage, `--pprof-addr "6060" is not an address`},
		{"exposed pprof without a policy", []string{"serve", "--pprof-addr", "0.0.0.0:6060"}, exitUsage, "the profiler serves only on a loopback address"},
		// URLs.
		{"no database", []string{"migrate"}, exitUsage, "no database given"},
		{"mysql URL", []string{"check", "--database-url", "mysql://root:s3cret@db/shop"}, exitUsage, "a mysql:// URL; Ankurah needs PostgreSQL"},
		{"mangled URL", []string{"serve", "--database-url", "postgres://u:s3cret@h/%zz"}, exitUsage, `not valid: invalid URL escape "%zz"`},
		{"not a URL", []string{"migrate", "--database-url", "s3cret"}, exitUsage, "not a URL"},
		{"postgres refused", []string{"migrate", "--database-url", "postgres://nobody@127.0.0.1:1/x"}, exitFailure, "cannot connect to PostgreSQL at 127.0.0.1:1: connection refused"},
		{"serve on postgres refused", []string{"serve", "--database-url", "postgres://nobody@127.0.0.1:1/x"}, exitFailure, "connection refused"},
		{"bad websocket URL", []string{"query", "album", "--url", "127.0.0.1:9797"}, exitUsage, "is not a WebSocket URL"},
		{"server refused", []string{"query", "album", "true", "--url", "ws://127.0.0.1:1/ws"}, exitFailure, "cannot reach a server at ws://127.0.0.1:1/ws: connection refused"},
		{"not an ankurah endpoint", []string{"get", "--url", strings.TrimSuffix(url, "/ws") + "/nope", "album", id}, exitFailure, "not an Ankurah WebSocket endpoint"},
		{"health of nothing", []string{"health", "--listen", "127.0.0.1:1"}, exitFailure, "no answer from http://127.0.0.1:1/readyz"},
		// Names, JSON, ids, queries.
		{"capitalised collection", []string{"put", "--url", url, "Album", `{"name":"x"}`}, exitUsage, `collection name "Album"`},
		{"bad field name", []string{"put", "--url", url, "album", `{"Name":"x"}`}, exitFailure, `no field "Name", and a new field's name uses lowercase letters`},
		{"bad field name of a new collection", []string{"put", "--url", url, "song", `{"Title":"x"}`}, exitUsage, `field name "Title"`},
		{"bad JSON", []string{"put", "--url", url, "album", `{name: x}`}, exitUsage, "the fields are not a JSON object"},
		{"JSON that is not an object", []string{"put", "--url", url, "album", id, `[1]`}, exitUsage, "the fields are not a JSON object"},
		{"value of another type", []string{"put", "--url", url, "album", id, `{"year":"two thousand"}`}, exitFailure, `album.year: "two thousand" where bigint is expected`},
		{"bad id", []string{"get", "--url", url, "album", "x"}, exitUsage, `"x" is not an id: ids are 26-character ULIDs`},
		{"id too long", []string{"delete", "--url", url, "album", id + "0"}, exitUsage, "is not an id"},
		{"unknown id", []string{"get", "--url", url, "album", strings.ToLower(missing)}, exitFailure, "album " + missing + " does not exist"},
		{"unknown id to update", []string{"put", "--url", url, "album", missing, `{"year":1}`}, exitFailure, "does not exist"},
		{"bad query", []string{"query", "--url", url, "album", "year >"}, exitUsage, "the query is not valid at character 7"},
		{"placeholder without value", []string{"query", "--url", url, "album", "year > ?"}, exitUsage, "the query has one placeholder (?) but no value for it"},
		{"value without placeholder", []string{"subscribe", "--url", url, "album", "year > 1", "2"}, exitUsage, "the query has no placeholders (?) but one value was given"},
	}
	for _, c := range cases {
		status, _, stderr := invoke(c.args...)
		if status != c.status || !strings.Contains(stderr, c.msg) {
			t.Errorf("%s: ankurah %s: status %d (want %d), stderr:\n%s(want %q)", c.name, strings.Join(c.args, " "), status, c.status, stderr, c.msg)
		}
		checkMessage(t, c.name, stderr)
		if strings.Contains(stderr, "s3cret") {
			t.Errorf("%s: the message shows the password:\n%s", c.name, stderr)
		}
	}

	// What works: lowercase ids, flags after the arguments, -- before a
	// negative number, check and migrate on a real database.
	if got := cli(t, "get", "album", strings.ToLower(id), "--url", url); !strings.Contains(got, id) {
		t.Errorf("get with a lowercase id: %q", got)
	}
	if got := cli(t, "query", "album", "year > ?", "--url", url, "--", "-5"); !strings.Contains(got, id) {
		t.Errorf("query with a negative argument after --: %q", got)
	}
	if status, out, errout := invoke("check", "--database-url", db); status != exitOK || !strings.Contains(out, "ok   wal_level: wal_level = logical") || strings.Contains(out, "migrate") || errout != "" {
		t.Errorf("check: %d\n%s%s", status, out, errout)
	}
	if status, out, errout := invoke("check", "--database-url", "postgres://nobody@127.0.0.1:1/x"); status != exitFailure || !strings.HasPrefix(out, "FAIL connect: cannot connect to PostgreSQL at 127.0.0.1:1: connection refused\n     fix: ") || errout != "" {
		t.Errorf("check of nothing: %d\n%s%s", status, out, errout)
	}
	if status, out, _ := invoke("migrate", "--database-url", db); status != exitOK || out != "Ankurah's schema is already up to date (version 3)\n" {
		t.Errorf("migrate of a migrated database: %d %q", status, out)
	}

	// A second server on the same data folder is refused, naming the first.
	status, _, stderr := invoke("serve", "--data-dir", dir, "--listen", "127.0.0.1:0")
	want := fmt.Sprintf("is in use by ankurah serve (pid %d, %s)", srv.Process.Pid, url)
	if status != exitFailure || !strings.Contains(stderr, want) || !strings.Contains(stderr, "fix: stop that server, or pass --data-dir") {
		t.Errorf("second serve on one folder: %d\n%s(want %q)", status, stderr, want)
	}
	checkMessage(t, "second serve", stderr)

	// A server killed with SIGKILL leaves no lock behind.
	if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.Wait()
	_, url = startServe(t, "--data-dir", dir)
	if got := cli(t, "get", "--url", url, "album", id); !strings.Contains(got, "Origin of Symmetry") {
		t.Errorf("after kill -9 and a restart: %q", got)
	}
}

// TestMigrateSaysWhatItDid: on a fresh database migrate installs the
// schema and says so; a second run says it is up to date.
func TestMigrateSaysWhatItDid(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	// A database without the schema: a fresh one beside the test's.
	pool := pgtest.Pool(t, url)
	if _, err := pool.Exec(context.Background(), "drop schema ankurah cascade"); err != nil {
		t.Fatal(err)
	}
	if status, out, errout := invoke("migrate", "--database-url", url); status != exitOK || out != "installed Ankurah's schema (version 3)\n" || errout != "" {
		t.Fatalf("first migrate: %d %q %q", status, out, errout)
	}
	if status, out, _ := invoke("migrate", "--database-url", url); status != exitOK || out != "Ankurah's schema is already up to date (version 3)\n" {
		t.Fatalf("second migrate: %d %q", status, out)
	}
}

// TestPostgresThatCannotFeedAnkurah: on a server with wal_level=replica,
// every command that needs the change stream stops at once with the
// preflight's finding and its fix; check lists it; migrate installs the
// schema and notes the problem.
func TestPostgresThatCannotFeedAnkurah(t *testing.T) {
	t.Parallel()
	db := pgtest.NewCluster(t, "wal_level=replica")
	const finding = "this PostgreSQL cannot feed Ankurah: wal_level = replica"
	const fix = "fix: run `ALTER SYSTEM SET wal_level = logical;` as a superuser, then restart PostgreSQL"
	for _, args := range [][]string{
		{"serve", "--database-url", db, "--listen", "127.0.0.1:0"},
		{"bench", "--database-url", db, "--clients", "inproc"},
	} {
		status, out, errout := invoke(args...)
		if status != exitFailure || out != "" || !strings.HasPrefix(errout, "ankurah "+args[0]+": "+finding+"\n"+fix) {
			t.Errorf("%s: status %d\n%s%s", args[0], status, out, errout)
		}
		checkMessage(t, args[0], errout)
	}
	if status, out, _ := invoke("check", "--database-url", db); status != exitFailure || !strings.Contains(out, "FAIL wal_level: wal_level = replica\n     fix: run `ALTER SYSTEM SET wal_level = logical;`") {
		t.Errorf("check: %d\n%s", status, out)
	}
	status, out, errout := invoke("migrate", "--database-url", db)
	if status != exitOK || out != "installed Ankurah's schema (version 3)\n" || !strings.HasPrefix(errout, "ankurah migrate: note: "+finding+"\n"+fix) {
		t.Errorf("migrate: %d\n%s%s", status, out, errout)
	}
}

// TestDocsShowTheHelp: docs/cli.md shows `ankurah help` as it is.
func TestDocsShowTheHelp(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	_, overview, _ := invoke("help")
	if !strings.Contains(string(b), "```text\n"+overview+"```") {
		t.Error("docs/cli.md does not show the output of `ankurah help`: paste it again")
	}
}

// TestInterrupt: Ctrl-C stops a command that waits on the network (here a
// "database" that accepts the connection and never answers): check says it
// was interrupted and exits 1.
func TestInterrupt(t *testing.T) {
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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errout bytes.Buffer
	go func() {
		done <- run(ctx, []string{"check", "--database-url", "postgres://x@" + ln.Addr().String() + "/x?sslmode=disable"}, func(string) string { return "" }, io.Discard, &errout)
	}()
	c := <-accepted // check is waiting for the server's answer
	defer c.Close()
	cancel() // what Ctrl-C does (signalContext)
	if status := <-done; status != exitFailure || errout.String() != "ankurah check: interrupted\n" {
		t.Fatalf("status %d, stderr %q", status, errout.String())
	}
}
