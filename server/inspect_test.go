package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/inspect"
	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/server"
)

var inspectAlbum = protocol.Collection{Name: "album", Fields: []protocol.Field{
	{Name: "name", Type: "text"}, {Name: "artist", Type: "text"}, {Name: "year", Type: "bigint"}}}

// getJSON reads an inspector endpoint; it fails the test unless the status
// is want.
func getJSON(t testing.TB, base, path, token string, want int, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("GET %s: %d %s; want %d", path, res.StatusCode, body, want)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, body)
		}
	}
}

// until polls fn until it reports true, failing after waitTimeout with
// what it last said.
func until(t testing.TB, what string, fn func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ok, said := fn()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last: %s", what, said)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestInspector writes an entity from two connections — concurrent edits,
// then an edit that merges them, and on Postgres a plain SQL update — and
// checks every endpoint against what was written.
func TestInspector(t *testing.T) {
	forEachKind(t, servertest.Kinds, func(t *testing.T, env *servertest.Env) {
		base := "http://" + env.Addr + "/inspect"
		a, b := dial(t, env), dial(t, env)
		a.register(inspectAlbum)
		const q = "year >= 2000 ORDER BY year DESC"
		a.subscribe("recent", "album", q)
		id := a.create("album", map[string]any{"name": "Showbiz", "artist": "Muse", "year": 2000})
		eid := event.MustParseID(id)
		// a and b both edit the creation: neither saw the other's edit.
		e1, e2 := a.gen.New(eid), b.gen.New(eid)
		a.commit(protocol.Event{ID: e1.String(), Collection: "album", EntityID: id, Parents: []string{id}, Operations: raw(map[string]any{"name": "Showbiz (A)", "artist": "Muse A"})})
		b.commit(protocol.Event{ID: e2.String(), Collection: "album", EntityID: id, Parents: []string{id}, Operations: raw(map[string]any{"name": "Showbiz (B)", "year": 2001})})
		branches := []string{e1.String(), e2.String()}
		slices.Sort(branches)
		merge := a.gen.New(e1, e2)
		a.commit(protocol.Event{ID: merge.String(), Collection: "album", EntityID: id, Parents: branches, Operations: raw(map[string]any{"artist": "Muse (merged)"})})
		writes := 4
		wantYear := 2001.0
		if env.Kind == servertest.Postgres {
			if _, err := env.DB.Exec(context.Background(), "update album set year = 2002 where id = $1", id); err != nil {
				t.Fatal(err)
			}
			writes, wantYear = 5, 2002
		}
		a.waitFor("every write on the live query", func() bool {
			e, ok := a.set("recent")[id]
			return ok && val(e, "year") == wantYear && val(e, "artist") == "Muse (merged)"
		})
		winner := max(e1.String(), e2.String())
		wantName := map[string]string{e1.String(): "Showbiz (A)", e2.String(): "Showbiz (B)"}[winner]

		t.Run("history", func(t *testing.T) {
			var h inspect.History
			getJSON(t, base, "/api/history?id="+id, "", http.StatusOK, &h) // the collection is found from the id
			if h.Collection != "album" || len(h.Events) != writes {
				t.Fatalf("history of %s in %s: %d events; want %d", id, h.Collection, len(h.Events), writes)
			}
			ev := map[string]inspect.HistoryEvent{}
			for _, e := range h.Events {
				ev[e.ID] = e
			}
			if c := ev[e1.String()].Concurrent; !slices.Equal(c, []string{e2.String()}) {
				t.Errorf("%s is concurrent with %v; want [%s]", e1, c, e2)
			}
			if c := ev[id].Concurrent; len(c) != 0 || !slices.Equal(ev[id].Children, branches) {
				t.Errorf("the creation: concurrent %v, children %v; want none and %v", c, ev[id].Children, branches)
			}
			if m := ev[merge.String()]; !m.Merge || !slices.Equal(m.Parents, branches) {
				t.Errorf("the merge event: merge %v, parents %v", m.Merge, m.Parents)
			}
			fields := map[string]inspect.FieldResolution{}
			for _, f := range h.Fields {
				fields[f.Field] = f
			}
			if f := fields["name"]; f.Event != winner || f.Reason != "concurrent" || string(f.Value) != fmt.Sprintf("%q", wantName) {
				t.Errorf("name: %+v; want %s's %q, concurrent", f, winner, wantName)
			}
			if f := fields["artist"]; f.Event != merge.String() || f.Reason != "causal" || string(f.Value) != `"Muse (merged)"` {
				t.Errorf("artist: %+v; want the merge's, causal", f)
			}
			if got := string(h.State.Values["year"]); got != fmt.Sprint(wantYear) {
				t.Errorf("state: year %s; want %v", got, wantYear)
			}
			if env.Kind == servertest.Postgres {
				last := h.Events[len(h.Events)-1]
				if last.Origin != "sql" || last.Author == "" || last.RecordedAt == nil || fields["year"].Event != last.ID || fields["year"].Reason != "causal" {
					t.Errorf("the SQL update: %+v; year %+v", last, fields["year"])
				}
				if ev[id].Origin != "api" {
					t.Errorf("the creation's origin is %q", ev[id].Origin)
				}
			}
			// The state at one branch: the creation and that edit only.
			var at inspect.History
			getJSON(t, base, "/api/history?collection=album&id="+id+"&at="+e1.String(), "", http.StatusOK, &at)
			if got := string(at.State.Values["name"]) + string(at.State.Values["artist"]) + string(at.State.Values["year"]); got != `"Showbiz (A)""Muse A"2000` {
				t.Errorf("the state at %s: %s", e1, got)
			}
			if !slices.Equal(at.State.Head, []string{e1.String()}) || at.At != e1.String() {
				t.Errorf("the state at %s has head %v", e1, at.State.Head)
			}
			getJSON(t, base, "/api/history?id="+event.NewID().String(), "", http.StatusNotFound, nil)
			getJSON(t, base, "/api/history?id=nope", "", http.StatusBadRequest, nil)
		})

		t.Run("connections", func(t *testing.T) {
			var cs inspect.Connections
			getJSON(t, base, "/api/connections", "", http.StatusOK, &cs)
			var found *inspect.Subscription
			for _, c := range cs.Connections {
				if c.Client != t.Name()[:strings.LastIndex(t.Name(), "/")] || !strings.HasPrefix(c.Remote, "127.0.0.1:") || c.AgeSeconds <= 0 {
					t.Errorf("connection %+v", c)
				}
				for i := range c.Subscriptions {
					if c.Subscriptions[i].Name == "recent" {
						found = &c.Subscriptions[i]
					}
				}
			}
			want, _ := query.Parse(q)
			if len(cs.Connections) != 2 || cs.Subscriptions != 1 || found == nil {
				t.Fatalf("%d connections, %d subscriptions: %+v", len(cs.Connections), cs.Subscriptions, cs)
			}
			// Its result, then a frame for each write it saw.
			if found.Collection != "album" || found.Query != want.String() || found.Members != 1 || found.Frames != int64(1+writes) || found.Items != int64(writes) || found.Bytes <= 0 {
				t.Errorf("subscription %+v; want %d frames", *found, writes)
			}
		})

		t.Run("collections", func(t *testing.T) {
			var got struct {
				Backend     string               `json:"backend"`
				Collections []inspect.Collection `json:"collections"`
			}
			until(t, "the sampler to count every change", func() (bool, string) {
				getJSON(t, base, "/api/collections", "", http.StatusOK, &got)
				return len(got.Collections) == 1 && got.Collections[0].Changes == int64(writes), fmt.Sprintf("%+v", got)
			})
			c := got.Collections[0]
			fields := map[string]string{}
			for _, f := range c.Fields {
				fields[f.Name] = f.Type
			}
			if c.Name != "album" || c.Rows != 1 || !c.RowsExact || c.Origin != "created" || fields["name"] != "text" || fields["year"] != "bigint" {
				t.Errorf("collection %+v", c)
			}
			if want := map[string]string{servertest.Postgres: "postgres", servertest.SQLite: "embedded", servertest.Memory: "memory"}[env.Kind]; got.Backend != want {
				t.Errorf("backend %q; want %q", got.Backend, want)
			}
		})

		t.Run("replication", func(t *testing.T) {
			var r inspect.Replication
			until(t, "two samples", func() (bool, string) {
				getJSON(t, base, "/api/replication", "", http.StatusOK, &r)
				return len(r.Samples) >= 2 && r.Changes == int64(writes), fmt.Sprintf("%d samples, %d changes", len(r.Samples), r.Changes)
			})
			if r.Transactions < int64(writes) || (r.LagBytes != nil) != (env.Kind == servertest.Postgres) {
				t.Errorf("replication %+v", r)
			}
			var sum float64
			for _, s := range r.Samples {
				sum += s.ChangesPerSecond * r.IntervalSeconds
			}
			if sum > float64(writes)+0.5 {
				t.Errorf("the samples add up to %v changes; %d were made", sum, writes)
			}
		})

		t.Run("query", func(t *testing.T) {
			var res inspect.QueryResult
			getJSON(t, base, "/api/query?collection=album&q="+url.QueryEscape(q), "", http.StatusOK, &res)
			if len(res.Rows) != 1 || res.Rows[0].ID != id || !strings.Contains(res.SQL, `"album"`) || !strings.HasPrefix(res.SQLOn, "postgres") {
				t.Fatalf("query: %+v", res)
			}
			if env.Kind == servertest.Postgres {
				// The SQL shown is the SQL the store runs: it reads the row.
				var got string
				if err := env.DB.QueryRow(context.Background(), "select id from ("+res.SQL+") q", res.Args...).Scan(&got); err != nil || got != id {
					t.Errorf("running the SQL shown (%s, %v): %v, %q", res.SQL, res.Args, err, got)
				}
			}
			getJSON(t, base, "/api/query?collection=album&q="+url.QueryEscape("year >="), "", http.StatusBadRequest, nil)
			getJSON(t, base, "/api/query?collection=nothing&q=", "", http.StatusNotFound, nil)
		})

		t.Run("read-only", func(t *testing.T) {
			for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
				req, _ := http.NewRequest(m, base+"/api/collections", strings.NewReader("{}"))
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusMethodNotAllowed {
					t.Errorf("%s: %d", m, res.StatusCode)
				}
			}
			res, err := http.Get(base + "/")
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || !strings.Contains(string(page), "<html") {
				t.Errorf("the page: %d %.200s", res.StatusCode, page)
			}
		})
	})
}

