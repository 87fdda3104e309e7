package server_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/replication"
	"github.com/ankurah/ankurah-go/server"
	"github.com/ankurah/ankurah-go/storage/postgres"
)

// metricsAt scrapes /metrics once: every sample, by its name with labels.
func metricsAt(t testing.TB, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func slotOf(env *servertest.Env) string {
	return env.Backend.(*server.PostgresBackend).Consumer().Config().SlotName
}

// TestTwoServersOneDatabase: two servers configured alike (no slot name)
// on one database each take a slot of their own, and each delivers a SQL
// write to its own subscriber. /metrics shows both slots' retained WAL and
// max_slot_wal_keep_size.
func TestTwoServersOneDatabase(t *testing.T) {
	t.Parallel()
	a := servertest.Start(t, servertest.Postgres, servertest.Options{})
	b := servertest.Start(t, servertest.Postgres, servertest.Options{DatabaseURL: a.DatabaseURL})
	if slotOf(a) == slotOf(b) {
		t.Fatalf("both servers took slot %s", slotOf(a))
	}
	dial(t, a).register(albumSchema)
	ca, cb := dial(t, a), dial(t, b)
	ca.subscribe("s", "album", "year >= 2000")
	cb.subscribe("s", "album", "year >= 2000")
	id := sqlID(t, a, "insert into album (name, year) values ('Absolution', 2003) returning id")
	for _, c := range []*tclient{ca, cb} {
		c.waitFor("the SQL insert", func() bool { _, ok := c.set("s")[id]; return ok })
	}
	m := metricsAt(t, b.Addr)
	for _, env := range []*servertest.Env{a, b} {
		key := `ankurah_replication_slot_retained_bytes{slot="` + slotOf(env) + `",active="true",wal_status="reserved"}`
		if v, ok := m[key]; !ok || v < 0 {
			t.Errorf("%s: %v (present %t)", key, v, ok)
		}
	}
	if v, ok := m["ankurah_max_slot_wal_keep_size_bytes"]; !ok || v != -1 {
		t.Errorf("ankurah_max_slot_wal_keep_size_bytes = %v (present %t), want -1 (the test cluster's default)", v, ok)
	}
}

// TestServeDropsItsSlot: a server stopped cleanly has dropped its slot by
// the time Serve returns, so it leaves nothing that holds WAL.
func TestServeDropsItsSlot(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	pool := pgtest.Pool(t, url)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	backend, err := server.NewPostgres(postgres.New(pool, postgres.Options{}), replication.Config{DatabaseURL: url, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Logger: quiet}, backend)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln, 5*time.Second) }()
	select {
	case <-backend.Ready():
	case err := <-served:
		cancel()
		t.Fatalf("Serve ended before streaming: %v", err)
	}
	slot := backend.Consumer().Config().SlotName
	count := func() (n int) {
		if err := pool.QueryRow(context.Background(), "select count(*) from pg_replication_slots where slot_name = $1", slot).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if count() != 1 {
		t.Fatalf("slot %s missing while serving", slot)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if count() != 0 {
		t.Fatalf("slot %s still exists after Serve returned", slot)
	}
}

// TestDroppedSlotResyncs: the slot is dropped under a running server while
// a transaction that changes three subscribed rows is in flight, so that
// transaction is never streamed (it commits before the new slot's
// consistent point). The server notices the gap and reads every live query
// again: the clients end up with the current rows — the one that left, the
// one that joined, the one that changed — and nothing stale; later writes
// stream as before.
func TestDroppedSlotResyncs(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Postgres, servertest.Options{Replication: func(rc *replication.Config) {
		rc.BackoffMin = 100 * time.Millisecond // let DropSlot win the race with the reconnects
	}})
	dial(t, env).register(albumSchema)
	leaves := sqlID(t, env, "insert into album (name, year) values ('Showbiz', 2001) returning id")
	changes := sqlID(t, env, "insert into album (name, year) values ('Absolution', 2003) returning id")
	joins := sqlID(t, env, "insert into album (name, year) values ('Drones', 1990) returning id")
	c := dial(t, env)
	c.subscribe("all", "album", "year >= 2000")
	c.subscribe("top", "album", "year >= 2000 ORDER BY year DESC LIMIT 1")
	if got := c.set("all"); len(got) != 2 {
		t.Fatalf("initial set %v", got)
	}

	ctx := context.Background()
	tx, err := env.DB.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, q := range []string{
		"update album set year = 1999 where id = '" + leaves + "'",
		"update album set name = 'Absolution XX' where id = '" + changes + "'",
		"update album set year = 2015 where id = '" + joins + "'",
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	dctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	if err := replication.DropSlot(dctx, env.DB, slotOf(env), true); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	c.waitFor("the lost transaction's rows", func() bool {
		all, top := c.set("all"), c.set("top")
		_, left := all[leaves]
		_, joined := all[joins]
		_, topJoined := top[joins]
		return !left && joined && val(all[changes], "name") == "Absolution XX" && len(all) == 2 && topJoined && len(top) == 1
	})
	if v := metricsAt(t, env.Addr)["ankurah_resyncs_total"]; v != 1 {
		t.Fatalf("ankurah_resyncs_total = %v, want 1", v)
	}
	// The stream goes on from the new slot.
	later := sqlID(t, env, "insert into album (name, year) values ('Simulation Theory', 2018) returning id")
	c.waitFor("a write after the resync", func() bool { _, ok := c.set("top")[later]; return ok && len(c.set("top")) == 1 })
	for _, sub := range []string{"all", "top"} {
		if v := c.violations(sub); len(v) > 0 {
			t.Fatalf("%s: %v", sub, v)
		}
	}
	if all := c.set("all"); len(all) != 3 || val(all[joins], "year") != float64(2015) {
		t.Fatalf("final set %v", all)
	}
}

// TestLagSecondsNeverStreamed: a server whose stream cannot start (its
// configured slot is held by another process) is not "0 seconds behind":
// its lag grows from when it started, its byte lag counts the whole WAL,
// and /readyz says 503.
func TestLagSecondsNeverStreamed(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	pool := pgtest.Pool(t, url)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	const slot = "lag_held"
	holder, err := replication.New(replication.Config{DatabaseURL: url, SlotName: slot, Logger: quiet}, func(context.Context, *replication.Transaction) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	hctx, hcancel := context.WithCancel(context.Background())
	held := make(chan error, 1)
	go func() { held <- holder.Run(hctx) }()
	defer func() { hcancel(); <-held }()
	<-holder.Ready()

	backend, err := server.NewPostgres(postgres.New(pool, postgres.Options{}), replication.Config{
		DatabaseURL: url, SlotName: slot, SlotWait: time.Hour, BackoffMax: 100 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Logger: quiet}, backend)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln, 5*time.Second) }()
	defer func() { cancel(); <-served }()
	addr := ln.Addr().String()
	var first float64
	for deadline := time.Now().Add(waitTimeout); ; {
		m := metricsAt(t, addr)
		if first == 0 {
			first = m["ankurah_replication_lag_seconds"]
		}
		if s := m["ankurah_replication_lag_seconds"]; first > 0 && s > first {
			if m["ankurah_replication_lag_bytes"] <= 0 {
				t.Fatalf("lag %v s but %v bytes", s, m["ankurah_replication_lag_bytes"])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lag of a server that never streamed stayed %v", m["ankurah_replication_lag_seconds"])
		}
		time.Sleep(20 * time.Millisecond) // polling /metrics, bounded by the deadline
	}
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz %d", resp.StatusCode)
	}
}

