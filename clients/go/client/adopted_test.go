package client_test

import (
	"context"
	"sync"
	"testing"

	client "github.com/ankurah/ankurah-go/clients/go/client"
	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/schema"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/storage/postgres"
)

// Order is a model of an app's table adopted as collection sales.orders:
// column id is field sql_id; the collection is named by the model, and
// fields give the columns' types where Go's would be others; the key is a
// pointer, so that a new order leaves it to the column's default.
type Order struct {
	SQLID    *int64         `ankurah:"sql_id,type=integer"`
	Customer string         `ankurah:"customer"`
	Total    schema.Decimal `ankurah:"total,type=numeric(10,2)"`
	Note     *string
}

func (Order) CollectionName() string { return "sales.orders" }

// The Go client on an adopted table: subscribe, SQL writes arriving, get,
// fetch, create, edit, delete by entity id; a schema change made with SQL
// reaches it, and a live query it breaks is not subscribed again.
func TestAdoptedTableFromTheGoClient(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	env := servertest.Start(t, servertest.Postgres, servertest.Options{})
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := env.DB.Exec(context.Background(), sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`create schema sales`)
	exec(`create table sales.orders (id serial primary key, customer text not null, total numeric(10,2) not null default 0, note text)`)
	exec(`insert into sales.orders (customer, total) values ('ann', 10), ('bob', 20), ('cy', 30)`)
	if _, err := postgres.Adopt(ctx, env.DB, postgres.AdoptOptions{Table: "sales.orders"}); err != nil {
		t.Fatal(err)
	}

	c := dial(t, env.URL, client.Options{})
	var mu sync.Mutex
	var changes []client.SchemaChange
	c.OnSchemaChange(func(ch client.SchemaChange) {
		mu.Lock()
		changes = append(changes, ch)
		mu.Unlock()
	})
	orders, err := client.Register[Order](ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan client.ChangeSet[Order], 64)
	lq, err := orders.Subscribe(ctx, func(cs client.ChangeSet[Order]) { got <- cs }, "total >= ? ORDER BY total", 15)
	if err != nil {
		t.Fatal(err)
	}
	if cs := recv(t, got); !cs.Initial || len(cs.Items) != 2 || cs.Items[0].Entity.Value().Customer != "bob" {
		t.Fatalf("initial: %v", cs)
	}
	exec(`update sales.orders set total = 40 where customer = 'ann'`)
	if cs := recv(t, got); len(cs.Items) != 1 || cs.Items[0].Kind != client.Add || *cs.Items[0].Entity.Value().SQLID != 1 {
		t.Fatalf("after a SQL update: %v", cs)
	}
	views, err := orders.Fetch(ctx, "customer = 'cy'")
	if err != nil || len(views) != 1 {
		t.Fatalf("fetch: %v %v", views, err)
	}
	cy := views[0].ID()
	// Create (the key from the column's default), edit, delete.
	tx := c.Begin()
	if _, err := orders.Create(tx, Order{Customer: "dee", Total: "55.50"}); err != nil {
		t.Fatal(err)
	}
	m, err := orders.Edit(ctx, tx, cy)
	if err != nil {
		t.Fatal(err)
	}
	note := "priority"
	m.Value().Note = &note
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// The commit is confirmed by the server in the background.
	eventually(t, "the client's order in the table", func() bool {
		var created int
		_ = env.DB.QueryRow(ctx, `select id from sales.orders where customer = 'dee' and total = 55.50`).Scan(&created)
		return created == 4
	})
	eventually(t, "the created order with its key", func() bool {
		for _, v := range lq.Results() {
			if v.Value().Customer == "dee" && v.Value().SQLID != nil && *v.Value().SQLID == 4 {
				return true
			}
		}
		return false
	})
	v, err := orders.Get(ctx, cy)
	if err != nil || v.Value().Note == nil || *v.Value().Note != "priority" {
		t.Fatalf("get after the edit: %v %v", v, err)
	}
	tx = c.Begin()
	if err := orders.Delete(ctx, tx, cy); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the delete in the table", func() bool {
		var n int
		_ = env.DB.QueryRow(ctx, `select count(*) from sales.orders where customer = 'cy'`).Scan(&n)
		return n == 0
	})

	// A column renamed with SQL: the client's schema follows, and the live
	// query, whose query names it, ends (it is not subscribed again).
	exec(`alter table sales.orders rename column total to amount`)
	var ch client.SchemaChange
	eventually(t, "the schema change", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range changes { // the adoption's own change may come first
			if c.Kind == "rename_field" {
				ch = c
				return true
			}
		}
		return false
	})
	if ch.Kind != "rename_field" || ch.Field != "amount" || ch.OldName != "total" || ch.Dropped {
		t.Fatalf("schema change %+v", ch)
	}
	if _, ok := ch.Schema.Field("amount"); !ok {
		t.Fatalf("the schema after the change: %+v", ch.Schema)
	}
	// Reads keep working, and writes to an unchanged field.
	if _, err := orders.Fetch(ctx, "customer = 'ann'"); err != nil {
		t.Fatal(err)
	}
	if _, err := orders.Fetch(ctx, "amount > 1"); client.Code(err) == storage.CodeInternal {
		t.Fatal(err)
	}
}
