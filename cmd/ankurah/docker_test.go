package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/internal/wire"
	"github.com/ankurah/ankurah-go/protocol"
)

// compose is the part of docker-compose.yml the test reads.
type compose struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       string            `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
}

// dockerfile is what the final stage of the Dockerfile says.
type dockerfile struct {
	stages      []string // FROM lines
	env         map[string]string
	user        string
	entrypoint  []string
	cmd         []string
	healthcheck []string
	build       string // the RUN line of the go build
}

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	d := dockerfile{env: map[string]string{}}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	execForm := func(s string) []string {
		var v []string
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatalf("Dockerfile: %q is not in exec form: %v", s, err)
		}
		return v
	}
	for _, line := range strings.Split(text, "\n") {
		word, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest = strings.TrimSpace(rest)
		switch word {
		case "FROM":
			d.stages = append(d.stages, rest)
			d.env, d.user = map[string]string{}, "" // what counts is the final stage's
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				d.env[k] = v
			}
		case "USER":
			d.user = rest
		case "ENTRYPOINT":
			d.entrypoint = execForm(rest)
		case "CMD":
			d.cmd = execForm(rest)
		case "HEALTHCHECK":
			_, cmd, ok := strings.Cut(rest, " CMD ")
			if !ok {
				t.Fatalf("Dockerfile: HEALTHCHECK without CMD: %q", rest)
			}
			d.healthcheck = execForm(cmd)
		case "RUN":
			if strings.Contains(rest, "go build") {
				d.build = rest
			}
		}
	}
	return d
}

// TestDockerCompose: docker-compose.yml and the Dockerfile run the product
// (there is no Docker engine here, so this is what can be checked without
// one): PostgreSQL with wal_level=logical; the ankurah service built from
// this repository's Dockerfile — multi-stage, a static CGO_ENABLED=0 binary
// in an empty image, a non-root user, a health check that the binary runs
// itself — waiting for PostgreSQL to be healthy; and its command and
// environment, with the Dockerfile's ENV, given to this binary against the
// test's own PostgreSQL: the server starts, the health check passes, the
// client tools work through the published port, and SIGTERM (docker stop)
// stops it cleanly.
func TestDockerCompose(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	pg, ok := c.Services["postgres"]
	if !ok || !strings.HasPrefix(pg.Image, "postgres:") || !strings.Contains(strings.Join(pg.Command, " "), "wal_level=logical") {
		t.Fatalf("the postgres service must run PostgreSQL with wal_level=logical: %+v", pg)
	}
	if len(pg.Healthcheck.Test) == 0 {
		t.Error("the postgres service has no health check for ankurah to wait on")
	}
	ank, ok := c.Services["ankurah"]
	if !ok {
		t.Fatal("docker-compose.yml has no ankurah service")
	}
	if ank.Build != "." {
		t.Errorf("the ankurah service is built from %q, want the repository's Dockerfile (.)", ank.Build)
	}
	if ank.DependsOn["postgres"].Condition != "service_healthy" {
		t.Errorf("the ankurah service does not wait for a healthy postgres: %+v", ank.DependsOn)
	}

	d := readDockerfile(t)
	if len(d.stages) < 2 || d.stages[len(d.stages)-1] != "scratch" {
		t.Errorf("Dockerfile stages %q: want a build stage and a final FROM scratch", d.stages)
	}
	if !strings.Contains(d.build, "CGO_ENABLED=0") || !strings.Contains(d.build, "./cmd/ankurah") {
		t.Errorf("Dockerfile build %q: want a CGO_ENABLED=0 build of ./cmd/ankurah", d.build)
	}
	if uid, _, _ := strings.Cut(d.user, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("Dockerfile USER %q: want a non-root user", d.user)
	}
	if len(d.entrypoint) != 1 || d.entrypoint[0] != "/ankurah" {
		t.Fatalf("Dockerfile ENTRYPOINT %q: want [\"/ankurah\"]", d.entrypoint)
	}
	if len(d.healthcheck) < 2 || d.healthcheck[0] != "/ankurah" || d.healthcheck[1] != "health" {
		t.Fatalf("Dockerfile HEALTHCHECK %q: want the binary's health command", d.healthcheck)
	}

	// The service's environment: the Dockerfile's ENV, then compose's.
	env := map[string]string{}
	for k, v := range d.env {
		env[k] = v
	}
	for k, v := range ank.Environment {
		env[k] = v
	}
	// Its database URL names the postgres service with its password; here
	// it is the test's database, in the same form.
	composeURL, err := url.Parse(env["ANKURAH_DATABASE_URL"])
	if err != nil || composeURL.Hostname() != "postgres" {
		t.Fatalf("ANKURAH_DATABASE_URL %q: want a URL of the postgres service", env["ANKURAH_DATABASE_URL"])
	}
	if pw, _ := composeURL.User.Password(); pw != pg.Environment["POSTGRES_PASSWORD"] {
		t.Errorf("ANKURAH_DATABASE_URL's password is not the postgres service's POSTGRES_PASSWORD")
	}
	if err := checkDatabaseURL(composeURL.String()); err != nil {
		t.Errorf("the binary refuses the compose file's URL: %v", err)
	}
	env["ANKURAH_DATABASE_URL"] = pgtest.NewDatabase(t)
	// Its listen address and published port.
	host, port, err := net.SplitHostPort(env["ANKURAH_LISTEN"])
	if err != nil || (host != "0.0.0.0" && host != "") {
		t.Fatalf("ANKURAH_LISTEN %q: want every interface, so that the published port reaches it", env["ANKURAH_LISTEN"])
	}
	if !published(ank.Ports, port) {
		t.Errorf("ports %q do not publish the listening port %s", ank.Ports, port)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, free, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	env["ANKURAH_LISTEN"] = "0.0.0.0:" + free
	delete(env, "ANKURAH_DATA_DIR") // unused on Postgres; /data does not exist here
	environ := []string{"ANKURAH_TEST_MAIN=1", "PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}

	// docker run: ENTRYPOINT + command.
	args := append(append([]string{}, d.entrypoint[1:]...), ank.Command...)
	srv := exec.Command(os.Args[0], args...)
	srv.Env = environ
	logs := &syncBuffer{}
	srv.Stdout, srv.Stderr = logs, logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()

	// The health check passes once the server is ready.
	deadline := time.Now().Add(60 * time.Second)
	for {
		health := exec.Command(os.Args[0], d.healthcheck[1:]...)
		health.Env = environ
		out, err := health.CombinedOutput()
		if err == nil && strings.TrimSpace(string(out)) == "ready" {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("the server exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the health check never passed: %s\nserver:\n%s", out, logs.String())
		}
		time.Sleep(100 * time.Millisecond) // polling the health check, bounded by the deadline
	}

	// The README's Postgres tour through the published port: a subscriber
	// before the collection exists, the SQL statements the README runs in
	// psql, and the client tools.
	wsURL := "ws://127.0.0.1:" + free + "/ws"
	ctx := context.Background()
	sub, err := wire.Dial(ctx, wsURL, wire.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := sub.Do(ctx, protocol.Request{Type: protocol.TypeSubscribe, Sub: "s", Collection: "album", Query: "year >= ? ORDER BY year", Args: queryArgs([]string{"2000"})}, nil); err != nil {
		t.Fatal(err)
	}
	db := pgtest.Pool(t, env["ANKURAH_DATABASE_URL"])
	for _, stmt := range []string{
		`select ankurah.create_collection('album', '{"name":"text","year":"bigint"}')`,
		`insert into album (name, year) values ('Origin of Symmetry', 2001)`,
		`update album set year = 2002 where name = 'Origin of Symmetry'`,
		`delete from album where name = 'Origin of Symmetry'`,
	} {
		if _, err := db.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	var kinds []string
	for len(kinds) < 3 {
		select {
		case p := <-sub.Changes():
			for _, it := range p.Items {
				kinds = append(kinds, it.Kind)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("the subscriber saw %q of the SQL writes", kinds)
		}
	}
	if strings.Join(kinds, " ") != "add update remove" {
		t.Errorf("the subscriber saw %q, want add update remove", kinds)
	}
	var tombstones int
	if err := db.QueryRow(ctx, "select count(*) from ankurah.events where tombstone").Scan(&tombstones); err != nil || tombstones != 1 {
		t.Errorf("tombstone events: %d, %v", tombstones, err)
	}
	id := strings.TrimSpace(cli(t, "put", "--url", wsURL, "album", `{"name":"Showbiz","year":2001}`))
	if got := cli(t, "query", "--url", wsURL, "album", "year >= ?", "2000"); !strings.Contains(got, id) {
		t.Errorf("query through the published port: %q", got)
	}

	// docker stop sends SIGTERM.
	srv.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Error("SIGTERM did not stop the server")
	}
	if regexp.MustCompile(`level=(ERROR|WARN)`).MatchString(logs.String()) {
		t.Errorf("the server logged problems:\n%s", logs.String())
	}
}

// published reports whether a compose ports list publishes container port.
func published(ports []string, port string) bool {
	for _, p := range ports {
		if strings.HasSuffix(p, ":"+port) || p == port {
			return true
		}
	}
	return false
}

// syncBuffer collects a child's output from its copying goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