// TestLagSecondsCaughtUp: a server that has acknowledged the server's WAL
// position reports 0 seconds behind in the same scrape — not the delay of
// the last transaction it streamed.
func TestLagSecondsCaughtUp(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Postgres, servertest.Options{})
	dial(t, env).register(albumSchema)
	c := dial(t, env)
	c.subscribe("s", "album", "true")
	id := sqlID(t, env, "insert into album (name, year) values ('Showbiz', 1999) returning id")
	c.waitFor("the insert", func() bool { _, ok := c.set("s")[id]; return ok })
	var seen []float64
	for deadline := time.Now().Add(waitTimeout); ; {
		m := metricsAt(t, env.Addr)
		if m["ankurah_replication_lag_bytes"] == 0 {
			if s := m["ankurah_replication_lag_seconds"]; s != 0 {
				t.Fatalf("caught up (0 bytes behind) but %v s behind", s)
			}
			break
		}
		seen = append(seen, m["ankurah_replication_lag_bytes"])
		if time.Now().After(deadline) {
			t.Fatalf("never caught up: byte lags %v", seen[max(0, len(seen)-10):])
		}
		time.Sleep(20 * time.Millisecond) // polling /metrics, bounded by the deadline
	}
	if m := metricsAt(t, env.Addr); m["ankurah_commit_to_fanout_seconds_count"] < 1 {
		t.Fatal("the insert was not counted")
	}
}
