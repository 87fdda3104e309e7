package replication_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/replication"
)

// A consumer streams every committed transaction from its own replication
// slot — API commits and plain SQL writes alike — and acknowledges each
// once its handler has returned. The database must run with
// wal_level=logical and have Ankurah's schema (`ankurah migrate`).
//
// The example needs a Postgres, so `go test` does not run it on its own;
// TestExampleConsumer runs it on a throwaway database and checks what it
// prints.
func ExampleConsumer() {
	databaseURL := os.Getenv("ANKURAH_DATABASE_URL")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	txs := make(chan *replication.Transaction, 16)
	// The slot is named after the host and the database by default.
	c, err := replication.New(replication.Config{DatabaseURL: databaseURL},
		func(ctx context.Context, tx *replication.Transaction) error {
			txs <- tx // acknowledged once this returns nil
			return nil
		})
	if err != nil {
		panic(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- c.Run(ctx) }()
	select {
	case <-c.Ready(): // every transaction committed from now on is streamed
	case err := <-ran:
		panic(err)
	}

	pool, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `select ankurah.create_collection('album', '{"name":"text","year":"bigint"}')`); err != nil {
		panic(err)
	}
	if _, err := pool.Exec(ctx, `insert into album (name, year) values ('Showbiz', 1999)`); err != nil { // plain SQL
		panic(err)
	}

	for tx := range txs {
		if len(tx.Rows) == 0 {
			continue // e.g. the collection's creation
		}
		for _, r := range tx.Rows {
			fmt.Println(r.Op, r.Table, r.New["name"].Text(), r.New["year"])
		}
		for _, e := range tx.Events {
			fmt.Println("event:", e.Collection, e.Origin, string(e.Operations), e.Entity == tx.Rows[0].ID)
		}
		break
	}
	// Close stops Run after a final acknowledgement; the slot stays (it is
	// the consumer's position): drop it when the consumer is gone for good.
	c.Close()
	if err := <-ran; err != nil {
		panic(err)
	}
}

// TestExampleConsumer runs ExampleConsumer on a throwaway database and
// checks what it prints (it cannot carry an Output comment: it needs a
// Postgres).
func TestExampleConsumer(t *testing.T) {
	url, _ := newDB(t)
	t.Setenv("ANKURAH_DATABASE_URL", url)
	got := captureStdout(t, ExampleConsumer)
	want := "insert album Showbiz 1999\nevent: album sql {\"name\": \"Showbiz\", \"year\": 1999} true\n"
	if got != want {
		t.Errorf("ExampleConsumer printed\n%s\nwant\n%s", got, want)
	}
}

// captureStdout runs f with os.Stdout going to a pipe, as go test does for
// examples, and returns what it printed.
func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	out := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	func() {
		defer func() { // also when f panics
			os.Stdout = stdout
			w.Close()
		}()
		f()
	}()
	return <-out
}
