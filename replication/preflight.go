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
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

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
	add(f.Migrated, Warn, "ankurah schema",
		map[bool]string{true: "installed", false: "not installed"}[f.Migrated],
		"run `ankurah migrate --database-url …`")
	return out
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
