package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/internal/pgtest"
	"github.com/ankurah/ankurah-go/replication"
	"github.com/ankurah/ankurah-go/server"
	"github.com/ankurah/ankurah-go/storage/postgres"
)

// TestServeReturnsAfterTheSlotIsReleased: Serve owns the change stream's
// goroutine. When it returns, the replication consumer has sent its final
// acknowledgement and ended the stream, so the slot is already inactive and
// its confirmed position is the consumer's — without waiting or polling.
// (A Serve that returned without waiting finds the slot still held by its
// walsender.) The slot is kept (KeepSlot) so that the next round resumes
// it; without KeepSlot it is gone (TestServeDropsItsSlot).
func TestServeReturnsAfterTheSlotIsReleased(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	pool := pgtest.Pool(t, url)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	const slot = "serve_returns"
	for round := range 10 { // a restart takes the same slot over each time
		backend, err := server.NewPostgres(postgres.New(pool, postgres.Options{}), replication.Config{
			DatabaseURL: url, SlotName: slot, KeepSlot: true, StandbyTimeout: time.Hour, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		srv, err := server.New(server.Config{Logger: quiet}, backend)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ctx, ln, 5*time.Second) }()
		select {
		case <-backend.Ready():
		case err := <-served:
			cancel()
			t.Fatalf("round %d: Serve ended before streaming: %v", round, err)
		case <-time.After(waitTimeout):
			cancel()
			t.Fatalf("round %d: the stream did not start", round)
		}
		// A write, so that there is a transaction to acknowledge (the
		// status interval is an hour: only the final acknowledgement can
		// report it).
		if _, err := pool.Exec(context.Background(), `select ankurah.create_collection('serve_t', '{"n":"bigint"}')`); err != nil {
			t.Fatal(err)
		}
		var wrote string
		if err := pool.QueryRow(context.Background(), `insert into serve_t (n) values (1) returning pg_current_wal_lsn()::text`).Scan(&wrote); err != nil {
			t.Fatal(err)
		}
		written, _ := replication.ParseLSN(wrote)
		for deadline := time.Now().Add(waitTimeout); backend.Consumer().AckedLSN() < written; {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the write at %s was not acknowledged (at %s)", round, written, backend.Consumer().AckedLSN())
			}
			time.Sleep(5 * time.Millisecond) // polling the consumer's position, bounded by the deadline
		}

		cancel()
		if err := <-served; err != nil {
			t.Fatalf("round %d: Serve: %v", round, err)
		}
		var active bool
		var confirmed string
		if err := pool.QueryRow(context.Background(), `select active, confirmed_flush_lsn::text from pg_replication_slots where slot_name = $1`, slot).Scan(&active, &confirmed); err != nil {
			t.Fatal(err)
		}
		if active {
			t.Errorf("round %d: the slot is still active after Serve returned", round)
		}
		if acked := backend.Consumer().AckedLSN().String(); confirmed != acked {
			t.Errorf("round %d: the slot's confirmed position is %s, the consumer acknowledged %s", round, confirmed, acked)
		}
	}
}
