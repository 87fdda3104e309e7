package server_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/internal/wire"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/server"
	"github.com/ankurah/ankurah-go/server/auth"
)

var testSecret = []byte("server-test-secret-server-test-secret-0123")

// todoPolicy: users read their own todos and shared ones, write their
// own, never see secret; admins do anything, including schema changes.
const todoPolicy = `{
  "default_role": "user",
  "roles": {
    "user": {"collections": {"todo": {"read": "owner = $jwt.sub OR shared = true", "write": "owner = $jwt.sub", "hidden": ["secret"]},
                             "doc":  {"read": "team IN $jwt.teams", "write": "team IN $jwt.teams"}}},
    "admin": {"schema": true, "collections": {"*": {"read": "true", "write": "true"}}}
  }
}`

var todoSchema = protocol.Collection{Name: "todo", Fields: []protocol.Field{
	{Name: "title", Type: "text"}, {Name: "owner", Type: "text"}, {Name: "shared", Type: "boolean"}, {Name: "secret", Type: "text"}}}

var docSchema = protocol.Collection{Name: "doc", Fields: []protocol.Field{{Name: "title", Type: "text"}, {Name: "team", Type: "text"}}}

// authEnv starts a server with token checks and a policy (from a file, so
// that tests can rewrite it).
func authEnv(t *testing.T, kind, policy string, tweak func(*server.Config)) (*servertest.Env, string) {
	t.Helper()
	v, err := auth.NewVerifier(context.Background(), auth.TokenConfig{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(path, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := auth.LoadPolicyFile(path, 5*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{Tokens: v, Policy: src}
	if tweak != nil {
		tweak(&cfg)
	}
	env := servertest.Start(t, kind, servertest.Options{Config: cfg})
	admin := dialAs(t, env, token(t, "root", "admin", nil, time.Hour))
	admin.register(todoSchema, docSchema)
	return env, path
}

func token(t testing.TB, sub, role string, extra map[string]any, ttl time.Duration) string {
	c := jwt.MapClaims{"sub": sub, "exp": time.Now().Add(ttl).Unix()}
	if role != "" {
		c["role"] = role
	}
	for k, v := range extra {
		c[k] = v
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func dialAs(t testing.TB, env *servertest.Env, tok string) *tclient {
	t.Helper()
	c, err := tryDialAs(t, env, tok)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func tryDialAs(t testing.TB, env *servertest.Env, tok string) (*tclient, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	conn, err := wire.Dial(ctx, env.URL, wire.Options{Client: t.Name(), Token: tok})
	if err != nil {
		return nil, err
	}
	c := newTClient(t, conn)
	return c, nil
}

func errCode(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	if err == nil {
		return "ok"
	}
	return "uncoded: " + err.Error()
}

func TestHandshakeNeedsAValidToken(t *testing.T) {
	t.Parallel()
	env, _ := authEnv(t, servertest.Memory, todoPolicy, nil)
	for _, tc := range []struct {
		name, token, code string
	}{
		{"no token", "", protocol.CodeUnauthenticated},
		{"garbage", "x.y.z", protocol.CodeUnauthenticated},
		{"another secret", func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "a", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte("another-secret-another-secret-another"))
			return s
		}(), protocol.CodeUnauthenticated},
		{"expired", token(t, "alice", "", nil, -time.Hour), protocol.CodeTokenExpired},
	} {
		_, err := tryDialAs(t, env, tc.token)
		if errCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	// A valid token: welcome names the subject.
	c := dialAs(t, env, token(t, "alice", "", nil, time.Hour))
	if w := c.conn.Welcome(); w.Subject != "alice" || w.ExpiresAt == nil {
		t.Fatalf("welcome %+v", w)
	}
}

// Each user sees exactly what the read rule allows — in the snapshot, live,
// and when an entity starts or stops satisfying the rule — and writes only
// what the write rule allows, checked before and after, nothing written
// when refused.
func TestReadAndWriteRules(t *testing.T) {
	forEachKind(t, servertest.Kinds, func(t *testing.T, _ *servertest.Env) {
		env, _ := authEnv(t, t.Name()[len("TestReadAndWriteRules/"):], todoPolicy, nil)
		alice := dialAs(t, env, token(t, "alice", "", nil, time.Hour))
		bob := dialAs(t, env, token(t, "bob", "", nil, time.Hour))
		admin := dialAs(t, env, token(t, "root", "admin", nil, time.Hour))
		a1 := admin.create("todo", map[string]any{"title": "a1", "owner": "alice", "secret": "s"})
		b1 := bob.create("todo", map[string]any{"title": "b1", "owner": "bob"})
		if ids(alice.subscribe("s", "todo", "")) != a1 || ids(bob.subscribe("s", "todo", "")) != b1 {
			t.Fatalf("snapshots: alice %v, bob %v", alice.set("s"), bob.set("s"))
		}
		if _, ok := alice.set("s")[a1].Values["secret"]; ok {
			t.Fatal("a hidden field was sent")
		}
		// Writes the rule refuses: another's todo, a todo for another, giving one away.
		for _, tc := range []struct {
			name string
			ev   func() protocol.Event
		}{
			{"edit another's", func() protocol.Event {
				return protocol.Event{ID: alice.next(bob.head("todo", b1)).String(), Collection: "todo", EntityID: b1, Parents: bob.head("todo", b1), Operations: raw(map[string]any{"title": "hacked"})}
			}},
			{"create for another", func() protocol.Event {
				id := alice.gen.New().String()
				return protocol.Event{ID: id, Collection: "todo", EntityID: id, Parents: []string{}, Operations: raw(map[string]any{"owner": "bob"})}
			}},
			{"give away", func() protocol.Event {
				h := alice.head("todo", a1)
				return protocol.Event{ID: alice.next(h).String(), Collection: "todo", EntityID: a1, Parents: h, Operations: raw(map[string]any{"owner": "bob"})}
			}},
			{"write a hidden field", func() protocol.Event {
				h := alice.head("todo", a1)
				return protocol.Event{ID: alice.next(h).String(), Collection: "todo", EntityID: a1, Parents: h, Operations: raw(map[string]any{"secret": "x"})}
			}},
		} {
			if err := alice.do(protocol.Request{Type: protocol.TypeCommit, Events: []protocol.Event{tc.ev()}}, nil); errCode(err) != protocol.CodePermissionDenied {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
		// An entity that starts satisfying bob's rule enters his result; one
		// that stops leaves alice's.
		alice.edit("todo", a1, map[string]any{"shared": true})
		bob.waitFor("a1 shared with bob", func() bool { _, ok := bob.set("s")[a1]; return ok })
		admin.edit("todo", a1, map[string]any{"owner": "carol", "shared": false})
		alice.waitFor("a1 leaves alice", func() bool { _, ok := alice.set("s")[a1]; return !ok })
		bob.waitFor("a1 leaves bob", func() bool { _, ok := bob.set("s")[a1]; return !ok })
		for _, c := range []*tclient{alice, bob} {
			if v := c.violations("s"); len(v) > 0 {
				t.Fatalf("stream violations: %v", v)
			}
		}
		// get and history obey the rule; history records the author.
		var got protocol.EntitiesResult
		alice.must(protocol.Request{Type: protocol.TypeGet, Collection: "todo", IDs: []string{a1, b1}}, &got)
		if len(got.Entities) != 0 {
			t.Fatalf("alice gets %v", got.Entities)
		}
		var hist protocol.EventsResult
		admin.must(protocol.Request{Type: protocol.TypeGetEvents, Collection: "todo", EntityID: a1}, &hist)
		authors := []string{}
		for _, e := range hist.Events {
			authors = append(authors, e.Author)
		}
		if strings.Join(authors, ",") != "root,alice,root" {
			t.Fatalf("authors %v", authors)
		}
		bob.must(protocol.Request{Type: protocol.TypeGetEvents, Collection: "todo", EntityID: a1}, &hist)
		if len(hist.Events) != 0 {
			t.Fatalf("bob reads a1's history: %v", hist.Events)
		}
		bob.must(protocol.Request{Type: protocol.TypeGetEvents, Collection: "todo", EntityID: b1}, &hist)
		for _, e := range hist.Events {
			if _, ok := e.Operations["secret"]; ok {
				t.Fatal("history shows a hidden field")
			}
		}
		// A query naming a hidden field is refused.
		if _, err := alice.trySubscribe("h", "todo", "secret = 'x'", nil); errCode(err) != protocol.CodePermissionDenied {
			t.Fatalf("hidden field in a query: %v", err)
		}
	})
}

func ids(es []protocol.Entity) string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// By default no client changes the schema: registering a new collection or
// field, or committing a new field, needs the privilege; registering a
// model the schema already has does not.
func TestSchemaChangesNeedThePrivilege(t *testing.T) {
	t.Parallel()
	env, _ := authEnv(t, servertest.Memory, todoPolicy, nil)
	alice := dialAs(t, env, token(t, "alice", "", nil, time.Hour))
	alice.register(todoSchema) // unchanged: fine
	for _, tc := range []struct {
		name string
		req  protocol.Request
	}{
		{"new collection", protocol.Request{Type: protocol.TypeRegisterSchema, Collections: []protocol.Collection{{Name: "evil", Fields: []protocol.Field{{Name: "x", Type: "text"}}}}}},
		{"new field", protocol.Request{Type: protocol.TypeRegisterSchema, Collections: []protocol.Collection{{Name: "todo", Fields: []protocol.Field{{Name: "x", Type: "text"}}}}}},
		{"new field in a commit", func() protocol.Request {
			id := alice.gen.New().String()
			return protocol.Request{Type: protocol.TypeCommit, Events: []protocol.Event{{ID: id, Collection: "todo", EntityID: id, Parents: []string{}, Operations: raw(map[string]any{"owner": "alice", "x500": 1})}}}
		}()},
	} {
		if err := alice.do(tc.req, nil); errCode(err) != protocol.CodePermissionDenied {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	var cs protocol.CollectionsResult
	alice.must(protocol.Request{Type: protocol.TypeCollections}, &cs)
	if len(cs.Collections) != 2 || cs.Collections[1].Name != "todo" {
		t.Fatalf("collections %+v", cs)
	}
	for _, f := range cs.Collections[1].Fields {
		if f.Name == "secret" || f.Name == "x" {
			t.Fatalf("collections shows %s", f.Name)
		}
	}
	// An admin may; and a request adding too much is refused.
	admin := dialAs(t, env, token(t, "root", "admin", nil, time.Hour))
	admin.register(protocol.Collection{Name: "todo", Fields: []protocol.Field{{Name: "x", Type: "text"}}})
	many := protocol.Collection{Name: "wide"}
	for i := range server.DefaultMaxNewFields + 1 {
		many.Fields = append(many.Fields, protocol.Field{Name: "f" + string(rune('a'+i/26)) + string(rune('a'+i%26)), Type: "text"})
	}
	if err := admin.do(protocol.Request{Type: protocol.TypeRegisterSchema, Collections: []protocol.Collection{many}}, nil); errCode(err) != protocol.CodeTooComplex {
		t.Fatalf("a schema change over the limit: %v", err)
	}
}

// A refreshed token with other claims narrows the live queries anew: the
// client receives the difference; a token for another subject is refused.
func TestTokenRefreshNarrowsAgain(t *testing.T) {
	forEachKind(t, servertest.Kinds, func(t *testing.T, _ *servertest.Env) {
		env, _ := authEnv(t, t.Name()[len("TestTokenRefreshNarrowsAgain/"):], todoPolicy, nil)
		admin := dialAs(t, env, token(t, "root", "admin", nil, time.Hour))
		red := admin.create("doc", map[string]any{"title": "r", "team": "red"})
		blue := admin.create("doc", map[string]any{"title": "b", "team": "blue"})
		alice := dialAs(t, env, token(t, "alice", "", map[string]any{"teams": []string{"red"}}, time.Hour))
		if got := ids(alice.subscribe("d", "doc", "")); got != red {
			t.Fatalf("before: %s", got)
		}
		var res protocol.AuthResult
		alice.must(protocol.Request{Type: protocol.TypeAuth, Token: token(t, "alice", "", map[string]any{"teams": []string{"blue"}}, time.Hour)}, &res)
		if res.Subject != "alice" {
			t.Fatalf("auth result %+v", res)
		}
		alice.waitFor("red out, blue in", func() bool {
			s := alice.set("d")
			_, hasRed := s[red]
			_, hasBlue := s[blue]
			return !hasRed && hasBlue
		})
		if v := alice.violations("d"); len(v) > 0 {
			t.Fatal(v)
		}
		err := alice.do(protocol.Request{Type: protocol.TypeAuth, Token: token(t, "bob", "", nil, time.Hour)}, nil)
		if errCode(err) != protocol.CodeUnauthenticated {
			t.Fatalf("refresh as another subject: %v", err)
		}
	})
}

// A token that expires without a refresh: token_expiring, then the
// connection ends with token_expired and close 4003.
func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	env, _ := authEnv(t, servertest.Memory, todoPolicy, func(c *server.Config) { c.TokenRefreshLead = time.Second })
	// The verifier allows DefaultClockSkew past exp; a token that expired
	// 29 s ago still has a second or so to live.
	c := dialAs(t, env, token(t, "alice", "", nil, -auth.DefaultClockSkew+1500*time.Millisecond))
	c.waitFor("token_expiring", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, p := range c.log {
			if !p.Expiring.IsZero() {
				return true
			}
		}
		return false
	})
	select {
	case <-c.conn.Done():
	case <-time.After(waitTimeout):
		t.Fatal("the connection outlived its token")
	}
	if err := c.conn.Err(); errCode(err) != protocol.CodeTokenExpired {
		t.Fatalf("ended with %v, want token_expired", err)
	}
	// On the wire: token_expiring, then the error frame, then close 4003.
	raw := dialRaw(t, env, false)
	raw.send(`{"type":"hello","protocol":1,"token":"` + token(t, "alice", "", nil, -auth.DefaultClockSkew+1500*time.Millisecond) + `"}`)
	var types []string
	for {
		f, err := raw.tryRecv()
		if err != nil {
			if st := websocket.CloseStatus(err); st != protocol.CloseTokenExpired {
				t.Fatalf("closed with %v (status %d), want %d", err, st, protocol.CloseTokenExpired)
			}
			break
		}
		types = append(types, f.Type)
		if f.Type == "error" && f.Error.Code != protocol.CodeTokenExpired {
			t.Fatalf("error frame %+v", f.Error)
		}
	}
	if strings.Join(types, ",") != "welcome,token_expiring,error" {
		t.Fatalf("frames %v", types)
	}
}

// A policy file that changes applies at once to live queries; a broken one
// keeps the previous policy.
func TestPolicyReload(t *testing.T) {
	t.Parallel()
	env, path := authEnv(t, servertest.Memory, todoPolicy, nil)
	admin := dialAs(t, env, token(t, "root", "admin", nil, time.Hour))
	b1 := admin.create("todo", map[string]any{"title": "b", "owner": "bob", "shared": false})
	alice := dialAs(t, env, token(t, "alice", "", nil, time.Hour))
	if got := ids(alice.subscribe("s", "todo", "")); got != "" {
		t.Fatalf("before: %s", got)
	}
	open := strings.Replace(todoPolicy, `"read": "owner = $jwt.sub OR shared = true"`, `"read": "true"`, 1)
	if err := os.WriteFile(path, []byte(open), 0o600); err != nil {
		t.Fatal(err)
	}
	alice.waitFor("b1 visible after the reload", func() bool { _, ok := alice.set("s")[b1]; return ok })
	if err := os.WriteFile(path, []byte(`{"roles": broken`), 0o600); err != nil {
		t.Fatal(err)
	}
	// Still allowed: the broken file did not take force.
	var got protocol.EntitiesResult
	alice.must(protocol.Request{Type: protocol.TypeGet, Collection: "todo", IDs: []string{b1}}, &got)
	if len(got.Entities) != 1 {
		t.Fatal("a broken policy file took force")
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	env, _ := authEnv(t, servertest.Memory, todoPolicy, func(c *server.Config) {
		c.RequestsPerSecond, c.RequestBurst = 1, 20
		c.MaxQueryNodes, c.MaxInList = 8, 3
	})
	alice := dialAs(t, env, token(t, "alice", "", nil, time.Hour))
	if _, err := alice.trySubscribe("q", "todo", "title IN ('a', 'b', 'c', 'd')", nil); errCode(err) != protocol.CodeTooComplex {
		t.Fatalf("long IN list: %v", err)
	}
	if _, err := alice.trySubscribe("q", "todo", "title = 'a' OR title = 'b' OR title = 'c' OR title = 'd' OR title = 'e' OR title = 'f' OR title = 'g' OR title = 'h'", nil); errCode(err) != protocol.CodeTooComplex {
		t.Fatalf("many nodes: %v", err)
	}
	limited := false
	for range 40 {
		if errCode(alice.do(protocol.Request{Type: protocol.TypePing}, nil)) == protocol.CodeRateLimited {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("40 requests in a burst of 20 at 1/s were never limited")
	}
}

// Without a policy the server refuses to listen beyond loopback, unless
// told to.
func TestNoPolicyServesLoopbackOnly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		listen string
		ok     bool
	}{{"127.0.0.1:9797", true}, {"localhost:9797", true}, {"[::1]:9797", true}, {"0.0.0.0:9797", false}, {"192.0.2.1:9797", false}, {":9797", false}} {
		err := server.Config{Listen: tc.listen}.Validate()
		if (err == nil) != tc.ok || !tc.ok && !errors.Is(err, server.ErrExposedWithoutPolicy) {
			t.Errorf("%s: %v", tc.listen, err)
		}
	}
	if err := (server.Config{Listen: "0.0.0.0:9797", InsecureAllowAnonymous: true}).Validate(); err != nil {
		t.Error(err)
	}
	if err := (server.Config{Listen: "0.0.0.0:9797", Policy: auth.Static(auth.AllowAll())}).Validate(); err != nil {
		t.Error(err)
	}
}
