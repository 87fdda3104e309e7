package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/internal/pgdb"
	"github.com/ankurah/ankurah-go/internal/pgtest"
)

// TestReadmeExistingDatabase follows the README's "Use it on your existing
// database" as a new user would, on a fresh database: its SQL blocks run
// (as psql would run them), its commands run as written (`bin/ankurah` is
// this binary; serve and subscribe keep running), and every command prints
// what the README shows — ids, times and the port being this run's, and a
// line "…" standing for any lines.
func TestReadmeExistingDatabase(t *testing.T) {
	t.Parallel()
	steps := readmeSteps(t, "## Use it on your existing database", "## Put it in front of users")
	db := bareDatabase(t) // a new user's: no Ankurah schema yet
	home := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	norm := strings.NewReplacer(":"+port+"/", ":9797/")
	timeRE := regexp.MustCompile(`^time=\S+ `)
	ids := newIDMap()
	env := append(os.Environ(), "ANKURAH_TEST_MAIN=1", "ANKURAH_DATABASE_URL="+db, "ANKURAH_DATA_DIR=",
		"ANKURAH_LISTEN="+addr, "ANKURAH_URL=ws://"+addr+"/ws")
	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	var running *tourProc
	var procs []*tourProc
	sqlBlocks := 0
	for _, s := range steps {
		switch {
		case s.sql != "":
			sqlBlocks++
			if _, err := conn.Exec(context.Background(), s.sql); err != nil {
				t.Fatalf("the README's SQL %q: %v", s.sql, err)
			}
		case len(s.block.commands) == 0:
			if running == nil {
				t.Fatalf("output without a command running: %q", s.block.output)
			}
			running.expect(t, s.block.output, norm, timeRE, ids)
		default:
			for _, c := range s.block.commands {
				argv := shellWords(t, ids.toActual(c.line))
				args, ok := ankurahArgs(argv)
				if !ok {
					t.Fatalf("the README runs %q, which is not ankurah", c.line)
				}
				if args[0] == "serve" || args[0] == "subscribe" {
					p := startTourProc(t, home, env, args)
					p.expectUntil(t, c.output, norm, timeRE, ids)
					running = p
					procs = append(procs, p)
					continue
				}
				cmd := exec.Command(os.Args[0], args...)
				cmd.Dir, cmd.Env = home, env
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("%s: %v\n%s", c.line, err, out)
				}
				if !matchWithEllipsis(c.output, splitLines(string(out)), norm, timeRE, ids) {
					t.Fatalf("%s printed\n%s\nthe README shows\n%s", c.line, out, strings.Join(c.output, "\n"))
				}
			}
		}
	}
	if sqlBlocks < 3 || len(procs) != 2 {
		t.Fatalf("the section has %d SQL blocks and starts %d commands that keep running", sqlBlocks, len(procs))
	}
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop(t)
		if extra := procs[i].rest(); len(extra) > 0 && procs[i].args[0] != "serve" {
			t.Errorf("%s printed more than the README shows: %q", procs[i].args[0], extra)
		}
	}
}

// readmeStep is a SQL block or a console block of the README.
type readmeStep struct {
	sql   string
	block consoleBlock
}

func readmeSteps(t *testing.T, from, to string) []readmeStep {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i, j := strings.Index(text, from), strings.Index(text, to)
	if i < 0 || j < i {
		t.Fatalf("README.md has no section %q before %q", from, to)
	}
	var steps []readmeStep
	var sqlLines []string
	inSQL := false
	var cur *consoleBlock
	for _, line := range strings.Split(text[i:j], "\n") {
		switch {
		case line == "```sql":
			inSQL, sqlLines = true, nil
		case inSQL && line == "```":
			inSQL = false
			steps = append(steps, readmeStep{sql: strings.Join(sqlLines, "\n")})
		case inSQL:
			sqlLines = append(sqlLines, line)
		case line == "```console":
			steps = append(steps, readmeStep{})
			cur = &steps[len(steps)-1].block
		case cur != nil && line == "```":
			cur = nil
		case cur != nil && strings.HasPrefix(line, "$ "):
			cur.commands = append(cur.commands, tourStep{line: strings.TrimPrefix(line, "$ ")})
		case cur != nil && len(cur.commands) > 0:
			s := &cur.commands[len(cur.commands)-1]
			s.output = append(s.output, line)
		case cur != nil:
			cur.output = append(cur.output, line)
		}
	}
	return steps
}

// matchWithEllipsis compares lines, a wanted line "…" matching any lines.
func matchWithEllipsis(want, got []string, norm *strings.Replacer, timeRE *regexp.Regexp, ids *idMap) bool {
	if len(want) == 0 {
		return len(got) == 0
	}
	if want[0] == "…" {
		for k := 0; k <= len(got); k++ {
			if matchWithEllipsis(want[1:], got[k:], norm, timeRE, ids) {
				return true
			}
		}
		return false
	}
	if len(got) == 0 {
		return false
	}
	g := timeRE.ReplaceAllString(norm.Replace(got[0]), "time=T ")
	w := timeRE.ReplaceAllString(want[0], "time=T ")
	return ids.match(w, g) && matchWithEllipsis(want[1:], got[1:], norm, timeRE, ids)
}

// expectUntil reads lines until the README's last line shows up, and
// compares them allowing "…".
func (p *tourProc) expectUntil(t *testing.T, want []string, norm *strings.Replacer, timeRE *regexp.Regexp, ids *idMap) {
	t.Helper()
	if !slicesContain(want, "…") {
		p.expect(t, want, norm, timeRE, ids)
		return
	}
	last := timeRE.ReplaceAllString(want[len(want)-1], "time=T ")
	var got []string
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("%s ended after printing %q", p.args[0], got)
			}
			got = append(got, l)
			if strings.Contains(timeRE.ReplaceAllString(norm.Replace(l), "time=T "), strings.SplitN(last, " msg=", 2)[len(strings.SplitN(last, " msg=", 2))-1]) {
				if !matchWithEllipsis(want, got, norm, timeRE, ids) {
					t.Fatalf("%s printed\n%s\nthe README shows\n%s", p.args[0], strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				return
			}
		case <-deadline:
			t.Fatalf("%s printed %q, not the README's %q", p.args[0], got, last)
		}
	}
}

func slicesContain(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// bareDatabase creates a database without Ankurah's schema (pgtest's come
// migrated), dropped when the test ends.
func bareDatabase(t *testing.T) string {
	t.Helper()
	admin := pgtest.AdminURL(t)
	conn, err := pgx.Connect(context.Background(), admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	name := "readme_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := conn.Exec(context.Background(), "create database "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pgtest.DropDatabase(t, name) })
	u, err := pgdb.WithDatabase(admin, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
