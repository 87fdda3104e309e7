package server_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/server"
	"github.com/ankurah/ankurah-go/storage"
)

// The promises docs/protocol.md makes that a third-party client found the
// server breaking, or that the page did not state: each is tested here
// as the page now states it.

// TestDeleteEvents: a tombstone that carries operations is refused with
// invalid_event and nothing of the commit is written; a tombstone without
// them is accepted, and "deleted": true marks the entity in the commit's
// result and in the subscribers' remove item — and nowhere else.
func TestDeleteEvents(t *testing.T) {
	forEachKind(t, []string{servertest.Memory, servertest.Postgres}, func(t *testing.T, env *servertest.Env) {
		w := dial(t, env)
		w.register(albumSchema)
		watcher := dial(t, env)
		watcher.subscribe("all", "album", "")
		id := w.create("album", map[string]any{"name": "Showbiz", "year": 1999})
		other := w.create("album", map[string]any{"name": "Absolution", "year": 2003})
		watcher.waitItems(2)

		head := w.head("album", id)
		for _, ops := range []map[string]any{{"year": 2000}, {"year": nil}, {"brand_new": "x"}} {
			bad := protocol.Event{ID: w.next(head).String(), Collection: "album", EntityID: id, Parents: head, Operations: raw(ops), Delete: true}
			// With an ordinary edit of another entity in the same commit:
			// the whole commit is refused.
			edit := protocol.Event{ID: w.next(w.head("album", other)).String(), Collection: "album", EntityID: other, Parents: w.head("album", other), Operations: raw(map[string]any{"year": 2004})}
			var perr *protocol.Error
			if err := w.do(protocol.Request{Type: protocol.TypeCommit, Events: []protocol.Event{edit, bad}}, nil); !errors.As(err, &perr) || perr.Code != storage.CodeInvalidEvent {
				t.Fatalf("a delete with operations %v: %v, want invalid_event", ops, err)
			}
		}
		// Nothing was written: heads, history and schema as before.
		if got := w.head("album", id); !slices.Equal(got, head) {
			t.Fatalf("head moved: %v → %v", head, got)
		}
		var hist struct{ Events []protocol.Event }
		w.must(protocol.Request{Type: protocol.TypeGetEvents, Collection: "album", EntityID: other}, &hist)
		if len(hist.Events) != 1 {
			t.Fatalf("the refused commit's edit was stored: %d events", len(hist.Events))
		}
		var cols struct{ Collections []protocol.Collection }
		w.must(protocol.Request{Type: protocol.TypeCollections}, &cols)
		for _, c := range cols.Collections {
			for _, f := range c.Fields {
				if f.Name == "brand_new" {
					t.Fatal("the refused commit added a field")
				}
			}
		}
		// The watcher's next item is the next accepted write: nothing of
		// the refused commits reached it.
		w.edit("album", other, map[string]any{"year": 2005})
		if items := watcher.waitItems(3); items[2].Kind != "update" || items[2].Entity.ID != other || val(items[2].Entity, "year") != float64(2005) {
			t.Fatalf("after the refused commits: %+v", items[2])
		}

		// A tombstone without operations: the commit's result and the
		// watcher's remove both say "deleted": true.
		res := w.commit(protocol.Event{ID: w.next(head).String(), Collection: "album", EntityID: id, Parents: head, Delete: true})
		if len(res.Entities) != 1 || !res.Entities[0].Deleted || res.Entities[0].ID != id {
			t.Fatalf("commit result of a delete: %+v", res.Entities)
		}
		items := watcher.waitItems(4)
		if it := items[3]; it.Kind != "remove" || it.Entity.ID != id || !it.Entity.Deleted {
			t.Fatalf("remove of a deleted entity: %+v", it)
		}
		// An edit that makes an entity leave a query is a remove without it.
		watcher.subscribe("recent", "album", "year >= 2005")
		w.edit("album", other, map[string]any{"year": 2006})
		w.edit("album", other, map[string]any{"year": 1990})
		for _, it := range watcher.waitItems(7)[4:] {
			if it.Entity.Deleted {
				t.Fatalf("deleted on an entity that was not deleted: %+v", it)
			}
		}
		if env.Kind == servertest.Postgres {
			// A SQL DELETE reaches subscribers the same way.
			if _, err := env.DB.Exec(context.Background(), "delete from album where id = $1", other); err != nil {
				t.Fatal(err)
			}
			watcher.waitFor("the SQL delete", func() bool {
				watcher.mu.Lock()
				defer watcher.mu.Unlock()
				for _, it := range watcher.items[7:] {
					if it.Sub == "all" && it.Kind == "remove" && it.Entity.ID == other {
						return it.Entity.Deleted
					}
				}
				return false
			})
		}
		// Reads never return deleted entities.
		var got protocol.EntitiesResult
		w.must(protocol.Request{Type: protocol.TypeGet, Collection: "album", IDs: []string{id}}, &got)
		if len(got.Entities) != 0 {
			t.Fatalf("get of a deleted entity: %+v", got.Entities)
		}
	})
}

