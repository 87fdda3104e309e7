package replication_test

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/replication"
	"github.com/ankurah/ankurah-go/value"
)

func mustJSON(t testing.TB, s string) value.Value {
	v, err := value.JSONOf([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sameFields(got, want map[string]value.Value) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d fields %v, want %d %v", len(got), got, len(want), want)
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			return fmt.Errorf("field %s missing", k)
		}
		if !value.Equal(g, w) {
			return fmt.Errorf("field %s = %v (%s), want %v (%s)", k, g, g.Type(), w, w.Type())
		}
	}
	return nil
}

// Every field type survives SQL → WAL → pgoutput text → value.Value exactly,
// NULLs included; and insert, update and delete carry the right heads,
// versions, old rows and events.
func TestTypesRoundTrip(t *testing.T) {
	t.Parallel()
	url, pool := newDB(t)
	exec(t, pool, `select ankurah.create_collection('thing', '{"t":"text","i":"bigint","f":"double precision","b":"boolean","bin":"bytea","ts":"timestamptz","j":"jsonb","r":"ref"}')`)
	rec := newRecorder()
	start(t, testConfig(t, url, nil), rec.handle)

	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	ref := event.NewID().String()
	kolkata := time.FixedZone("", 5*3600+1800)
	type row struct {
		args []any // t, i, f, b, bin, ts, j (text), r
		want map[string]value.Value
	}
	rows := []row{
		{[]any{`héllo "quoted" {braces}, comma \ back`, int64(math.MaxInt64), 0.1, true, all,
			time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC), `{"a": [1, 2.5, "x"], "nested": {"k": null}, "u": "日本"}`, ref},
			map[string]value.Value{"t": value.TextOf(`héllo "quoted" {braces}, comma \ back`), "i": value.IntOf(math.MaxInt64),
				"f": value.FloatOf(0.1), "b": value.BoolOf(true), "bin": value.BytesOf(all),
				"ts": value.TimeOf(time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)),
				"j":  mustJSON(t, `{"a":[1,2.5,"x"],"nested":{"k":null},"u":"日本"}`), "r": value.TextOf(ref)}},
		{[]any{nil, nil, nil, nil, nil, nil, nil, nil},
			map[string]value.Value{"t": value.NullValue, "i": value.NullValue, "f": value.NullValue, "b": value.NullValue,
				"bin": value.NullValue, "ts": value.NullValue, "j": value.NullValue, "r": value.NullValue}},
		{[]any{"", int64(math.MinInt64), math.NaN(), false, []byte{}, time.Date(1969, 7, 21, 2, 56, 15, 1000, kolkata), `"scalar"`, ""},
			map[string]value.Value{"t": value.TextOf(""), "i": value.IntOf(math.MinInt64), "f": value.FloatOf(math.NaN()),
				"b": value.BoolOf(false), "bin": value.BytesOf(nil), "ts": value.TimeOf(time.Date(1969, 7, 20, 21, 26, 15, 1000, time.UTC)),
				"j": mustJSON(t, `"scalar"`), "r": value.TextOf("")}},
		{[]any{"NULL", int64(0), math.Inf(1), nil, []byte{0}, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), `[]`, nil},
			map[string]value.Value{"t": value.TextOf("NULL"), "i": value.IntOf(0), "f": value.FloatOf(math.Inf(1)), "b": value.NullValue,
				"bin": value.BytesOf([]byte{0}), "ts": value.TimeOf(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)),
				"j": mustJSON(t, `[]`), "r": value.NullValue}},
		{[]any{"x", int64(-1), math.Inf(-1), true, nil, time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), `12345678901234567890.5`, nil},
			map[string]value.Value{"t": value.TextOf("x"), "i": value.IntOf(-1), "f": value.FloatOf(math.Inf(-1)), "b": value.BoolOf(true),
				"bin": value.NullValue, "ts": value.TimeOf(time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)),
				"j": mustJSON(t, `12345678901234567890.5`), "r": value.NullValue}},
		{[]any{"y", int64(7), math.Copysign(0, -1), nil, nil, nil, `{}`, nil},
			map[string]value.Value{"t": value.TextOf("y"), "i": value.IntOf(7), "f": value.FloatOf(math.Copysign(0, -1)),
				"b": value.NullValue, "bin": value.NullValue, "ts": value.NullValue, "j": mustJSON(t, `{}`), "r": value.NullValue}},
		{[]any{"z", nil, 5e-324, nil, nil, nil, nil, nil},
			map[string]value.Value{"t": value.TextOf("z"), "i": value.NullValue, "f": value.FloatOf(5e-324), "b": value.NullValue,
				"bin": value.NullValue, "ts": value.NullValue, "j": value.NullValue, "r": value.NullValue}},
		{[]any{"w", nil, math.MaxFloat64, nil, nil, nil, nil, nil},
			map[string]value.Value{"t": value.TextOf("w"), "i": value.NullValue, "f": value.FloatOf(math.MaxFloat64), "b": value.NullValue,
				"bin": value.NullValue, "ts": value.NullValue, "j": value.NullValue, "r": value.NullValue}},
	}
	ids := make([]event.ID, len(rows))
	for i, r := range rows {
		ids[i] = event.NewID()
		exec(t, pool, `insert into thing (id, t, i, f, b, bin, ts, j, r) values ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)`,
			append([]any{ids[i].String()}, r.args...)...)
	}
	txs := rec.waitFor(t, "the inserts", hasAll(ids))
	for i, tx := range txs {
		if len(tx.Rows) != 1 || len(tx.Events) != 1 {
			t.Fatalf("tx %d: %d rows, %d events", i, len(tx.Rows), len(tx.Events))
		}
		rc, ev := tx.Rows[0], tx.Events[0]
		if rc.ID != ids[i] || rc.Op != replication.Insert || rc.Schema != "public" || rc.Table != "thing" || rc.Old != nil || rc.OldHead != nil {
			t.Fatalf("row %d: %+v", i, rc)
		}
		if err := sameFields(rc.New, rows[i].want); err != nil {
			t.Errorf("row %d: %v", i, err)
		}
		if !rc.Head.Equal(event.NewHead(ids[i])) {
			t.Errorf("row %d: head %v, want [%v] (a SQL insert's event id is the entity id)", i, rc.Head, ids[i])
		}
		for k, v := range rows[i].want {
			if got, ok := rc.Versions[k]; ok == v.IsNull() || ok && got != ids[i] {
				t.Errorf("row %d: versions %v: field %s (null %v)", i, rc.Versions, k, v.IsNull())
			}
		}
		if ev.ID != ids[i] || ev.Entity != ids[i] || ev.Collection != "thing" || len(ev.Parents) != 0 || ev.Tombstone ||
			ev.Origin != "sql" || ev.Author != "postgres" || ev.CreatedAt.IsZero() || !json.Valid(ev.Operations) {
			t.Errorf("event %d: %+v", i, ev)
		}
		if tx.XID == 0 || tx.CommitLSN == 0 || tx.EndLSN <= tx.CommitLSN || tx.CommitTime.IsZero() {
			t.Errorf("tx %d: %+v", i, tx)
		}
	}

	// Update one field: the whole new row, the whole old row, heads move.
	exec(t, pool, `update thing set i = 42 where id = $1`, ids[0].String())
	want := map[string]value.Value{}
	for k, v := range rows[0].want {
		want[k] = v
	}
	want["i"] = value.IntOf(42)
	txs = rec.waitFor(t, "the update", func(txs []*replication.Transaction) bool { return len(txs) > len(rows) })
	up := txs[len(rows)]
	if len(up.Rows) != 1 || len(up.Events) != 1 {
		t.Fatalf("update tx: %+v", up)
	}
	rc, ev := up.Rows[0], up.Events[0]
	if rc.Op != replication.Update || rc.ID != ids[0] || !rc.OldHead.Equal(event.NewHead(ids[0])) || !rc.Head.Equal(event.NewHead(ev.ID)) ||
		rc.Versions["i"] != ev.ID || rc.Versions["t"] != ids[0] {
		t.Fatalf("update row %+v, event %+v", rc, ev)
	}
	if err := sameFields(rc.New, want); err != nil {
		t.Errorf("update new: %v", err)
	}
	if err := sameFields(rc.Old, rows[0].want); err != nil {
		t.Errorf("update old: %v", err)
	}
	if !ev.Parents.Equal(event.NewHead(ids[0])) || string(ev.Operations) != `{"i": 42}` || ev.Entity != ids[0] {
		t.Errorf("update event %+v", ev)
	}

	// Delete: the old row, and a tombstone event.
	exec(t, pool, `delete from thing where id = $1`, ids[0].String())
	txs = rec.waitFor(t, "the delete", func(txs []*replication.Transaction) bool { return len(txs) > len(rows)+1 })
	del := txs[len(rows)+1]
	if len(del.Rows) != 1 || len(del.Events) != 1 {
		t.Fatalf("delete tx: %+v", del)
	}
	rc, tomb := del.Rows[0], del.Events[0]
	if rc.Op != replication.Delete || rc.ID != ids[0] || rc.New != nil || !rc.Head.Equal(event.NewHead(ev.ID)) || rc.Versions["i"] != ev.ID {
		t.Fatalf("delete row %+v", rc)
	}
	if err := sameFields(rc.Old, want); err != nil {
		t.Errorf("delete old: %v", err)
	}
	if !tomb.Tombstone || !tomb.Parents.Equal(event.NewHead(ev.ID)) || tomb.Entity != ids[0] {
		t.Errorf("tombstone %+v", tomb)
	}
}

