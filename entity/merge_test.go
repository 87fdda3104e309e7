package entity_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/value"
)

var seedFlag = flag.Uint64("merge.seed", 0, "replay one seed of the merge property tests")

// replica is one simulated node: the events it has and its state.
type replica struct {
	gen    *event.Generator
	state  *entity.State
	events map[event.ID]event.Event
}

func (r *replica) known(id event.ID) bool { _, ok := r.events[id]; return ok }

func (r *replica) apply(t *testing.T, e event.Event) {
	t.Helper()
	ok, err := r.state.Apply(&e, r.known)
	if err != nil {
		t.Fatalf("apply %s: %v", e.ID, err)
	}
	if ok {
		r.events[e.ID] = e
	}
}

// history builds a random event history of one entity made by several
// replicas with skewed clocks that edit concurrently and sync now and then.
func history(t *testing.T, rng *rand.Rand) []event.Event {
	const replicas = 4
	fields := []string{"a", "b", "c", "d"}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rs := make([]*replica, replicas)
	root := event.NewGeneratorWith(func() time.Time { return base }, rngReader{rng}).New()
	creation := event.Event{ID: root, Collection: "c", Entity: root, Ops: map[string]value.Value{"a": value.IntOf(0)}}
	for i := range rs {
		skew := time.Duration(rng.IntN(2000)-1000) * time.Millisecond // clocks disagree by up to ±1 s
		tick := base
		rs[i] = &replica{
			gen: event.NewGeneratorWith(func() time.Time { tick = tick.Add(time.Millisecond); return tick.Add(skew) },
				rngReader{rng}),
			state:  entity.New("c", root),
			events: map[event.ID]event.Event{},
		}
		rs[i].apply(t, creation)
	}
	all := []event.Event{creation}
	steps := 10 + rng.IntN(30)
	for s := 0; s < steps; s++ {
		r := rs[rng.IntN(replicas)]
		switch rng.IntN(4) {
		case 0: // sync with another replica: exchange everything, parents first
			o := rs[rng.IntN(replicas)]
			for _, pair := range [][2]*replica{{r, o}, {o, r}} {
				evs := slices.Collect(maps.Values(pair[0].events))
				entity.SortForApply(evs)
				for _, e := range evs {
					pair[1].apply(t, e)
				}
			}
		default: // an edit on this replica's head
			ops := map[string]value.Value{}
			for _, f := range fields {
				if rng.IntN(3) == 0 {
					ops[f] = value.IntOf(int64(rng.IntN(1000)))
					if rng.IntN(8) == 0 {
						ops[f] = value.NullValue
					}
				}
			}
			head := r.state.Head
			e := event.Event{ID: r.gen.New(head...), Collection: "c", Entity: root, Parents: slices.Clone(head), Ops: ops}
			if rng.IntN(40) == 0 {
				e.Delete = true
			}
			r.apply(t, e)
			all = append(all, e)
		}
	}
	return all
}

// deliver applies events in the given order the way a node receiving them
// over an unreliable network does: events whose parents have not arrived
// wait in a buffer, duplicates are no-ops.
func deliver(t *testing.T, id event.ID, evs []event.Event) (*entity.State, map[event.ID]event.Event) {
	t.Helper()
	r := &replica{state: entity.New("c", id), events: map[event.ID]event.Event{}}
	var pending []event.Event
	for _, e := range evs {
		pending = append(pending, e)
		for progress := true; progress; {
			progress = false
			for i := 0; i < len(pending); i++ {
				p := pending[i]
				ok, err := r.state.Apply(&p, r.known)
				if errors.Is(err, entity.ErrMissingParents) || errors.Is(err, entity.ErrNotCreated) {
					continue // parents not here yet: keep it, never guess
				}
				if err != nil {
					t.Fatalf("apply %s: %v", p.ID, err)
				}
				if ok {
					r.events[p.ID] = p
				}
				pending = slices.Delete(pending, i, i+1)
				i--
				progress = true
			}
		}
	}
	if len(pending) > 0 {
		t.Fatalf("%d events never applied", len(pending))
	}
	return r.state, r.events
}

// rngReader makes a seeded math/rand source an io.Reader for id entropy.
type rngReader struct{ r *rand.Rand }

