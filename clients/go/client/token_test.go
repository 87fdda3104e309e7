package client_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	client "github.com/ankurah/ankurah-go/clients/go/client"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/server"
	"github.com/ankurah/ankurah-go/server/auth"
)

var tokenSecret = []byte("client-token-test-secret-client-token-test-0123")

// notePolicy: users read and write their own notes; admins do anything,
// schema changes included.
const notePolicy = `{
  "default_role": "user",
  "roles": {
    "user":  {"collections": {"note": {"read": "owner = $jwt.sub", "write": "owner = $jwt.sub"}}},
    "admin": {"schema": true, "collections": {"*": {"read": "true", "write": "true"}}}
  }
}`

type Note struct {
	Title string
	Owner string
}

// authServer starts a server that checks tokens — HS256, with a clock
// skew of 1 ms so that a token of a few seconds expires when it says — and
// enforces notePolicy. It returns the server and an admin's client, which
// has created the collection (users may not change the schema).
func authServer(t *testing.T) (*servertest.Env, *client.Client, *client.Collection[Note]) {
	t.Helper()
	v, err := auth.NewVerifier(context.Background(), auth.TokenConfig{Secret: tokenSecret, ClockSkew: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(path, []byte(notePolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	policy, err := auth.LoadPolicyFile(path, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	env := servertest.Start(t, servertest.Memory, servertest.Options{Config: server.Config{Tokens: v, Policy: policy}})
	admin := dial(t, env.URL, client.Options{Token: mint(t, "root", "admin", time.Hour)})
	notes, err := client.Register[Note](testCtx(t), admin)
	if err != nil {
		t.Fatal(err)
	}
	return env, admin, notes
}

// mint signs a token for sub with role, valid for ttl (whole seconds: exp
// is in seconds).
func mint(t testing.TB, sub, role string, ttl time.Duration) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": sub, "role": role, "exp": time.Now().Add(ttl).Unix()}).SignedString(tokenSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// create commits one note and waits for the server's answer.
func create(ctx context.Context, c *client.Client, notes *client.Collection[Note], n Note) (event.ID, error) {
	tx := c.Begin()
	m, err := notes.Create(tx, n)
	if err != nil {
		return event.ID{}, err
	}
	_, err = tx.Commit(client.Confirmed(ctx))
	return m.ID(), err
}

// The client connects with the token its TokenSource gives, and the
// session acts for that user: it reads her notes only, a write the policy
// refuses comes back as permission_denied with nothing written, and her
// events carry her name.
func TestTokenSourceConnects(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	env, admin, adminNotes := authServer(t)
	if _, err := create(ctx, admin, adminNotes, Note{Title: "alice's", Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := create(ctx, admin, adminNotes, Note{Title: "bob's", Owner: "bob"}); err != nil {
		t.Fatal(err)
	}

	var calls atomic.Int32
	c := dial(t, env.URL, client.Options{TokenSource: func(context.Context) (string, error) {
		calls.Add(1)
		return mint(t, "alice", "user", time.Hour), nil
	}})
	if n := calls.Load(); n != 1 {
		t.Fatalf("the token source was called %d times for one connection", n)
	}
	notes, err := client.Register[Note](ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	lq, err := notes.Subscribe(ctx, nil, "ORDER BY title")
	if err != nil {
		t.Fatal(err)
	}
	if cs := recv(t, lq.Changes()); !cs.Initial || len(cs.Items) != 1 || cs.Items[0].Entity.Value().Title != "alice's" {
		t.Fatalf("alice's initial result: %v", cs)
	}

	_, err = create(ctx, c, notes, Note{Title: "forged", Owner: "bob"})
	if !client.IsRejected(err) || client.Code(err) != protocol.CodePermissionDenied {
		t.Fatalf("a note for bob: %v, want a rejection with permission_denied", err)
	}
	if got, err := adminNotes.Fetch(ctx, "title = 'forged'"); err != nil || len(got) != 0 {
		t.Fatalf("the refused note is on the server: %v %v", got, err)
	}

	id, err := create(ctx, c, notes, Note{Title: "alice's second", Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	hist, err := c.Node().History(ctx, "note", id)
	if err != nil || len(hist) != 1 || hist[0].Author != "alice" {
		t.Fatalf("history %+v %v, want one event by alice", hist, err)
	}
}

// On token_expiring the client gets a fresh token from its TokenSource and
// sends it on the same connection: the live query goes on past the first
// token's expiry, with no reconnection.
func TestTokenSourceRefreshKeepsLiveQueries(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	env, admin, adminNotes := authServer(t)
	p := newProxy(t, env.Addr)
	var mu sync.Mutex
	var expiries []time.Time
	c := dial(t, p.URL(), client.Options{TokenSource: func(context.Context) (string, error) {
		// The server asks for a new token a fifth of its life before it
		// expires: a second for these.
		tok := mint(t, "alice", "user", 5*time.Second)
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(tok, claims); err != nil {
			return "", err
		}
		exp, _ := claims.GetExpirationTime()
		mu.Lock()
		expiries = append(expiries, exp.Time)
		mu.Unlock()
		return tok, nil
	}})
	notes, err := client.Register[Note](ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	lq, err := notes.Subscribe(ctx, nil, "title LIKE 'refresh%'")
	if err != nil {
		t.Fatal(err)
	}
	if cs := recv(t, lq.Changes()); !cs.Initial || len(cs.Items) != 0 {
		t.Fatalf("initial result: %v", cs)
	}
	eventually(t, "a refreshed token, and the first one's expiry", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(expiries) >= 2 && time.Now().After(expiries[0].Add(100*time.Millisecond))
	})
	if _, err := create(ctx, admin, adminNotes, Note{Title: "refresh: after the first token expired", Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	cs := recv(t, lq.Changes())
	if len(cs.Items) != 1 || cs.Items[0].Kind != client.Add || cs.Items[0].Entity.Value().Title != "refresh: after the first token expired" {
		t.Fatalf("change set after the refresh: %v", cs)
	}
	if n := p.Dialed(); n != 1 || !c.Connected() {
		t.Fatalf("%d connections (connected %v), want the first one still open", n, c.Connected())
	}
}

// A TokenSource error fails that connection attempt — Dial returns it; a
// client from Open says it in LastError and tries again, asking the source
// again, until it connects.
func TestTokenSourceErrorIsRetried(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	env, _, _ := authServer(t)
	errNoToken := errors.New("nobody is signed in yet")
	release := make(chan struct{})
	var calls atomic.Int32
	opts := client.Options{
		ClientName: t.Name(),
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		TokenSource: func(ctx context.Context) (string, error) {
			switch calls.Add(1) {
			case 1, 2:
				return "", errNoToken
			case 3: // holds the third attempt until the test has seen the second fail
				select {
				case <-release:
				case <-ctx.Done():
					return "", ctx.Err()
				}
			}
			return mint(t, "alice", "user", time.Hour), nil
		},
	}
	if _, err := client.Dial(ctx, env.URL, opts); !errors.Is(err, errNoToken) {
		t.Fatalf("Dial: %v, want the token source's error", err)
	}
	c, err := client.Open(env.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	eventually(t, "the failed attempt in LastError", func() bool { return errors.Is(c.LastError(), errNoToken) })
	if c.Connected() {
		t.Fatal("connected without a token")
	}
	close(release)
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("the token source was called %d times, want 3 (Dial's, a failed retry, the one that worked)", n)
	}
}

// Without a TokenSource a token is not refreshed: the server ends the
// connection when it expires, with token_expired.
func TestFixedTokenExpires(t *testing.T) {
	t.Parallel()
	env, _, _ := authServer(t)
	c := dial(t, env.URL, client.Options{Token: mint(t, "alice", "user", 2*time.Second)})
	eventually(t, "the connection to end with token_expired", func() bool {
		return !c.Connected() && client.Code(c.LastError()) == protocol.CodeTokenExpired
	})
}
