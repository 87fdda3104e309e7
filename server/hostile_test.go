package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/server"
)

// rawConn is a WebSocket that speaks the protocol by hand.
type rawConn struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialRaw(t *testing.T, env *servertest.Env, hello bool) *rawConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, env.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(64 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	c := &rawConn{t: t, ws: ws}
	if hello {
		c.send(`{"type":"hello","protocol":1}`)
		if f := c.recv(); f.Type != "welcome" {
			t.Fatalf("handshake: %+v", f)
		}
	}
	return c
}

func (c *rawConn) send(frame string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawConn) recv() protocol.ServerFrame {
	c.t.Helper()
	f, err := c.tryRecv()
	if err != nil {
		c.t.Fatal(err)
	}
	return f
}

func (c *rawConn) tryRecv() (protocol.ServerFrame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	_, data, err := c.ws.Read(ctx)
	if err != nil {
		return protocol.ServerFrame{}, err
	}
	var f protocol.ServerFrame
	if err := json.Unmarshal(data, &f); err != nil {
		c.t.Fatalf("undecodable frame %q: %v", data, err)
	}
	return f, nil
}

// TestHostileFrames: malformed, unknown and ill-typed frames get coded
// errors on a connection that stays open; a frame over the limit closes
// only its own connection; other clients never notice.
func TestHostileFrames(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Memory, servertest.Options{Config: server.Config{MaxFrameBytes: 64 << 10}})
	bystander := dial(t, env)
	bystander.register(albumSchema)
	bystander.subscribe("s", "album", "")

	c := dialRaw(t, env, true)
	cases := []struct {
		frame, code string
		id          uint64
	}{
		{`not json`, protocol.CodeBadFrame, 0},
		{`[1,2]`, protocol.CodeBadFrame, 0},
		{`{"id":1}`, protocol.CodeBadFrame, 1},
		{`{"type":"launch_missiles","id":2}`, protocol.CodeUnknownType, 2},
		{`{"type":"fetch","id":"three"}`, protocol.CodeBadRequest, 0},
		{`{"type":"fetch","id":4,"collection":7}`, protocol.CodeBadRequest, 4},
		{`{"type":"fetch","id":5}`, protocol.CodeBadRequest, 5},
		{`{"type":"fetch","id":0,"collection":"album"}`, protocol.CodeBadRequest, 0},
		{`{"type":"fetch","id":6,"collection":"album","query":"year >"}`, "parse_error", 6},
		{`{"type":"fetch","id":7,"collection":"album","query":"year = ?","args":[{"a":1}]}`, "bad_argument", 7},
		{`{"type":"fetch","id":8,"collection":"_nope"}`, "bad_name", 8},
		{`{"type":"get","id":9,"collection":"album","ids":["not-an-id"]}`, protocol.CodeBadRequest, 9},
		{`{"type":"commit","id":10,"events":[{"id":"x","collection":"album"}]}`, "invalid_event", 10},
		{`{"type":"commit","id":11,"events":[{"id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","collection":"album","entity_id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","parents":[],"operations":{"year":"nineteen"}}]}`, "type_mismatch", 11},
		{`{"type":"commit","id":12,"events":[{"id":"7ZZZZZZZZZZZZZZZZZZZZZZZZZ","collection":"album","entity_id":"7ZZZZZZZZZZZZZZZZZZZZZZZZZ","parents":[],"operations":{"year":1}}]}`, "invalid_event", 12},
		{`{"type":"commit","id":13,"events":[{"id":"01ARZ3NDEKTSV4RRFFQ69G5FAW","collection":"album","entity_id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","parents":["01ARZ3NDEKTSV4RRFFQ69G5FAV"],"operations":{"year":1}}]}`, "not_found", 13},
		{`{"type":"unsubscribe","id":14,"sub":"never"}`, protocol.CodeUnknownSubscription, 14},
		{`{"type":"subscribe","id":15,"sub":"` + strings.Repeat("x", 65) + `","collection":"album"}`, protocol.CodeBadRequest, 15},
		{`{"type":"hello","protocol":1}`, protocol.CodeBadRequest, 0},
		{`{"type":"register_schema","id":16,"collections":[{"name":"_bad","fields":[]}]}`, "bad_name", 16},
		{`{"type":"register_schema","id":17,"collections":[{"name":"album","fields":[{"name":"year","type":"text"}]}]}`, "type_mismatch", 17},
		{`{"type":"commit","id":18,"events":[` + strings.Repeat(`{},`, 1000) + `{}]}`, protocol.CodeTooManyEvents, 18},
	}
	for _, tc := range cases {
		c.send(tc.frame)
		f := c.recv()
		if f.Type != "error" || f.Error == nil || f.Error.Code != tc.code || f.ID != tc.id {
			t.Errorf("%.60s: got %+v (error %+v), want %s for id %d", tc.frame, f, f.Error, tc.code, tc.id)
		}
		if f.Error != nil && strings.Contains(f.Error.Message, "internal") {
			t.Errorf("%.60s: %s", tc.frame, f.Error.Message)
		}
	}
	// Binary frames are refused, the connection lives on.
	ctx := context.Background()
	if err := c.ws.Write(ctx, websocket.MessageBinary, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if f := c.recv(); f.Error == nil || f.Error.Code != protocol.CodeUnsupportedFrame {
		t.Fatalf("binary: %+v", f)
	}
	c.send(`{"type":"collections","id":99}`)
	if f := c.recv(); f.Type != "result" || f.ID != 99 {
		t.Fatalf("after the hostile frames the connection still answers: %+v", f)
	}
	// ping (a client's own keepalive) answers an empty result.
	c.send(`{"type":"ping","id":100}`)
	if f := c.recv(); f.Type != "result" || f.ID != 100 || string(f.Result) != "{}" {
		t.Fatalf("ping: %+v (result %s)", f, f.Result)
	}

	// A frame over the limit closes that connection with 1009.
	big := dialRaw(t, env, true)
	big.send(`{"type":"fetch","id":1,"collection":"album","query":"` + strings.Repeat("x", 100<<10) + `"}`)
	if _, err := big.tryRecv(); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("oversized frame: %v", err)
	}

	// No hello: a coded error and close 4002.
	nohello := dialRaw(t, env, false)
	nohello.send(`{"type":"fetch","id":1,"collection":"album"}`)
	if f := nohello.recv(); f.Error == nil || f.Error.Code != protocol.CodeHandshakeRequired {
		t.Fatalf("no hello: %+v", f)
	}
	if _, err := nohello.tryRecv(); websocket.CloseStatus(err) != protocol.CloseHandshakeFailed {
		t.Fatalf("no hello close: %v", err)
	}
	wrongVersion := dialRaw(t, env, false)
	wrongVersion.send(`{"type":"hello","protocol":99}`)
	if f := wrongVersion.recv(); f.Error == nil || f.Error.Code != protocol.CodeUnsupportedProtocol {
		t.Fatalf("wrong version: %+v", f)
	}

	// The bystander saw nothing of it and still works.
	id := bystander.create("album", map[string]any{"name": "still here", "year": 2001})
	if items := bystander.waitItems(1); items[0].Entity.ID != id {
		t.Fatalf("bystander: %+v", items)
	}
}

