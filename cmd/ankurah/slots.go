package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/replication"
)

func slotsCommand() *command {
	return &command{
		name: "slots", args: []string{"", "drop NAME"}, maxArgs: 2,
		summary: "list Ankurah's replication slots (WAL retained, activity), or drop one",
		doc: `Lists the database's Ankurah replication slots: the ones named ankurah_…
and any other a server registered. For each: the walsender streaming from it
(or "inactive", and for how long, as noticed by running servers), the WAL it
retains (which Postgres cannot recycle while the slot exists), how far it is
behind, its wal_status and who created it; then max_slot_wal_keep_size.

"slots drop NAME" drops one. A slot a server is streaming from is refused
(stop that server; it drops its slot when it stops); --force terminates
that walsender first, and its server then makes a new slot and reads its
clients' live queries again.

Servers drop their own slot when they stop (unless serve --keep-slot), and
drop slots left inactive longer than serve --slot-max-inactive (or holding
more than --slot-max-retained of WAL).`,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
			dbURL := databaseFlag(fs, e, "the PostgreSQL whose slots to list")
			force := fs.Bool("force", false, "drop: terminate the walsender of an active slot first")
			return func(ctx context.Context, args []string) error {
				if err := needDatabase(*dbURL); err != nil {
					return err
				}
				switch {
				case len(args) == 0:
				case args[0] == "drop" && len(args) == 2:
				case args[0] == "drop":
					return usageError("missing the slot NAME to drop").withFix("ankurah slots drop NAME (`ankurah slots` lists them)")
				default:
					return usageError("unknown slots action %q", args[0]).withFix("ankurah slots, or ankurah slots drop NAME")
				}
				ctx, cancel := context.WithTimeout(ctx, time.Minute)
				defer cancel()
				conn, err := pgx.Connect(ctx, *dbURL)
				if err != nil {
					return connectFailure(err)
				}
				defer conn.Close(context.Background())
				if len(args) == 0 {
					slots, err := replication.ListSlots(ctx, conn)
					if err != nil {
						return failed("%s", oneLine(err.Error()))
					}
					keep, err := replication.MaxSlotWALKeepSize(ctx, conn)
					if err != nil {
						return failed("%s", oneLine(err.Error()))
					}
					printSlots(e.stdout, slots, keep)
					return nil
				}
				name := args[1]
				err = replication.DropSlot(ctx, conn, name, *force)
				var inUse *replication.SlotInUseError
				switch {
				case err == nil:
					fmt.Fprintf(e.stdout, "dropped slot %s\n", name)
					return nil
				case errors.As(err, &inUse) && *force:
					return failed("slot %s is still in use (walsender pid %d) after terminating its walsender: its server took it again", name, inUse.PID).
						withFix("stop that server (it drops its slot when it stops), then run this again")
				case errors.As(err, &inUse):
					return failed("slot %s is in use by a running server (walsender pid %d); dropping it would make that server lose its place in the stream", name, inUse.PID).
						withFix("stop that server (it drops its own slot when it stops), or pass --force to take the slot away (that server then makes a new one and resynchronises its clients)")
				case errors.Is(err, replication.ErrNotOurSlot):
					return failed("there is no Ankurah slot %q in this database", name).withFix("`ankurah slots` lists them")
				}
				return failed("%s", oneLine(err.Error()))
			}
		},
	}
}

// printSlots prints the slots as a table, then max_slot_wal_keep_size.
func printSlots(w io.Writer, slots []replication.SlotInfo, keep int64) {
	if len(slots) == 0 {
		fmt.Fprintln(w, "no Ankurah replication slots in this database")
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SLOT\tACTIVITY\tRETAINED WAL\tBEHIND\tWAL STATUS\tCREATED BY")
		for _, s := range slots {
			activity := "inactive"
			switch {
			case s.Active && s.Client != "":
				activity = fmt.Sprintf("active: pid %d (%s)", s.ActivePID, s.Client)
			case s.Active:
				activity = "active: pid " + strconv.Itoa(s.ActivePID)
			case s.InactiveFor > 0:
				activity = "inactive for " + s.InactiveFor.Round(time.Second).String()
			}
			by := s.CreatedBy
			if by == "" {
				by = "-"
			}
			status := s.WALStatus
			if s.SafeWALBytes >= 0 && !s.Lost() {
				status += ", " + replication.Bytes(s.SafeWALBytes) + " until lost"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, activity, replication.Bytes(s.RetainedBytes), replication.Bytes(s.LagBytes), status, by)
		}
		tw.Flush()
	}
	if keep < 0 {
		fmt.Fprintln(w, "max_slot_wal_keep_size = -1: a slot keeps WAL without limit until it is dropped")
	} else {
		fmt.Fprintf(w, "max_slot_wal_keep_size = %s: a slot retaining more is invalidated\n", replication.Bytes(keep))
	}
}

// parseSize reads a byte count: a number with an optional unit (B, kB, MB,
// GB, TB, powers of 1000 as `ankurah slots` prints them; KiB, MiB, GiB,
// TiB), or -1 for no limit.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "-1" {
		return -1, nil
	}
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], strings.TrimSpace(s[i:])
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	mult := map[string]float64{"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}[strings.ToLower(unit)]
	if mult == 0 {
		return 0, fmt.Errorf("%q: unknown unit %q (use B, kB, MB, GB, TB, KiB, MiB, GiB or TiB)", s, unit)
	}
	return int64(f * mult), nil
}