func (r rngReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.r.Uint32())
	}
	return len(p), nil
}

type source map[event.ID]event.Event

func (s source) Events(_ context.Context, ids []event.ID) ([]event.Event, error) {
	var out []event.Event
	for _, id := range ids {
		if e, ok := s[id]; ok {
			out = append(out, e)
		}
	}
	return out, nil
}

func sameState(a, b *entity.State) error {
	if !a.Head.Equal(b.Head) {
		return fmt.Errorf("heads differ: %v vs %v", a.Head, b.Head)
	}
	if a.Deleted != b.Deleted {
		return fmt.Errorf("deleted differs: %v vs %v", a.Deleted, b.Deleted)
	}
	if !maps.EqualFunc(a.Values, b.Values, value.Equal) {
		return fmt.Errorf("values differ: %v vs %v", a.Values, b.Values)
	}
	if !maps.Equal(a.Versions, b.Versions) {
		return fmt.Errorf("versions differ: %v vs %v", a.Versions, b.Versions)
	}
	return nil
}

// The same set of events applied in any order — shuffled, duplicated,
// children before parents — gives the same state everywhere; the head is an
// antichain of exactly the events nothing descends from; and each field
// holds the write of the largest event id, which is also the causally latest.
func TestMergeDeterminism(t *testing.T) {
	t.Parallel()
	seeds := []uint64{}
	if *seedFlag != 0 {
		seeds = append(seeds, *seedFlag)
	} else {
		for i := uint64(1); i <= 300; i++ {
			seeds = append(seeds, i)
		}
	}
	for _, seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		all := history(t, rng)
		root := all[0].Entity
		ref, refEvents := deliver(t, root, all)
		for perm := 0; perm < 8; perm++ {
			order := slices.Clone(all)
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for d := rng.IntN(4); d > 0; d-- { // redeliveries
				order = slices.Insert(order, rng.IntN(len(order)+1), order[rng.IntN(len(order))])
			}
			got, _ := deliver(t, root, order)
			if err := sameState(ref, got); err != nil {
				t.Fatalf("seed %d (replay with -merge.seed=%d), permutation %d: %v", seed, seed, perm, err)
			}
		}
		checkHead(t, seed, ref, refEvents)
		checkFieldWinners(t, seed, ref, all)
	}
}

func checkHead(t *testing.T, seed uint64, st *entity.State, evs map[event.ID]event.Event) {
	t.Helper()
	hasChild := map[event.ID]bool{}
	for _, e := range evs {
		for _, p := range e.Parents {
			hasChild[p] = true
		}
	}
	var tips event.Head
	for id := range evs {
		if !hasChild[id] {
			tips = append(tips, id)
		}
	}
	if !st.Head.Equal(event.NewHead(tips...)) {
		t.Fatalf("seed %d: head %v, want the childless events %v", seed, st.Head, event.NewHead(tips...))
	}
	for i := range st.Head {
		for j := range st.Head {
			if i == j {
				continue
			}
			rel, err := event.Compare(context.Background(), source(evs), event.Head{st.Head[i]}, event.Head{st.Head[j]})
			if err != nil || rel != event.Diverged {
				t.Fatalf("seed %d: head %v is not an antichain: %v %v", seed, st.Head, rel, err)
			}
		}
	}
}

func checkFieldWinners(t *testing.T, seed uint64, st *entity.State, all []event.Event) {
	t.Helper()
	winner := map[string]event.Event{}
	deleted := false
	for _, e := range all {
		deleted = deleted || e.Delete
		for f := range e.Ops {
			if w, ok := winner[f]; !ok || e.ID.Compare(w.ID) > 0 {
				winner[f] = e
			}
		}
		// Ids grow along history: a parent is always smaller.
		for _, p := range e.Parents {
			if p.Compare(e.ID) >= 0 {
				t.Fatalf("seed %d: parent %s not below %s", seed, p, e.ID)
			}
		}
	}
	for f, e := range winner {
		if !value.Equal(st.Get(f), e.Ops[f]) {
			t.Fatalf("seed %d: %s = %v, want %v from %s", seed, f, st.Get(f), e.Ops[f], e.ID)
		}
	}
	if st.Deleted != deleted {
		t.Fatalf("seed %d: deleted %v, want %v", seed, st.Deleted, deleted)
	}
}

