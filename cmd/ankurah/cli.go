package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
)

// Exit statuses, as documented in the help and docs/cli.md.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed (check: a problem was found)
	exitUsage   = 2 // the command line was wrong: nothing was done
)

// command is one subcommand. Its flags are declared by setup, which returns
// the function that runs it with the positional arguments; the same setup
// also serves the help, so that the flags listed are the flags parsed.
type command struct {
	name    string
	args    []string // the synopses after "ankurah NAME [flags]", one per form
	summary string   // one line, for the overview
	doc     string   // the help's body
	minArgs int
	maxArgs int // -1: any number
	// setup declares the command's flags on fs and returns its body.
	setup func(fs *flag.FlagSet, e *env) func(ctx context.Context, args []string) error
	// raw commands parse their own arguments (gen).
	raw func(ctx context.Context, e *env, args []string) int
}

// env is what a command may touch of the outside world.
type env struct {
	getenv         func(string) string
	stdout, stderr io.Writer
}

// envVar is an ANKURAH_* variable the binary reads, for the help.
type envVar struct {
	name, doc string
	cmds      []string // the commands that read it
}

// envVars are every ANKURAH_* variable the binary reads.
var envVars = []envVar{
	{"ANKURAH_DATABASE_URL", "default for --database-url: a postgres:// URL", []string{"serve", "migrate", "check", "slots", "adopt", "bench"}},
	{"ANKURAH_LISTEN", "default for --listen: " + defaultListen, []string{"serve", "health"}},
	{"ANKURAH_DATA_DIR", "default for --data-dir: ./ankurah-data", []string{"serve"}},
	{"ANKURAH_SLOT", "default for --slot: a new ankurah_<host>_<database>_<random> for each server", []string{"serve"}},
	{"ANKURAH_KEEP_SLOT", "1 for --keep-slot", []string{"serve"}},
	{"ANKURAH_SLOT_MAX_INACTIVE", "default for --slot-max-inactive: 10m", []string{"serve"}},
	{"ANKURAH_SLOT_MAX_RETAINED", "default for --slot-max-retained: 1GiB", []string{"serve"}},
	{"ANKURAH_SLOT_CHECK_INTERVAL", "default for --slot-check-interval: 1m", []string{"serve"}},
	{"ANKURAH_LOG_LEVEL", "default for --log-level: debug, info, warn or error", []string{"serve"}},
	{"ANKURAH_LOG_FORMAT", "default for --log-format: text or json", []string{"serve"}},
	{"ANKURAH_PPROF_ADDR", "default for --pprof-addr: the profiler's listener (off without it)", []string{"serve"}},
	{"ANKURAH_OTLP_ENDPOINT", "default for --otlp-endpoint (else OTEL_EXPORTER_OTLP_ENDPOINT): traces (off without it)", []string{"serve"}},
	{"ANKURAH_URL", "default for --url: " + DefaultURL, []string{"subscribe", "query", "get", "put", "delete"}},
	{"ANKURAH_TOKEN", "the token the client tools send in hello", []string{"subscribe", "query", "get", "put", "delete"}},
	{"ANKURAH_POLICY", "default for --policy: the policy file", []string{"serve"}},
	{"ANKURAH_JWT_SECRET", "the HS256 secret itself (or ANKURAH_JWT_SECRET_FILE, default for --jwt-secret-file)", []string{"serve", "token"}},
	{"ANKURAH_JWT_SECRET_FILE", "default for --jwt-secret-file", []string{"serve", "token"}},
	{"ANKURAH_JWT_PUBLIC_KEYS", "default for --jwt-public-keys", []string{"serve"}},
	{"ANKURAH_JWKS_FILE", "default for --jwks-file", []string{"serve"}},
	{"ANKURAH_JWKS_URL", "default for --jwks-url", []string{"serve"}},
	{"ANKURAH_JWT_ISSUER", "default for --jwt-issuer", []string{"serve", "token"}},
	{"ANKURAH_JWT_AUDIENCE", "default for --jwt-audience", []string{"serve", "token"}},
	{"ANKURAH_JWT_ROLE_CLAIM", "default for --jwt-role-claim: role", []string{"serve", "token"}},
	{"ANKURAH_ALLOWED_ORIGINS", "default for --allowed-origins", []string{"serve"}},
	{"ANKURAH_INSECURE_ALLOW_ANONYMOUS", "1 for --insecure-allow-anonymous", []string{"serve"}},
}

// commands, in the order the overview lists them.
func commands() []*command {
	return []*command{
		serveCommand(), migrateCommand(), checkCommand(), slotsCommand(), adoptCommand(), healthCommand(), genCommand(), benchCommand(), tokenCommand(),
		subscribeCommand(), queryCommand(), getCommand(), putCommand(), deleteCommand(),
		versionCommand(),
	}
}

