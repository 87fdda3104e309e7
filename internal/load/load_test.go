package load_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/leakcheck"
	"github.com/ankurah/ankurah-go/internal/load"
	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/value"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestRun runs the load tool small, in both modes, with the clients in this
// process, and checks that every write reached every subscriber it should
// and that the figures it reports were measured (not zero). It checks no
// timing.
func TestRun(t *testing.T) {
	admin := pgtest.AdminURL(t)
	for _, tc := range []struct {
		name string
		cfg  load.Config
	}{
		{"latency", load.Config{Conns: 8, Subs: 3, Keys: 10, Rate: 200, Duration: time.Second, Warmup: 100 * time.Millisecond, Writers: 2, Inserts: 0.3}},
		{"throughput", load.Config{Mode: load.ModeThroughput, Conns: 8, Subs: 3, Backlog: 500, Writers: 2, Inserts: 0.3}},
		// Every item still arrives under the per-user rule: each row's
		// owner is the user whose connection subscribed to its key.
		{"throughput with a policy", load.Config{Mode: load.ModeThroughput, Conns: 8, Subs: 3, Backlog: 500, Writers: 2, Inserts: 0.3, Policy: true}},
		// Every predicate shape (a fifth of the subscriptions each) still
		// delivers exactly its key's changes.
		{"throughput, mixed predicates", load.Config{Mode: load.ModeThroughput, Conns: 8, Subs: 5, Backlog: 500, Writers: 2, Inserts: 0.3, Predicate: load.PredicateMixed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cfg := tc.cfg
			cfg.DatabaseURL, cfg.Clients, cfg.Seed = admin, load.ClientsInProc, 7
			rep, err := load.Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.FailedWrites != 0 || rep.BadItems != 0 || rep.Ended != 0 {
				t.Fatalf("failed writes %d, bad items %d, connections ended %d (%s)", rep.FailedWrites, rep.BadItems, rep.Ended, rep.EndedReason)
			}
			if rep.Writes == 0 || rep.ExpectedItems == 0 || rep.Items != rep.ExpectedItems {
				t.Fatalf("writes %d: %d items of %d expected reached the clients", rep.Writes, rep.Items, rep.ExpectedItems)
			}
			if cfg.Mode == load.ModeThroughput {
				// Both drains are measured, not ordered: the client may read the
				// last item before the server's side notes that it queued it.
				if rep.Changes != cfg.Backlog || rep.ServerDrain <= 0 || rep.ClientDrain <= 0 || rep.FloorDrain <= 0 {
					t.Fatalf("changes %d, drains: server %v, clients %v, floor %v", rep.Changes, rep.ServerDrain, rep.ClientDrain, rep.FloorDrain)
				}
				// Every change matches exactly one subscription.
				if rep.ExpectedItems != int64(cfg.Backlog) || rep.Config.Keys != cfg.Conns*cfg.Subs {
					t.Fatalf("expected items %d, keys %d", rep.ExpectedItems, rep.Config.Keys)
				}
			} else {
				if rep.Client.N != int(rep.Items) || rep.Floor.N != rep.Writes || rep.FloorMissing != 0 {
					t.Fatalf("samples: client %d of %d items, floor %d of %d writes (%d missing)", rep.Client.N, rep.Items, rep.Floor.N, rep.Writes, rep.FloorMissing)
				}
			}
			var out bytes.Buffer
			rep.Print(&out)
			if !strings.Contains(out.String(), "(0 missing)") {
				t.Fatalf("report:\n%s", out.String())
			}
		})
	}
}

// Each predicate shape matches the row of its key and no neighbour's, as
// the compiled query decides (the exact counts of TestRun rely on it).
func TestSubQueryMatchesItsKeyOnly(t *testing.T) {
	t.Parallel()
	for _, p := range append(slices.Clone(load.Predicates), load.PredicateMixed) {
		for n, k := range []int{0, 7, 12, 99_999_999} {
			text, args := load.SubQuery(p, n, k)
			var vals []any
			if err := json.Unmarshal([]byte(args), &vals); err != nil {
				t.Fatal(err)
			}
			q, err := query.Parse(text, vals...)
			if err != nil {
				t.Fatalf("%s: %s %s: %v", p, text, args, err)
			}
			m, err := q.Compile()
			if err != nil {
				t.Fatal(err)
			}
			for _, other := range []int{k - 1, k, k + 1, k + 10, k*10 + 2, (k + 1) % 100_000_000} {
				if other < 0 {
					continue // keys are 0…Keys-1
				}
				st := entity.New(load.Collection, event.NewID())
				st.Values["key"] = value.IntOf(int64(other))
				st.Values["tag"] = value.TextOf(load.Tag(other))
				if got := m.Match(st); got != (other == k) {
					t.Errorf("%s: %s %s on key %d (tag %s): match %v", p, text, args, other, load.Tag(other), got)
				}
			}
		}
	}
}