// A replica whose clock runs an hour behind edits on top of a write from a
// replica whose clock runs ahead: its write still wins, because it follows
// causally (its id is made greater than its parents').
func TestCausalDescendantWinsDespiteClockSkew(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ahead := event.NewGeneratorWith(func() time.Time { return now.Add(time.Hour) }, nil)
	behind := event.NewGeneratorWith(func() time.Time { return now.Add(-time.Hour) }, nil)
	root := behind.New()
	st := entity.New("c", root)
	known := map[event.ID]bool{}
	k := func(id event.ID) bool { return known[id] }
	apply := func(e event.Event) {
		if _, err := st.Apply(&e, k); err != nil {
			t.Fatal(err)
		}
		known[e.ID] = true
	}
	apply(event.Event{ID: root, Collection: "c", Entity: root, Ops: map[string]value.Value{"x": value.IntOf(1)}})
	w1 := event.Event{ID: ahead.New(root), Collection: "c", Entity: root, Parents: event.Head{root}, Ops: map[string]value.Value{"x": value.IntOf(2)}}
	apply(w1)
	w2 := event.Event{ID: behind.New(w1.ID), Collection: "c", Entity: root, Parents: event.Head{w1.ID}, Ops: map[string]value.Value{"x": value.IntOf(3)}}
	apply(w2)
	if st.Get("x").Int() != 3 {
		t.Fatalf("x = %v: the causally later write lost", st.Get("x"))
	}
}

func TestApplyRejects(t *testing.T) {
	t.Parallel()
	root := event.NewID()
	mk := func() *entity.State {
		st := entity.New("c", root)
		st.Apply(&event.Event{ID: root, Collection: "c", Entity: root}, func(event.ID) bool { return false })
		return st
	}
	none := func(event.ID) bool { return false }
	unknown := event.NewID()
	cases := []struct {
		name string
		e    event.Event
		want error
	}{
		{"unknown parent", event.Event{ID: event.NewID(unknown), Collection: "c", Entity: root, Parents: event.Head{unknown}}, entity.ErrMissingParents},
		{"other entity", event.Event{ID: event.NewID(), Collection: "c", Entity: event.NewID(), Parents: event.Head{root}}, entity.ErrWrongEntity},
		{"other collection", event.Event{ID: event.NewID(), Collection: "d", Entity: root, Parents: event.Head{root}}, entity.ErrWrongEntity},
		{"second creation", event.Event{ID: root, Collection: "c", Entity: root}, nil}, // redelivery of the head: no-op
		{"bad field", event.Event{ID: event.NewID(root), Collection: "c", Entity: root, Parents: event.Head{root}, Ops: map[string]value.Value{"_x": value.IntOf(1)}}, event.ErrInvalid},
	}
	for _, c := range cases {
		st := mk()
		before := st.Clone()
		_, err := st.Apply(&c.e, none)
		if !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
		if err != nil {
			if e := sameState(before, st); e != nil {
				t.Errorf("%s: a rejected event changed the state: %v", c.name, e)
			}
		}
	}
	// An edit before the creation event arrived is rejected, not guessed at.
	st := entity.New("c", root)
	e := event.Event{ID: event.NewID(root), Collection: "c", Entity: root, Parents: event.Head{root}}
	if _, err := st.Apply(&e, none); !errors.Is(err, entity.ErrNotCreated) {
		t.Errorf("edit before creation: %v", err)
	}
}

// Replay of a shuffled history equals applying it in order; a history with
// a gap is an error.
func TestReplay(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	all := history(t, rng)
	want, _ := deliver(t, all[0].Entity, all)
	shuffled := slices.Clone(all)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	got, seen, err := entity.Replay("c", all[0].Entity, shuffled)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameState(want, got); err != nil || len(seen) != len(all) {
		t.Fatalf("replay: %v (%d of %d events)", err, len(seen), len(all))
	}
	if _, _, err := entity.Replay("c", all[0].Entity, all[1:]); err == nil {
		t.Fatal("replay without the creation event succeeded")
	}
}
