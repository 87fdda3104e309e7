package server_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/server"
)

// raceBackend wraps a real backend so that a test can interleave a LIMIT
// window's refill read with the change stream: a hook runs around the next
// Read, and the next publish can be held back.
type raceBackend struct {
	server.Backend

	mu        sync.Mutex
	readHook  *readHook
	hold      chan struct{} // the next publish waits until it is closed
	published int           // batches that changed albums
	cond      chan struct{} // closed and replaced after every publish
}

type readHook struct {
	before, after func() // around the wrapped Read; either may block
}

func newRaceBackend(b server.Backend) *raceBackend {
	return &raceBackend{Backend: b, cond: make(chan struct{})}
}

func (g *raceBackend) Read(ctx context.Context, collection string, q *query.Query) ([]*entity.State, server.Snapshot, error) {
	g.mu.Lock()
	h := g.readHook
	g.readHook = nil
	g.mu.Unlock()
	if h != nil && h.before != nil {
		h.before()
	}
	states, snap, err := g.Backend.Read(ctx, collection, q)
	if h != nil && h.after != nil {
		h.after()
	}
	return states, snap, err
}

func (g *raceBackend) Run(ctx context.Context, publish func(context.Context, *server.Batch)) error {
	return g.Backend.Run(ctx, func(ctx context.Context, b *server.Batch) {
		g.mu.Lock()
		hold := g.hold
		g.hold = nil
		g.mu.Unlock()
		if hold != nil {
			<-hold
		}
		publish(ctx, b)
		g.mu.Lock()
		if b.Changed("album") > 0 {
			g.published++
		}
		close(g.cond)
		g.cond = make(chan struct{})
		g.mu.Unlock()
	})
}

func (g *raceBackend) onNextRead(h *readHook) {
	g.mu.Lock()
	g.readHook = h
	g.mu.Unlock()
}

// holdNextPublish makes the next publish wait until release is called.
func (g *raceBackend) holdNextPublish() (release func()) {
	ch := make(chan struct{})
	g.mu.Lock()
	g.hold = ch
	g.mu.Unlock()
	return func() { close(ch) }
}

// waitPublished waits until n batches that changed albums have been
// published in all.
func (g *raceBackend) waitPublished(t *testing.T, n int) {
	t.Helper()
	for {
		g.mu.Lock()
		done, ch := g.published >= n, g.cond
		g.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ch:
		case <-t.Context().Done():
			t.Fatalf("waiting for %d batches to be published", n)
		}
	}
}

// TestRefillRacesTheStream: a LIMIT window is refilled outside the
// fan-out's lock, so the stream moves while the refill reads. Here the
// refill read is made to race changes to the window's entities both ways:
//
//   - behind: the refill reads, then waits until two edits — of a member
//     and of the entity that will refill the window — have been published
//     (to nobody: the window is frozen); only then does it complete. Its
//     rows are older than the stream: the hub must replay those edits onto
//     them.
//   - ahead (Postgres, where the database runs ahead of the stream): the
//     two edits are committed while their publication is held back, then
//     the refill reads them; once the window is replaced the stream
//     delivers the edits, which the window must not apply again.
//
// Either way the client's window must end equal to a fresh query of the
// database, its stream must never contradict itself (no add of a member,
// update of a non-member or update to an older state — which is what
// applying an edit twice looks like), and it must never be shown short:
// the removal and the refill come in the same frame.
func TestRefillRacesTheStream(t *testing.T) {
	for _, tc := range []struct {
		name  string
		kinds []string
	}{
		{"behind", servertest.Kinds},
		{"ahead", []string{servertest.Postgres}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, kind := range tc.kinds {
				t.Run(kind, func(t *testing.T) {
					t.Parallel()
					var g *raceBackend
					env := servertest.Start(t, kind, servertest.Options{Wrap: func(b server.Backend) server.Backend {
						g = newRaceBackend(b)
						return g
					}})
					testRefillRace(t, env, g, tc.name == "ahead")
				})
			}
		})
	}
}

func testRefillRace(t *testing.T, env *servertest.Env, g *raceBackend, ahead bool) {
	const window = "year > 2000 ORDER BY year DESC LIMIT 3"
	w, r := dial(t, env), dial(t, env)
	w.register(albumSchema)
	ids := map[int]string{}
	for _, y := range []int{2005, 2001, 2004, 2002, 2003} {
		ids[y] = w.create("album", map[string]any{"name": fmt.Sprint("a", y), "year": y})
	}
	if got := r.subscribe("top", "album", window); len(got) != 3 || got[1].ID != ids[2004] {
		t.Fatalf("initial window: %v", got)
	}
	g.waitPublished(t, 5) // the stream has the creations behind it
	editBoth := func() {
		w.edit("album", ids[2003], map[string]any{"notes": "edited while the window was refilled"}) // a member
		w.edit("album", ids[2002], map[string]any{"notes": "edited while the window was refilled"}) // its refill
	}

	if !ahead {
		read, proceed := make(chan struct{}), make(chan struct{})
		g.onNextRead(&readHook{after: func() { close(read); <-proceed }})
		w.remove("album", ids[2004]) // the window loses a member: it is frozen and refilled
		recv(t, read)
		// The rows are read; the stream moves on before they are used.
		editBoth()
		g.waitPublished(t, 5+3) // the removal and both edits
		close(proceed)
	} else {
		reading, proceed := make(chan struct{}), make(chan struct{})
		g.onNextRead(&readHook{before: func() { close(reading); <-proceed }})
		w.remove("album", ids[2004])
		recv(t, reading)
		release := g.holdNextPublish()
		editBoth() // committed; the stream holds them back
		close(proceed)
		// The window is replaced with rows that include both edits…
		r.waitFor("the refilled window", func() bool {
			set := r.set("top")
			return len(set) == 3 && set[ids[2002]].ID != "" && val(set[ids[2003]], "notes") != nil && val(set[ids[2002]], "notes") != nil
		})
		release() // …then the stream delivers them.
	}

	// A marker, so that everything before it has reached the client.
	w.edit("album", ids[2005], map[string]any{"notes": "marker"})
	r.waitFor("the marker", func() bool { return val(r.set("top")[ids[2005]], "notes") == "marker" })

	var truth protocol.EntitiesResult
	w.must(protocol.Request{Type: protocol.TypeFetch, Collection: "album", Query: window}, &truth)
	got := r.set("top")
	if len(got) != len(truth.Entities) {
		t.Fatalf("window %v, a fresh query gives %v", got, truth.Entities)
	}
	for _, e := range truth.Entities {
		if g := got[e.ID]; strings.Join(g.Head, ",") != strings.Join(e.Head, ",") || val(g, "notes") != val(e, "notes") {
			t.Errorf("entity %s: the window holds head %v notes %v, a fresh query gives %v %v", e.ID, g.Head, val(g, "notes"), e.Head, val(e, "notes"))
		}
	}
	if v := r.violations("top"); len(v) > 0 {
		t.Errorf("the window's stream contradicts itself: %v", v)
	}
	// Never short: replay the frames as the client received them.
	r.mu.Lock()
	defer r.mu.Unlock()
	size := 3
	for _, p := range r.log {
		touched := false
		for _, it := range p.Items {
			if it.Sub != "top" {
				continue
			}
			touched = true
			switch it.Kind {
			case "add":
				size++
			case "remove":
				size--
			}
		}
		if touched && size != 3 {
			t.Errorf("a frame left the window with %d members: %+v", size, p.Items)
		}
	}
}

// recv waits for ch to close, failing the test after waitTimeout.
func recv(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for the refill to read")
	}
}