// One Postgres transaction arrives as one Transaction holding all its rows
// (across collections) and events, in statement order; rolled back
// transactions never arrive.
func TestTransactionGrouping(t *testing.T) {
	t.Parallel()
	url, pool := newDB(t)
	exec(t, pool, `select ankurah.create_collection('album', '{"name":"text","year":"bigint"}')`)
	exec(t, pool, `select ankurah.create_collection('artist', '{"name":"text"}')`)
	exec(t, pool, `create table plain (x int)`)
	exec(t, pool, `alter publication ankurah add table plain`) // published, not a collection table Ankurah made: passed on as an adopted table's
	rec := newRecorder()
	start(t, testConfig(t, url, nil), rec.handle)

	ctx := context.Background()
	a, b, c, d := event.NewID(), event.NewID(), event.NewID(), event.NewID()
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`insert into album (id, name, year) values ($1, 'A', 1999)`, []any{a.String()}},
			{`insert into plain values (1)`, nil},
			{`insert into artist (id, name) values ($1, 'X')`, []any{b.String()}},
			{`insert into album (id, name) values ($1, 'C')`, []any{c.String()}},
			{`update album set year = 2000 where id = $1`, []any{a.String()}},
		} {
			if _, err := tx.Exec(ctx, q.sql, q.args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rolledBack := event.NewID()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `insert into album (id, name) values ($1, 'never')`, rolledBack.String()); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	exec(t, pool, `insert into album (id, name) values ($1, 'D')`, d.String())

	txs := rec.waitFor(t, "both transactions", hasAll([]event.ID{a, d}))
	if len(txs) != 2 {
		t.Fatalf("%d transactions, want 2", len(txs))
	}
	got := txs[0]
	var order []string
	for _, r := range got.Rows {
		order = append(order, fmt.Sprintf("%s %s %s", r.Op, r.Table, r.ID))
	}
	wantOrder := []string{"insert album " + a.String(), "insert plain " + event.ID{}.String(), "insert artist " + b.String(), "insert album " + c.String(), "update album " + a.String()}
	if strings.Join(order, "; ") != strings.Join(wantOrder, "; ") {
		t.Fatalf("rows:\n%s\nwant\n%s", strings.Join(order, "\n"), strings.Join(wantOrder, "\n"))
	}
	if len(got.Events) != 4 || got.Events[0].ID != a || got.Events[1].ID != b || got.Events[2].ID != c || got.Events[3].Entity != a {
		t.Fatalf("events %+v", got.Events)
	}
	if entities(txs)[rolledBack] != 0 {
		t.Fatal("a rolled back insert arrived")
	}
}