// TestCommitBadNames: a field name no field may have, in a commit, is
// bad_name (as the error table says), not invalid_event; nothing is
// written.
func TestCommitBadNames(t *testing.T) {
	forEachKind(t, []string{servertest.Memory, servertest.Postgres}, func(t *testing.T, env *servertest.Env) {
		w := dial(t, env)
		w.register(albumSchema)
		for _, name := range []string{"_secret", "id", "xmin", "tableoid", "", strings.Repeat("f", 64), "tab\there", "Year", "has space", "1st"} {
			id := w.gen.New().String()
			ev := protocol.Event{ID: id, Collection: "album", EntityID: id, Parents: []string{}, Operations: raw(map[string]any{"name": "x", name: 1})}
			var perr *protocol.Error
			if err := w.do(protocol.Request{Type: protocol.TypeCommit, Events: []protocol.Event{ev}}, nil); !errors.As(err, &perr) || perr.Code != storage.CodeBadName {
				t.Errorf("field %q: %v, want bad_name", name, err)
			}
			var got protocol.EntitiesResult
			w.must(protocol.Request{Type: protocol.TypeGet, Collection: "album", IDs: []string{id}}, &got)
			if len(got.Entities) != 0 {
				t.Errorf("field %q: the entity was written", name)
			}
		}
		// A bad collection name is bad_name too.
		id := w.gen.New().String()
		var perr *protocol.Error
		if err := w.do(protocol.Request{Type: protocol.TypeCommit, Events: []protocol.Event{{ID: id, Collection: "_album", EntityID: id, Parents: []string{}}}}, nil); !errors.As(err, &perr) || perr.Code != storage.CodeBadName {
			t.Errorf("collection _album: %v, want bad_name", err)
		}
	})
}

// recvRaw reads one frame's bytes.
func (c *rawConn) recvRaw() (map[string]json.RawMessage, []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	_, data, err := c.ws.Read(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		c.t.Fatalf("undecodable frame %q: %v", data, err)
	}
	return m, data
}

// TestRequestIDs: every frame a client sends after the handshake gets
// exactly one answer. One without a valid id (missing, not an integer from
// 1 to 2^53-1, or not a JSON frame at all, a binary frame, a second hello
// without one) is answered by an error with "id": null; a valid id is
// always echoed, whatever else is wrong. An error without "id" is only ever
// about the session itself.
func TestRequestIDs(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Memory, servertest.Options{})
	c := dialRaw(t, env, true)
	for _, tc := range []struct{ frame, code, id string }{
		{`{"type":"ping"}`, protocol.CodeBadRequest, "null"},
		{`{"type":"ping","id":null}`, protocol.CodeBadRequest, "null"},
		{`{"type":"ping","id":"7"}`, protocol.CodeBadRequest, "null"},
		{`{"type":"ping","id":-1}`, protocol.CodeBadRequest, "null"},
		{`{"type":"ping","id":1.5}`, protocol.CodeBadRequest, "null"},
		{`{"type":"ping","id":0}`, protocol.CodeBadRequest, "null"},
		{`{"type":"ping","id":9007199254740992}`, protocol.CodeBadRequest, "null"},
		{`{"type":"ping","id":18446744073709551616}`, protocol.CodeBadRequest, "null"},
		{`{"type":"fetch","collection":"album"}`, protocol.CodeBadRequest, "null"},
		{`{"type":"no_such_type"}`, protocol.CodeUnknownType, "null"},
		{`{"type":"no_such_type","id":3}`, protocol.CodeUnknownType, "3"},
		{`{"id":4}`, protocol.CodeBadFrame, "4"},
		{`{"type":"fetch","id":5,"collection":5}`, protocol.CodeBadRequest, "5"},
		{`garbage`, protocol.CodeBadFrame, "null"},
		{`{"type":"ping","id":6`, protocol.CodeBadFrame, "null"},
		{"{\"type\":\"ping\",\"id\":7,\"x\":\"\xff\"}", protocol.CodeBadFrame, "7"},
		// A second hello: refused, the session goes on as it was.
		{`{"type":"hello","protocol":1}`, protocol.CodeBadRequest, "null"},
		{`{"type":"hello","protocol":1,"id":8}`, protocol.CodeBadRequest, "8"},
		{`{"type":"hello","protocol":1,"id":9007199254740992}`, protocol.CodeBadRequest, "null"},
	} {
		c.send(tc.frame)
		m, data := c.recvRaw()
		var perr protocol.Error
		_ = json.Unmarshal(m["error"], &perr)
		if string(m["type"]) != `"error"` || perr.Code != tc.code || string(m["id"]) != tc.id {
			t.Errorf("%s: got %s, want a %s error with id %s", tc.frame, data, tc.code, tc.id)
		}
	}
	// A binary frame has no id that could be read.
	if err := c.ws.Write(context.Background(), websocket.MessageBinary, []byte(`{"type":"ping","id":10}`)); err != nil {
		t.Fatal(err)
	}
	if m, data := c.recvRaw(); string(m["id"]) != "null" || !strings.Contains(string(m["error"]), protocol.CodeUnsupportedFrame) {
		t.Errorf("binary frame: %s", data)
	}
	// The largest id is echoed exactly; the session is still open.
	c.send(`{"type":"ping","id":9007199254740991}`)
	if m, data := c.recvRaw(); string(m["type"]) != `"result"` || string(m["id"]) != "9007199254740991" {
		t.Fatalf("ping with the largest id: %s", data)
	}
}