// TestInspectorAccess: with a policy, the endpoints need a token whose
// role is marked admin; without one, loopback only.
func TestInspectorAccess(t *testing.T) {
	t.Parallel()
	policy := `{"default_role": "user", "roles": {
  "user": {"collections": {"*": {"read": "true", "write": "true"}}},
  "admin": {"admin": true, "schema": true, "collections": {"*": {"read": "true", "write": "true"}}}}}`
	env, _ := authEnv(t, servertest.Memory, policy, nil)
	base := "http://" + env.Addr + "/inspect"
	getJSON(t, base, "/api/collections", "", http.StatusUnauthorized, nil)
	getJSON(t, base, "/api/collections", "not-a-token", http.StatusUnauthorized, nil)
	getJSON(t, base, "/api/collections", token(t, "alice", "user", nil, time.Hour), http.StatusForbidden, nil)
	getJSON(t, base, "/api/collections", token(t, "root", "admin", nil, time.Hour), http.StatusOK, nil)
	// The page holds no data: it is served, and asks for a token.
	res, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("the page without a token: %d", res.StatusCode)
	}
	// pprof and friends behind AdminOnly: the same rule.
	h := env.Server.AdminOnly(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "secret") }))
	for tok, want := range map[string]int{"": 401, token(t, "alice", "user", nil, time.Hour): 403, token(t, "root", "admin", nil, time.Hour): 200} {
		req := httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("AdminOnly: %d; want %d", rec.Code, want)
		}
	}

	// Without a policy: loopback only, the page included.
	open := servertest.Start(t, servertest.Memory, servertest.Options{})
	getJSON(t, "http://"+open.Addr+"/inspect", "/api/server", "", http.StatusOK, nil)
	for _, path := range []string{"/inspect/api/server", "/inspect/"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = "192.0.2.7:51000"
		rec := httptest.NewRecorder()
		open.Server.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden {
			t.Errorf("%s from 192.0.2.7 without a policy: %d", path, rec.Code)
		}
	}
	// And a server may leave the inspector out.
	none := servertest.Start(t, servertest.Memory, servertest.Options{Config: server.Config{NoInspector: true}})
	getJSON(t, "http://"+none.Addr+"/inspect", "/api/server", "", http.StatusNotFound, nil)
}