// TestSubscriptionLimits: duplicate names and the per-connection cap.
func TestSubscriptionLimits(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Memory, servertest.Options{Config: server.Config{MaxSubscriptions: 2}})
	c := dial(t, env)
	c.register(albumSchema)
	c.subscribe("a", "album", "")
	var perr *protocol.Error
	if _, err := c.trySubscribe("a", "album", "", nil); !errors.As(err, &perr) || perr.Code != protocol.CodeDuplicateSubscription {
		t.Fatalf("duplicate: %v", err)
	}
	c.subscribe("b", "album", "")
	if _, err := c.trySubscribe("c", "album", "", nil); !errors.As(err, &perr) || perr.Code != protocol.CodeTooManySubscriptions {
		t.Fatalf("limit: %v", err)
	}
	c.must(protocol.Request{Type: protocol.TypeUnsubscribe, Sub: "a"}, nil)
	c.subscribe("c", "album", "")
}

// TestSlowConsumer: a client that cannot keep up is disconnected and
// counted, whichever bound it crossed — its queue full, a frame waiting
// longer than MaxLag, one frame's write taking longer than WriteTimeout —
// and is told why: it receives what the server had written to its socket,
// then an error frame slow_consumer and close 4001 (CloseTimeout is
// generous here, so that the client, which reads again once it has been
// cut, always finds them). Meanwhile the other clients receive every
// change, in order.
func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	long := waitTimeout
	for _, tc := range []struct {
		name  string
		kinds []string
		cfg   server.Config
		reads bool // the slow client reads one frame per two commits; otherwise none
	}{
		{"queue full", []string{servertest.Memory, servertest.Postgres}, server.Config{QueueFrames: 8, MaxLag: long, WriteTimeout: long, CloseTimeout: long}, false},
		// The bounds apply to the fast client too: they are short, but not
		// so short that a loaded machine (the race detector, two cores)
		// makes a client that reads everything miss them.
		{"write timeout", []string{servertest.Memory}, server.Config{QueueFrames: 100_000, MaxLag: long, WriteTimeout: 2 * time.Second, CloseTimeout: long}, false},
		{"lag, not reading", []string{servertest.Memory}, server.Config{QueueFrames: 100_000, MaxLag: 2 * time.Second, WriteTimeout: long, CloseTimeout: long}, false},
		{"lag, reading slowly", []string{servertest.Memory, servertest.Postgres}, server.Config{QueueFrames: 100_000, MaxLag: 2 * time.Second, WriteTimeout: long, CloseTimeout: long}, true},
		// A client that does not read again within CloseTimeout: the
		// server cuts its connection, with or without the close frame.
		{"never reads again", []string{servertest.Memory}, server.Config{QueueFrames: 8, CloseTimeout: 100 * time.Millisecond}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, kind := range tc.kinds {
				t.Run(kind, func(t *testing.T) {
					t.Parallel()
					slowConsumer(t, servertest.Start(t, kind, servertest.Options{Config: tc.cfg}), tc.reads)
				})
			}
		})
	}
}

