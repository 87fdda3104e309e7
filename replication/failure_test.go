package replication_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/leakcheck"
	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/replication"
)

// failOn runs a consumer whose handler accepts one transaction (x1), fails
// on the next (x2) and so stops; a third (x3) commits too. It returns the
// ids and the HandlerError.
func failOn(t *testing.T, url string) (x1, x2, x3 event.ID, herr *replication.HandlerError) {
	t.Helper()
	pool := pgtest.Pool(t, url)
	exec(t, pool, `select ankurah.create_collection('note', '{"body":"text"}')`)
	x1, x2, x3 = event.NewID(), event.NewID(), event.NewID()
	rec := newRecorder()
	rec.fail = func(_ context.Context, tx *replication.Transaction) error {
		if len(tx.Rows) > 0 && tx.Rows[0].ID == x2 {
			return errBoom
		}
		return nil
	}
	c := start(t, testConfig(t, url, nil), rec.handle)
	for _, id := range []event.ID{x1, x2, x3} {
		exec(t, pool, `insert into note (id, body) values ($1, 'x')`, id.String())
	}
	err := c.wait(t)
	if !errors.As(err, &herr) || !errors.Is(err, errBoom) {
		t.Fatalf("Run returned %v, want a HandlerError wrapping errBoom", err)
	}
	if seen := entities(rec.snapshot()); seen[x1] != 1 || seen[x2] != 0 || seen[x3] != 0 {
		t.Fatalf("handled %v", seen)
	}
	if got := confirmedFlush(t, pool, c.Config().SlotName); got >= herr.EndLSN {
		t.Fatalf("confirmed_flush_lsn %s: the failed transaction (end %s) was acknowledged", got, herr.EndLSN)
	}
	if c.AckedLSN() >= herr.EndLSN {
		t.Fatalf("AckedLSN %s includes the failed transaction (end %s)", c.AckedLSN(), herr.EndLSN)
	}
	return x1, x2, x3, herr
}

// A handler error stops Run and acknowledges nothing from that transaction
// on: a restart delivers it again.
func TestHandlerErrorPreventsAck(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	_, x2, x3, _ := failOn(t, url)
	rec := newRecorder()
	start(t, testConfig(t, url, nil), rec.handle)
	txs := rec.waitFor(t, "the failed transaction again", hasAll([]event.ID{x2, x3}))
	if seen := entities(txs); seen[x2] != 1 || seen[x3] != 1 {
		t.Fatalf("after restart: %v", seen)
	}
}

// Config.StartLSN skips what a handler says it already applied, even when
// the slot was not told.
func TestStartLSNSkips(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	x1, x2, x3, herr := failOn(t, url)
	cfg := testConfig(t, url, nil)
	cfg.StartLSN = herr.EndLSN // pretend x2 was applied after all
	rec := newRecorder()
	start(t, cfg, rec.handle)
	txs := rec.waitFor(t, "x3", hasAll([]event.ID{x3}))
	if seen := entities(txs); seen[x1] != 0 || seen[x2] != 0 || seen[x3] != 1 {
		t.Fatalf("with StartLSN past x2: %v", seen)
	}
}

