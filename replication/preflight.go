// Package replication feeds Ankurah from Postgres logical replication: the
// consumer (Consumer) that turns publication ankurah's pgoutput stream into
// one Transaction per commit, acknowledged only after its handler accepts it
// (see docs/replication.md), and the preflight check (Gather, Evaluate) that
// tells an operator whether a server can feed Ankurah and exactly what to
// change when it cannot.
//
// This package is part of the module's public API: docs/api.md says what
// its compatibility promise covers.
package replication

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ankurah/ankurah-go/migrations"
)

// Facts are what the preflight check reads from the server.
type Facts struct {
	ServerVersion    int    // server_version_num, e.g. 150018
	WALLevel         string // wal_level
	MaxSlots         int    // max_replication_slots
	UsedSlots        int    // slots that exist
	MaxWALSenders    int    // max_wal_senders
	UsedWALSenders   int    // walsender processes running
	Role             string
	Superuser        bool
	Replication      bool // the role may start replication connections
	CreateOnDatabase bool // may create publications (and schemas)
	Database         string
	CreateOnPublic   bool // may create collection tables in schema public
	Migrated         bool // ankurah's schema is installed
	// MaxSlotWALKeepSize is max_slot_wal_keep_size in bytes (-1: no
	// limit); Slots are Ankurah's slots in the database.
	MaxSlotWALKeepSize int64
	Slots              []SlotInfo
}

// Severity of a finding.
type Severity string

// Severities.
const (
	OK   Severity = "ok"
	Warn Severity = "warn"
	Fail Severity = "FAIL"
)

// Finding is one line of the preflight report.
type Finding struct {
	Severity Severity
	Check    string
	Detail   string
	Fix      string // what to run or change; empty when nothing to do
}

// Gather reads the facts from a live connection.
func Gather(ctx context.Context, conn *pgx.Conn) (Facts, error) {
	var f Facts
	var version, maxSlots, maxSenders string
	err := conn.QueryRow(ctx, `select current_setting('server_version_num'), current_setting('wal_level'),
		current_setting('max_replication_slots'), current_setting('max_wal_senders'),
		(select count(*) from pg_replication_slots),
		(select count(*) from pg_stat_replication),
		current_user, r.rolsuper, r.rolreplication,
		has_database_privilege(current_database(), 'CREATE'), current_database(),
		coalesce(has_schema_privilege('public', 'CREATE'), false),
		exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
		        where n.nspname || '.' || c.relname = $1)
		from pg_roles r where r.rolname = current_user`, migrations.VersionTable).Scan(
		&version, &f.WALLevel, &maxSlots, &maxSenders, &f.UsedSlots, &f.UsedWALSenders,
		&f.Role, &f.Superuser, &f.Replication, &f.CreateOnDatabase, &f.Database, &f.CreateOnPublic, &f.Migrated)
	if err != nil {
		return f, fmt.Errorf("reading server settings: %w", err)
	}
	f.ServerVersion, _ = strconv.Atoi(version)
	f.MaxSlots, _ = strconv.Atoi(maxSlots)
	f.MaxWALSenders, _ = strconv.Atoi(maxSenders)
	if f.MaxSlotWALKeepSize, err = MaxSlotWALKeepSize(ctx, conn); err != nil {
		return f, err
	}
	if f.Slots, err = ListSlots(ctx, conn); err != nil {
		return f, err
	}
	return f, nil
}

