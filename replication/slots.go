package replication

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Slots are what logical replication costs Postgres: each one keeps every
// WAL segment from its restart position on, whether or not anyone streams
// from it. Ankurah's slots are the logical slots of the database that are
// named ankurah_… or that a consumer registered in table ankurah.slots
// (created on first use). The table also records when each slot was first
// seen inactive — PostgreSQL 15 keeps no such time — so that a slot left
// behind by a server that went away (killed, crashed, or stopped with
// KeepSlot) can be dropped after a while by whichever server notices
// (SweepSlots, run by every consumer).

// Querier is what the slot functions need of a connection: *pgx.Conn and
// *pgxpool.Pool are both one.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// SlotInfo describes one of Ankurah's replication slots.
type SlotInfo struct {
	Name      string
	Active    bool
	ActivePID int    // the walsender streaming from it (0 when inactive)
	Client    string // that walsender's client address and application name, when known
	// RetainedBytes is the WAL the slot keeps (from its restart position
	// to the server's current one); LagBytes how far its confirmed position
	// trails the current one.
	RetainedBytes, LagBytes int64
	// WALStatus is Postgres's: reserved, extended, unreserved, or lost
	// (invalidated: it can no longer stream). SafeWALBytes is how much more
	// WAL may be written before it is lost (-1: no limit,
	// max_slot_wal_keep_size = -1).
	WALStatus    string
	SafeWALBytes int64
	Confirmed    LSN
	// CreatedBy is the host and process that registered the slot ("" when
	// unknown); InactiveFor how long it has been seen inactive (0 while
	// active, or not yet noticed by a sweep).
	CreatedBy   string
	InactiveFor time.Duration
}

// Lost reports whether Postgres invalidated the slot.
func (s SlotInfo) Lost() bool { return s.WALStatus == "lost" }

// slotTableSQL creates ankurah.slots when it is missing, serialised so
// that consumers starting together do not race. It runs on replication
// connections too (simple protocol, no parameters).
const slotTableSQL = `if to_regclass('ankurah.slots') is null then
    perform pg_advisory_xact_lock(hashtext('ankurah.slots'));
    create table if not exists ankurah.slots (
      slot_name text primary key,
      created_at timestamptz not null default now(),
      created_by text not null default '',
      inactive_since timestamptz
    );
  end if;`

func ensureSlotTable(ctx context.Context, q Querier) error {
	if _, err := q.Exec(ctx, "do $$ begin "+slotTableSQL+" end $$"); err != nil {
		return fmt.Errorf("replication: creating ankurah.slots: %w", err)
	}
	return nil
}

// registerSlot records the slot as Ankurah's, on the replication connection.
func registerSlot(ctx context.Context, conn *pgconn.PgConn, name string) error {
	host, _ := os.Hostname()
	by := strings.NewReplacer("'", "", `\`, "").Replace(fmt.Sprintf("%s pid %d", host, os.Getpid()))
	_, err := conn.Exec(ctx, fmt.Sprintf(`do $$ begin %s
  insert into ankurah.slots (slot_name, created_by) values ('%s', '%s')
    on conflict (slot_name) do update set created_by = excluded.created_by, inactive_since = null;
end $$`, slotTableSQL, name, by)).ReadAll()
	return err
}

// listSQL lists Ankurah's slots of the current database; %s is the join
// with ankurah.slots (or its absence).
const listSQL = `select s.slot_name, s.active, coalesce(s.active_pid, 0),
	coalesce(nullif(concat_ws(' ', r.client_addr::text, nullif(r.application_name, '')), ''), ''),
	coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn), 0)::bigint,
	coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn), 0)::bigint,
	coalesce(s.wal_status, ''), coalesce(s.safe_wal_size, -1)::bigint, coalesce(s.confirmed_flush_lsn::text, '0/0'),
	%s
