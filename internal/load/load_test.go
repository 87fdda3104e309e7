package load_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/internal/leakcheck"
	"github.com/ankurah/ankurah-go/internal/load"
	"github.com/ankurah/ankurah-go/internal/pgtest"
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
				if rep.Changes != cfg.Backlog || rep.ServerDrain <= 0 || rep.ClientDrain < rep.ServerDrain || rep.FloorDrain <= 0 {
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
