package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/internal/wire"
	"github.com/ankurah/ankurah-go/protocol"
)

// slotList returns the database's replication slots, by name.
func slotList(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	var names []string
	if err := pool.QueryRow(context.Background(), "select coalesce(array_agg(slot_name order by slot_name), '{}') from pg_replication_slots where database = current_database()").Scan(&names); err != nil {
		t.Fatal(err)
	}
	return names
}

// pollSlots waits, with a deadline, until the database's slots are want.
func pollSlots(t *testing.T, pool *pgxpool.Pool, what string, want func([]string) bool) []string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		names := slotList(t, pool)
		if want(names) {
			return names
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; slots: %v", what, names)
		}
		time.Sleep(20 * time.Millisecond) // polling pg_replication_slots, bounded by the deadline
	}
}

// subscribeVia subscribes to every album over ws and returns the channel of
// album ids the subscription receives.
func subscribeVia(t *testing.T, url string) <-chan string {
	t.Helper()
	ctx := context.Background()
	conn, err := wire.Dial(ctx, url, wire.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Do(ctx, protocol.Request{Type: protocol.TypeSubscribe, Sub: "s", Collection: "album", Query: "true"}, nil); err != nil {
		t.Fatal(err)
	}
	ids := make(chan string, 16)
	go func() {
		for p := range conn.Changes() {
			for _, it := range p.Items {
				ids <- it.Entity.ID
			}
		}
	}()
	return ids
}

// startReady starts serve and waits until its change stream has started
// (/readyz): until then its slot may still be being created (which waits
// for every transaction running in the cluster), and a slot whose creation
// is interrupted vanishes.
func startReady(t *testing.T, args ...string) (*exec.Cmd, string, []string) {
	t.Helper()
	srv, url, lines := startServeLog(t, args...)
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/ws")
	for deadline := time.Now().Add(30 * time.Second); ; {
		if status, _, _ := invoke("health", "--listen", addr); status == exitOK {
			return srv, url, lines
		}
		if time.Now().After(deadline) {
			t.Fatal("serve never became ready")
		}
		time.Sleep(20 * time.Millisecond) // polling /readyz, bounded by the deadline
	}
}

func stopServe(t *testing.T, srv *exec.Cmd) {
	t.Helper()
	srv.Process.Signal(syscall.SIGTERM)
	if err := waitExit(srv, 30*time.Second); err != nil {
		t.Fatalf("serve did not stop cleanly: %v", err)
	}
}

// TestSeveralServesOneDatabase: two `ankurah serve` on one database
// without flags each take a slot of their own and each delivers a SQL
// write to its subscriber; each drops its slot when it stops (SIGTERM). A
// third with --slot naming a slot the first holds is refused, with the fix.
func TestSeveralServesOneDatabase(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	pool := pgtest.Pool(t, db)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `select ankurah.create_collection('album', '{"name":"text","year":"bigint"}')`); err != nil {
		t.Fatal(err)
	}
	a, urlA, _ := startReady(t, "--database-url", db)
	b, urlB, _ := startReady(t, "--database-url", db)
	slots := pollSlots(t, pool, "two slots", func(s []string) bool { return len(s) == 2 })
	idsA, idsB := subscribeVia(t, urlA), subscribeVia(t, urlB)
	var id string
	if err := pool.QueryRow(ctx, "insert into album (name, year) values ('Absolution', 2003) returning id").Scan(&id); err != nil {
		t.Fatal(err)
	}
	for name, ids := range map[string]<-chan string{"first": idsA, "second": idsB} {
		select {
		case got := <-ids:
			if got != id {
				t.Fatalf("the %s server's subscriber got %s, want %s", name, got, id)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("the %s server's subscriber received nothing", name)
		}
	}

	// A configured slot held by another server is refused, with the fix.
	status, _, stderr := invoke("serve", "--database-url", db, "--listen", "127.0.0.1:0", "--slot", slots[0])
	if status != exitFailure || !strings.Contains(stderr, "replication slot "+slots[0]+" is in use by another process") || !strings.Contains(stderr, "fix: give this server a slot of its own") {
		t.Fatalf("serve on a held slot: status %d\n%s", status, stderr)
	}
	checkMessage(t, "serve on a held slot", stderr)

	stopServe(t, a)
	stopServe(t, b)
	if names := slotList(t, pool); len(names) != 0 {
		t.Fatalf("after both servers stopped the slots are %v", names)
	}
}

// TestServeKeepSlot: with --slot NAME --keep-slot the slot outlives a clean
// stop, inactive, and the next start resumes it; --keep-slot without --slot
// is refused.
func TestServeKeepSlot(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	pool := pgtest.Pool(t, db)
	srv, _, _ := startReady(t, "--database-url", db, "--slot", "cli_kept", "--keep-slot")
	pollSlots(t, pool, "the slot", func(s []string) bool { return slices.Equal(s, []string{"cli_kept"}) })
	stopServe(t, srv)
	if names := slotList(t, pool); !slices.Equal(names, []string{"cli_kept"}) {
		t.Fatalf("after a stop with --keep-slot the slots are %v", names)
	}
	_, _, lines := startReady(t, "--database-url", db, "--slot", "cli_kept", "--keep-slot")
	for _, l := range lines {
		if strings.Contains(l, "creating replication slot") {
			t.Fatalf("the restart made a new slot:\n%s", strings.Join(lines, "\n"))
		}
	}
	status, _, stderr := invoke("serve", "--database-url", db, "--keep-slot")
	if status != exitUsage || !strings.Contains(stderr, "--keep-slot needs --slot") {
		t.Fatalf("--keep-slot alone: %d\n%s", status, stderr)
	}
	checkMessage(t, "--keep-slot alone", stderr)
}

// TestSlotsCommand: `ankurah slots` lists Ankurah's slots with their
// activity and retained WAL, and max_slot_wal_keep_size; `slots drop`
// refuses the slot of a running server, drops an inactive one and says so
// for a name that is not Ankurah's.
func TestSlotsCommand(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	pool := pgtest.Pool(t, db)
	ctx := context.Background()
	startReady(t, "--database-url", db, "--slot", "cli_running")
	if _, err := pool.Exec(ctx, "select pg_create_logical_replication_slot('ankurah_cli_left_behind', 'pgoutput')"); err != nil {
		t.Fatal(err)
	}
	pollSlots(t, pool, "both slots", func(s []string) bool { return len(s) == 2 })

	out := cli(t, "slots", "--database-url", db)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "SLOT") || !strings.Contains(lines[0], "RETAINED WAL") ||
		!strings.HasPrefix(lines[1], "ankurah_cli_left_behind") || !strings.Contains(lines[1], "inactive") ||
		!strings.HasPrefix(lines[2], "cli_running") || !strings.Contains(lines[2], "active: pid ") ||
		!strings.HasPrefix(lines[3], "max_slot_wal_keep_size = -1") {
		t.Fatalf("ankurah slots:\n%s", out)
	}

	status, _, stderr := invoke("slots", "--database-url", db, "drop", "cli_running")
	if status != exitFailure || !strings.Contains(stderr, "slot cli_running is in use by a running server") || !strings.Contains(stderr, "fix: stop that server") {
		t.Fatalf("dropping the running server's slot: %d\n%s", status, stderr)
	}
	checkMessage(t, "slots drop (active)", stderr)
	status, _, stderr = invoke("slots", "--database-url", db, "drop", "nope")
	if status != exitFailure || !strings.Contains(stderr, `no Ankurah slot "nope"`) {
		t.Fatalf("dropping a missing slot: %d\n%s", status, stderr)
	}
	if out := cli(t, "slots", "--database-url", db, "drop", "ankurah_cli_left_behind"); out != "dropped slot ankurah_cli_left_behind\n" {
		t.Fatalf("slots drop: %q", out)
	}
	if names := slotList(t, pool); !slices.Equal(names, []string{"cli_running"}) {
		t.Fatalf("after the drop: %v", names)
	}
}

