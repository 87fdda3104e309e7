package client

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/node"
	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/server"
)

// A client the server cuts as a slow consumer learns why (the connection's
// error is slow_consumer), reconnects, resubscribes with the heads it
// holds, and ends up with every change it missed.
func TestSlowConsumerReconnects(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env := servertest.Start(t, servertest.Memory, servertest.Options{Config: server.Config{QueueFrames: 4, CloseTimeout: time.Minute}})
	srv := node.New(env.Store)
	srvAlbums, err := node.Register[resubAlbum](ctx, srv)
	if err != nil {
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
	lq, err := albums.Subscribe(ctx, func(ChangeSet[resubAlbum]) {}, "year >= 0")
	if err != nil {
		t.Fatal(err)
	}
	defer lq.Close()
	rec.mu.Lock()
	first := rec.conn
	rec.mu.Unlock()

	// The client stalls: its reader waits for the client's lock to apply
	// the next change, and stops reading the socket.
	c.mu.Lock()
	name := strings.Repeat("n", 256<<10)
	n := 0
	for ; n < 1000 && slowConsumers(t, env) == 0; n++ {
		tx := srv.Begin()
		if _, err := srvAlbums.Create(tx, resubAlbum{Name: name, Year: int64(n)}); err != nil {
			c.mu.Unlock()
			t.Fatal(err)
		}
		if _, err := tx.Commit(ctx); err != nil {
			c.mu.Unlock()
			t.Fatal(err)
		}
	}
	c.mu.Unlock()
	if slowConsumers(t, env) != 1 {
		t.Fatalf("not cut after %d commits", n)
	}
	select {
	case <-first.Done():
	case <-ctx.Done():
		t.Fatal("the first connection did not end")
	}
	if Code(first.Err()) != protocol.CodeSlowConsumer {
		t.Fatalf("the first connection ended with %v, want slow_consumer", first.Err())
	}
	// Reconnected and caught up.
	for len(lq.Results()) != n {
		select {
		case <-ctx.Done():
			t.Fatalf("the live query holds %d of %d albums", len(lq.Results()), n)
		case <-time.After(10 * time.Millisecond): // polling the result set, no signal to wait on
		}
	}
	rec.mu.Lock()
	subs := len(rec.subs)
	rec.mu.Unlock()
	if subs != 2 {
		t.Fatalf("%d subscribe requests, want 2 (subscribe, resubscribe)", subs)
	}
}

// slowConsumers reads the server's count of slow consumers.
func slowConsumers(t *testing.T, env *servertest.Env) int {
	t.Helper()
	resp, err := http.Get("http://" + env.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "ankurah_slow_consumer_disconnects_total "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("slow consumers: %q", v)
			}
			return n
		}
	}
	t.Fatal("no slow consumer metric")
	return 0
}
