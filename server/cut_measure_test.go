package server_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/internal/wire"
	"github.com/ankurah/ankurah-go/protocol"
)

// TestMeasureSlowConsumerCut measures what cutting a slow consumer costs
// the other clients (docs/benchmarks.md); it asserts nothing and runs only
// with ANKURAH_MEASURE_CUT=1 (without -race):
//
//	ANKURAH_MEASURE_CUT=1 go test ./server -run TestMeasureSlowConsumerCut -count=1 -v
//
// On the memory store with the default configuration: 2,000 albums; one
// client with 300 live queries matching all of them (600,000 memberships)
// stops reading; 20 clients each watch the new albums; one writer creates
// an album every 2 ms for 20 s. Reported: the latency from commit to each
// watcher's delivery, over the run and around the cut.
func TestMeasureSlowConsumerCut(t *testing.T) {
	if os.Getenv("ANKURAH_MEASURE_CUT") == "" {
		t.Skip("a measurement: set ANKURAH_MEASURE_CUT=1")
	}
	env := servertest.Start(t, servertest.Memory, servertest.Options{})
	w := dial(t, env)
	w.register(albumSchema)
	for b := range 20 {
		var evs []protocol.Event
		for i := range 100 {
			id := w.gen.New().String()
			evs = append(evs, protocol.Event{ID: id, Collection: "album", EntityID: id, Parents: []string{}, Operations: raw(map[string]any{"name": "x", "year": b*100 + i})})
		}
		w.commit(evs...)
	}
	var mu sync.Mutex
	sent := map[string]time.Time{}
	var lat []time.Duration
	var at []time.Time
	ctx := context.Background()
	for range 20 {
		conn, err := wire.Dial(ctx, env.URL, wire.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := conn.Do(ctx, protocol.Request{Type: protocol.TypeSubscribe, Sub: "s", Collection: "album", Query: "year >= 100000"}, nil); err != nil {
			t.Fatal(err)
		}
		go func() {
			for p := range conn.Changes() {
				now := time.Now()
				mu.Lock()
				for _, it := range p.Items {
					if s, ok := sent[string(it.Entity.Values["name"])]; ok {
						lat = append(lat, now.Sub(s))
						at = append(at, now)
					}
				}
				mu.Unlock()
			}
		}()
	}
	slow := dialRaw(t, env, true)
	for i := range 300 {
		slow.send(fmt.Sprintf(`{"type":"subscribe","id":%d,"sub":"s%d","collection":"album","query":"year >= 0"}`, i+1, i))
	}
	for range 300 {
		slow.recv()
	}
	// From here on the slow client reads nothing.
	start := time.Now()
	var cut time.Time
	for i := 0; time.Since(start) < 20*time.Second; i++ {
		name := strconv.Itoa(i)
		mu.Lock()
		sent[`"`+name+`"`] = time.Now()
		mu.Unlock()
		w.create("album", map[string]any{"name": name, "year": 100000 + i})
		if cut.IsZero() && i%20 == 0 && scrape(t, env, "ankurah_slow_consumer_disconnects_total") > 0 {
			cut = time.Now()
		}
		time.Sleep(2 * time.Millisecond) // the write rate, not a wait
	}
	mu.Lock()
	defer mu.Unlock()
	if cut.IsZero() || len(lat) == 0 {
		t.Fatal("no cut, or no deliveries")
	}
	worst := 0
	var near []time.Duration
	for i := range lat {
		if lat[i] > lat[worst] {
			worst = i
		}
		if d := at[i].Sub(cut); d > -2*time.Second && d < 2*time.Second {
			near = append(near, lat[i])
		}
	}
	all := slices.Clone(lat)
	slices.Sort(all)
	slices.Sort(near)
	q := func(s []time.Duration, p float64) time.Duration {
		return s[int(float64(len(s)-1)*p)].Round(10 * time.Microsecond)
	}
	t.Logf("slow consumer cut %.1f s into the run", cut.Sub(start).Seconds())
	t.Logf("all %d deliveries: p50 %v, p99 %v, max %v (at cut%+.1fs)", len(all), q(all, .5), q(all, .99), q(all, 1), at[worst].Sub(cut).Seconds())
	t.Logf("±2 s around the cut, %d deliveries: p50 %v, p99 %v, max %v", len(near), q(near, .5), q(near, .99), q(near, 1))
}
