// Package pgtest gives tests their own throwaway Postgres databases.
//
// `make test` starts a throwaway cluster (test/with-postgres.sh) and exports
// TEST_DATABASE_URL; each test then calls NewDatabase and gets a fresh
// database, already migrated, copied from a template that is built once per
// schema version. Tests are thus isolated and may run in parallel, across
// packages too.
package pgtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/internal/pgdb"
	"github.com/ankurah/ankurah-go/migrations"
	pgsql "github.com/ankurah/ankurah-go/sql"
)

// EnvURL is the environment variable naming the server tests use.
const EnvURL = "TEST_DATABASE_URL"

// AdminURL returns TEST_DATABASE_URL. Without it the test is skipped (outside
// CI) or fails (in CI, where a missing database is a broken set-up).
func AdminURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: run the tests with `make test`", EnvURL)
		}
		t.Skipf("%s is not set: run the tests with `make test` (it starts a throwaway Postgres)", EnvURL)
	}
	return u
}

// NewDatabase creates a fresh database with Ankurah's schema installed and
// returns its URL. The database is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := AdminURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: connect %s: %v", admin, err)
	}
	defer conn.Close(context.Background())

	tpl, err := template(ctx, conn, admin)
	if err != nil {
		t.Fatalf("pgtest: template: %v", err)
	}
	name := pgdb.RandomName("t_")
	if err := pgdb.Create(ctx, conn, name, tpl); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { DropDatabase(t, name) })
	u, err := pgdb.WithDatabase(admin, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return u
}

// DropDatabase drops a test database and its replication slots (see
// pgdb.Drop), giving a walsender that outlives its client 30 s to let go of
// its slot; a slot still held then means a test left a consumer running,
// which is reported.
func DropDatabase(t testing.TB, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, os.Getenv(EnvURL))
	if err != nil {
		t.Errorf("pgtest: drop %s: %v", name, err)
		return
	}
	defer conn.Close(context.Background())
	if err := pgdb.Drop(ctx, conn, name, false); err != nil {
		t.Errorf("pgtest: %v", err)
	}
}

// Pool opens a pool on url, closed when the test ends.
func Pool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatalf("pgtest: pool: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// schemaHash names the template after the schema it holds, so a change to the
// migrations or functions builds a new template instead of reusing a stale one.
func schemaHash() string {
	h := sha256.New()
	_ = fs.WalkDir(migrations.Files, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(migrations.Files, path)
			h.Write([]byte(path))
			h.Write(b)
		}
		return nil
	})
	h.Write([]byte(pgsql.Functions))
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// template returns the name of the migrated template database, building it
// under an advisory lock when it does not exist yet (test binaries of several
// packages run at once).
func template(ctx context.Context, conn *pgx.Conn, admin string) (string, error) {
	name := "ankurah_tpl_" + schemaHash()
	if _, err := conn.Exec(ctx, "select pg_advisory_lock(7276001)"); err != nil {
		return "", err
	}
	defer conn.Exec(context.Background(), "select pg_advisory_unlock(7276001)") //nolint:errcheck
	var ready bool
	err := conn.QueryRow(ctx, "select datistemplate from pg_database where datname = $1", name).Scan(&ready)
	if err == nil && ready {
		return name, nil
	}
	if err == nil { // a half-built template from a crashed run
		if err := pgdb.Drop(ctx, conn, name, false); err != nil {
			return "", err
		}
	}
	if err := pgdb.Create(ctx, conn, name, ""); err != nil {
		return "", err
	}
	u, err := pgdb.WithDatabase(admin, name)
	if err != nil {
		return "", err
	}
	if err := migrations.Apply(ctx, u, nil); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("alter database %s with is_template true", name)); err != nil {
		return "", err
	}
	return name, nil
}

// DropRole drops a role created by a test (roles are cluster-wide, so
// dropping the test database does not remove them).
func DropRole(t testing.TB, role string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, os.Getenv(EnvURL))
	if err != nil {
		t.Errorf("pgtest: drop role %s: %v", role, err)
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "drop role if exists "+pgx.Identifier{role}.Sanitize()); err != nil {
		t.Errorf("pgtest: drop role %s: %v", role, err)
	}
}