// Transactions from concurrent writers arrive in commit order, each once.
func TestCommitOrder(t *testing.T) {
	t.Parallel()
	url, pool := newDB(t)
	exec(t, pool, `select ankurah.create_collection('item', '{"writer":"bigint","seq":"bigint"}')`)
	rec := newRecorder()
	start(t, testConfig(t, url, nil), rec.handle)

	const writers, perWriter = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				_, err := pool.Exec(context.Background(), `insert into item (writer, seq) values ($1, $2), ($1, $2)`, w, i)
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	txs := rec.waitFor(t, "all transactions", func(txs []*replication.Transaction) bool { return len(txs) >= writers*perWriter })
	if len(txs) != writers*perWriter {
		t.Fatalf("%d transactions, want %d", len(txs), writers*perWriter)
	}
	next := make([]int64, writers)
	for i, tx := range txs {
		if i > 0 && tx.CommitLSN <= txs[i-1].CommitLSN {
			t.Fatalf("tx %d commits at %s, after %s", i, tx.CommitLSN, txs[i-1].CommitLSN)
		}
		if len(tx.Rows) != 2 || len(tx.Events) != 2 {
			t.Fatalf("tx %d has %d rows and %d events, want 2 each", i, len(tx.Rows), len(tx.Events))
		}
		w, seq := tx.Rows[0].New["writer"].Int(), tx.Rows[0].New["seq"].Int()
		if seq != next[w] {
			t.Fatalf("writer %d: seq %d arrived when %d was due", w, seq, next[w])
		}
		next[w]++
	}
}