from pg_replication_slots s
left join pg_stat_replication r on r.pid = s.active_pid
%s
where s.database = current_database() and s.slot_type = 'logical' and (s.slot_name like 'ankurah\_%%' %s)
order by s.slot_name`

// ListSlots returns Ankurah's replication slots in the database q is
// connected to, by name.
func ListSlots(ctx context.Context, q Querier) ([]SlotInfo, error) {
	// Looked up in the catalog rather than with to_regclass, which a role
	// without rights on schema ankurah cannot use.
	var hasTable bool
	if err := q.QueryRow(ctx, `select exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
		where n.nspname = 'ankurah' and c.relname = 'slots')`).Scan(&hasTable); err != nil {
		return nil, fmt.Errorf("replication: listing slots: %w", err)
	}
	plain := fmt.Sprintf(listSQL, `'', 0::float8`, "", "")
	sql := plain
	if hasTable {
		sql = fmt.Sprintf(listSQL, `coalesce(a.created_by, ''), coalesce(extract(epoch from now() - a.inactive_since), 0)::float8`,
			"left join ankurah.slots a on a.slot_name = s.slot_name", "or a.slot_name is not null")
	}
	rows, err := q.Query(ctx, sql)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" && sql != plain {
		rows, err = q.Query(ctx, plain) // no right to read ankurah.slots: what pg_catalog says
	}
	if err != nil {
		return nil, fmt.Errorf("replication: listing slots: %w", err)
	}
	var out []SlotInfo
	var confirmed string
	var inactive float64
	var si SlotInfo
	_, err = pgx.ForEachRow(rows, []any{&si.Name, &si.Active, &si.ActivePID, &si.Client, &si.RetainedBytes, &si.LagBytes,
		&si.WALStatus, &si.SafeWALBytes, &confirmed, &si.CreatedBy, &inactive}, func() error {
		si.Confirmed, _ = ParseLSN(confirmed)
		si.InactiveFor = time.Duration(inactive * float64(time.Second))
		if si.Active {
			si.InactiveFor = 0
		}
		out = append(out, si)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("replication: listing slots: %w", err)
	}
	return out, nil
}

// MaxSlotWALKeepSize returns the server's max_slot_wal_keep_size in bytes:
// how far a slot may fall behind before Postgres invalidates it, -1 for no
// limit (the default, under which a slot nobody streams from keeps WAL
// until it is dropped).
func MaxSlotWALKeepSize(ctx context.Context, q Querier) (int64, error) {
	var v int64
	err := q.QueryRow(ctx, `select case when setting::bigint < 0 then -1 else setting::bigint * 1024 * 1024 end
		from pg_settings where name = 'max_slot_wal_keep_size'`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("replication: reading max_slot_wal_keep_size: %w", err)
	}
	return v, nil
}

// ErrNotOurSlot is returned by DropSlot for a slot that is not one of
// Ankurah's in the database.
var ErrNotOurSlot = errors.New("replication: not one of Ankurah's slots in this database")

// DropSlot drops one of Ankurah's slots. A slot that another process streams
// from is refused (*SlotInUseError) unless force, which first terminates
// that walsender (the server behind it then finds its slot gone, creates a
// new one and resynchronises its clients) and waits, until ctx ends, for
// the slot to be released.
func DropSlot(ctx context.Context, q Querier, name string, force bool) error {
	for {
		slots, err := ListSlots(ctx, q)
		if err != nil {
			return err
		}
		var s *SlotInfo
		for i := range slots {
			if slots[i].Name == name {
				s = &slots[i]
			}
		}
		if s == nil {
			return fmt.Errorf("%w: %q", ErrNotOurSlot, name)
		}
		if s.Active {
			if !force {
				return &SlotInUseError{Slot: name, PID: s.ActivePID}
			}
			if _, err := q.Exec(ctx, "select pg_terminate_backend($1)", s.ActivePID); err != nil {
				return fmt.Errorf("replication: terminating the walsender of slot %s: %w", name, err)
			}
		} else {
			_, err := q.Exec(ctx, "select pg_drop_replication_slot($1)", name)
			if err == nil {
				forgetSlot(ctx, q, name)
				return nil
			}
			if _, busy := slotBusy(err); !busy || !force {
				if pid, busy := slotBusy(err); busy {
					return &SlotInUseError{Slot: name, PID: pid}
				}
				return fmt.Errorf("replication: dropping slot %s: %w", name, err)
			}
		}
		// Polling the catalog until the walsender is gone, bounded by ctx.
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return &SlotInUseError{Slot: name, PID: s.ActivePID}
		case <-t.C:
		}
	}
}

func forgetSlot(ctx context.Context, q Querier, name string) {
	_, _ = q.Exec(ctx, "delete from ankurah.slots where slot_name = $1", name) // no table: nothing to forget
}

// CheckSlotFree returns nil when the slot does not exist or no process
// streams from it, waiting up to wait for a holder to let go (a server that
// was just stopped or killed); otherwise a *SlotInUseError.
func CheckSlotFree(ctx context.Context, q Querier, name string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		var pid int
		err := q.QueryRow(ctx, "select coalesce(active_pid, 0) from pg_replication_slots where slot_name = $1 and active", name).Scan(&pid)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("replication: reading slot %s: %w", name, err)
		}
		if time.Now().After(deadline) {
			return &SlotInUseError{Slot: name, PID: pid}
		}
		t := time.NewTimer(50 * time.Millisecond) // polling the catalog, bounded by the deadline
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// SweepPolicy says which inactive slots SweepSlots drops: those inactive
// for longer than MaxInactive, and those retaining more than MaxRetained
// bytes of WAL. A value of 0 or less disables that rule.
type SweepPolicy struct {
	MaxInactive time.Duration
	MaxRetained int64
	// Keep is a slot never dropped (the sweeping consumer's own).
	Keep string
}

// SweepSlots notes which of Ankurah's slots in the database are inactive
// (from when: the first sweep that saw them so) and drops those the policy
// says to. It returns the slots it dropped. A slot that becomes active
// while being dropped is left alone (Postgres refuses to drop it).
func SweepSlots(ctx context.Context, q Querier, p SweepPolicy) ([]SlotInfo, error) {
	if err := ensureSlotTable(ctx, q); err != nil {
		return nil, err
	}
	if _, err := q.Exec(ctx, `with seen as (
	insert into ankurah.slots (slot_name, inactive_since)
	select s.slot_name, case when s.active then null else now() end from pg_replication_slots s
	where s.database = current_database() and s.slot_type = 'logical' and s.slot_name like 'ankurah\_%'
	on conflict (slot_name) do nothing)
