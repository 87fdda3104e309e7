package replication_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/migrations"
	"github.com/ankurah/ankurah-go/replication"
)

// slotNames lists the database's replication slots.
func slotNames(t testing.TB, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), "select slot_name from pg_replication_slots where database = current_database() order by 1")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

func activePID(t testing.TB, pool *pgxpool.Pool, slot string) int {
	t.Helper()
	var pid int
	if err := pool.QueryRow(context.Background(), "select coalesce(active_pid, 0) from pg_replication_slots where slot_name = $1", slot).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return pid
}

// Two consumers configured alike (no SlotName) on one database each get a
// slot of their own and each receive every transaction.
func TestDefaultSlotsAreDistinct(t *testing.T) {
	t.Parallel()
	url, pool := newDB(t)
	exec(t, pool, `select ankurah.create_collection('note', '{"body":"text"}')`)
	cfg := testConfig(t, url, nil)
	cfg.SlotName = ""
	a, b := newRecorder(), newRecorder()
	ca := start(t, cfg, a.handle)
	cb := start(t, cfg, b.handle)
	if ca.Config().SlotName == cb.Config().SlotName {
		t.Fatalf("both consumers took slot %s", ca.Config().SlotName)
	}
	id := event.NewID()
	exec(t, pool, `insert into note (id, body) values ($1, 'x')`, id.String())
	a.waitFor(t, "the insert at the first consumer", hasAll([]event.ID{id}))
	b.waitFor(t, "the insert at the second consumer", hasAll([]event.ID{id}))
	if pa, pb := activePID(t, pool, ca.Config().SlotName), activePID(t, pool, cb.Config().SlotName); pa == 0 || pb == 0 {
		t.Fatalf("walsenders %d and %d", pa, pb)
	}
}

// A slot another process streams from is refused once SlotWait has passed,
// naming the walsender that holds it; CheckSlotFree says the same.
func TestSlotInUse(t *testing.T) {
	t.Parallel()
	url, pool := newDB(t)
	cfg := testConfig(t, url, nil)
	holder := start(t, cfg, newRecorder().handle)
	pid := activePID(t, pool, holder.Config().SlotName)

	second := cfg
	second.SlotWait = 200 * time.Millisecond
	c, err := replication.New(second, newRecorder().handle)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Run(context.Background())
	var inUse *replication.SlotInUseError
	if !errors.As(err, &inUse) || inUse.Slot != cfg.SlotName || inUse.PID != pid || !replication.IsSlotInUse(err) {
		t.Fatalf("second consumer on slot %s (held by pid %d): Run returned %v", cfg.SlotName, pid, err)
	}
	err = replication.CheckSlotFree(context.Background(), pool, cfg.SlotName, 0)
	if !errors.As(err, &inUse) || inUse.PID != pid {
		t.Fatalf("CheckSlotFree: %v", err)
	}
	// The holder was not disturbed.
	if got := activePID(t, pool, cfg.SlotName); got != pid {
		t.Fatalf("the slot's walsender is now %d, was %d", got, pid)
	}
	if err := replication.CheckSlotFree(context.Background(), pool, "ankurah_nonexistent", 0); err != nil {
		t.Fatalf("CheckSlotFree of a missing slot: %v", err)
	}
}

// A consumer that stops cleanly drops its slot; with KeepSlot it leaves it,
// inactive, and a consumer started later on it resumes.
func TestCleanStopDropsSlot(t *testing.T) {
	t.Parallel()
	url, pool := newDB(t)
	cfg := testConfig(t, url, nil)
	c := start(t, cfg, newRecorder().handle)
	if !slices.Contains(slotNames(t, pool), cfg.SlotName) {
		t.Fatalf("slot %s missing while streaming: %v", cfg.SlotName, slotNames(t, pool))
	}
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}
	if names := slotNames(t, pool); len(names) != 0 {
		t.Fatalf("after a clean stop the slots are %v", names)
	}

	cfg.KeepSlot = true
	c = start(t, cfg, newRecorder().handle)
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}
	if names := slotNames(t, pool); !slices.Equal(names, []string{cfg.SlotName}) || activePID(t, pool, cfg.SlotName) != 0 {
		t.Fatalf("with KeepSlot the slots are %v", names)
	}
}

