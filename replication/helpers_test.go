package replication_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/replication"
)

// waitTimeout bounds every wait for something to arrive. Nothing takes
// nearly this long; it only turns a hang into a failure.
const waitTimeout = 30 * time.Second

// testConfig is a consumer configuration for a test database: quick status
// updates and reconnects so tests observe acknowledgements promptly. The
// slot name is the default's stable part, which includes the (unique)
// database name, so that a consumer started again takes the same slot.
func testConfig(t testing.TB, url string, logs io.Writer) replication.Config {
	if logs == nil {
		logs = t.Output()
	}
	return replication.Config{
		DatabaseURL:    url,
		SlotName:       replication.SlotNamePrefix(url),
		StandbyTimeout: 100 * time.Millisecond,
		BackoffMin:     10 * time.Millisecond,
		BackoffMax:     200 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// running is a consumer whose Run goroutine the test owns.
type running struct {
	*replication.Consumer
	cancel context.CancelFunc
	result chan error
	once   sync.Once
	err    error
}

// start runs a consumer and waits until it streams. It is stopped (and its
// slot left inactive, for pgtest to drop) when the test ends at the latest.
func start(t testing.TB, cfg replication.Config, h replication.Handler) *running {
	t.Helper()
	c, err := replication.New(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Consumer: c, cancel: cancel, result: make(chan error, 1)}
	go func() { r.result <- c.Run(ctx) }()
	t.Cleanup(func() { _ = r.stop() })
	select {
	case <-c.Ready():
	case err := <-r.result:
		r.result <- err
		t.Fatalf("Run ended before streaming: %v", err)
	case <-time.After(waitTimeout):
		t.Fatal("consumer not streaming after", waitTimeout)
	}
	return r
}

// stop cancels Run and returns what it returned.
func (r *running) stop() error {
	r.once.Do(func() {
		r.cancel()
		r.err = <-r.result
	})
	return r.err
}

// wait returns what Run returned on its own (e.g. a handler error).
func (r *running) wait(t testing.TB) error {
	t.Helper()
	select {
	case err := <-r.result:
		r.result <- err
		return err
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return")
		return nil
	}
}

// recorder is a Handler that keeps what it receives and lets tests wait for
// a condition on it.
type recorder struct {
	mu      sync.Mutex
	txs     []*replication.Transaction
	changed chan struct{}
	fail    func(context.Context, *replication.Transaction) error
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1)} }

func (r *recorder) handle(ctx context.Context, tx *replication.Transaction) error {
	if r.fail != nil {
		if err := r.fail(ctx, tx); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.txs = append(r.txs, tx)
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
	return nil
}

func (r *recorder) snapshot() []*replication.Transaction {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*replication.Transaction(nil), r.txs...)
}

// waitFor waits until cond holds for the transactions received so far.
func (r *recorder) waitFor(t testing.TB, what string, cond func([]*replication.Transaction) bool) []*replication.Transaction {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		txs := r.snapshot()
		if cond(txs) {
			return txs
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; got %d transactions", what, len(txs))
		}
	}
}

// entities returns how often each entity id appears in the rows of txs.
func entities(txs []*replication.Transaction) map[event.ID]int {
	seen := map[event.ID]int{}
	for _, tx := range txs {
		for _, r := range tx.Rows {
			seen[r.ID]++
		}
	}
	return seen
}

// hasAll reports whether every id appears among the rows of txs.
func hasAll(ids []event.ID) func([]*replication.Transaction) bool {
	return func(txs []*replication.Transaction) bool {
		seen := entities(txs)
		for _, id := range ids {
			if seen[id] == 0 {
				return false
			}
		}
		return true
	}
}

func exec(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// confirmedFlush reads the slot's confirmed_flush_lsn from the server.
func confirmedFlush(t testing.TB, pool *pgxpool.Pool, slot string) replication.LSN {
	t.Helper()
	var s string
	if err := pool.QueryRow(context.Background(),
		"select confirmed_flush_lsn::text from pg_replication_slots where slot_name = $1", slot).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return mustLSN(t, s)
}

func mustLSN(t testing.TB, s string) replication.LSN {
	t.Helper()
	lsn, err := replication.ParseLSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return lsn
}

// pollUntil polls cond every 20ms until it holds or the deadline passes.
func pollUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// syncBuffer is a bytes.Buffer safe for the consumer's goroutines to log into.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newDB returns a fresh migrated database and a pool on it.
func newDB(t testing.TB) (string, *pgxpool.Pool) {
	t.Helper()
	url := pgtest.NewDatabase(t)
	return url, pgtest.Pool(t, url)
}

var errBoom = errors.New("boom")