update ankurah.slots a set inactive_since = case when s.active then null else coalesce(a.inactive_since, now()) end
from pg_replication_slots s where s.slot_name = a.slot_name and s.database = current_database()`); err != nil {
		return nil, fmt.Errorf("replication: noting inactive slots: %w", err)
	}
	if _, err := q.Exec(ctx, `delete from ankurah.slots a where not exists (select 1 from pg_replication_slots s where s.slot_name = a.slot_name)`); err != nil {
		return nil, fmt.Errorf("replication: forgetting dropped slots: %w", err)
	}
	slots, err := ListSlots(ctx, q)
	if err != nil {
		return nil, err
	}
	var dropped []SlotInfo
	for _, s := range slots {
		if s.Active || s.Name == p.Keep {
			continue
		}
		old := p.MaxInactive > 0 && s.InactiveFor > p.MaxInactive
		big := p.MaxRetained > 0 && s.RetainedBytes > p.MaxRetained
		if !old && !big {
			continue
		}
		if _, err := q.Exec(ctx, "select pg_drop_replication_slot($1)", s.Name); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && (pgErr.Code == "55006" || pgErr.Code == "42704") {
				continue // taken up again, or dropped by someone else
			}
			return dropped, fmt.Errorf("replication: dropping slot %s: %w", s.Name, err)
		}
		forgetSlot(ctx, q, s.Name)
		dropped = append(dropped, s)
	}
	return dropped, nil
}