// TestSecondHello: a hello on an open session is refused (bad_request)
// and changes nothing: not the session, not its live queries.
func TestSecondHello(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Memory, servertest.Options{})
	w := dial(t, env)
	w.register(albumSchema)
	c := dialRaw(t, env, true)
	c.send(`{"type":"subscribe","id":1,"sub":"all","collection":"album"}`)
	if f := c.recv(); f.Type != "result" || f.ID != 1 {
		t.Fatalf("subscribe: %+v", f)
	}
	c.send(`{"type":"hello","protocol":1,"id":2,"token":"whatever","client":"again"}`)
	if f := c.recv(); f.Type != "error" || f.ID != 2 || f.Error.Code != protocol.CodeBadRequest {
		t.Fatalf("second hello: %+v", f)
	}
	id := w.create("album", map[string]any{"name": "Hullabaloo", "year": 2002})
	if f := c.recv(); f.Type != "changes" || len(f.Items) != 1 || f.Items[0].Entity.ID != id {
		t.Fatalf("the live query after a second hello: %+v", f)
	}
}

// wsHandshake opens a TCP connection to env and upgrades it to a WebSocket
// by hand, so that a test can send bytes no WebSocket library would.
func wsHandshake(t *testing.T, env *servertest.Env) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", env.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(waitTimeout)); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	req := "GET /ws HTTP/1.1\r\nHost: " + env.Addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %s", resp.Status)
	}
	return conn, br
}

// maskedText is a client's text frame (masked, as RFC 6455 requires).
func maskedText(payload string) []byte {
	f := []byte{0x81}
	if len(payload) < 126 {
		f = append(f, 0x80|byte(len(payload)))
	} else {
		f = append(f, 0x80|126, byte(len(payload)>>8), byte(len(payload)))
	}
	mask := []byte{1, 2, 3, 4}
	f = append(f, mask...)
	for i := range len(payload) {
		f = append(f, payload[i]^mask[i%4])
	}
	return f
}

// closeStatus reads frames from the server until its close frame, and
// returns that frame's status.
func closeStatus(t *testing.T, br *bufio.Reader) int {
	t.Helper()
	for {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatalf("reading the server's frames: %v", err)
		}
		n := int(h[1] & 0x7f)
		switch n {
		case 126:
			var ext [2]byte
			if _, err := io.ReadFull(br, ext[:]); err != nil {
				t.Fatal(err)
			}
			n = int(binary.BigEndian.Uint16(ext[:]))
		case 127:
			var ext [8]byte
			if _, err := io.ReadFull(br, ext[:]); err != nil {
				t.Fatal(err)
			}
			n = int(binary.BigEndian.Uint64(ext[:]))
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(br, payload); err != nil {
			t.Fatal(err)
		}
		if h[0]&0x0f == 0x8 {
			if len(payload) < 2 {
				return 1005
			}
			return int(binary.BigEndian.Uint16(payload))
		}
	}
}