// Evaluate turns facts into findings, each failure with its fix.
func Evaluate(f Facts) []Finding {
	var out []Finding
	add := func(ok bool, sev Severity, check, detail, fix string) {
		if ok {
			out = append(out, Finding{Severity: OK, Check: check, Detail: detail})
		} else {
			out = append(out, Finding{Severity: sev, Check: check, Detail: detail, Fix: fix})
		}
	}
	add(f.ServerVersion >= 140000, Fail, "server version",
		fmt.Sprintf("PostgreSQL %d.%d", f.ServerVersion/10000, f.ServerVersion%10000),
		"upgrade to PostgreSQL 14 or later")
	add(f.WALLevel == "logical", Fail, "wal_level",
		"wal_level = "+f.WALLevel,
		"run `ALTER SYSTEM SET wal_level = logical;` as a superuser, then restart PostgreSQL (on a managed service, enable logical replication in its settings)")
	add(f.MaxSlots-f.UsedSlots >= 1, Fail, "replication slots",
		fmt.Sprintf("%d of max_replication_slots = %d in use; each ankurah server needs one", f.UsedSlots, f.MaxSlots),
		fmt.Sprintf("run `ALTER SYSTEM SET max_replication_slots = %d;` and restart, or drop unused slots (see pg_replication_slots)", max(10, f.UsedSlots+4)))
	add(f.MaxWALSenders-f.UsedWALSenders >= 1, Fail, "wal senders",
		fmt.Sprintf("%d of max_wal_senders = %d in use; each ankurah server needs one", f.UsedWALSenders, f.MaxWALSenders),
		fmt.Sprintf("run `ALTER SYSTEM SET max_wal_senders = %d;` and restart", max(10, f.UsedWALSenders+4)))
	add(f.Superuser || f.Replication, Fail, "replication privilege",
		fmt.Sprintf("role %s may %sstart replication connections", f.Role, map[bool]string{true: "", false: "not "}[f.Superuser || f.Replication]),
		fmt.Sprintf("run `ALTER ROLE %s WITH REPLICATION;` as a superuser", pgx.Identifier{f.Role}.Sanitize()))
	add(f.Superuser || f.CreateOnDatabase, Fail, "create privilege",
		fmt.Sprintf("role %s %s create schemas and publications in database %s", f.Role, map[bool]string{true: "may", false: "may not"}[f.Superuser || f.CreateOnDatabase], f.Database),
		fmt.Sprintf("run `GRANT CREATE ON DATABASE %s TO %s;`", pgx.Identifier{f.Database}.Sanitize(), pgx.Identifier{f.Role}.Sanitize()))
	add(f.Superuser || f.CreateOnPublic, Warn, "collection schema",
		fmt.Sprintf("role %s %s create tables in schema public", f.Role, map[bool]string{true: "may", false: "may not"}[f.Superuser || f.CreateOnPublic]),
		fmt.Sprintf("run `GRANT CREATE ON SCHEMA public TO %s;`, or configure another schema for collections", pgx.Identifier{f.Role}.Sanitize()))
	if f.MaxSlotWALKeepSize < 0 {
		out = append(out, Finding{Severity: Warn, Check: "max_slot_wal_keep_size",
			Detail: "max_slot_wal_keep_size = -1: a slot whose server is gone keeps WAL without limit until it is dropped (Ankurah's servers drop theirs when they stop, and ones left inactive after a while)",
			Fix:    "bound it: `ALTER SYSTEM SET max_slot_wal_keep_size = '10GB'; SELECT pg_reload_conf();` (a server whose slot falls further behind is invalidated and resynchronises its clients)"})
	} else {
		out = append(out, Finding{Severity: OK, Check: "max_slot_wal_keep_size",
			Detail: fmt.Sprintf("max_slot_wal_keep_size = %s: a slot further behind is invalidated (its server then resynchronises its clients)", Bytes(f.MaxSlotWALKeepSize))})
	}
	for _, s := range f.Slots {
		check := "slot " + s.Name
		switch {
		case s.Lost():
			out = append(out, Finding{Severity: Warn, Check: check, Detail: "invalidated by Postgres (it fell behind more than max_slot_wal_keep_size); it holds no WAL",
				Fix: fmt.Sprintf("nothing if its server runs (it makes a new one and resynchronises); otherwise `ankurah slots drop %s`", s.Name)})
		case s.Active:
			out = append(out, Finding{Severity: OK, Check: check, Detail: fmt.Sprintf("active (walsender pid %d), retains %s of WAL, %s behind", s.ActivePID, Bytes(s.RetainedBytes), Bytes(s.LagBytes))})
		default:
			detail := fmt.Sprintf("inactive, retains %s of WAL", Bytes(s.RetainedBytes))
			if s.InactiveFor > 0 {
				detail = fmt.Sprintf("inactive for %s, retains %s of WAL", s.InactiveFor.Round(time.Second), Bytes(s.RetainedBytes))
			}
			out = append(out, Finding{Severity: Warn, Check: check, Detail: detail,
				Fix: fmt.Sprintf("if its server is gone: `ankurah slots drop %s` (running servers drop slots inactive for longer than --slot-max-inactive)", s.Name)})
		}
	}
	// Not a problem: serve installs (and upgrades) the schema when it starts.
	out = append(out, Finding{Severity: OK, Check: "ankurah schema", Detail: map[bool]string{
		true:  "installed",
		false: "not installed yet; `ankurah serve` installs it when it starts (`ankurah migrate` installs it without serving)",
	}[f.Migrated]})
	return out
}

