package client_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	client "github.com/ankurah/ankurah-go/clients/go/client"
	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/value"
)

// Four clients edit the same albums concurrently — the same fields and
// different ones — while plain SQL UPDATEs land on the same rows
// (Postgres). Mid-way one client loses its connection, keeps editing
// offline, and reconnects with its queued edits. In the end every client
// and the database hold identical values and heads, and every write —
// acknowledged or queued — is in the history.
func TestConvergence(t *testing.T) {
	t.Parallel()
	for _, kind := range servertest.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			testConvergence(t, kind)
		})
	}
}

type write struct {
	entity event.ID
	field  string
	value  value.Value
	acked  bool
}

func testConvergence(t *testing.T, kind string) {
	ctx := testCtx(t)
	env := servertest.Start(t, kind, servertest.Options{})
	srv, srvAlbums := serverAlbums(t, env)
	var ids []event.ID
	tx := srv.Begin()
	for i := range 4 {
		m, err := srvAlbums.Create(tx, Album{Name: fmt.Sprintf("album %d", i), Year: 2000})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID())
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	const nClients = 4
	offline := nClients - 1 // the client that loses its connection
	var (
		proxies []*proxy
		clients []*client.Client
		colls   []*client.Collection[Album]
		lqs     []*client.LiveQuery[Album]
	)
	for i := range nClients {
		p := newProxy(t, env.Addr)
		c := dial(t, p.URL(), client.Options{OnRejected: func(r *client.RejectedError) { t.Errorf("client %d: %v", i, r) }})
		albums, err := client.Register[Album](ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		lq, err := albums.Subscribe(ctx, func(client.ChangeSet[Album]) {}, "ORDER BY name")
		if err != nil {
			t.Fatal(err)
		}
		proxies, clients, colls, lqs = append(proxies, p), append(clients, c), append(colls, albums), append(lqs, lq)
	}

	var mu sync.Mutex
	var writes []write
	record := func(w ...write) {
		mu.Lock()
		writes = append(writes, w...)
		mu.Unlock()
	}
	// edits makes n transactions on client i, every third one confirmed.
	edits := func(i, phase, n int) error {
		rng := rand.New(rand.NewPCG(uint64(i), uint64(phase)))
		for k := range n {
			id := ids[rng.IntN(len(ids))]
			tx := clients[i].Begin()
			m, err := colls[i].Edit(ctx, tx, id)
			if err != nil {
				return err
			}
			var ws []write
			name := value.TextOf(fmt.Sprintf("c%d p%d #%d", i, phase, k))
			year := value.IntOf(int64(100_000*(i+1) + 1000*phase + k))
			switch rng.IntN(3) {
			case 0:
				m.Value().Name = name.Text()
				ws = append(ws, write{entity: id, field: "name", value: name})
			case 1:
				m.Value().Year = year.Int()
				ws = append(ws, write{entity: id, field: "year", value: year})
			default:
				m.Value().Name, m.Value().Year = name.Text(), year.Int()
				ws = append(ws, write{entity: id, field: "name", value: name}, write{entity: id, field: "year", value: year})
			}
			cctx := ctx
			if k%3 == 0 && (i != offline || phase != 1) {
				cctx = client.Confirmed(ctx)
			}
			if _, err := tx.Commit(cctx); err != nil {
				return fmt.Errorf("client %d commit: %w", i, err)
			}
			for j := range ws {
				ws[j].acked = cctx != ctx
			}
			record(ws...)
		}
		return nil
	}
	// sqlUpdates is psql's part: plain UPDATEs of the same rows.
	sqlUpdates := func(phase, n int) error {
		if env.DB == nil {
			return nil
		}
		rng := rand.New(rand.NewPCG(99, uint64(phase)))
		for k := range n {
			id := ids[rng.IntN(len(ids))]
			year := int64(900_000 + 1000*phase + k)
			if _, err := env.DB.Exec(ctx, "update album set year = $1 where id = $2", year, id.String()); err != nil {
				return err
			}
			record(write{entity: id, field: "year", value: value.IntOf(year), acked: true})
		}
		return nil
	}
	phase := func(p int, editors []int) {
		var wg sync.WaitGroup
		errs := make(chan error, nClients+1)
		for _, i := range editors {
			wg.Add(1)
			go func() { defer wg.Done(); errs <- edits(i, p, 12) }()
		}
		wg.Add(1)
		go func() { defer wg.Done(); errs <- sqlUpdates(p, 12) }()
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	all := []int{0, 1, 2, 3}

	phase(0, all)
	proxies[offline].Block()
	eventually(t, "the client to notice it is offline", func() bool { return !clients[offline].Connected() })
	phase(1, all) // the offline client queues its edits
	if n := clients[offline].Pending(); n == 0 {
		t.Fatal("the offline client has nothing queued")
	}
	proxies[offline].Unblock()
	phase(2, all)

	for i, c := range clients {
		if err := c.Sync(ctx); err != nil {
			t.Fatalf("client %d sync: %v", i, err)
		}
	}

	// Everyone converges on the server's state.
	serverStates := func() map[event.ID]*entity.State {
		got, err := env.Store.Get(ctx, "album", ids)
		if err != nil {
			t.Fatal(err)
		}
		out := map[event.ID]*entity.State{}
		for _, st := range got {
			out[st.ID] = st
		}
		return out
	}
	same := func(i int, want map[event.ID]*entity.State) error {
		res := lqs[i].Results()
		if len(res) != len(want) {
			return fmt.Errorf("client %d has %d albums, the server %d", i, len(res), len(want))
		}
		for _, v := range res {
			w := want[v.ID()]
			if w == nil || !v.Head().Equal(w.Head) || v.Value().Name != w.Get("name").Text() || v.Value().Year != w.Get("year").Int() {
				return fmt.Errorf("client %d: %s is %+v at %v, the server has %v at %v", i, v.ID(), v.Value(), v.Head(), w.Values, w.Head)
			}
		}
		return nil
	}
	var lastErr error
	defer func() {
		if t.Failed() && lastErr != nil {
			t.Log(lastErr)
		}
	}()
	eventually(t, "every client to converge", func() bool {
		want := serverStates()
		for i := range clients {
			if lastErr = same(i, want); lastErr != nil {
				return false
			}
		}
		return true
	})
	want := serverStates()

	// The database, read with plain SQL, says the same.
	if env.DB != nil {
		rows, err := env.DB.Query(ctx, "select id, name, year, _head from album")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id, name string
			var year int64
			var head []string
			if err := rows.Scan(&id, &name, &year, &head); err != nil {
				t.Fatal(err)
			}
			w := want[event.MustParseID(id)]
			if w == nil || w.Get("name").Text() != name || w.Get("year").Int() != year || !slices.Equal(w.Head.Strings(), head) {
				t.Errorf("row %s: %s %d %v; the clients have %v %v", id, name, year, head, w.Values, w.Head)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}

	// No write lost: every one is in its entity's history, and each state is
	// the merge of that history.
	histories := map[event.ID][]event.Event{}
	for _, id := range ids {
		h, err := env.Store.History(ctx, "album", id)
		if err != nil {
			t.Fatal(err)
		}
		histories[id] = h
		replayed, _, err := entity.Replay("album", id, h)
		if err != nil {
			t.Fatal(err)
		}
		if !replayed.Head.Equal(want[id].Head) || !value.Equal(replayed.Get("name"), want[id].Get("name")) || !value.Equal(replayed.Get("year"), want[id].Get("year")) {
			t.Errorf("%s: state %v %v is not the replay of its history %v %v", id, want[id].Head, want[id].Values, replayed.Head, replayed.Values)
		}
	}
	acked := 0
	for _, w := range writes {
		found := false
		for _, e := range histories[w.entity] {
			if v, ok := e.Ops[w.field]; ok && value.Equal(v, w.value) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("lost write (acknowledged: %v): %s.%s = %v", w.acked, w.entity, w.field, w.value)
		}
		if w.acked {
			acked++
		}
	}
	t.Logf("%s: %d writes (%d acknowledged) by %d clients and SQL, %d events in all; converged", kind, len(writes), acked, nClients, func() int {
		n := 0
		for _, h := range histories {
			n += len(h)
		}
		return n
	}())
}