// TestRawGarbage: bytes that are not WebSocket frames close the connection
// with status 1002 (protocol error), before or after hello; other clients
// go on.
func TestRawGarbage(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Memory, servertest.Options{})
	bystander := dial(t, env)
	bystander.register(albumSchema)
	bystander.subscribe("all", "album", "")
	for _, tc := range []struct {
		name  string
		hello bool
		bytes []byte
	}{
		{"text before hello", false, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"text after hello", true, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"an unmasked frame", true, []byte{0x81, 0x02, '{', '}'}},
		{"a reserved opcode", true, []byte{0x83, 0x80, 0, 0, 0, 0}},
		{"a fragmented control frame", true, []byte{0x09, 0x80, 0, 0, 0, 0}},
		{"a control frame over 125 bytes", true, append([]byte{0x89, 0x80 | 126, 0, 200, 0, 0, 0, 0}, make([]byte, 200)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, br := wsHandshake(t, env)
			if tc.hello {
				if _, err := conn.Write(maskedText(`{"type":"hello","protocol":1}`)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := conn.Write(tc.bytes); err != nil {
				t.Fatal(err)
			}
			if got := closeStatus(t, br); got != int(websocket.StatusProtocolError) {
				t.Fatalf("close status %d, want 1002", got)
			}
		})
	}
	id := bystander.create("album", map[string]any{"name": "still here", "year": 2001})
	if items := bystander.waitItems(1); items[0].Entity.ID != id {
		t.Fatalf("bystander: %+v", items)
	}
}

// TestPings: the server pings every PingInterval; a client that reads
// answers (WebSocket libraries answer pings while they read) and stays; a
// client that stops reading — and so answers no ping — is disconnected as
// a slow consumer: the error slow_consumer, then close 4001.
func TestPings(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Memory, servertest.Options{Config: server.Config{
		PingInterval: 20 * time.Millisecond, WriteTimeout: 2 * time.Second, CloseTimeout: waitTimeout}})

	pings := make(chan struct{}, 100)
	ctx := context.Background()
	ws, _, err := websocket.Dial(ctx, env.URL, &websocket.DialOptions{OnPingReceived: func(context.Context, []byte) bool {
		select {
		case pings <- struct{}{}:
		default:
		}
		return true
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	reader := &rawConn{t: t, ws: ws}
	reader.send(`{"type":"hello","protocol":1}`)
	if f := reader.recv(); f.Type != "welcome" {
		t.Fatalf("handshake: %+v", f)
	}
	frames := make(chan protocol.ServerFrame, 10)
	readDone := make(chan error, 1)
	go func() {
		for {
			_, data, err := ws.Read(ctx)
			if err != nil {
				readDone <- err
				return
			}
			var f protocol.ServerFrame
			_ = json.Unmarshal(data, &f)
			frames <- f
		}
	}()
	deadline := time.After(waitTimeout)
	for range 5 {
		select {
		case <-pings:
		case err := <-readDone:
			t.Fatalf("the reading client was disconnected: %v", err)
		case <-deadline:
			t.Fatal("no pings")
		}
	}
	reader.send(`{"type":"ping","id":1}`)
	select {
	case f := <-frames:
		if f.Type != "result" || f.ID != 1 {
			t.Fatalf("ping request: %+v", f)
		}
	case err := <-readDone:
		t.Fatalf("the reading client was disconnected: %v", err)
	}

	// A client that stops reading after the handshake.
	mute := dialRaw(t, env, true)
	waitMetric(t, env, "ankurah_slow_consumer_disconnects_total", 1)
	m, data := mute.recvRaw()
	if string(m["type"]) != `"error"` || !strings.Contains(string(m["error"]), protocol.CodeSlowConsumer) || m["id"] != nil {
		t.Fatalf("the mute client's last frame: %s", data)
	}
	if _, err := mute.tryRecv(); websocket.CloseStatus(err) != protocol.CloseSlowConsumer {
		t.Fatalf("the mute client's close: %v", err)
	}
	ws.Close(websocket.StatusNormalClosure, "")
	<-readDone
}

// waitMetric polls /metrics until name reaches want.
func waitMetric(t *testing.T, env *servertest.Env, name string, want int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for scrape(t, env, name) < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s stayed below %d", name, want)
		}
		time.Sleep(5 * time.Millisecond) // polling /metrics, no signal to wait on
	}
}

// TestNewFieldTypes: a commit that writes a field the collection lacks
// adds it, typed by the value's JSON as docs/protocol.md says; a null
// adds no field. The new names follow the naming rule.
func TestNewFieldTypes(t *testing.T) {
	forEachKind(t, []string{servertest.Memory, servertest.Postgres}, func(t *testing.T, env *servertest.Env) {
		w := dial(t, env)
		w.register(protocol.Collection{Name: "things", Fields: []protocol.Field{}})
		id := w.gen.New().String()
		ops := map[string]json.RawMessage{
			"s": json.RawMessage(`"2024-02-29"`), "i": json.RawMessage(`-9223372036854775808`), "big": json.RawMessage(`9223372036854775808`),
			"f": json.RawMessage(`1.5`), "e": json.RawMessage(`1e3`), "b": json.RawMessage(`true`),
			"o": json.RawMessage(`{"a":1}`), "a": json.RawMessage(`[1,"x"]`), "nothing": json.RawMessage(`null`),
			"doc": json.RawMessage(`{"yjs":"AAA="}`),
		}
		w.commit(protocol.Event{ID: id, Collection: "things", EntityID: id, Parents: []string{}, Operations: ops})
		var res struct{ Collections []protocol.Collection }
		w.must(protocol.Request{Type: protocol.TypeCollections}, &res)
		got := map[string]string{}
		for _, c := range res.Collections {
			if c.Name == "things" {
				for _, f := range c.Fields {
					got[f.Name] = f.Type
				}
			}
		}
		want := map[string]string{"s": "text", "i": "bigint", "big": "double precision", "f": "double precision", "e": "double precision",
			"b": "boolean", "o": "jsonb", "a": "jsonb", "doc": "ytext"}
		if len(got) != len(want) {
			t.Errorf("fields %v, want %v", got, want)
		}
		for f, typ := range want {
			if got[f] != typ {
				t.Errorf("field %s: %q, want %q", f, got[f], typ)
			}
		}
	})
}

// TestHandshakeTimeout: a connection that sends no hello within
// HandshakeTimeout gets handshake_required and close 4002.
func TestHandshakeTimeout(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Memory, servertest.Options{Config: server.Config{HandshakeTimeout: 50 * time.Millisecond}})
	c := dialRaw(t, env, false)
	if f := c.recv(); f.Type != "error" || f.Error == nil || f.Error.Code != protocol.CodeHandshakeRequired {
		t.Fatalf("no hello: %+v", f)
	}
	if _, err := c.tryRecv(); websocket.CloseStatus(err) != protocol.CloseHandshakeFailed {
		t.Fatalf("no hello: close %v", err)
	}
}

