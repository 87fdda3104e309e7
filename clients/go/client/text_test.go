package client_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	client "github.com/ankurah/ankurah-go/clients/go/client"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/servertest"
	"github.com/ankurah/ankurah-go/schema"
)

// TextNote has a collaborative text field (collection "note").
type TextNote struct {
	Title string
	Body  schema.YText
}

func (TextNote) CollectionName() string { return "note" }

// Two clients edit one note's text at once — one of them offline, at the
// same position too — and a SQL UPDATE edits it meanwhile (Postgres): every
// replica ends with the same text, and no inserted character is lost.
func TestTextEditsMerge(t *testing.T) {
	t.Parallel()
	for _, kind := range servertest.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			env := servertest.Start(t, kind, servertest.Options{})
			p := newProxy(t, strings.TrimSuffix(strings.TrimPrefix(env.URL, "ws://"), "/ws"))
			a := dial(t, env.URL, client.Options{})
			b := dial(t, p.URL(), client.Options{})
			notesA, err := client.Register[TextNote](ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			notesB, err := client.Register[TextNote](ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			lqA, err := notesA.Subscribe(ctx, func(client.ChangeSet[TextNote]) {}, "")
			if err != nil {
				t.Fatal(err)
			}
			lqB, err := notesB.Subscribe(ctx, func(client.ChangeSet[TextNote]) {}, "")
			if err != nil {
				t.Fatal(err)
			}
			body := func(lq *client.LiveQuery[TextNote]) string {
				res := lq.Results()
				if len(res) != 1 {
					return "<" + strings.Repeat("?", len(res)) + ">"
				}
				return string(res[0].Value().Body)
			}

			// A creates the note with a typed value; B sees it.
			tx := a.Begin()
			m, err := notesA.Create(tx, TextNote{Title: "n", Body: "Hello world"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			id := m.ID()
			eventually(t, "B sees the note", func() bool { return body(lqB) == "Hello world" })

			// Both type at the same position at once, each seeing its own
			// edit at once (optimistic).
			edit := func(c *client.Client, col *client.Collection[TextNote], fn func(m interface {
				InsertText(string, int, string) error
				DeleteText(string, int, int) error
			}) error) {
				t.Helper()
				tx := c.Begin()
				m, err := col.Edit(ctx, tx, id)
				if err != nil {
					t.Fatal(err)
				}
				if err := fn(m); err != nil {
					t.Fatal(err)
				}
				if _, err := tx.Commit(ctx); err != nil {
					t.Fatal(err)
				}
			}
			type editor = interface {
				InsertText(string, int, string) error
				DeleteText(string, int, int) error
			}
			edit(a, notesA, func(m editor) error { return m.InsertText("body", 5, ", dear") })
			edit(b, notesB, func(m editor) error { return m.InsertText("body", 5, " there") })
			if got := body(lqA); got != "Hello, dear world" {
				t.Fatalf("A sees %q at once", got)
			}
			eventually(t, "A and B converge", func() bool { return body(lqA) == body(lqB) && len(body(lqA)) == len("Hello, dear there world") })
			merged := body(lqA)
			if !strings.Contains(merged, ", dear") || !strings.Contains(merged, " there") {
				t.Fatalf("merged %q lost an edit", merged)
			}

			// B goes offline and edits; meanwhile A appends and (on
			// Postgres) SQL appends too, concurrently with A's commit (which
			// goes to the server after Commit returns): either may end up
			// last. B comes back.
			p.Block()
			eventually(t, "B offline", func() bool { return !b.Connected() })
			edit(b, notesB, func(m editor) error {
				if err := m.InsertText("body", 0, "[b] "); err != nil {
					return err
				}
				return m.DeleteText("body", len("[b] Hello"), 1) // a character of A's ", dear" or B's " there"
			})
			edit(a, notesA, func(m editor) error { return m.InsertText("body", len(merged), " (a)") })
			if env.Kind == servertest.Postgres {
				if _, err := env.DB.Exec(ctx, `update note set body = body || ' -- sql' where id = $1`, id.String()); err != nil {
					t.Fatal(err)
				}
			}
			p.Unblock()
			if err := b.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			want := func(s string) bool {
				return strings.HasPrefix(s, "[b] Hello") && strings.Contains(s, " (a)") &&
					(env.Kind != servertest.Postgres || strings.Contains(s, " -- sql"))
			}
			waitFor(t, "convergence after B's return", func() bool {
				return body(lqA) == body(lqB) && want(body(lqA))
			}, func() string { return "A " + strconv.Quote(body(lqA)) + ", B " + strconv.Quote(body(lqB)) })
			// The server's state (and, on Postgres, the column) agree.
			st, err := env.Store.Get(ctx, "note", []event.ID{id})
			if err != nil || len(st) != 1 || st[0].Get("body").Text() != body(lqA) {
				t.Fatalf("server has %v (%v), clients %q", st, err, body(lqA))
			}
			if env.Kind == servertest.Postgres {
				var col string
				if err := env.DB.QueryRow(ctx, `select body from note where id = $1`, id.String()).Scan(&col); err != nil || col != body(lqA) {
					t.Fatalf("column %q (%v), clients %q", col, err, body(lqA))
				}
			}
		})
	}
}

// waitFor is eventually with a report of what was seen last.
func waitFor(t testing.TB, what string, cond func() bool, seen func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, seen())
		}
		<-tick.C
	}
}
