package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/storage"
)

// Snapshot identifies the MVCC snapshot a read used (pg_current_snapshot) and
// the WAL insert position read just after it was taken.
//
// A live query combines a snapshot read with the logical replication stream
// (as ElectricSQL does): a replicated transaction whose xid is Visible in the
// snapshot is already in the initial result and is skipped; any other is
// applied. Every transaction the snapshot sees wrote its commit record before
// LSN, so one that commits at or after LSN is never Visible. One that
// committed before LSN may be either — its commit record can precede the
// snapshot while it still counts as in progress — so the stream must not
// start at LSN but at or before the consumer's position when the snapshot
// was taken, and it is the xid test that decides.
type Snapshot struct {
	Xmin, Xmax uint64   // full 64-bit xids (xid8)
	Xip        []uint64 // in progress when the snapshot was taken (those below Xmax), sorted
	LSN        uint64   // pg_current_wal_insert_lsn() read after the snapshot: every transaction the snapshot sees committed before this WAL position
}

// Visible reports whether a transaction with the given 32-bit xid (as
// pgoutput's BEGIN message gives it) is visible in the snapshot, i.e. its
// effects are included in what the snapshot read. Visible iff xid < Xmin, or
// xid < Xmax and xid is not in Xip.
//
// The xid is widened to 64 bits as the full xid nearest Xmax: within 2³¹
// below or above it (Postgres keeps every xid that can still appear within
// 2³¹ of the next one, or it stops assigning xids). So an xid whose low bits
// exceed Xmax's comes from the previous epoch only when it is more than 2³¹
// ahead; a slightly larger one was assigned after the snapshot (in the same
// epoch) and is not visible. Widening into Xmax's epoch and stepping back an
// epoch whenever the result exceeds Xmax — Postgres's rule for the xids *in*
// a snapshot, which all precede Xmax — would call such a later transaction
// visible once the epoch is past 0, and the tail would drop it.
func (s Snapshot) Visible(xid uint32) bool {
	d := int64(int32(xid - uint32(s.Xmax))) // signed distance from Xmax, mod 2³²
	if d < 0 && uint64(-d) > s.Xmax {
		// Before xid 0 of epoch 0: not a real xid. Say not visible: applying
		// a change twice is recoverable, skipping it is not.
		return false
	}
	full := uint64(int64(s.Xmax) + d)
	switch {
	case full < s.Xmin:
		return true
	case full >= s.Xmax:
		return false
	}
	_, inProgress := slices.BinarySearch(s.Xip, full)
	return !inProgress
}

// FetchSnapshot runs the query like Fetch, inside one REPEATABLE READ READ
// ONLY transaction whose first statement reads pg_current_snapshot() and
// then pg_current_wal_insert_lsn(), and returns the rows together with that
// snapshot: the rows are exactly what the snapshot sees.
//
// A collection that does not exist yet reads as empty, with the snapshot:
// when the catalog has no such collection in the snapshot, every transaction
// that creates it or writes its first rows commits later and is not
// Visible, so a live query started now receives them all from the stream.
//
// The catalog entry is loaded before the transaction starts: loading it
// takes a pool connection of its own, and a transaction waiting for one
// while holding another would deadlock a small pool under concurrent
// subscriptions.
func (s *Store) FetchSnapshot(ctx context.Context, collection string, q *query.Query) (out []*entity.State, snap Snapshot, err error) {
	if err := event.ValidCollectionName(collection); err != nil {
		return nil, Snapshot{}, storage.Errorf(storage.CodeBadName, "%v", err)
	}
	err = s.retrySchema(ctx, []string{collection}, func() (err error) {
		out, snap, err = s.fetchSnapshot(ctx, collection, q)
		return err
	})
	return out, snap, err
}

