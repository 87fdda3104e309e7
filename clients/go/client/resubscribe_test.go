package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/internal/wire"
	"github.com/ankurah/ankurah-go/node"
	"github.com/ankurah/ankurah-go/protocol"
)

// recorder is a transport that can be cut and refused (a network failure)
// and that keeps every subscribe request with its answer.
type recorder struct {
	url     string
	blocked atomic.Bool
	mu      sync.Mutex
	conn    *wire.Conn
	subs    []recordedSub
}

type recordedSub struct {
	req protocol.Request
	res protocol.SubscribeResult
}

type recordingConn struct {
	*wire.Conn
	r *recorder
}

func (r *recorder) dial(ctx context.Context, h wire.Handler) (transport, error) {
	if r.blocked.Load() {
		return nil, errors.New("network unreachable (test)")
	}
	c, err := wire.Dial(ctx, r.url, wire.Options{Handler: h})
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.conn = c
	r.mu.Unlock()
	return recordingConn{c, r}, nil
}

// cut closes the connection and refuses new ones until restore.
func (r *recorder) cut() {
	r.blocked.Store(true)
	r.mu.Lock()
	c := r.conn
	r.mu.Unlock()
	if c != nil {
		c.CloseNow()
	}
}

func (r *recorder) restore() { r.blocked.Store(false) }

func (t recordingConn) Send(req *protocol.Request, fn func(json.RawMessage, error)) error {
	if req.Type != protocol.TypeSubscribe {
		return t.Conn.Send(req, fn)
	}
	sent := *req
	return t.Conn.Send(req, func(raw json.RawMessage, err error) {
		var res protocol.SubscribeResult
		if err == nil {
			_ = json.Unmarshal(raw, &res)
			t.r.mu.Lock()
			t.r.subs = append(t.r.subs, recordedSub{req: sent, res: res})
			t.r.mu.Unlock()
		}
		fn(raw, err)
	})
}

type resubAlbum struct {
	Name string
	Year int64
}

// After a reconnection a live query resubscribes with the heads it holds,
// and only what it missed comes back: the entities it holds unchanged are
// "unchanged" (no values), a changed one comes with its state, a deleted
// one is listed as removed, a new one is added. The application sees
// exactly those changes.
func TestResubscribeSendsOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	for _, kind := range servertest.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			testResubscribe(t, kind)
		})
	}
}

func testResubscribe(t *testing.T, kind string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env := servertest.Start(t, kind, servertest.Options{})
	srv := node.New(env.Store)
	srvAlbums, err := node.Register[resubAlbum](ctx, srv)
	if err != nil {
		t.Fatal(err)
	}
	var ids []event.ID
	tx := srv.Begin()
	for i := range 5 {
		m, err := srvAlbums.Create(tx, resubAlbum{Name: fmt.Sprintf("album %d", i), Year: int64(2000 + i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID())
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	rec := &recorder{url: env.URL}
	c, err := Dial(ctx, "ws://unused", Options{dial: rec.dial, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	albums, err := Register[resubAlbum](ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	lq, err := albums.Subscribe(ctx, nil, "year >= ? ORDER BY year", 2000)
	if err != nil {
		t.Fatal(err)
	}
	defer lq.Close()
	if cs := nextChange(ctx, t, lq); !cs.Initial || len(cs.Items) != 5 {
		t.Fatalf("initial %v", cs)
	}
	heads := map[string][]string{}
	for _, v := range lq.Results() {
		heads[v.ID().String()] = v.Head().Strings()
	}

	// Offline, the server changes one album, deletes another, creates one.
	rec.cut()
	if err := c.waitFor(ctx, func() bool { return c.conn == nil }); err != nil {
		t.Fatal(err)
	}
	tx = srv.Begin()
	e, err := srvAlbums.Edit(ctx, tx, ids[1])
	if err != nil {
		t.Fatal(err)
	}
	e.Value().Name = "renamed"
	if err := srvAlbums.Delete(ctx, tx, ids[2]); err != nil {
		t.Fatal(err)
	}
	created, err := srvAlbums.Create(tx, resubAlbum{Name: "new", Year: 2010})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	rec.restore()
	if err := lq.Ready(ctx); err != nil {
		t.Fatal(err)
	}

	rec.mu.Lock()
	subs := slices.Clone(rec.subs)
	rec.mu.Unlock()
	if len(subs) != 2 {
		t.Fatalf("%d subscribe requests, want 2 (subscribe, resubscribe)", len(subs))
	}
	first, again := subs[0], subs[1]
	if len(first.req.Known) != 0 {
		t.Errorf("the first subscription declared known entities: %v", first.req.Known)
	}
	// The resubscription declares every entity held, at the head held.
	if fmt.Sprint(again.req.Known) != fmt.Sprint(heads) {
		t.Errorf("resubscribed with known %v, want %v", again.req.Known, heads)
	}
	// Only what changed comes back with values.
	var unchanged, full []string
	for _, w := range again.res.Entities {
		if w.Unchanged {
			if w.Values != nil {
				t.Errorf("unchanged %s carries values", w.ID)
			}
			unchanged = append(unchanged, w.ID)
		} else {
			full = append(full, w.ID)
		}
	}
	want := func(idx ...int) string {
		var s []string
		for _, i := range idx {
			s = append(s, ids[i].String())
		}
		return fmt.Sprint(s)
	}
	if fmt.Sprint(unchanged) != want(0, 3, 4) {
		t.Errorf("unchanged %v, want %v", unchanged, want(0, 3, 4))
	}
	if fmt.Sprint(full) != fmt.Sprint([]string{ids[1].String(), created.ID().String()}) {
		t.Errorf("sent with values %v, want the renamed album and the new one", full)
	}
	if fmt.Sprint(again.res.Removed) != want(2) {
		t.Errorf("removed %v, want %v", again.res.Removed, want(2))
	}

	// The application sees exactly those changes, in one change set.
	cs := nextChange(ctx, t, lq)
	got := map[event.ID]Kind{}
	for _, it := range cs.Items {
		got[it.Entity.ID()] = it.Kind
	}
	if cs.Initial || !cs.Synced || len(got) != 3 || got[ids[1]] != Update || got[ids[2]] != Remove || got[created.ID()] != Add {
		t.Errorf("change set after the reconnection: %v", cs)
	}
	var names []string
	for _, v := range lq.Results() {
		names = append(names, v.Value().Name)
	}
	if fmt.Sprint(names) != "[album 0 renamed album 3 album 4 new]" {
		t.Errorf("results %v", names)
	}
}

func nextChange[T any](ctx context.Context, t *testing.T, lq *LiveQuery[T]) ChangeSet[T] {
	t.Helper()
	select {
	case cs := <-lq.Changes():
		return cs
	case <-ctx.Done():
		t.Fatal("no change set")
		panic("unreachable")
	}
}
