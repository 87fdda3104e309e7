package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// NewCluster starts a PostgreSQL cluster of its own, configured with
// settings ("wal_level=replica", …), and returns its URL (superuser
// postgres, database postgres, no Ankurah schema). It is for tests of how
// the product treats a server that is set up wrongly — something the shared
// cluster of `make test` cannot be. The cluster is stopped and removed when
// the test ends.
//
// It needs the server binaries (Debian's postgresql package, as
// test/with-postgres.sh installs them); without them the test is skipped,
// or fails in CI. Run as root, the cluster runs as the postgres OS user (the
// server refuses root).
func NewCluster(t testing.TB, settings ...string) string {
	t.Helper()
	bin := serverBinaries()
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("pgtest: PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin")
		}
		t.Skip("pgtest: PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin (install Debian's postgresql package)")
	}
	dir, err := os.MkdirTemp("", "ankpgc")
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	var runAs []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("pgtest: running as root needs the postgres OS user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		runAs = []string{"runuser", "-u", "postgres", "--"}
	}
	run := func(name string, args ...string) error {
		argv := append(append(append([]string{}, runAs...), filepath.Join(bin, name)), args...)
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v\n%s", name, err, out)
		}
		return nil
	}
	if err := run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("pgtest: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off", port)
	for _, s := range settings {
		opts += " -c " + s
	}
	if err := run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		_ = run("pg_ctl", "-D", data, "-m", "immediate", "stop")
		os.RemoveAll(dir)
	})
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("pgtest: the new cluster does not answer: %v", err)
	}
	conn.Close(ctx)
	return url
}

// serverBinaries returns the newest /usr/lib/postgresql/*/bin that has
// initdb and pg_ctl, or "".
func serverBinaries() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return a > b
	})
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d
		}
	}
	return ""
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode()&0o111 != 0
}
