package replication

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// replicationConnConfig is the connection the consumer streams on. Besides
// replication=database it pins the session settings that decide how pgoutput
// prints values (the walsender formats them with its own session's
// settings), so that decoding never depends on server or role defaults:
// ISO dates in UTC, ISO 8601 intervals, hex bytea, and floats printed
// exactly.
func replicationConnConfig(databaseURL string) (*pgconn.Config, error) {
	// Through pgxpool so that pool_* and pgx parameters in a shared URL are
	// stripped rather than sent to the server as settings.
	pc, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, err
	}
	cc := pc.ConnConfig.Config.Copy()
	cc.RuntimeParams["replication"] = "database"
	cc.RuntimeParams["DateStyle"] = "ISO, MDY"
	cc.RuntimeParams["TimeZone"] = "UTC"
	cc.RuntimeParams["bytea_output"] = "hex"
	cc.RuntimeParams["extra_float_digits"] = "3"
	cc.RuntimeParams["IntervalStyle"] = "iso_8601"
	if cc.RuntimeParams["application_name"] == "" {
		cc.RuntimeParams["application_name"] = "ankurah-replication"
	}
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = 10 * time.Second
	}
	return cc, nil
}

// slotState is what the consumer needs to know about its slot.
type slotState struct {
	confirmedFlush LSN
	created        bool
	invalidated    bool // it existed but Postgres had invalidated it: it was dropped and created anew
}

// prepare makes sure the publication and the slot exist, on the replication
// connection itself (a walsender with replication=database runs plain SQL
// too), and returns the slot's confirmed position.
//
// The publication comes first: a slot only decodes changes made after it is
// created, and pgoutput looks publications up as of each change, so a
// publication created after the slot would make the earliest changes fail to
// decode.
func prepare(ctx context.Context, conn *pgconn.PgConn, cfg Config) (slotState, error) {
	if err := ensurePublication(ctx, conn, cfg.Publication); err != nil {
		return slotState{}, err
	}
	st, err := ensureSlot(ctx, conn, cfg.SlotName)
	if err != nil {
		return st, err
	}
	// Recorded as Ankurah's, so that sweeps know it whatever its name; a
	// role that cannot write schema ankurah only loses that.
	if err := registerSlot(ctx, conn, cfg.SlotName); err != nil {
		cfg.Logger.Warn("replication: cannot record the slot in ankurah.slots", "slot", cfg.SlotName, "err", err)
	}
	return st, nil
}

// ensurePublication creates publication ankurah for ankurah.events (and
// ankurah.schema_changes) when it is missing, exactly as ankurah.publish would (and under the same advisory
// lock, so it cannot race a concurrent create_collection). Other publications
// must exist.
func ensurePublication(ctx context.Context, conn *pgconn.PgConn, name string) error {
	if name != DefaultPublication {
		rows, err := queryText(ctx, conn, fmt.Sprintf("select 1 from pg_publication where pubname = '%s'", name))
		if err != nil {
			return fmt.Errorf("replication: checking publication %s: %w", name, err)
		}
		if len(rows) == 0 {
			return permanent(fmt.Errorf("replication: publication %q does not exist (only %q is created automatically)", name, DefaultPublication))
		}
		return nil
	}
	_, err := conn.Exec(ctx, `do $$
begin
  perform pg_advisory_xact_lock(hashtext('ankurah.publication'));
  if not exists (select 1 from pg_publication where pubname = 'ankurah') then
    create publication ankurah for table ankurah.events;
  end if;
  if to_regclass('ankurah.schema_changes') is not null and not exists (select 1 from pg_publication_tables p
      where p.pubname = 'ankurah' and p.schemaname = 'ankurah' and p.tablename = 'schema_changes') then
    alter publication ankurah add table ankurah.schema_changes;
  end if;
end $$`).ReadAll()
	if err != nil {
		return fmt.Errorf("replication: creating publication ankurah: %w", err)
	}
	return nil
}

// ensureSlot returns the state of the slot, creating it (permanent, logical,
// pgoutput) when it does not exist, and dropping and creating it again when
// Postgres invalidated it (it fell behind more than max_slot_wal_keep_size:
// it can never stream again). A slot of the same name that is not a
// pgoutput slot of this database is a configuration error, not something to
// retry.
func ensureSlot(ctx context.Context, conn *pgconn.PgConn, name string) (slotState, error) {
	invalidated := false
	for attempt := 0; ; attempt++ {
		rows, err := queryText(ctx, conn, fmt.Sprintf(`select slot_type, coalesce(plugin, ''), coalesce(database, ''),
			database = current_database(), coalesce(confirmed_flush_lsn::text, ''), coalesce(wal_status, ''), active
			from pg_replication_slots where slot_name = '%s'`, name))
		if err != nil {
			return slotState{}, fmt.Errorf("replication: reading slot %s: %w", name, err)
		}
		if len(rows) == 1 {
			r := rows[0]
			if r[0] != "logical" || r[1] != "pgoutput" || r[3] != "t" {
				return slotState{}, permanent(fmt.Errorf("replication: slot %q exists but is a %s slot with plugin %q in database %q; want a logical pgoutput slot in this database (choose another SlotName or drop it)",
					name, r[0], r[1], r[2]))
			}
			if r[5] == "lost" && r[6] != "t" && !invalidated {
				if err := pglogrepl.DropReplicationSlot(ctx, conn, name, pglogrepl.DropReplicationSlotOptions{}); err != nil {
					return slotState{}, fmt.Errorf("replication: dropping invalidated slot %s: %w", name, err)
				}
				invalidated = true
				continue
			}
			lsn, err := ParseLSN(r[4])
			if err != nil {
				return slotState{}, fmt.Errorf("replication: slot %s: confirmed_flush_lsn %q: %w", name, r[4], err)
			}
			return slotState{confirmedFlush: lsn}, nil
		}
		res, err := pglogrepl.CreateReplicationSlot(ctx, conn, name, "pgoutput",
			pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "NOEXPORT_SNAPSHOT"})
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42710" && attempt == 0 {
			continue // created concurrently by another consumer: read it
		}
		if err != nil {
			return slotState{}, fmt.Errorf("replication: creating slot %s: %w", name, err)
		}
		lsn, err := ParseLSN(res.ConsistentPoint)
		if err != nil {
			return slotState{}, fmt.Errorf("replication: slot %s: consistent point %q: %w", name, res.ConsistentPoint, err)
		}
		return slotState{confirmedFlush: lsn, created: true, invalidated: invalidated}, nil
	}
}

// queryText runs one simple-protocol query (the only kind a walsender
// accepts) and returns its rows as text.
func queryText(ctx context.Context, conn *pgconn.PgConn, sql string) ([][]string, error) {
	results, err := conn.Exec(ctx, sql).ReadAll()
	if err != nil {
		return nil, err
	}
	var out [][]string
	for _, res := range results {
		for _, row := range res.Rows {
			r := make([]string, len(row))
			for i, v := range row {
				r[i] = string(v)
			}
			out = append(out, r)
		}
	}
	return out, nil
}