func (s *Store) fetchSnapshot(ctx context.Context, collection string, q *query.Query) ([]*entity.State, Snapshot, error) {
	for attempt := 0; ; attempt++ {
		_, err := s.table(ctx, collection)
		missing := errors.Is(err, storage.ErrNoCollection)
		if err != nil && !missing {
			return nil, Snapshot{}, err
		}
		var out []*entity.State
		appeared := false
		snap, err := s.inSnapshot(ctx, func(tx pgx.Tx) (err error) {
			if missing {
				// Missing a moment ago: still missing in this snapshot
				// means empty; created in between, read it again.
				return tx.QueryRow(ctx, "select exists (select from ankurah.collections where name = $1)", collection).Scan(&appeared)
			}
			out, err = s.fetch(ctx, tx, collection, selectSQL(q))
			return err
		})
		if err != nil {
			return nil, Snapshot{}, err
		}
		if appeared && attempt < 3 {
			continue
		}
		if appeared {
			return nil, Snapshot{}, storage.Errorf(storage.CodeConflict, "collection %q was being created while the live query started; retry", collection)
		}
		return out, snap, nil
	}
}

// GetSnapshot is Get (states by id, in the order of ids, missing ones left
// out) in the same kind of snapshot transaction as FetchSnapshot.
func (s *Store) GetSnapshot(ctx context.Context, collection string, ids []event.ID) ([]*entity.State, Snapshot, error) {
	var out []*entity.State
	var snap Snapshot
	err := s.retrySchema(ctx, []string{collection}, func() (err error) {
		snap, err = s.inSnapshot(ctx, func(tx pgx.Tx) (err error) {
			out, err = s.get(ctx, tx, collection, ids)
			return err
		})
		return err
	})
	if err != nil {
		return nil, Snapshot{}, err
	}
	return out, snap, nil
}

// snapshotSQL is the first statement of a snapshot transaction. In
// REPEATABLE READ the transaction's snapshot is taken by its first statement
// and pg_current_snapshot() returns it; the select list is evaluated left to
// right, so the WAL position is read after the snapshot was taken, and
// every transaction the snapshot sees committed wrote its commit record
// before it.
const snapshotSQL = "select pg_current_snapshot()::text, pg_current_wal_insert_lsn()::text"

// inSnapshot runs fn in a REPEATABLE READ READ ONLY transaction and returns
// the snapshot fn's reads saw.
func (s *Store) inSnapshot(ctx context.Context, fn func(pgx.Tx) error) (Snapshot, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return Snapshot{}, pgError(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck
	var snapText, lsnText string
	if err := tx.QueryRow(ctx, snapshotSQL).Scan(&snapText, &lsnText); err != nil {
		return Snapshot{}, pgError(err)
	}
	snap, err := parseSnapshot(snapText)
	if err != nil {
		return Snapshot{}, storage.Errorf(storage.CodeInternal, "pg_current_snapshot() = %q: %v", snapText, err)
	}
	if snap.LSN, err = parseLSN(lsnText); err != nil {
		return Snapshot{}, storage.Errorf(storage.CodeInternal, "pg_current_wal_insert_lsn() = %q: %v", lsnText, err)
	}
	if err := fn(tx); err != nil {
		return Snapshot{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Snapshot{}, pgError(err)
	}
	return snap, nil
}

// parseSnapshot reads pg_snapshot's text form, xmin:xmax:xip1,xip2,….
func parseSnapshot(s string) (Snapshot, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return Snapshot{}, fmt.Errorf("want xmin:xmax:xip,…")
	}
	var snap Snapshot
	var err error
	if snap.Xmin, err = strconv.ParseUint(parts[0], 10, 64); err != nil {
		return Snapshot{}, err
	}
	if snap.Xmax, err = strconv.ParseUint(parts[1], 10, 64); err != nil {
		return Snapshot{}, err
	}
	if parts[2] != "" {
		for _, x := range strings.Split(parts[2], ",") {
			n, err := strconv.ParseUint(x, 10, 64)
			if err != nil {
				return Snapshot{}, err
			}
			snap.Xip = append(snap.Xip, n)
		}
	}
	slices.Sort(snap.Xip)
	if snap.Xmin > snap.Xmax {
		return Snapshot{}, fmt.Errorf("xmin > xmax")
	}
	return snap, nil
}

// parseLSN reads pg_lsn's text form, two hexadecimal halves: 16/B374D848.
func parseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("want X/Y")
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, err
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, err
	}
	return h<<32 | l, nil
}