// A consumer stopped and started again on the same slot loses nothing that
// committed while it was down. Redelivery of what it had handled is allowed
// (at least once).
func TestResumeAfterRestart(t *testing.T) {
	t.Parallel()
	url, pool := newDB(t)
	exec(t, pool, `select ankurah.create_collection('note', '{"body":"text"}')`)
	cfg := testConfig(t, url, nil)
	cfg.KeepSlot = true // resumed below

	insert := func(n int) []event.ID {
		ids := make([]event.ID, n)
		for i := range ids {
			ids[i] = event.NewID()
			exec(t, pool, `insert into note (id, body) values ($1, 'x')`, ids[i].String())
		}
		return ids
	}
	first := newRecorder()
	c1 := start(t, cfg, first.handle)
	before := insert(10)
	first.waitFor(t, "the first batch", hasAll(before))
	if err := c1.stop(); err != nil {
		t.Fatal(err)
	}
	during := insert(10)

	second := newRecorder()
	c2 := start(t, cfg, second.handle)
	after := insert(5)
	txs := second.waitFor(t, "everything committed while down, and after", hasAll(append(during, after...)))
	for i := 1; i < len(txs); i++ {
		if txs[i].CommitLSN <= txs[i-1].CommitLSN {
			t.Fatalf("out of order after restart: %s then %s", txs[i-1].CommitLSN, txs[i].CommitLSN)
		}
	}
	redelivered := 0
	for _, id := range before {
		redelivered += entities(txs)[id]
	}
	t.Logf("redelivered after restart: %d of %d", redelivered, len(before))
	if err := c2.stop(); err != nil {
		t.Fatal(err)
	}
	if got := confirmedFlush(t, pool, c2.Config().SlotName); got < txs[len(txs)-1].EndLSN {
		t.Fatalf("confirmed_flush_lsn %s after a clean stop, want at least %s", got, txs[len(txs)-1].EndLSN)
	}
}

