package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestReadmeTour runs the README's five-minute tour as written — its
// commands, in its order, against a fresh embedded server started by the
// tour's own `serve` command in a fresh folder — and checks that every
// command prints the lines the README shows: the same text, with ids,
// times, the folder and the port being whatever this run's are (an id the
// README shows twice must be the same id twice).
//
// The README is read, not copied: a console block's "$ " lines are commands
// (`go run ./cmd/ankurah` and `bin/ankurah` are this binary), the lines
// after each are its output; a block without commands is more output of the
// command still running (the subscriber).
func TestReadmeTour(t *testing.T) {
	t.Parallel()
	blocks := readmeBlocks(t, "## Five minutes with it", "### On Postgres")
	if len(blocks) < 4 {
		t.Fatalf("the tour has %d console blocks", len(blocks))
	}
	home := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	norm := strings.NewReplacer(home, "/home/you/ankurah", ":"+port+"/", ":9797/")
	timeRE := regexp.MustCompile(`^time=\S+ `)
	ids := newIDMap()

	var running *tourProc // the long-running command whose output is awaited
	var procs []*tourProc
	for _, b := range blocks {
		if len(b.commands) == 0 {
			if running == nil {
				t.Fatalf("output without a command running: %q", b.output)
			}
			running.expect(t, b.output, norm, timeRE, ids)
			continue
		}
		for _, c := range b.commands {
			argv := shellWords(t, ids.toActual(c.line))
			args, ok := ankurahArgs(argv)
			if !ok {
				t.Fatalf("the tour runs %q, which is not ankurah", c.line)
			}
			env := append(os.Environ(), "ANKURAH_TEST_MAIN=1", "ANKURAH_DATABASE_URL=", "ANKURAH_DATA_DIR=", "ANKURAH_LISTEN="+addr, "ANKURAH_URL=ws://"+addr+"/ws")
			if args[0] == "serve" || args[0] == "subscribe" {
				p := startTourProc(t, home, env, args)
				p.expect(t, c.output, norm, timeRE, ids)
				running = p
				procs = append(procs, p)
				continue
			}
			cmd := exec.Command(os.Args[0], args...)
			cmd.Dir, cmd.Env = home, env
			out, err := cmd.CombinedOutput() // one pipe: stdout and stderr in the order printed
			if err != nil {
				t.Fatalf("%s: %v\n%s", c.line, err, out)
			}
			compareLines(t, c.line, c.output, splitLines(string(out)), norm, timeRE, ids)
		}
	}
	// Nothing more than the README shows came from the commands still
	// running; they stop on Ctrl-C, the subscriber before the server.
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		p.stop(t)
		if extra := p.rest(); len(extra) > 0 && p.args[0] != "serve" {
			t.Errorf("%s printed more than the README shows: %q", p.args[0], extra)
		}
	}
}

// tourStep is one "$ " command of a console block and the output shown after it.
type tourStep struct {
	line   string
	output []string
}

type consoleBlock struct {
	commands []tourStep
	output   []string // a block without commands
}

// readmeBlocks returns the console blocks of the README between two headings.
func readmeBlocks(t *testing.T, from, to string) []consoleBlock {
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
	var blocks []consoleBlock
	var cur *consoleBlock
	for _, line := range strings.Split(text[i:j], "\n") {
		switch {
		case line == "```console":
			blocks = append(blocks, consoleBlock{})
			cur = &blocks[len(blocks)-1]
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
	return blocks
}

// ankurahArgs maps the tour's ways of running ankurah to this binary.
func ankurahArgs(argv []string) ([]string, bool) {
	switch {
	case len(argv) > 3 && argv[0] == "go" && argv[1] == "run" && argv[2] == "./cmd/ankurah":
		return argv[3:], true
	case len(argv) > 1 && argv[0] == "bin/ankurah":
		return argv[1:], true
	}
	return nil, false
}

// shellWords splits a command line as sh does for the tour's commands:
// words, single-quoted strings.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	inWord, quoted := false, false
	for _, r := range line {
		switch {
		case quoted && r == '\'':
			quoted = false
		case quoted:
			w.WriteRune(r)
		case r == '\'':
			quoted, inWord = true, true
		case r == ' ':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case r == '"' || r == '$' || r == '\\' || r == '#':
			t.Fatalf("shellWords: %q needs a real shell", line)
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

var ulidRE = regexp.MustCompile(`\b[0-9A-HJKMNP-TV-Z]{26}\b`)

// idMap pairs the README's ids with this run's.
type idMap struct{ byReadme, byActual map[string]string }

func newIDMap() *idMap { return &idMap{map[string]string{}, map[string]string{}} }

func (m *idMap) toActual(s string) string {
	return ulidRE.ReplaceAllStringFunc(s, func(id string) string {
		if a, ok := m.byReadme[id]; ok {
			return a
		}
		return id
	})
}

// match compares one line, pairing ids.
func (m *idMap) match(want, got string) bool {
	wantParts, gotParts := ulidRE.Split(want, -1), ulidRE.Split(got, -1)
	wantIDs, gotIDs := ulidRE.FindAllString(want, -1), ulidRE.FindAllString(got, -1)
	if len(wantParts) != len(gotParts) {
		return false
	}
	for i := range wantParts {
		if wantParts[i] != gotParts[i] {
			return false
		}
	}
	for i, w := range wantIDs {
		g := gotIDs[i]
		if a, ok := m.byReadme[w]; ok && a != g {
			return false
		}
		if r, ok := m.byActual[g]; ok && r != w {
			return false
		}
		m.byReadme[w], m.byActual[g] = g, w
	}
	return true
}

func compareLines(t *testing.T, what string, want, got []string, norm *strings.Replacer, timeRE *regexp.Regexp, ids *idMap) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%s: printed %d lines, the README shows %d:\n%s\nREADME:\n%s", what, len(got), len(want), strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		g := timeRE.ReplaceAllString(norm.Replace(got[i]), "time=T ")
		w := timeRE.ReplaceAllString(want[i], "time=T ")
		if !ids.match(w, g) {
			t.Errorf("%s: line %d is\n  %s\nthe README shows\n  %s", what, i+1, got[i], want[i])
		}
	}
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// tourProc is a command that keeps running (serve, subscribe), with its
// output (stdout and stderr on one pipe) read line by line.
type tourProc struct {
	args  []string
	cmd   *exec.Cmd
	lines chan string
	mu    sync.Mutex
	extra []string
}

func startTourProc(t *testing.T, dir string, env, args []string) *tourProc {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	p := &tourProc{args: args, cmd: cmd, lines: make(chan string, 1024)}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return p
}

// expect reads as many lines as want has and compares them.
func (p *tourProc) expect(t *testing.T, want []string, norm *strings.Replacer, timeRE *regexp.Regexp, ids *idMap) {
	t.Helper()
	var got []string
	deadline := time.After(60 * time.Second)
	for len(got) < len(want) {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("%s ended after printing %q", p.args[0], got)
			}
			got = append(got, l)
		case <-deadline:
			t.Fatalf("%s printed %q, the README shows %d lines", p.args[0], got, len(want))
		}
	}
	compareLines(t, strings.Join(p.args, " "), want, got, norm, timeRE, ids)
}

// stop ends the command as Ctrl-C does and keeps what it printed beyond
// the README's lines.
func (p *tourProc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s after Ctrl-C: %v", p.args[0], err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("%s did not stop on Ctrl-C", p.args[0])
	}
	for l := range p.lines {
		p.mu.Lock()
		p.extra = append(p.extra, l)
		p.mu.Unlock()
	}
}

func (p *tourProc) rest() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.extra
}