func lookup(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

// run executes one command line and returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	e := &env{getenv: getenv, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, overview())
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) == 0 {
			fmt.Fprint(stdout, overview())
			return exitOK
		}
		c := lookup(rest[0])
		if c == nil {
			return report(e, "help", usageError("no command %q", rest[0]).withFix("`ankurah help` lists the commands"))
		}
		fmt.Fprint(stdout, c.help())
		return exitOK
	case "--version", "-version":
		name = "version"
	}
	c := lookup(name)
	if c == nil {
		return report(e, "", usageError("unknown command %q", name).withFix("`ankurah help` lists the commands"))
	}
	if c.raw != nil {
		return c.raw(ctx, e, rest)
	}
	fs := flag.NewFlagSet("ankurah "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by report, help by c.help
	fs.Usage = func() {}
	body := c.setup(fs, e)
	pos, err := parseArgs(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, c.help())
		return exitOK
	}
	if err != nil {
		return report(e, c.name, usageError("%s", flagError(err)).withFix("%s", c.seeHelp()))
	}
	if len(pos) < c.minArgs || c.maxArgs >= 0 && len(pos) > c.maxArgs {
		return report(e, c.name, c.argCountError(pos))
	}
	return report(e, c.name, body(ctx, pos))
}

// parseArgs parses flags wherever they stand among the positional arguments
// (`query album 'true' --url …`), as git and go do; after "--" every
// argument is positional, so that one starting with "-" (a negative
// number) can be given.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// flagError rewrites the flag package's messages in the CLI's terms
// (flags are written --name in this CLI's help).
func flagError(err error) string {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "flag provided but not defined: "):
		return "unknown flag " + dashes(strings.TrimPrefix(msg, "flag provided but not defined: "))
	case strings.HasPrefix(msg, "flag needs an argument: "):
		return dashes(strings.TrimPrefix(msg, "flag needs an argument: ")) + " needs a value"
	case strings.HasPrefix(msg, "invalid value "):
		// invalid value "x" for flag -conns: parse error
		v, f, _ := strings.Cut(strings.TrimPrefix(msg, "invalid value "), " for flag ")
		f, _, _ = strings.Cut(f, ":")
		return fmt.Sprintf("%s %s is not a valid value", dashes(f), v)
	}
	return msg
}

func dashes(f string) string { return "--" + strings.TrimLeft(f, "-") }

// failure is an error for the person at the terminal: one line in their
// terms, and, where there is one, what to do about it.
type failure struct {
	status int
	msg    string
	fix    string
}

func (f *failure) Error() string { return f.msg }

func (f *failure) withFix(format string, args ...any) *failure {
	f.fix = fmt.Sprintf(format, args...)
	return f
}

func usageError(format string, args ...any) *failure {
	return &failure{status: exitUsage, msg: fmt.Sprintf(format, args...)}
}

func failed(format string, args ...any) *failure {
	return &failure{status: exitFailure, msg: fmt.Sprintf(format, args...)}
}

// errSilent ends a command with status 1 when it has already said why (check's
// report).
var errSilent = &failure{status: exitFailure}

// report prints err as "ankurah CMD: message" and "fix: …" lines and
// returns the exit status.
func report(e *env, cmd string, err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, context.Canceled) {
		if cmd == "subscribe" || cmd == "serve" {
			return exitOK // Ctrl-C is how they end
		}
		err = failed("interrupted")
	}
	f, ok := err.(*failure)
	if !ok {
		f = failed("%s", oneLine(err.Error()))
	}
	if f == errSilent {
		return f.status
	}
	prefix := "ankurah: "
	if cmd != "" {
		prefix = "ankurah " + cmd + ": "
	}
	fmt.Fprintln(e.stderr, prefix+oneLine(f.msg))
	if f.fix != "" {
		fmt.Fprintln(e.stderr, "fix: "+oneLine(f.fix))
	}
	return f.status
}

// oneLine keeps a message on one line, whatever a library put in it.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func (c *command) seeHelp() string {
	return fmt.Sprintf("`ankurah help %s` shows its flags and arguments", c.name)
}

func (c *command) argCountError(pos []string) *failure {
	var f *failure
	switch {
	case len(pos) < c.minArgs:
		f = usageError("missing %s", c.missing(len(pos)))
	case c.maxArgs == 0:
		f = usageError("unexpected argument %q", pos[0])
	default:
		f = usageError("too many arguments (%d); a query or JSON with spaces must be quoted", len(pos))
	}
	return f.withFix("%s", c.synopsis())
}