// On a database where no collection exists yet the consumer creates
// publication ankurah (for ankurah.events); collections created while it
// streams join it and their changes arrive.
func TestCreatesPublication(t *testing.T) {
	t.Parallel()
	url, pool := newDB(t)
	var n int
	if err := pool.QueryRow(context.Background(), `select count(*) from pg_publication where pubname = 'ankurah'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("publication before start: %d %v", n, err)
	}
	rec := newRecorder()
	start(t, testConfig(t, url, nil), rec.handle)
	var tables string
	if err := pool.QueryRow(context.Background(),
		`select string_agg(schemaname || '.' || tablename, ',' order by 1) from pg_publication_tables where pubname = 'ankurah'`).Scan(&tables); err != nil || tables != "ankurah.events,ankurah.schema_changes" {
		t.Fatalf("publication tables %q %v", tables, err)
	}
	exec(t, pool, `select ankurah.create_collection('late', '{"x":"bigint"}')`)
	id := event.NewID()
	exec(t, pool, `insert into late (id, x) values ($1, 1)`, id.String())
	txs := rec.waitFor(t, "the insert into a collection created while streaming", hasAll([]event.ID{id}))
	if r := txs[len(txs)-1].Rows[0]; r.Table != "late" || r.New["x"].Int() != 1 {
		t.Fatalf("row %+v", r)
	}
}

// Errors an operator must fix end Run at once instead of being retried.
func TestPermanentErrors(t *testing.T) {
	t.Parallel()
	url, pool := newDB(t)
	run := func(cfg replication.Config) error {
		c, err := replication.New(cfg, newRecorder().handle)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		err = c.Run(ctx)
		if ctx.Err() != nil {
			t.Fatalf("Run kept retrying: %v", err)
		}
		return err
	}

	cfg := testConfig(t, url, nil)
	physical := "phys_" + strings.TrimPrefix(cfg.WithDefaults().SlotName, "ankurah_")
	cfg.SlotName = physical
	exec(t, pool, `select pg_create_physical_replication_slot($1)`, physical)
	t.Cleanup(func() { // a physical slot belongs to no database: dropping the test's does not drop it
		if _, err := pool.Exec(context.Background(), `select pg_drop_replication_slot($1)`, physical); err != nil {
			t.Errorf("drop %s: %v", physical, err)
		}
	})
	if err := run(cfg); err == nil || !strings.Contains(err.Error(), "want a logical pgoutput slot") {
		t.Errorf("physical slot of the same name: %v", err)
	}

	cfg = testConfig(t, url, nil)
	cfg.Publication = "nope"
	if err := run(cfg); err == nil || !strings.Contains(err.Error(), `publication "nope" does not exist`) {
		t.Errorf("missing custom publication: %v", err)
	}

	role := "norepl_" + strings.TrimPrefix(cfg.WithDefaults().SlotName, "ankurah_")
	role = role[:min(len(role), 60)]
	exec(t, pool, fmt.Sprintf(`create role %s login`, role))
	t.Cleanup(func() { pgtest.DropRole(t, role) })
	cfg = testConfig(t, strings.Replace(url, "postgres@", role+"@", 1), nil)
	if err := run(cfg); err == nil || !strings.Contains(err.Error(), "42501") {
		t.Errorf("role without REPLICATION: %v", err)
	}
}

// Run, Close and the errors around them.
func TestRunLifecycle(t *testing.T) {
	t.Parallel()
	url, _ := newDB(t)
	c, err := replication.New(testConfig(t, url, nil), newRecorder().handle)
	if err != nil {
		t.Fatal(err)
	}
	result := make(chan error, 1)
	go func() { result <- c.Run(context.Background()) }()
	select {
	case <-c.Ready():
	case <-time.After(waitTimeout):
		t.Fatal("not ready")
	}
	if err := c.Run(context.Background()); !errors.Is(err, replication.ErrRunning) {
		t.Fatalf("second Run: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-result; err != nil {
		t.Fatalf("Run after Close: %v", err)
	}
	if err := c.Run(context.Background()); !errors.Is(err, replication.ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// Run and cancel leave no goroutine behind. Not parallel: it counts the
// goroutines of the whole process.
func TestNoGoroutineLeak(t *testing.T) {
	url, pool := newDB(t)
	exec(t, pool, `select ankurah.create_collection('note', '{"body":"text"}')`)
	before := leakcheck.Count()
	for range 3 {
		rec := newRecorder()
		c := start(t, testConfig(t, url, nil), rec.handle)
		id := event.NewID()
		exec(t, pool, `insert into note (id, body) values ($1, 'x')`, id.String())
		rec.waitFor(t, "a transaction", hasAll([]event.ID{id}))
		if err := c.stop(); err != nil {
			t.Fatal(err)
		}
	}
	if err := leakcheck.Wait(before, waitTimeout); err != nil {
		t.Fatal(err)
	}
}

// A handler that blocks does not get the connection dropped: with the queue
// full, the consumer stops reading but keeps sending status updates, so the
// server's view of the client (reply_time) stays fresh; once the handler
// moves again everything arrives, in order.
func TestSlowHandlerKeepsConnectionAlive(t *testing.T) {
	t.Parallel()
	url, pool := newDB(t)
	exec(t, pool, `select ankurah.create_collection('note', '{"body":"text"}')`)
	release := make(chan struct{})
	blocked := make(chan struct{}, 1)
	rec := newRecorder()
	rec.fail = func(ctx context.Context, _ *replication.Transaction) error {
		select {
		case blocked <- struct{}{}:
		default:
		}
		select {
		case <-release:
			return nil
		case <-ctx.Done(): // the test failed and is stopping the consumer
			return ctx.Err()
		}
	}
	cfg := testConfig(t, url, nil)
	cfg.MaxPending = 1
	c := start(t, cfg, rec.handle)
	ids := make([]event.ID, 20)
	for i := range ids {
		ids[i] = event.NewID()
		exec(t, pool, `insert into note (id, body) values ($1, 'x')`, ids[i].String())
	}
	<-blocked
	replyTime := func() (ts time.Time) {
		_ = pool.QueryRow(context.Background(), `select coalesce(r.reply_time, 'epoch') from pg_stat_replication r
			join pg_replication_slots s on s.active_pid = r.pid where s.slot_name = $1`, c.Config().SlotName).Scan(&ts)
		return ts
	}
	first := replyTime()
	pollUntil(t, "status updates while the handler is blocked", func() bool {
		return replyTime().After(first.Add(3 * cfg.StandbyTimeout))
	})
	close(release)
	txs := rec.waitFor(t, "everything once released", hasAll(ids))
	for i, tx := range txs {
		if tx.Rows[0].ID != ids[i] {
			t.Fatalf("transaction %d holds %s, want %s", i, tx.Rows[0].ID, ids[i])
		}
	}
}
