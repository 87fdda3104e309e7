package replication_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/replication"
)

func good() replication.Facts {
	return replication.Facts{ServerVersion: 150018, WALLevel: "logical", MaxSlots: 10, UsedSlots: 1,
		MaxWALSenders: 10, UsedWALSenders: 0, Role: "app", Replication: true, CreateOnDatabase: true,
		Database: "db", CreateOnPublic: true, Migrated: true}
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		change func(*replication.Facts)
		check  string
		fix    string // a fragment of the fix
		failed bool
	}{
		{"all good", func(*replication.Facts) {}, "", "", false},
		{"old server", func(f *replication.Facts) { f.ServerVersion = 130004 }, "server version", "upgrade", true},
		{"wal_level replica", func(f *replication.Facts) { f.WALLevel = "replica" }, "wal_level", "ALTER SYSTEM SET wal_level = logical", true},
		{"slots exhausted", func(f *replication.Facts) { f.UsedSlots = 10 }, "replication slots", "max_replication_slots = 14", true},
		{"senders exhausted", func(f *replication.Facts) { f.MaxWALSenders = 0 }, "wal senders", "max_wal_senders = 10", true},
		{"no replication role", func(f *replication.Facts) { f.Replication = false }, "replication privilege", `ALTER ROLE "app" WITH REPLICATION`, true},
		{"superuser suffices", func(f *replication.Facts) { f.Replication, f.CreateOnDatabase, f.Superuser = false, false, true }, "", "", false},
		{"no create", func(f *replication.Facts) { f.CreateOnDatabase = false }, "create privilege", `GRANT CREATE ON DATABASE "db" TO "app"`, true},
		{"not migrated: serve installs it", func(f *replication.Facts) { f.Migrated = false }, "", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := good()
			c.change(&f)
			findings := replication.Evaluate(f)
			if replication.Failed(findings) != c.failed {
				t.Fatalf("failed = %v, want %v: %+v", !c.failed, c.failed, findings)
			}
			for _, fd := range findings {
				if fd.Check == c.check {
					if fd.Severity == replication.OK || !strings.Contains(fd.Fix, c.fix) {
						t.Fatalf("%s: %+v, want a fix containing %q", c.check, fd, c.fix)
					}
				} else if fd.Severity != replication.OK {
					t.Fatalf("unexpected finding %+v", fd)
				}
			}
		})
	}
}

// Against the real test server: everything passes for the superuser, and a
// plain role is told to get the replication and create privileges.
func TestGather(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	f, err := replication.Gather(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if fs := replication.Evaluate(f); replication.Failed(fs) || !f.Migrated || f.WALLevel != "logical" {
		t.Fatalf("test server fails preflight: %+v %+v", f, fs)
	}

	role := "plain_" + strings.TrimPrefix(conn.Config().Database, "t_")
	if _, err := conn.Exec(ctx, "create role "+role+" login"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), url)
		if err == nil {
			c.Exec(context.Background(), "drop owned by "+role)
			c.Close(context.Background())
		}
		pgtest.DropRole(t, role)
	})
	cfg := conn.Config().Copy()
	cfg.User = role
	plain, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close(ctx)
	f, err = replication.Gather(ctx, plain)
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]bool{}
	for _, fd := range replication.Evaluate(f) {
		if fd.Severity == replication.Fail {
			failed[fd.Check] = true
		}
	}
	if !failed["replication privilege"] || !failed["create privilege"] || len(failed) != 2 {
		t.Fatalf("plain role findings: %v", failed)
	}
}
