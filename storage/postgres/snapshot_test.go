package postgres_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/storage/postgres"
)

func TestSnapshotVisible(t *testing.T) {
	t.Parallel()
	const epoch = uint64(1) << 32
	snaps := map[string]postgres.Snapshot{
		"epoch 0":  {Xmin: 100, Xmax: 110, Xip: []uint64{103, 107}},
		"epoch 1":  {Xmin: epoch + 100, Xmax: epoch + 110, Xip: []uint64{epoch + 105}},
		"straddle": {Xmin: epoch - 10, Xmax: epoch + 5, Xip: []uint64{epoch - 3, epoch + 2}}, // xmin in epoch 0, xmax in epoch 1
		"empty":    {Xmin: 7 * epoch, Xmax: 7 * epoch},
	}
	cases := []struct {
		snap string
		xid  uint32
		want bool
	}{
		{"epoch 0", 50, true},   // before xmin
		{"epoch 0", 100, true},  // xmin itself, not in progress: committed
		{"epoch 0", 103, false}, // in progress
		{"epoch 0", 105, true},  // committed between xmin and xmax
		{"epoch 0", 107, false},
		{"epoch 0", 109, true},
		{"epoch 0", 110, false}, // xmax: not yet assigned when the snapshot was taken
		{"epoch 0", 111, false}, // assigned after the snapshot
		{"epoch 0", 1 << 31, false},
		{"epoch 0", 1<<32 - 1, false}, // would be before xid 0: no such transaction
		{"epoch 1", 99, true},
		{"epoch 1", 105, false},
		{"epoch 1", 106, true},
		{"epoch 1", 110, false},
		// Assigned after the snapshot, in the same epoch: not visible. (Widening
		// into xmax's epoch and stepping back when above xmax would make it
		// epoch 0's xid 111, below xmin, "visible".)
		{"epoch 1", 111, false},
		{"epoch 1", 1 << 20, false},
		{"epoch 1", 1<<32 - 5, true}, // epoch 0's, long committed
		{"epoch 1", 1<<31 + 200, true},
		{"straddle", 1<<32 - 20, true}, // epoch 0, before xmin
		{"straddle", 1<<32 - 10, true}, // xmin
		{"straddle", 1<<32 - 3, false}, // in progress, epoch 0
		{"straddle", 1<<32 - 1, true},
		{"straddle", 0, true}, // epoch 1's first ids
		{"straddle", 1, true},
		{"straddle", 2, false}, // in progress, epoch 1
		{"straddle", 4, true},
		{"straddle", 5, false},
		{"straddle", 6, false},
		{"empty", 1<<32 - 1, true},
		{"empty", 0, false},
		{"empty", 3, false},
	}
	for _, c := range cases {
		if got := snaps[c.snap].Visible(c.xid); got != c.want {
			t.Errorf("%s %+v: Visible(%d) = %v, want %v", c.snap, snaps[c.snap], c.xid, got, c.want)
		}
	}
}