// TestInspectorSlowConsumer: a client that stops reading shows as slow
// while its queue fills, then among the slow consumers disconnected.
func TestInspectorSlowConsumer(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Memory, servertest.Options{Config: server.Config{QueueFrames: 8}})
	base := "http://" + env.Addr + "/inspect"
	w := dial(t, env)
	w.register(inspectAlbum)

	// The slow client: hello and a subscription, then it never reads.
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, env.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	for _, f := range []string{`{"type":"hello","protocol":1,"client":"stalled"}`, `{"type":"subscribe","id":1,"sub":"all","collection":"album","query":""}`} {
		if err := ws.Write(ctx, websocket.MessageText, []byte(f)); err != nil {
			t.Fatal(err)
		}
	}
	stalled := func() (inspect.Connection, []inspect.SlowConsumer, bool) {
		var cs inspect.Connections
		getJSON(t, base, "/api/connections", "", http.StatusOK, &cs)
		for _, c := range cs.Connections {
			if c.Client == "stalled" {
				return c, cs.SlowConsumers, true
			}
		}
		return inspect.Connection{}, cs.SlowConsumers, false
	}
	until(t, "the stalled client's subscription", func() (bool, string) {
		c, _, ok := stalled()
		return ok && len(c.Subscriptions) == 1, fmt.Sprintf("%+v", c)
	})
	big := strings.Repeat("x", 256<<10)
	sawSlow := false
	for i := 0; ; i++ {
		if i == 2000 {
			t.Fatal("2,000 writes of 256 KiB and the stalled client was never disconnected")
		}
		w.create("album", map[string]any{"name": big, "year": i})
		c, gone, ok := stalled()
		if !ok {
			if !sawSlow {
				t.Fatal("the stalled client was disconnected without ever showing as slow")
			}
			if len(gone) == 0 || gone[0].Client != "stalled" || !strings.HasPrefix(gone[0].Reason, "its queue holds 8 frames") {
				t.Fatalf("slow consumers: %+v", gone)
			}
			return
		}
		if c.Queue*2 >= c.QueueLimit {
			if !c.Slow || c.QueueLimit != 8 || c.Subscriptions[0].Queue != c.Queue {
				t.Fatalf("queue %d of %d but %+v", c.Queue, c.QueueLimit, c)
			}
			sawSlow = true
		} else if c.Slow {
			t.Fatalf("slow with a queue of %d of %d", c.Queue, c.QueueLimit)
		}
	}
}