// TestProtocolDocDefaults: the figures docs/protocol.md states are the
// server's defaults.
func TestProtocolDocDefaults(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(doc)), " ")
	d := server.Config{}.WithDefaults()
	for phrase, ok := range map[string]bool{
		"holds **1,024** frames not yet written":               d.QueueFrames == 1024,
		"longer than **10 s** (`MaxLag`)":                      d.MaxLag == 10*time.Second,
		"takes longer than **10 s** (`WriteTimeout`)":          d.WriteTimeout == 10*time.Second,
		"within 10 s (`WriteTimeout`, see \"Transport\")":      d.WriteTimeout == 10*time.Second,
		"ping** every 30 s (`PingInterval`)":                   d.PingInterval == 30*time.Second,
		"expects its pong within 10 s (`WriteTimeout`)":        d.WriteTimeout == 10*time.Second,
		"**2 s** (`CloseTimeout`)":                             d.CloseTimeout == 2*time.Second,
		"no frame within 10 s (`HandshakeTimeout`)":            d.HandshakeTimeout == 10*time.Second,
		"`max_frame_bytes` (1 MiB by default":                  d.MaxFrameBytes == 1<<20,
		"(500/s, bursts of 1,000 by default)":                  d.RequestsPerSecond == 500 && d.RequestBurst == 1000,
		"a collection 127), starting with `_`":                 true,
		"status 1002 (protocol error), before or after":        true,
		"close frame, status **4001**, reason `slow_consumer`": protocol.CloseSlowConsumer == 4001,
	} {
		if !strings.Contains(text, phrase) {
			t.Errorf("docs/protocol.md no longer says %q", phrase)
		} else if !ok {
			t.Errorf("docs/protocol.md says %q, the server's default differs", phrase)
		}
	}
}
