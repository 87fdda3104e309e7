package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/leakcheck"
	"github.com/ankurah/ankurah-go/internal/wire"
	"github.com/ankurah/ankurah-go/protocol"
)

// TestMain lets the test binary stand in for the ankurah binary: with
// ANKURAH_TEST_MAIN set it runs the command line it was given.
func TestMain(m *testing.M) {
	if os.Getenv("ANKURAH_TEST_MAIN") == "1" {
		ctx, stop := signalContext()
		defer stop()
		os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
	}
	leakcheck.Main(m)
}

// startServe starts `ankurah serve` as a child process and waits until it
// accepts WebSocket sessions.
func startServe(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd, url, _ := startServeLog(t, args...)
	return cmd, url
}

// startServeLog is startServe, also returning the lines serve printed up to
// and including its "ankurah serving" log line.
func startServeLog(t *testing.T, args ...string) (*exec.Cmd, string, []string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--listen", addr}, args...)...)
	cmd.Env = append(os.Environ(), "ANKURAH_TEST_MAIN=1", "ANKURAH_DATABASE_URL=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	started := make(chan []string, 1)
	exited := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var log []string
		for sc.Scan() {
			log = append(log, sc.Text())
			if strings.Contains(sc.Text(), "ankurah serving") {
				started <- append([]string(nil), log...)
			}
		}
		exited <- strings.Join(log, "\n")
	}()
	select {
	case lines := <-started:
		return cmd, "ws://" + addr + "/ws", lines
	case out := <-exited:
		t.Fatalf("serve exited:\n%s", out)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	return nil, "", nil
}

// TestCrashKeepsAcknowledgedCommits kills the embedded-store server with
// SIGKILL in the middle of a stream of commits. After a restart every
// commit the server acknowledged is there, and the file passes SQLite's
// integrity check.
func TestCrashKeepsAcknowledgedCommits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, url := startServe(t, "--data-dir", dir)
	ctx := context.Background()

	setup, err := wire.Dial(ctx, url, wire.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := setup.Do(ctx, protocol.Request{Type: protocol.TypeRegisterSchema, Collections: []protocol.Collection{{Name: "note", Fields: []protocol.Field{{Name: "n", Type: "bigint"}}}}}, nil); err != nil {
		t.Fatal(err)
	}
	setup.Close()

	acked := make(chan string, 100000)
	writers := 4
	done := make(chan error, writers)
	for w := range writers {
		go func() {
			conn, err := wire.Dial(ctx, url, wire.Options{})
			if err != nil {
				done <- err
				return
			}
			defer conn.Close()
			gen := event.NewGenerator()
			for n := 0; ; n++ {
				id := gen.New().String()
				ev := protocol.Event{ID: id, Collection: "note", EntityID: id, Parents: []string{}, Operations: map[string]json.RawMessage{"n": json.RawMessage(fmt.Sprint(n))}}
				err := conn.Do(ctx, protocol.Request{Type: protocol.TypeCommit, Events: []protocol.Event{ev}}, nil)
				if err != nil {
					select {
					case <-conn.Done():
						done <- nil // the server died under us: expected
					default:
						done <- fmt.Errorf("writer %d: %w", w, err)
					}
					return
				}
				acked <- id
			}
		}()
	}
	// Let commits flow, then kill.
	deadline := time.After(30 * time.Second)
	for len(acked) < 300 {
		select {
		case err := <-done:
			t.Fatalf("a writer stopped before the crash: %v", err)
		case <-deadline:
			t.Fatalf("only %d commits acknowledged", len(acked))
		case <-time.After(10 * time.Millisecond): // polling a channel's length
		}
	}
	if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.Wait()
	for range writers {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	close(acked)
	var ids []string
	for id := range acked {
		ids = append(ids, id)
	}

	// The file is sound.
	db, err := sql.Open("sqlite", filepath.Join(dir, "ankurah.db"))
	if err != nil {
		t.Fatal(err)
	}
	var check string
	if err := db.QueryRow("pragma integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity check: %q %v", check, err)
	}
	db.Close()

	// Every acknowledged commit survived.
	_, url = startServe(t, "--data-dir", dir)
	conn, err := wire.Dial(ctx, url, wire.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	found := 0
	for i := 0; i < len(ids); i += protocol.MaxIDs {
		batch := ids[i:min(i+protocol.MaxIDs, len(ids))]
		var res protocol.EntitiesResult
		if err := conn.Do(ctx, protocol.Request{Type: protocol.TypeGet, Collection: "note", IDs: batch}, &res); err != nil {
			t.Fatal(err)
		}
		found += len(res.Entities)
	}
	if found != len(ids) {
		t.Fatalf("%d of %d acknowledged commits survived the crash", found, len(ids))
	}
	t.Logf("%d acknowledged commits, all present after kill -9 and restart", len(ids))
}