// ListSlots shows Ankurah's slots with their activity and WAL; DropSlot
// drops an inactive one, refuses an active one (unless forced) and one that
// is not Ankurah's.
func TestListAndDropSlots(t *testing.T) {
	t.Parallel()
	url, pool := newDB(t)
	ctx := context.Background()
	cfg := testConfig(t, url, nil)
	c := start(t, cfg, newRecorder().handle)
	// Slot names are cluster-wide: these are this test's.
	left, notOurs := cfg.SlotName+"_left", "x"+cfg.SlotName
	exec(t, pool, `select pg_create_logical_replication_slot($1, 'pgoutput')`, left)
	exec(t, pool, `select pg_create_logical_replication_slot($1, 'pgoutput')`, notOurs)
	exec(t, pool, `select ankurah.create_collection('note', '{"body":"text"}')`)

	slots, err := replication.ListSlots(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]replication.SlotInfo{}
	for _, s := range slots {
		byName[s.Name] = s
	}
	own, lb := byName[cfg.SlotName], byName[left]
	if len(slots) != 2 || !own.Active || own.ActivePID != activePID(t, pool, cfg.SlotName) || own.CreatedBy == "" ||
		lb.Active || lb.RetainedBytes <= 0 || lb.WALStatus == "" {
		t.Fatalf("ListSlots: %+v", slots)
	}

	var inUse *replication.SlotInUseError
	if err := replication.DropSlot(ctx, pool, cfg.SlotName, false); !errors.As(err, &inUse) || inUse.PID != own.ActivePID {
		t.Fatalf("dropping the active slot: %v", err)
	}
	if err := replication.DropSlot(ctx, pool, notOurs, false); !errors.Is(err, replication.ErrNotOurSlot) {
		t.Fatalf("dropping another program's slot: %v", err)
	}
	if err := replication.DropSlot(ctx, pool, left, false); err != nil {
		t.Fatal(err)
	}
	if names := slotNames(t, pool); !slices.Equal(names, []string{cfg.SlotName, notOurs}) {
		t.Fatalf("after the drop: %v", names)
	}
	_ = c.stop()
	exec(t, pool, `select pg_drop_replication_slot($1)`, notOurs)
}

// A running consumer drops the slots others left behind: inactive for
// longer than SlotMaxInactive, or retaining more than SlotMaxRetained. Its
// own slot, other programs' slots and active slots stay.
func TestSweepDropsSlotsLeftBehind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("inactive", func(t *testing.T) {
		t.Parallel()
		url, pool := newDB(t)
		// A server that went away keeping its slot, and one that never
		// registered (named like Ankurah's).
		// Slot names are cluster-wide: these are this test's.
		base := testConfig(t, url, nil).SlotName
		kept := testConfig(t, url, nil)
		kept.SlotName, kept.KeepSlot = base+"_kept", true
		if err := start(t, kept, newRecorder().handle).stop(); err != nil {
			t.Fatal(err)
		}
		notOurs := "x" + base
		exec(t, pool, `select pg_create_logical_replication_slot($1, 'pgoutput')`, base+"_left")
		exec(t, pool, `select pg_create_logical_replication_slot($1, 'pgoutput')`, notOurs)
		other := start(t, testConfig(t, url, nil), newRecorder().handle) // active: never dropped

		cfg := testConfig(t, url, nil)
		cfg.SlotName = ""
		cfg.SlotMaxInactive, cfg.SlotMaxRetained, cfg.SlotCheckInterval = 300*time.Millisecond, -1, 20*time.Millisecond
		sweeper := start(t, cfg, newRecorder().handle)
		want := []string{other.Config().SlotName, sweeper.Config().SlotName, notOurs}
		slices.Sort(want)
		pollUntil(t, "the inactive slots dropped", func() bool { return slices.Equal(slotNames(t, pool), want) })
		slots, err := replication.ListSlots(ctx, pool)
		if err != nil || len(slots) != 2 {
			t.Fatalf("left: %+v (%v)", slots, err)
		}
		exec(t, pool, `select pg_drop_replication_slot($1)`, notOurs)
	})
	t.Run("retained", func(t *testing.T) {
		t.Parallel()
		url, pool := newDB(t)
		exec(t, pool, `select pg_create_logical_replication_slot($1, 'pgoutput')`, replication.SlotNamePrefix(url)+"_left")
		exec(t, pool, `create table filler (x text)`)
		exec(t, pool, `insert into filler select repeat('x', 1000) from generate_series(1, 100)`)
		cfg := testConfig(t, url, nil)
		cfg.SlotMaxInactive, cfg.SlotMaxRetained, cfg.SlotCheckInterval = -1, 1, 20*time.Millisecond
		c := start(t, cfg, newRecorder().handle)
		pollUntil(t, "the slot retaining WAL dropped", func() bool { return slices.Equal(slotNames(t, pool), []string{c.Config().SlotName}) })
	})
}

