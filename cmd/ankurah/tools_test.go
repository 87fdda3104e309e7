package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/internal/pgtest"
)

// cli runs one command line in-process and returns its stdout.
func cli(t *testing.T, args ...string) string {
	t.Helper()
	var out, errout bytes.Buffer
	if status := run(context.Background(), args, func(string) string { return "" }, &out, &errout); status != 0 {
		t.Fatalf("ankurah %s: status %d\n%s", strings.Join(args, " "), status, errout.String())
	}
	return out.String()
}

// TestToolsAgainstEmbeddedServer: the README's tour on the embedded store —
// put, subscribe, query, get, delete — and the data survives a restart.
func TestToolsAgainstEmbeddedServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, url := startServe(t, "--data-dir", dir)

	id := strings.TrimSpace(cli(t, "put", "--url", url, "album", `{"name":"Origin of Symmetry","year":2001}`))

	// subscribe prints the initial set, ready, then changes as they come.
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	subDone := make(chan int, 1)
	go func() {
		subDone <- run(ctx, []string{"subscribe", "--url", url, "album", "year >= ?", "2000"}, func(string) string { return "" }, pw, io.Discard)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	next := func() map[string]any {
		t.Helper()
		if !lines.Scan() {
			t.Fatal("subscribe ended early")
		}
		var m map[string]any
		if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
			t.Fatalf("%q: %v", lines.Text(), err)
		}
		return m
	}
	if l := next(); l["kind"] != "initial" || l["id"] != id || l["values"].(map[string]any)["year"] != float64(2001) {
		t.Fatalf("initial: %v", l)
	}
	if l := next(); l["kind"] != "ready" {
		t.Fatalf("ready: %v", l)
	}
	cli(t, "put", "--url", url, "album", id, `{"year":2002}`)
	if l := next(); l["kind"] != "update" || l["values"].(map[string]any)["year"] != float64(2002) {
		t.Fatalf("update: %v", l)
	}
	id2 := strings.TrimSpace(cli(t, "put", "--url", url, "album", `{"name":"Absolution","year":2003}`))
	if l := next(); l["kind"] != "add" || l["id"] != id2 {
		t.Fatalf("add: %v", l)
	}
	cli(t, "delete", "--url", url, "album", id2)
	if l := next(); l["kind"] != "remove" || l["id"] != id2 {
		t.Fatalf("remove: %v", l)
	}
	cancel()
	if status := <-subDone; status != 0 {
		t.Fatalf("subscribe ended with %d", status)
	}

	if got := cli(t, "query", "--url", url, "album", "ORDER BY year DESC"); !strings.Contains(got, `"year":2002`) || strings.Count(got, "\n") != 1 {
		t.Fatalf("query: %s", got)
	}

	// A clean stop (SIGTERM) and a restart keep the data.
	srv.Process.Signal(syscall.SIGTERM)
	if err := waitExit(srv, 20*time.Second); err != nil {
		t.Fatalf("serve did not stop cleanly: %v", err)
	}
	_, url = startServe(t, "--data-dir", dir)
	if got := cli(t, "get", "--url", url, "album", id); !strings.Contains(got, `"name":"Origin of Symmetry"`) || !strings.Contains(got, `"year":2002`) {
		t.Fatalf("get after restart: %s", got)
	}

	// Errors are coded and say what to do.
	var errout bytes.Buffer
	if status := run(context.Background(), []string{"query", "--url", url, "album", "year >"}, func(string) string { return "" }, io.Discard, &errout); status != exitUsage || !strings.Contains(errout.String(), "the query is not valid at character 7") {
		t.Fatalf("bad query: %d %s", status, errout.String())
	}
	errout.Reset()
	if status := run(context.Background(), []string{"get", "--url", "ws://127.0.0.1:1/ws", "album", id}, func(string) string { return "" }, io.Discard, &errout); status != 1 || !strings.Contains(errout.String(), "cannot reach a server") {
		t.Fatalf("no server: %d %s", status, errout.String())
	}
}

func waitExit(cmd interface{ Wait() error }, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		return context.DeadlineExceeded
	}
}

