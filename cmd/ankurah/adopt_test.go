package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/internal/pgtest"
)

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func mustExec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// `ankurah adopt` killed with SIGKILL in the middle of its backfill, while
// the app writes, then run again: it continues, and in the end every row
// has exactly one creation event, none is missing and none doubled.
func TestAdoptKilledAndResumed(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	pool := pgtest.Pool(t, db)
	ctx := context.Background()
	mustExec(t, pool, `create table big (id int primary key, v text)`)
	mustExec(t, pool, `insert into big select g, 'v' || g from generate_series(1, 5000) g`)
	// Already REPLICA IDENTITY FULL, so that adoption's steps need no lock
	// that the app's row lock below would hold up.
	mustExec(t, pool, `alter table big replica identity full`)
	// The app holds row 3000 in a long transaction: the backfill, which
	// locks the rows it adopts, stops there after adopting the rows before.
	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(ctx) //nolint:errcheck
	if _, err := holder.Exec(ctx, `select 1 from big where id = 3000 for update`); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "adopt", "big", "--batch", "100")
	cmd.Env = append(os.Environ(), "ANKURAH_TEST_MAIN=1", "ANKURAH_DATABASE_URL="+db)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) //nolint:errcheck
	// Wait until the child waits for the app's lock.
	deadline := time.Now().Add(time.Minute)
	for count(t, pool, `select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("adopt never reached the locked row:\n%s", out.String())
		}
	}
	var sideTable string
	if err := pool.QueryRow(ctx, `select side_table from ankurah.collections where name = 'big'`).Scan(&sideTable); err != nil {
		t.Fatal(err)
	}
	adopted := count(t, pool, `select count(*) from ankurah.`+sideTable)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if adopted == 0 || adopted >= 5000 {
		t.Fatalf("%d rows adopted before the kill; want some, not all", adopted)
	}
	if n := count(t, pool, `select count(*) from ankurah.collections where name = 'big' and state = 'adopting'`); n != 1 {
		t.Fatal("the interrupted adoption is not in state adopting")
	}
	// The app goes on writing: its writes are recorded already (the
	// triggers are in place), adopted rows or not.
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	mustExec(t, pool, `update big set v = 'edited' where id in (10, 4000)`)
	mustExec(t, pool, `delete from big where id in (20, 4500)`)
	mustExec(t, pool, `insert into big values (6000, 'new')`)
	status, stdout, stderr := invoke("adopt", "--database-url", db, "big")
	if status != exitOK || !strings.Contains(stdout, "adopted big as collection big") || !strings.Contains(stdout, "continuing an adoption that was interrupted") {
		t.Fatalf("adopt again: %d\n%s%s", status, stdout, stderr)
	}
	rows := count(t, pool, `select count(*) from big`)
	if rows != 4999 {
		t.Fatalf("%d rows", rows)
	}
	if n := count(t, pool, `select count(*) from ankurah.`+sideTable); n != rows {
		t.Fatalf("%d side rows for %d rows", n, rows)
	}
	if n := count(t, pool, `select count(*) from big b where not exists (select 1 from ankurah.`+sideTable+` s where s.k1 = b.id)`); n != 0 {
		t.Fatalf("%d rows without their entity", n)
	}
	// One creation event per entity, no entity created twice: each row's,
	// and row 20's, deleted after its adoption (row 4500, deleted before
	// the backfill reached it, never was an entity).
	if n := count(t, pool, `select count(*) from ankurah.events e join ankurah.`+sideTable+` s on s.id = e.entity_id where e.collection = 'big' and e.id = e.entity_id`); n != rows {
		t.Fatalf("%d creation events for %d rows", n, rows)
	}
	if n := count(t, pool, `select count(*) from ankurah.events where collection = 'big' and id = entity_id`); n != rows+1 {
		t.Fatalf("%d creation events in all, want %d", n, rows+1)
	}
	if n := count(t, pool, `select count(*) from (select entity_id from ankurah.events where collection = 'big' and id = entity_id group by 1 having count(*) > 1) d`); n != 0 {
		t.Fatalf("%d entities created twice", n)
	}
	if n := count(t, pool, `select count(*) from ankurah.events e join ankurah.`+sideTable+` s on s.id = e.entity_id where s.k1 in (10, 4000) and not e.tombstone and e.operations ->> 'v' = 'edited'`); n != 2 {
		t.Fatalf("the edits are recorded %d times, want 2", n)
	}
	if n := count(t, pool, `select count(*) from ankurah.collections where name = 'big' and state = 'ready'`); n != 1 {
		t.Fatal("not ready")
	}
}

// adopt and check as a user sees them: what adoption did, why a table is
// refused and what to do, and check's list of the tables.
func TestAdoptAndCheckAsAUser(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	pool := pgtest.Pool(t, db)
	mustExec(t, pool, `create schema sales`)
	mustExec(t, pool, `create table sales.orders (id serial primary key, total numeric(10,2), at point)`)
	mustExec(t, pool, `insert into sales.orders (total) values (1), (2)`)
	mustExec(t, pool, `create table "Customers" (id uuid primary key default gen_random_uuid(), name text)`)
	mustExec(t, pool, `create table logs (line text)`)
	mustExec(t, pool, `select ankurah.create_collection('album', '{"name":"text"}')`)

	status, stdout, stderr := invoke("check", "--database-url", db)
	if status != exitOK {
		t.Fatalf("check: %d\n%s%s", status, stdout, stderr)
	}
	for _, want := range []string{
		"ok   api writes: role postgres may mark the API's writes",
		"  album           collection album",
		`  "Customers"     adoptable, as collection Customers`,
		"  logs            not adoptable\n                    logs has no primary key",
		"fix: add one, e.g. ALTER TABLE logs ADD PRIMARY KEY",
		"  sales.orders    adoptable, as collection sales.orders\n                    column at (point) is left out",
	} {
		if !strings.Contains(squash(stdout), squash(want)) {
			t.Errorf("check does not say %q:\n%s", want, stdout)
		}
	}

	status, stdout, stderr = invoke("adopt", "--database-url", db, "sales.orders", `"Customers"`)
	if status != exitOK || stdout != "adopted sales.orders as collection sales.orders: 2 rows given their creation events\nadopted \"Customers\" as collection Customers: 0 rows given their creation events\n" {
		t.Fatalf("adopt: %d\n%s%s", status, stdout, stderr)
	}
	if !strings.Contains(stderr, "note: column at (point) is left out") {
		t.Errorf("adopt does not say what it left out:\n%s", stderr)
	}
	for _, c := range []struct {
		args   []string
		status int
		msg    string
		fix    string
	}{
		{[]string{"logs"}, exitFailure, "cannot adopt logs: logs has no primary key", "fix: add one, e.g. ALTER TABLE logs ADD PRIMARY KEY"},
		{[]string{"nosuch"}, exitFailure, "no table nosuch", "`ankurah check` lists"},
		{[]string{"album"}, exitFailure, "album is already collection album", "nothing to do"},
		{[]string{"logs", "album", "--as", "x"}, exitUsage, "--as and --rename apply to one table", "on its own"},
		{[]string{"logs", "--batch", "0"}, exitUsage, "--batch 0 is not a number of rows", "positive"},
		{[]string{"logs", "--rename", "oops"}, exitUsage, "--rename", "ankurah help adopt"},
	} {
		status, _, stderr := invoke(append([]string{"adopt", "--database-url", db}, c.args...)...)
		if status != c.status || !strings.Contains(stderr, c.msg) || !strings.Contains(stderr, c.fix) {
			t.Errorf("adopt %v: %d\n%s(want %d, %q, %q)", c.args, status, stderr, c.status, c.msg, c.fix)
		}
		checkMessage(t, strings.Join(c.args, " "), stderr)
	}
	_, stdout, _ = invoke("check", "--database-url", db)
	for _, want := range []string{`  "Customers"     adopted: collection Customers`, "  sales.orders    adopted: collection sales.orders"} {
		if !strings.Contains(squash(stdout), squash(want)) {
			t.Errorf("check after adopting does not say %q:\n%s", want, stdout)
		}
	}
}

// squash collapses runs of spaces (check aligns its columns).
func squash(s string) string {
	for strings.Contains(s, "  ") {
		s = strings.ReplaceAll(s, "  ", " ")
	}
	return s
}

// Foreign keys between adopted tables are references in the schema and in
// the TypeScript that `ankurah gen ts --database-url` writes (checked
// against clients/ts/test/generated-adopted.ts, which the TypeScript
// tests type-check).
func TestGenTSFromTheDatabase(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	pool := pgtest.Pool(t, db)
	mustExec(t, pool, `create table customers (id serial primary key, name text, "e-mail" text)`)
	mustExec(t, pool, `create table orders (id serial primary key, customer_id int references customers(id), total numeric(10,2), placed timestamp)`)
	// orders first: its reference appears once customers is adopted too.
	if status, _, stderr := invoke("adopt", "--database-url", db, "orders", "customers"); status != exitOK {
		t.Fatalf("adopt: %s", stderr)
	}
	status, out, stderr := invoke("gen", "ts", "--database-url", db, "--import", "../src/index.js")
	if status != exitOK {
		t.Fatalf("gen ts: %d %s", status, stderr)
	}
	for _, want := range []string{
		"/** A reference to a Customers: the key of the row it refers to (collection 'customers'). */\n  customer_id: number | null;",
		"customer_id: { type: 'integer', nullable: true, refers: 'customers' },",
		"'e-mail': string | null;",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("gen ts does not write %q:\n%s", want, out)
		}
	}
	if status, _, stderr := invoke("gen", "ts", "--database-url", db, "--import", "../src/index.js", "--check", "--out", "../../clients/ts/test/generated-adopted.ts"); status != exitOK {
		t.Fatalf("clients/ts/test/generated-adopted.ts is not what gen ts writes: %s", stderr)
	}
}