// A slot dropped under a running consumer is made anew, and the consumer
// says what was lost (OnGap) before it hands over the first transaction of
// the new slot. The transaction that committed while no slot existed is
// not delivered: that is the gap.
func TestDroppedSlotReportsGap(t *testing.T) {
	t.Parallel()
	url, pool := newDB(t)
	ctx := context.Background()
	exec(t, pool, `select ankurah.create_collection('note', '{"body":"text"}')`)
	var mu sync.Mutex
	var seen []string // "gap" and entity ids, in the order the consumer reported them
	var gaps []replication.Gap
	cfg := testConfig(t, url, nil)
	cfg.BackoffMin = 100 * time.Millisecond // let DropSlot win the race with the reconnects
	cfg.OnGap = func(_ context.Context, g replication.Gap) error {
		mu.Lock()
		defer mu.Unlock()
		seen, gaps = append(seen, "gap"), append(gaps, g)
		return nil
	}
	rec := newRecorder()
	c := start(t, cfg, func(ctx context.Context, tx *replication.Transaction) error {
		mu.Lock()
		for _, r := range tx.Rows {
			seen = append(seen, r.ID.String())
		}
		mu.Unlock()
		return rec.handle(ctx, tx)
	})
	x1, x2, x3 := event.NewID(), event.NewID(), event.NewID()
	exec(t, pool, `insert into note (id, body) values ($1, 'x')`, x1.String())
	rec.waitFor(t, "x1", hasAll([]event.ID{x1}))
	acked := c.AckedLSN()

	// x2 runs across the drop: the new slot's creation waits for it to
	// end, so it commits before the new slot's consistent point.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `insert into note (id, body) values ($1, 'x')`, x2.String()); err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	if err := replication.DropSlot(dctx, pool, cfg.SlotName, true); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// x3 after the new slot exists (its creation ends once x2 and any
	// transaction that began before it was consistent have ended).
	pollUntil(t, "the gap reported", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(gaps) > 0
	})
	exec(t, pool, `insert into note (id, body) values ($1, 'x')`, x3.String())
	rec.waitFor(t, "x3", hasAll([]event.ID{x3}))

	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seen, []string{x1.String(), "gap", x3.String()}) {
		t.Fatalf("the consumer reported %v; want x1 %s, the gap, x3 %s (never x2 %s)", seen, x1, x3, x2)
	}
	if g := gaps[0]; g.Slot != cfg.SlotName || g.Reason != "dropped" || g.From < acked || g.To <= g.From {
		t.Fatalf("gap %+v (acknowledged before: %s)", g, acked)
	}
}

// TestInvalidatedSlotReportsGap: on a cluster of its own with a small
// max_slot_wal_keep_size, the consumer's handler is held while more WAL
// than that is written, so Postgres invalidates the slot at a checkpoint
// (wal_status lost) and ends its walsender. The consumer drops the lost
// slot, makes a new one and reports the gap as "invalidated" before it
// hands over the first transaction from the new slot.
func TestInvalidatedSlotReportsGap(t *testing.T) {
	t.Parallel()
	url := pgtest.NewCluster(t, "wal_level=logical", "max_slot_wal_keep_size=1MB", "max_wal_size=64MB")
	ctx := context.Background()
	if err := migrations.Apply(ctx, url, nil); err != nil {
		t.Fatal(err)
	}
	pool := pgtest.Pool(t, url)
	exec(t, pool, `select ankurah.create_collection('note', '{"body":"text"}')`)
	exec(t, pool, `create table filler (x text)`)

	var mu sync.Mutex
	var seen []string
	var gaps []replication.Gap
	cfg := testConfig(t, url, nil)
	cfg.MaxPending = 1
	cfg.OnGap = func(_ context.Context, g replication.Gap) error {
		mu.Lock()
		defer mu.Unlock()
		seen, gaps = append(seen, "gap"), append(gaps, g)
		return nil
	}
	held := make(chan struct{})
	release := make(chan struct{})
	x1, x2 := event.NewID(), event.NewID()
	rec := newRecorder()
	start(t, cfg, func(ctx context.Context, tx *replication.Transaction) error {
		for _, r := range tx.Rows {
			if r.ID == x1 {
				close(held)
				select { // held until the slot is lost (or the session ends)
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			mu.Lock()
			seen = append(seen, r.ID.String())
			mu.Unlock()
		}
		return rec.handle(ctx, tx)
	})
	exec(t, pool, `insert into note (id, body) values ($1, 'x')`, x1.String())
	<-held
	lost := func() bool {
		var status string
		if err := pool.QueryRow(ctx, "select coalesce(wal_status, '') from pg_replication_slots where slot_name = $1", cfg.SlotName).Scan(&status); err != nil {
			t.Fatal(err)
		}
		return status == "lost"
	}
	for i := 0; !lost(); i++ {
		if i == 20 {
			t.Fatal("the slot was not invalidated after 20 WAL segments and checkpoints")
		}
		exec(t, pool, `insert into filler select repeat('x', 100) from generate_series(1, 100)`)
		exec(t, pool, `select pg_switch_wal()`)
		exec(t, pool, `checkpoint`)
	}
	close(release)
	pollUntil(t, "the gap reported", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(gaps) > 0
	})
	exec(t, pool, `insert into note (id, body) values ($1, 'x')`, x2.String())
	rec.waitFor(t, "x2", hasAll([]event.ID{x2}))

	mu.Lock()
	defer mu.Unlock()
	if g := gaps[0]; g.Reason != "invalidated" || g.Slot != cfg.SlotName || g.To <= g.From {
		t.Fatalf("gap %+v", g)
	}
	if i := slices.Index(seen, "gap"); i < 0 || slices.Index(seen, x2.String()) < i {
		t.Fatalf("reported %v: want the gap before x2 %s", seen, x2)
	}
	var status string
	if err := pool.QueryRow(ctx, "select wal_status from pg_replication_slots where slot_name = $1", cfg.SlotName).Scan(&status); err != nil || status == "lost" {
		t.Fatalf("the new slot's wal_status: %q (%v)", status, err)
	}
}