// TestServeOnPostgres: `serve --database-url` migrates, checks and serves;
// a row inserted with plain SQL is there for the tools, beside one put
// through the server.
func TestServeOnPostgres(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	_, url := startServe(t, "--database-url", db, "--slot", "cli_"+strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_")))
	id := strings.TrimSpace(cli(t, "put", "--url", url, "album", `{"name":"Origin of Symmetry","year":2001}`))
	pool := pgtest.Pool(t, db)
	if _, err := pool.Exec(context.Background(), "insert into album (name, year) values ('Showbiz', 1999)"); err != nil {
		t.Fatal(err)
	}
	got := cli(t, "query", "--url", url, "album", "ORDER BY year")
	if lines := strings.Split(strings.TrimSpace(got), "\n"); len(lines) != 2 || !strings.Contains(lines[0], "Showbiz") || !strings.Contains(lines[1], id) {
		t.Fatalf("query: %s", got)
	}
}

// TestPutText: put gives a ytext field (collaborative text) a text as the
// smallest Yjs edit that makes it, on creation and on update, and that
// edit merges with a SQL edit made in between.
func TestPutText(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	pool := pgtest.Pool(t, db)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `select ankurah.create_collection('note', '{"title":"text","body":"ytext"}')`); err != nil {
		t.Fatal(err)
	}
	_, url := startServe(t, "--database-url", db, "--slot", "cli_put_text")
	id := strings.TrimSpace(cli(t, "put", "--url", url, "note", `{"title":"t","body":"Hello world"}`))
	if _, err := pool.Exec(ctx, `update note set body = body || '!' where id = $1`, id); err != nil {
		t.Fatal(err)
	}
	cli(t, "put", "--url", url, "note", id, `{"body":"Hello, world!"}`)
	var body, kinds string
	if err := pool.QueryRow(ctx, `select body from note where id = $1`, id).Scan(&body); err != nil || body != "Hello, world!" {
		t.Fatalf("body %q (%v)", body, err)
	}
	if err := pool.QueryRow(ctx, `select string_agg(origin || ':' || jsonb_typeof(operations -> 'body'), ',' order by id) from ankurah.events where entity_id = $1`, id).Scan(&kinds); err != nil || kinds != "api:object,sql:object,api:object" {
		t.Fatalf("the events' body operations: %q (%v)", kinds, err)
	}
	if got := cli(t, "get", "--url", url, "note", id); !strings.Contains(got, `"body":"Hello, world!"`) {
		t.Fatalf("get: %s", got)
	}
}

// TestServeFirstStart: on a database without Ankurah's schema, serve says
// that it installs it and creates its (kept) replication slot; the next
// start says neither.
func TestServeFirstStart(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	if _, err := pgtest.Pool(t, db).Exec(context.Background(), "drop schema ankurah cascade"); err != nil {
		t.Fatal(err)
	}
	slot := "cli_first_start"
	srv, url, lines := startServeLog(t, "--database-url", db, "--slot", slot, "--keep-slot")
	want := []string{
		"ankurah: installed Ankurah's schema (version 3)",
		"ankurah: creating replication slot " + slot + " (--keep-slot: it holds WAL for this server while it is away; `ankurah slots drop " + slot + "` when you retire the server, or running servers drop it once inactive for --slot-max-inactive)",
	}
	if len(lines) != 4 || lines[0] != want[0] || lines[1] != want[1] || !strings.HasPrefix(lines[2], "ankurah: no policy") || !strings.Contains(lines[3], `msg="ankurah serving"`) {
		t.Fatalf("first start printed:\n%s", strings.Join(lines, "\n"))
	}
	// Ready: the slot exists and streams.
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/ws")
	for deadline := time.Now().Add(30 * time.Second); ; {
		if status, _, _ := invoke("health", "--listen", addr); status == exitOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("serve never became ready")
		}
		time.Sleep(50 * time.Millisecond) // polling /readyz, bounded by the deadline
	}
	srv.Process.Signal(syscall.SIGTERM)
	if err := waitExit(srv, 30*time.Second); err != nil {
		t.Fatalf("serve did not stop cleanly: %v", err)
	}
	_, _, lines = startServeLog(t, "--database-url", db, "--slot", slot, "--keep-slot")
	for _, l := range lines {
		if strings.Contains(l, "installed") || strings.Contains(l, "creating replication slot") {
			t.Fatalf("second start printed:\n%s", strings.Join(lines, "\n"))
		}
	}
}