// Preflight connects to the Postgres server at databaseURL and evaluates
// whether it can feed Ankurah. It returns every finding (a connection that
// fails is one, named "connect"), and a *NotReadyError holding the failures
// when there is any: a program that needs the change stream calls it first,
// so that a server without logical replication is reported at once, with
// its fix, rather than by a stream that cannot start.
func Preflight(ctx context.Context, databaseURL string) ([]Finding, error) {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		fs := []Finding{ConnectFinding(err)}
		return fs, &NotReadyError{Findings: fs}
	}
	defer conn.Close(context.Background())
	facts, err := Gather(ctx, conn)
	if err != nil {
		return nil, err
	}
	fs := Evaluate(facts)
	if Failed(fs) {
		var failed []Finding
		for _, f := range fs {
			if f.Severity == Fail {
				failed = append(failed, f)
			}
		}
		return fs, &NotReadyError{Findings: failed}
	}
	return fs, nil
}

// NotReadyError says why a Postgres server cannot feed Ankurah: the failed
// findings of Preflight, each with its fix.
type NotReadyError struct {
	Findings []Finding
}

func (e *NotReadyError) Error() string {
	var b strings.Builder
	b.WriteString("this Postgres cannot feed Ankurah: ")
	for i, f := range e.Findings {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Detail)
		if f.Fix != "" {
			b.WriteString(" (fix: " + f.Fix + ")")
		}
	}
	return b.String()
}

// ConnectFinding describes a failed connection in an operator's terms: where
// to, and the cause as the network or the server gave it (connection
// refused, no such host, password authentication failed), without the
// driver's wrapping.
func ConnectFinding(err error) Finding {
	return Finding{Severity: Fail, Check: "connect", Detail: "cannot connect to PostgreSQL" + where(err) + ": " + connectCause(err),
		Fix: "check the URL, and that the server runs and accepts connections from here (listen_addresses, pg_hba.conf)"}
}

func where(err error) string {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && ce.Config != nil {
		return fmt.Sprintf(" at %s", net.JoinHostPort(ce.Config.Host, strconv.Itoa(int(ce.Config.Port))))
	}
	return ""
}

func connectCause(err error) string {
	var pgErr *pgconn.PgError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &pgErr):
		return pgErr.Message
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return "no such host " + dnsErr.Name
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		return "timed out"
	}
	// The innermost cause, without the driver's "failed to connect to …".
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// Failed reports whether any finding is a failure.
func Failed(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == Fail {
			return true
		}
	}
	return false
}

// Bytes formats a size for people: 512 B, 1.5 kB, 48.0 MB, 1.2 GB (powers
// of 1000, as Postgres's pg_size_pretty does not; a WAL segment is 16.8 MB).
func Bytes(n int64) string {
	if n < 0 {
		return "unlimited"
	}
	f := float64(n)
	for _, u := range []string{"B", "kB", "MB", "GB", "TB"} {
		if f < 1000 || u == "TB" {
			if u == "B" {
				return fmt.Sprintf("%d B", n)
			}
			return fmt.Sprintf("%.1f %s", f, u)
		}
		f /= 1000
	}
	return ""
}
