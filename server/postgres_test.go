package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/internal/servertest"
)

func sql(t testing.TB, env *servertest.Env, q string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := env.DB.Exec(ctx, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func sqlID(t testing.TB, env *servertest.Env, q string, args ...any) string {
	t.Helper()
	var id string
	if err := env.DB.QueryRow(context.Background(), q, args...).Scan(&id); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return id
}

// TestSQLWritesReachSubscribers: plain SQL on another connection — an
// INSERT, an UPDATE that moves a row out of the query and back, an UPDATE
// that leaves a large TOASTed column untouched, a DELETE — arrives like an
// API write, with its values complete.
func TestSQLWritesReachSubscribers(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Postgres, servertest.Options{})
	r := dial(t, env)
	r.register(albumSchema)
	r.subscribe("s", "album", "year >= 2000")

	id := sqlID(t, env, "insert into album (name, year) values ('Origin of Symmetry', 2001) returning id")
	items := r.waitItems(1)
	if it := items[0]; it.Kind != "add" || it.Entity.ID != id || val(it.Entity, "name") != "Origin of Symmetry" || len(it.Events) != 1 {
		t.Fatalf("insert: %+v", it)
	}
	sql(t, env, "update album set year = 1999 where id = $1", id)
	sql(t, env, "update album set year = 2002 where id = $1", id)
	// A value too big to stay inline, then an update that leaves it alone.
	big := strings.Repeat("notes that do not compress well ", 1) + randomText(200_000)
	sql(t, env, "update album set notes = $2 where id = $1", id, big)
	sql(t, env, "update album set name = 'Origin of Symmetry (XX)' where id = $1", id)
	sql(t, env, "delete from album where id = $1", id)
	items = r.waitItems(6)[1:]
	kinds := []string{}
	for _, it := range items {
		kinds = append(kinds, it.Kind)
	}
	if got := strings.Join(kinds, " "); got != "remove add update update remove" {
		t.Fatalf("kinds: %s", got)
	}
	if val(items[0].Entity, "year") != float64(1999) {
		t.Fatalf("remove shows the values that made it leave: %+v", items[0].Entity)
	}
	if val(items[3].Entity, "notes") != big || val(items[3].Entity, "name") != "Origin of Symmetry (XX)" {
		t.Fatalf("the untouched TOASTed column was lost: notes %d bytes", len(fmt.Sprint(val(items[3].Entity, "notes"))))
	}
	if !items[4].Entity.Deleted || items[4].Events[0].Delete != true {
		t.Fatalf("delete: %+v", items[4])
	}
}

func randomText(n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[rand.IntN(len(letters))]
	}
	return string(b)
}

// TestRestartMidStream: the server restarts while SQL writers keep
// writing; clients reconnect and resubscribe with the heads they hold; at
// the end their sets equal the query run in SQL.
func TestRestartMidStream(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Postgres, servertest.Options{})
	setup := dial(t, env)
	setup.register(albumSchema)
	const query = "year >= 2005"

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var written sync.Map
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				var id string
				err := env.DB.QueryRow(context.Background(), "insert into album (name, year) values ($1, $2) returning id", fmt.Sprint(w, "-", n), 2000+n%10).Scan(&id)
				if err != nil {
					t.Error(err)
					return
				}
				written.Store(id, true)
				if n%3 == 0 {
					if _, err := env.DB.Exec(context.Background(), "update album set year = year + 1 where id = $1", id); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}

	c := dial(t, env)
	c.subscribe("s", "album", query)
	c.waitFor("some changes", func() bool { return len(c.set("s")) > 20 })
	env.Restart()
	<-c.conn.Done()
	held := c.set("s")

	// Reconnect and resubscribe with the heads held.
	c2 := dial(t, env)
	known := map[string][]string{}
	for id, e := range held {
		known[id] = e.Head
	}
	c2.mu.Lock()
	c2.sets["s"] = &resultSet{entities: held}
	c2.mu.Unlock()
	res, err := c2.trySubscribe("s", "album", query, known)
	if err != nil {
		t.Fatal(err)
	}
	unchanged := 0
	for _, e := range res.Entities {
		if e.Unchanged {
			unchanged++
		}
	}
	c2.waitFor("more changes after the restart", func() bool { return len(c2.set("s")) > len(held)+20 })
	stop()
	wg.Wait()

	want := map[string]string{}
	rows, err := env.DB.Query(context.Background(), "select id, _head::text from album where year >= 2005")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, head string
		if err := rows.Scan(&id, &head); err != nil {
			t.Fatal(err)
		}
		want[id] = head
	}
	c2.waitFor("the subscriber to equal the SQL query", func() bool {
		got := c2.set("s")
		if len(got) != len(want) {
			return false
		}
		for id, e := range got {
			if "{"+strings.Join(e.Head, ",")+"}" != want[id] {
				return false
			}
		}
		return true
	})
	if v := c2.violations("s"); len(v) > 0 {
		t.Errorf("%d violations after the restart, first: %v", len(v), v[:min(5, len(v))])
	}
	if unchanged == 0 {
		t.Errorf("resubscribing with %d known heads sent every entity again", len(known))
	}
	t.Logf("held %d before the restart, %d unchanged on resubscribe, %d at the end", len(held), unchanged, len(want))
}

// TestIdleSlotAdvances: with nothing to stream, the slot's
// confirmed_flush_lsn still follows the server's WAL (written here by a
// table outside the publication), so an idle server pins no WAL.
func TestIdleSlotAdvances(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Postgres, servertest.Options{})
	sql(t, env, "create table unpublished (x int)")
	for range 3 {
		sql(t, env, "insert into unpublished select generate_series(1, 1000)")
		var target string
		if err := env.DB.QueryRow(context.Background(), "select pg_current_wal_lsn()::text").Scan(&target); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(waitTimeout)
		for {
			var ok bool
			err := env.DB.QueryRow(context.Background(), "select coalesce(bool_and(confirmed_flush_lsn >= $1::pg_lsn), false) from pg_replication_slots where database = current_database()", target).Scan(&ok)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("confirmed_flush_lsn did not reach %s", target)
			}
			time.Sleep(50 * time.Millisecond) // polling the server's view, with a deadline
		}
	}
}

// TestSQLTransactionOneFrame: a multi-row SQL transaction arrives as one
// frame.
func TestSQLTransactionOneFrame(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Postgres, servertest.Options{})
	r := dial(t, env)
	r.register(albumSchema)
	r.subscribe("s", "album", "")
	sql(t, env, "insert into album (name, year) select 'n' || g, 2000 + g from generate_series(1, 5) g")
	r.waitItems(5)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.log) != 1 {
		t.Fatalf("%d frames for one SQL transaction", len(r.log))
	}
}