// TestFetchSnapshot: a transaction in progress when the snapshot is taken
// is neither in its rows nor Visible; one committed before is both; one
// begun after it is not Visible.
func TestFetchSnapshot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	store := postgres.New(pgtest.Pool(t, url), postgres.Options{})
	connect := func() *pgx.Conn {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	sqlc, other := connect(), connect()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := sqlc.Exec(ctx, `select ankurah.create_collection('album', '{"name":"text","year":"bigint"}')`)
	must(err)

	// In progress during the snapshot.
	pending, err := other.Begin(ctx)
	must(err)
	defer pending.Rollback(ctx) //nolint:errcheck
	var pendingID string
	var pendingXid uint64
	must(pending.QueryRow(ctx, `insert into album (name) values ('pending') returning id, pg_current_xact_id()::text::bigint`).Scan(&pendingID, &pendingXid))
	// Begun after it and committed before the snapshot, so that the
	// snapshot's xmax is past the pending xid and lists it in xip.
	var beforeID string
	var beforeXid uint64
	must(sqlc.QueryRow(ctx, `insert into album (name) values ('before') returning id, pg_current_xact_id()::text::bigint`).Scan(&beforeID, &beforeXid))

	var lsnText string
	must(sqlc.QueryRow(ctx, `select pg_current_wal_insert_lsn()::text`).Scan(&lsnText))
	lsnBefore := parseLSN(t, lsnText)

	q := query.MustParse("ORDER BY name")
	rows, snap, err := store.FetchSnapshot(ctx, "album", q)
	must(err)
	if got := names(rows); !slices.Equal(got, []string{"before"}) {
		t.Errorf("FetchSnapshot rows = %v, want [before]", got)
	}
	if !snap.Visible(uint32(beforeXid)) {
		t.Errorf("snapshot %+v: committed xid %d not visible", snap, beforeXid)
	}
	if snap.Visible(uint32(pendingXid)) || !slices.Contains(snap.Xip, pendingXid) {
		t.Errorf("snapshot %+v: in-progress xid %d visible or not in xip", snap, pendingXid)
	}
	if snap.LSN == 0 || snap.LSN < lsnBefore {
		t.Errorf("snapshot LSN %X, want ≥ %X read before", snap.LSN, lsnBefore)
	}
	got, gsnap, err := store.GetSnapshot(ctx, "album", []event.ID{event.MustParseID(pendingID), event.MustParseID(beforeID)})
	must(err)
	if len(got) != 1 || got[0].ID.String() != beforeID || gsnap.Visible(uint32(pendingXid)) || !gsnap.Visible(uint32(beforeXid)) {
		t.Errorf("GetSnapshot = %v, %+v", got, gsnap)
	}

	// Begun after the snapshot: not visible in it.
	var afterXid uint64
	must(sqlc.QueryRow(ctx, `insert into album (name) values ('after') returning pg_current_xact_id()::text::bigint`).Scan(&afterXid))
	if snap.Visible(uint32(afterXid)) {
		t.Errorf("snapshot %+v: later xid %d visible", snap, afterXid)
	}

	must(pending.Commit(ctx))
	rows, snap2, err := store.FetchSnapshot(ctx, "album", q)
	must(err)
	if got := names(rows); !slices.Equal(got, []string{"after", "before", "pending"}) {
		t.Errorf("FetchSnapshot after commit: rows = %v", got)
	}
	for _, x := range []uint64{beforeXid, pendingXid, afterXid} {
		if !snap2.Visible(uint32(x)) {
			t.Errorf("snapshot %+v: committed xid %d not visible", snap2, x)
		}
	}
	if snap2.LSN <= snap.LSN {
		t.Errorf("LSN did not advance: %X then %X", snap.LSN, snap2.LSN)
	}
}

// TestSnapshotReadsSeeNewFields: the stale-catalog check works inside a
// snapshot transaction: a field another process added is read.
func TestSnapshotReadsSeeNewFields(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	var id string
	if err := f.sql.QueryRow(ctx, `insert into album (name) values ('x') returning id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	q := query.MustParse("")
	if _, _, err := f.store.FetchSnapshot(ctx, "album", q); err != nil { // caches the catalog
		t.Fatal(err)
	}
	f.exec(t, `select ankurah.create_collection('album', '{"genre":"text"}')`)
	f.exec(t, `update album set genre = 'rock'`)
	rows, _, err := f.store.FetchSnapshot(ctx, "album", q)
	if err != nil || len(rows) != 1 || rows[0].Get("genre").Text() != "rock" {
		t.Fatalf("FetchSnapshot = %v, %v; want genre rock", rows, err)
	}
	f.exec(t, `select ankurah.create_collection('album', '{"label":"text"}')`)
	f.exec(t, `update album set label = 'L'`)
	got, _, err := f.store.GetSnapshot(ctx, "album", []event.ID{event.MustParseID(id)})
	if err != nil || len(got) != 1 || got[0].Get("label").Text() != "L" {
		t.Fatalf("GetSnapshot = %v, %v; want label L", got, err)
	}
}

func names(sts []*entity.State) []string {
	out := []string{}
	for _, st := range sts {
		out = append(out, st.Get("name").Text())
	}
	return out
}

func parseLSN(t *testing.T, s string) uint64 {
	t.Helper()
	hi, lo, _ := strings.Cut(s, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		t.Fatalf("LSN %q", s)
	}
	return h<<32 | l
}