// missing names the first positional argument not given.
func (c *command) missing(n int) string {
	words := strings.Fields(c.args[0])
	if n < len(words) {
		return strings.Trim(words[n], "[]'…")
	}
	return "an argument"
}

func (c *command) synopsis() string {
	forms := make([]string, len(c.args))
	for i, a := range c.args {
		forms[i] = strings.TrimSpace("ankurah " + c.name + " " + a)
	}
	return "usage: " + strings.Join(forms, "  or  ")
}

// help is `ankurah help NAME` and `ankurah NAME --help`.
func (c *command) help() string {
	var b strings.Builder
	b.WriteString("Usage:\n")
	for _, a := range c.args {
		fmt.Fprintf(&b, "  %s\n", strings.TrimSpace("ankurah "+c.name+" "+a))
	}
	fmt.Fprintf(&b, "\n%s\n", strings.TrimSpace(c.doc))
	if c.setup != nil {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		c.setup(fs, &env{getenv: func(string) string { return "" }, stdout: io.Discard, stderr: io.Discard})
		var lines [][2]string
		fs.VisitAll(func(f *flag.Flag) {
			name, usage := flag.UnquoteUsage(f)
			left := "--" + f.Name
			if name != "" {
				left += " " + strings.ToUpper(name)
			}
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
				if i := strings.LastIndex(usage, " (env "); i >= 0 && strings.HasSuffix(usage, ")") {
					usage = usage[:i] + " (default " + f.DefValue + "; " + usage[i+2:]
				} else {
					usage += " (default " + f.DefValue + ")"
				}
			}
			lines = append(lines, [2]string{left, usage})
		})
		if len(lines) > 0 {
			b.WriteString("\nFlags (before or after the arguments; -- ends the flags):\n")
			width := 0
			for _, l := range lines {
				width = max(width, len(l[0]))
			}
			for _, l := range lines {
				fmt.Fprintf(&b, "  %-*s  %s\n", width, l[0], l[1])
			}
		}
	}
	var vars []string
	for _, v := range envVars {
		if slices.Contains(v.cmds, c.name) {
			vars = append(vars, v.name)
		}
	}
	if len(vars) > 0 {
		fmt.Fprintf(&b, "\nEnvironment: %s (the flags' defaults; `ankurah help` lists them all).\n", strings.Join(vars, ", "))
	}
	b.WriteString("\nExit status: 0 ok, 1 failure, 2 usage error.\n")
	return b.String()
}

// overview is `ankurah help`.
func overview() string {
	var b strings.Builder
	b.WriteString("ankurah — real-time sync with Postgres at its centre\n\nUsage:\n  ankurah COMMAND [flags] [arguments]\n\nCommands:\n")
	for _, c := range commands() {
		if c.name == "subscribe" {
			b.WriteString("\nClient tools (talk to a running server at --url, " + DefaultURL + " by default):\n")
		}
		if c.name == "version" {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
	}
	b.WriteString("\n`ankurah help COMMAND` (or `ankurah COMMAND --help`) shows a command's arguments and flags.\n")
	b.WriteString("Flags may come before or after the arguments; after -- everything is an argument\n(e.g. a negative number: ankurah query album 'year > ?' -- -5).\n")
	b.WriteString("\nEnvironment:\n")
	width := 0
	for _, v := range envVars {
		width = max(width, len(v.name))
	}
	for _, v := range envVars {
		fmt.Fprintf(&b, "  %-*s %s (%s)\n", width, v.name, v.doc, strings.Join(v.cmds, ", "))
	}
	b.WriteString("\nExit status: 0 ok, 1 failure (check: a problem was found), 2 usage error.\nDocumentation: docs/cli.md\n")
	return b.String()
}

// Version and commit, set at link time by builds without VCS information
// (the Dockerfile: -ldflags "-X main.version=… -X main.commit=…").
var version, commit string

func versionCommand() *command {
	return &command{
		name: "version", args: []string{""}, summary: "print the version and the commit it was built from",
		doc: "Prints the module version and the version-control commit of this binary (from its build information), and the Go version that built it.",
		setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
			return func(context.Context, []string) error {
				fmt.Fprintln(e.stdout, versionLine())
				return nil
			}
		},
	}
}

// versionLine is e.g. "ankurah v0.1.0 (commit 1f3e704a3c21, 2026-12-03T10:00:00Z) go1.26.8".
func versionLine() string {
	v, rev, when, modified := version, commit, "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
				}
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	switch {
	case rev == "":
		rev = "commit unknown"
	default:
		rev = "commit " + rev
		if when != "" {
			rev += ", " + when
		}
		if modified {
			rev += ", with uncommitted changes"
		}
	}
	return fmt.Sprintf("ankurah %s (%s) %s", v, rev, runtime.Version())
}