// The connection dropping mid-stream (the walsender killed) is survived: the
// consumer reconnects from its acknowledged position, and since that is
// local knowledge the same consumer delivers every transaction exactly once.
func TestReconnectAfterConnectionLoss(t *testing.T) {
	t.Parallel()
	url, pool := newDB(t)
	exec(t, pool, `select ankurah.create_collection('note', '{"body":"text"}')`)
	logs := &syncBuffer{}
	rec := newRecorder()
	c := start(t, testConfig(t, url, logs), rec.handle)

	var ids []event.ID
	for round := range 3 {
		for range 5 {
			id := event.NewID()
			ids = append(ids, id)
			exec(t, pool, `insert into note (id, body) values ($1, 'x')`, id.String())
		}
		rec.waitFor(t, fmt.Sprintf("round %d", round), hasAll(ids))
		var killed bool
		if err := pool.QueryRow(context.Background(), `select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = $1`,
			c.Config().SlotName).Scan(&killed); err != nil || !killed {
			t.Fatalf("terminating the walsender: %v %v", killed, err)
		}
	}
	last := event.NewID()
	exec(t, pool, `insert into note (id, body) values ($1, 'x')`, last.String())
	txs := rec.waitFor(t, "the write after the last reconnect", hasAll([]event.ID{last}))
	for id, n := range entities(txs) {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	if n := strings.Count(logs.String(), "reconnecting"); n < 3 {
		t.Errorf("%d reconnects logged, want at least 3", n)
	}
}

// A large value that an UPDATE leaves alone is stored out of line (TOAST).
// Whatever path the update takes, the decoded new row carries the value:
//   - a plain SQL UPDATE goes through the on_write trigger, whose rebuilt NEW
//     row makes Postgres store and send the value again in full;
//   - an API write (ankurah.writer = 'api:doc', trigger skipped) really leaves
//     it alone, pgoutput sends it as unchanged ('u'), and the consumer fills
//     it from the old row that REPLICA IDENTITY FULL provides.
func TestUnchangedToastedValue(t *testing.T) {
	t.Parallel()
	url, pool := newDB(t)
	exec(t, pool, `select ankurah.create_collection('doc', '{"title":"text","body":"text"}')`)
	logs := &syncBuffer{}
	rec := newRecorder()
	start(t, testConfig(t, url, logs), rec.handle)

	raw := make([]byte, 64000)
	_, _ = rand.Read(raw)
	body := base32.StdEncoding.EncodeToString(raw) // ~100 kB, incompressible enough to stay out of line
	id := event.NewID()
	exec(t, pool, `insert into doc (id, title, body) values ($1, 'v1', $2)`, id.String(), body)
	var toasted int64
	if err := pool.QueryRow(context.Background(), `select pg_relation_size(reltoastrelid) from pg_class where oid = 'doc'::regclass`).Scan(&toasted); err != nil || toasted == 0 {
		t.Fatalf("body not stored out of line (TOAST table size %d, %v): the test would prove nothing", toasted, err)
	}

	check := func(n int, title string) {
		t.Helper()
		txs := rec.waitFor(t, "update to "+title, func(txs []*replication.Transaction) bool { return len(txs) >= n })
		up := txs[n-1].Rows[0]
		if up.Op != replication.Update || up.New["title"].Text() != title {
			t.Fatalf("update: %v → %v", up.Old["title"], up.New["title"])
		}
		if got := up.New["body"]; got.Type() != value.Text || got.Text() != body {
			t.Fatalf("new body: %s of %d bytes, want the %d-byte original", got.Type(), len(got.Text()), len(body))
		}
		if up.Old["body"].Text() != body {
			t.Fatal("old body differs")
		}
	}
	exec(t, pool, `update doc set title = 'v2' where id = $1`, id.String())
	check(2, "v2")

	ctx := context.Background()
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `set local ankurah.writer = 'api:doc'`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `update doc set title = 'v3' where id = $1`, id.String())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	check(3, "v3")
	if !strings.Contains(logs.String(), "unchanged TOASTed column filled from the old row") || !strings.Contains(logs.String(), "column=body") {
		t.Fatalf("the body was not sent as unchanged TOAST ('u'), so this test proves nothing; logs:\n%s", logs.String())
	}
}

// An idle consumer keeps confirming the server's WAL position from
// keepalives, so WAL written elsewhere (another database, an unpublished
// table) is not pinned by the slot.
func TestIdleSlotAdvances(t *testing.T) {
	t.Parallel()
	url, pool := newDB(t)
	exec(t, pool, `select ankurah.create_collection('note', '{"body":"text"}')`)
	exec(t, pool, `create table unpublished (x int)`)
	rec := newRecorder()
	c := start(t, testConfig(t, url, nil), rec.handle)
	slot := c.Config().SlotName
	_, other := newDB(t)
	exec(t, other, `create table noise (x int)`)

	advance := func(what string, write func()) {
		write()
		var s string
		if err := pool.QueryRow(context.Background(), `select pg_current_wal_lsn()::text`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		target := mustLSN(t, s)
		pollUntil(t, fmt.Sprintf("confirmed_flush_lsn to reach %s after %s", target, what), func() bool {
			return confirmedFlush(t, pool, slot) >= target
		})
		if c.AckedLSN() < target {
			t.Fatalf("AckedLSN %s behind %s", c.AckedLSN(), target)
		}
	}
	advance("writes in another database", func() {
		exec(t, other, `insert into noise select generate_series(1, 1000)`)
	})
	advance("writes to an unpublished table", func() {
		exec(t, pool, `insert into unpublished select generate_series(1, 1000)`)
	})
	advance("a WAL segment switch", func() {
		exec(t, other, `insert into noise values (1)`)
		exec(t, pool, `select pg_switch_wal()`)
	})
	if n := len(rec.snapshot()); n != 0 {
		t.Fatalf("%d transactions delivered, want none", n)
	}
}
