package postgres

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/storage"
	"github.com/ankurah/ankurah-go/value"
)

// Commits that only create entities need no locks and no merge, so they are
// written as set-based INSERTs (one per table, rows passed as arrays), and
// commits that arrive while another group is being written wait and go
// together in the next group: one round trip and one Postgres transaction
// for many commits, as in WAL group commit. If a group fails, each of its
// commits is retried on its own, so one bad commit never fails another.

// maxGroup bounds the commits written in one group.
const maxGroup = 128

type group struct {
	mu       sync.Mutex
	pending  []*creation
	flushing bool
}

type creation struct {
	events []*event.Event  // each creation event once,
	states []*entity.State // and the state it makes, at the same index
	tables map[string]*table
	done   chan error
}

// commitCreations stores a creation-only commit, grouped with concurrent ones.
func (s *Store) commitCreations(ctx context.Context, evs []event.Event, tables map[string]*table) ([]*entity.State, error) {
	c := &creation{tables: tables, done: make(chan error, 1)}
	seen := map[event.ID]bool{}
	for i := range evs {
		e := &evs[i]
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		st := entity.New(e.Collection, e.Entity)
		if _, err := st.Apply(e, func(event.ID) bool { return false }); err != nil {
			return nil, storage.Coded(err)
		}
		if check := storage.WriteCheckFrom(ctx); check != nil {
			if err := check(e, nil, st); err != nil {
				return nil, err
			}
		}
		c.events = append(c.events, e)
		c.states = append(c.states, st)
	}

	g := &s.creations
	g.mu.Lock()
	g.pending = append(g.pending, c)
	if g.flushing {
		g.mu.Unlock()
		lead, err := c.wait(ctx, g)
		if !lead {
			return c.result(ctx, s, err)
		}
		g.mu.Lock()
	}
	// This commit leads: it writes one group, the oldest pending commits
	// (itself first), then hands the lead to the next waiting commit, so no
	// caller keeps writing other callers' groups under sustained load.
	g.flushing = true
	n := min(len(g.pending), maxGroup)
	batch := slices.Clone(g.pending[:n])
	g.pending = slices.Delete(g.pending, 0, n)
	g.mu.Unlock()
	err := errRetryAlone
	func() {
		// Even if writing panics, the members learn to retry alone and the
		// lead moves on, so creation commits never stall behind a dead leader.
		defer func() {
			for _, member := range batch {
				member.done <- err
			}
			g.handOff()
		}()
		err = s.writeCreations(ctx, batch)
	}()
	return c.result(ctx, s, <-c.done)
}

// errLead, sent on a pending commit's done channel, makes it the leader.
var errLead = errors.New("lead the next group")

// handOff passes the lead to the oldest pending commit, or ends flushing.
func (g *group) handOff() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.pending) > 0 {
		g.pending[0].done <- errLead
	} else {
		g.flushing = false
	}
}

// wait waits for the commit's group to be written, or to be made leader.
// If ctx ends while the commit is still pending it withdraws; once it has
// been taken into a group (or handed the lead) it waits for that outcome,
// so that the lead is never lost.
func (c *creation) wait(ctx context.Context, g *group) (lead bool, err error) {
	select {
	case err := <-c.done:
		return err == errLead, err
	case <-ctx.Done():
	}
	g.mu.Lock()
	if i := slices.Index(g.pending, c); i > 0 || i == 0 && len(c.done) == 0 {
		g.pending = slices.Delete(g.pending, i, i+1)
		g.mu.Unlock()
		return false, ctx.Err()
	}
	g.mu.Unlock()
	err = <-c.done
	return err == errLead, err
}

// errRetryAlone tells a commit whose group failed to try again on its own.
var errRetryAlone = errors.New("group failed: retry alone")

func (c *creation) result(ctx context.Context, s *Store, err error) ([]*entity.State, error) {
	if errors.Is(err, errRetryAlone) {
		err = s.writeCreations(ctx, []*creation{c})
	}
	if err != nil {
		return nil, err
	}
	return c.states, nil
}