func slowConsumer(t *testing.T, env *servertest.Env, reads bool) {
	w := dial(t, env)
	w.register(albumSchema)
	fast := dial(t, env)
	fast.subscribe("all", "album", "year >= 0 ORDER BY year")

	slow := dialRaw(t, env, true)
	slow.send(`{"type":"subscribe","id":1,"sub":"all","collection":"album"}`)
	if f := slow.recv(); f.Type != "result" {
		t.Fatalf("subscribe: %+v", f)
	}
	// Large entities fill the socket buffers, then the queue grows.
	notes := strings.Repeat("n", 256<<10)
	n, read := 0, 0
	for ; n < 2000 && scrape(t, env, "ankurah_slow_consumer_disconnects_total") == 0; n++ {
		w.create("album", map[string]any{"name": "x", "notes": notes, "year": n})
		if reads && n%2 == 1 {
			if _, err := slow.tryRecv(); err != nil {
				t.Fatalf("the slow client was cut before the server counted it: %v", err)
			}
			read++
		}
	}
	if got := scrape(t, env, "ankurah_slow_consumer_disconnects_total"); got != 1 {
		t.Fatalf("slow consumer disconnects: %d after %d commits", got, n)
	}
	cut := env.Options.Config.CloseTimeout < time.Second
	if cut {
		// The session ends within CloseTimeout though the client does
		// not read: only the writer and the fast client stay connected.
		deadline := time.Now().Add(waitTimeout)
		for scrape(t, env, "ankurah_connections") != 2 {
			if time.Now().After(deadline) {
				t.Fatal("the slow client's session did not end")
			}
			time.Sleep(5 * time.Millisecond) // polling /metrics, no signal to wait on
		}
	}
	// Reading now: the frames written before, then the error and 4001.
	var last protocol.ServerFrame
	var err error
	frames := 0
	for {
		var f protocol.ServerFrame
		if f, err = slow.tryRecv(); err != nil {
			break
		}
		last = f
		frames++
	}
	if cut && websocket.CloseStatus(err) == -1 {
		// The socket was full: neither the error frame nor the close
		// frame could be written in time, the connection was cut.
		t.Logf("%d commits; the connection was cut after %d frames: %v", n, frames, err)
	} else if websocket.CloseStatus(err) != protocol.CloseSlowConsumer {
		t.Fatalf("close after %d frames: %v", frames, err)
	} else if last.Type != "error" || last.Error == nil || last.Error.Code != protocol.CodeSlowConsumer || last.ID != 0 {
		t.Fatalf("last frame before the close: %+v", last)
	} else {
		t.Logf("%d commits; the slow client read %d changes, then %d frames and: %s", n, read, frames-1, last.Error.Message)
	}
	// The other client saw every commit, in commit order.
	fast.waitFor("the fast client to see every commit", func() bool { return len(fast.set("all")) == n })
	fast.mu.Lock()
	defer fast.mu.Unlock()
	for i, it := range fast.items {
		if it.Kind != "add" || val(it.Entity, "year") != float64(i) {
			t.Fatalf("the fast client's item %d: %s of year %v", i, it.Kind, val(it.Entity, "year"))
		}
	}
}

// scrape reads one metric from /metrics.
func scrape(t *testing.T, env *servertest.Env, name string) int {
	t.Helper()
	resp, err := http.Get("http://" + env.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var n int
			if err := json.Unmarshal([]byte(v), &n); err != nil {
				t.Fatalf("%s: %q", name, v)
			}
			return n
		}
	}
	t.Fatalf("metric %s missing from:\n%s", name, body)
	return 0
}

// TestOperationalEndpoints: /healthz, /readyz and /metrics answer.
func TestOperationalEndpoints(t *testing.T) {
	forEachKind(t, servertest.Kinds, func(t *testing.T, env *servertest.Env) {
		for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
			resp, err := http.Get("http://" + env.Addr + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
			}
		}
		c := dial(t, env)
		c.register(albumSchema)
		c.subscribe("a", "album", "")
		if got := scrape(t, env, "ankurah_connections"); got != 1 {
			t.Fatalf("connections: %d", got)
		}
		if got := scrape(t, env, "ankurah_subscriptions"); got != 1 {
			t.Fatalf("subscriptions: %d", got)
		}
		if env.Kind == servertest.Postgres {
			if got := scrape(t, env, "ankurah_replication_lag_bytes"); got < 0 {
				t.Fatalf("replication lag: %d bytes", got)
			}
		}
	})
}