// TestKilledServesSlotIsDropped is the failure case: a server killed with
// SIGKILL cannot drop its slot, which then holds WAL. A running server
// notices it inactive and, after --slot-max-inactive, drops it: the slot
// is gone from pg_replication_slots, and with it the WAL it retained.
func TestKilledServesSlotIsDropped(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	pool := pgtest.Pool(t, db)
	ctx := context.Background()
	victim, _, _ := startReady(t, "--database-url", db, "--slot-max-inactive", "-1")
	dead := pollSlots(t, pool, "the slot of the server to kill", func(s []string) bool { return len(s) == 1 })[0]
	if err := victim.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = victim.Wait()
	// WAL written after the kill is retained by the dead slot.
	if _, err := pool.Exec(ctx, "create table filler as select repeat('x', 1000) as x from generate_series(1, 1000)"); err != nil {
		t.Fatal(err)
	}
	pollSlots(t, pool, "the dead slot inactive", func([]string) bool {
		var active bool
		if err := pool.QueryRow(ctx, "select active from pg_replication_slots where slot_name = $1", dead).Scan(&active); err != nil {
			t.Fatal(err)
		}
		return !active
	})
	out := cli(t, "slots", "--database-url", db)
	if !strings.Contains(out, dead) || !strings.Contains(out, "inactive") {
		t.Fatalf("ankurah slots after the kill:\n%s", out)
	}

	startReady(t, "--database-url", db, "--slot-max-inactive", "500ms", "--slot-check-interval", "50ms")
	names := pollSlots(t, pool, "the dead server's slot dropped", func(s []string) bool { return len(s) == 1 && s[0] != dead })
	var retained int64
	if err := pool.QueryRow(ctx, "select coalesce(sum(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)), 0)::bigint from pg_replication_slots where database = current_database() and slot_name <> $1", names[0]).Scan(&retained); err != nil || retained != 0 {
		t.Fatalf("WAL still retained by other slots: %d (%v)", retained, err)
	}
	var check []string
	for _, l := range strings.Split(cli(t, "check", "--database-url", db), "\n") {
		if strings.Contains(l, "slot") || strings.Contains(l, "max_slot_wal_keep_size") {
			check = append(check, l)
		}
	}
	if b, _ := json.Marshal(check); !strings.Contains(string(b), "max_slot_wal_keep_size") || !strings.Contains(string(b), names[0]) || strings.Contains(string(b), dead) {
		t.Fatalf("ankurah check:\n%s", strings.Join(check, "\n"))
	}
}

// TestSlotFlags: serve's slot flags are checked before anything connects.
func TestSlotFlags(t *testing.T) {
	t.Parallel()
	db := "postgres://nobody@127.0.0.1:1/x"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--keep-slot"}, "--keep-slot needs --slot"},
		{[]string{"--slot-max-inactive", "soon"}, `--slot-max-inactive: "soon" is not a duration`},
		{[]string{"--slot-max-retained", "lots"}, `--slot-max-retained: "lots" is not a size`},
		{[]string{"--slot-max-retained", "5 parsecs"}, `unknown unit "parsecs"`},
		{[]string{"--slot-check-interval", "0s"}, `--slot-check-interval "0s" is not a positive duration`},
		{[]string{"--slot-max-inactive", "0s"}, "must not be 0"},
	} {
		status, _, stderr := invoke(append([]string{"serve", "--database-url", db}, tc.args...)...)
		if status != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("serve %v: %d %s", tc.args, status, stderr)
		}
		checkMessage(t, strings.Join(tc.args, " "), stderr)
	}
	for in, want := range map[string]int64{"-1": -1, "1024": 1024, "512MB": 512e6, "1GiB": 1 << 30, "1.5 kB": 1500, "2TiB": 2 << 40} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}