// writeCreations writes the events and rows of the given commits in one
// implicit transaction. For a group of several, a failure returns
// errRetryAlone so that each commit learns its own fate.
func (s *Store) writeCreations(ctx context.Context, cs []*creation) error {
	var ids, colls, ops []string
	var authors []*string
	rows := map[*table][]*entity.State{}
	for _, c := range cs {
		for j, st := range c.states {
			e := c.events[j]
			ids = append(ids, st.ID.String())
			colls = append(colls, st.Collection)
			ops = append(ops, string(opsJSON(e.Ops)))
			authors = append(authors, nullable(e.Author))
			t := c.tables[st.Collection]
			rows[t] = append(rows[t], st)
		}
	}
	b := &pgx.Batch{}
	if len(ids) == 1 {
		// A lone creation: plain single-row statements with typed
		// parameters are cheaper than unnesting one-element arrays.
		c := cs[0]
		st := c.states[0]
		if err := queueEvent(b, c.events[0]); err != nil {
			return err
		}
		b.Queue(markAPIWrite, apiMark(c.tables[st.Collection]))
		if err := queueRow(b, c.tables[st.Collection], nil, st); err != nil {
			return err
		}
		return pgError(s.pool.SendBatch(ctx, b).Close())
	}
	b.Queue(`insert into ankurah.events (id, collection, entity_id, operations, author)
		select u.id, u.coll, u.id, u.ops::jsonb, u.author from unnest($1::text[], $2::text[], $3::text[], $4::text[]) as u(id, coll, ops, author)`,
		ids, colls, ops, authors)
	for t, sts := range rows {
		b.Queue(markAPIWrite, apiMark(t))
		queueRowsInsert(b, t, sts)
		for _, st := range sts {
			if err := queueDocs(b, t, nil, st); err != nil {
				return err
			}
		}
	}
	err := s.pool.SendBatch(ctx, b).Close()
	if err != nil && len(cs) > 1 {
		return errRetryAlone
	}
	return pgError(err)
}

// queueRowsInsert inserts new rows (head = their creation event) with one
// statement: every column is passed as a text array and cast in SQL, so the
// statement text depends only on the table and is prepared once.
func queueRowsInsert(b *pgx.Batch, t *table, sts []*entity.State) {
	var sql, sel, un strings.Builder
	sql.WriteString("insert into " + t.ident + " (id, _head, _versions")
	sel.WriteString(" select u.id, array[u.id], u._v::jsonb")
	un.WriteString(" from unnest($1::text[], $2::text[]")
	args := make([]any, 0, 2+len(t.Fields))
	idCol := make([]string, len(sts))
	verCol := make([]string, len(sts))
	for i, st := range sts {
		idCol[i] = st.ID.String()
		verCol[i] = versionsJSON(st)
	}
	args = append(args, idCol, verCol)
	names := []string{"id", "_v"}
	for fi, f := range t.Fields {
		if t.generated[f.Name] {
			continue
		}
		col := make([]*string, len(sts))
		for i, st := range sts {
			col[i] = sqlText(st.Values[f.Name])
		}
		args = append(args, col)
		alias := "f" + strconv.Itoa(fi)
		names = append(names, alias)
		sql.WriteString(", " + t.colIdent(f.Name))
		_, cast := writeCast(value.NullValue, f, t.colTypes[f.Name])
		sel.WriteString(", u." + alias + strings.TrimPrefix(cast, "::text"))
		un.WriteString(", $" + strconv.Itoa(len(args)) + "::text[]")
	}
	sql.WriteString(")")
	un.WriteString(") as u(" + strings.Join(names, ", ") + ")")
	b.Queue(sql.String()+sel.String()+un.String(), args...)
}

func versionsJSON(st *entity.State) string {
	var buf []byte
	buf = append(buf, '{')
	for i, k := range slices.Sorted(maps.Keys(st.Versions)) {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = value.TextOf(k).AppendJSON(buf)
		buf = append(buf, ':', '"')
		buf = append(buf, st.Versions[k].String()...)
		buf = append(buf, '"')
	}
	return string(append(buf, '}'))
}

// sqlText is a value's Postgres text input form (nil for NULL).
func sqlText(v value.Value) *string {
	if v.IsNull() {
		return nil
	}
	s := v.PGText()
	return &s
}
