package event_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/value"
)

// ids returns n increasing ids (1 ms apart) for tests that need fixed ids.
func ids(n int) []event.ID {
	base := ulid.Timestamp(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	out := make([]event.ID, n)
	for i := range out {
		out[i] = idAt(base+uint64(i), byte(i))
	}
	return out
}

func TestValidate(t *testing.T) {
	t.Parallel()
	id := ids(10)
	ent := id[1]
	cases := []struct {
		name    string
		e       event.Event
		wantErr string // "" when valid
	}{
		{"creation", event.Event{ID: ent, Entity: ent, Collection: "album"}, ""},
		{"creation with ops", event.Event{ID: ent, Entity: ent, Collection: "album",
			Ops: map[string]value.Value{"name": value.TextOf("x"), "year2": value.IntOf(1), "a_b": value.NullValue}}, ""},
		{"creation with empty parents", event.Event{ID: ent, Entity: ent, Collection: "album", Parents: event.Head{}}, ""},
		{"update", event.Event{ID: id[5], Entity: ent, Collection: "album", Parents: event.Head{id[3]}}, ""},
		{"merge", event.Event{ID: id[5], Entity: ent, Collection: "album", Parents: event.Head{id[2], id[3], id[4]}}, ""},
		{"delete", event.Event{ID: id[5], Entity: ent, Collection: "album", Parents: event.Head{ent}, Delete: true}, ""},

		{"zero id", event.Event{Entity: ent, Collection: "album"}, "missing id"},
		{"zero entity", event.Event{ID: ent, Collection: "album"}, "missing id"},
		{"no collection", event.Event{ID: ent, Entity: ent}, "missing collection"},
		{"creation with another id", event.Event{ID: id[2], Entity: ent, Collection: "album"}, "creation event"},
		{"creation that deletes", event.Event{ID: ent, Entity: ent, Collection: "album", Delete: true}, "cannot delete"},
		{"update with the entity's id", event.Event{ID: ent, Entity: ent, Collection: "album", Parents: event.Head{id[0]}}, "only the creation event"},
		{"parents unsorted", event.Event{ID: id[5], Entity: ent, Collection: "album", Parents: event.Head{id[3], id[2]}}, "sorted"},
		{"parents duplicated", event.Event{ID: id[5], Entity: ent, Collection: "album", Parents: event.Head{id[3], id[3]}}, "distinct"},
		{"parent equal to id", event.Event{ID: id[5], Entity: ent, Collection: "album", Parents: event.Head{id[5]}}, "not older"},
		{"parent newer than id", event.Event{ID: id[5], Entity: ent, Collection: "album", Parents: event.Head{id[3], id[7]}}, "not older"},
		{"bad field", event.Event{ID: ent, Entity: ent, Collection: "album", Ops: map[string]value.Value{"Na\nme": value.TextOf("x")}}, "control character"},
		{"system column field", event.Event{ID: ent, Entity: ent, Collection: "album", Ops: map[string]value.Value{"xmin": value.TextOf("x")}}, "system column"},
		{"id field", event.Event{ID: ent, Entity: ent, Collection: "album", Ops: map[string]value.Value{"id": value.TextOf("x")}}, "reserved"},
		{"system field", event.Event{ID: ent, Entity: ent, Collection: "album", Ops: map[string]value.Value{"_head": value.TextOf("x")}}, "reserved"},
		{"empty field", event.Event{ID: ent, Entity: ent, Collection: "album", Ops: map[string]value.Value{"": value.TextOf("x")}}, "1 to 63"},
	}
	for _, c := range cases {
		err := c.e.Validate()
		if c.wantErr == "" {
			if err != nil {
				t.Errorf("%s: Validate: %v", c.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: Validate succeeded, want an error mentioning %q", c.name, c.wantErr)
			continue
		}
		if !errors.Is(err, event.ErrInvalid) {
			t.Errorf("%s: error %v does not wrap ErrInvalid", c.name, err)
		}
		if !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%s: error %q does not mention %q", c.name, err, c.wantErr)
		}
	}
	// IsCreation goes by parents.
	if !(&event.Event{}).IsCreation() || (&event.Event{Parents: event.Head{id[0]}}).IsCreation() {
		t.Error("IsCreation wrong")
	}
}

func TestValidNames(t *testing.T) {
	t.Parallel()
	good := []string{"a", "album", "release_year", "a1", "a_1_b", "x__y", "z_", strings.Repeat("a", 63), "ida", "id_", "i"}
	for _, n := range good {
		if err := event.ValidFieldName(n); err != nil {
			t.Errorf("ValidFieldName(%q): %v", n, err)
		}
		if err := event.ValidCollectionName(n); err != nil {
			t.Errorf("ValidCollectionName(%q): %v", n, err)
		}
	}
	// Any identifier an app's table or column may have (adopted tables keep
	// their names) — but only plain ones are names Ankurah creates.
	other := []string{"1a", "Album", "aB", "a-b", "a b", "a.b", "é", "a;drop", "ünïcode", `a"b`, "Mixed Case"}
	for _, n := range other {
		if err := event.ValidFieldName(n); err != nil {
			t.Errorf("ValidFieldName(%q): %v", n, err)
		}
		if err := event.ValidCollectionName(n); err != nil {
			t.Errorf("ValidCollectionName(%q): %v", n, err)
		}
		if event.IsPlainName(n) {
			t.Errorf("IsPlainName(%q)", n)
		}
	}
	for _, n := range good {
		if !event.IsPlainName(n) {
			t.Errorf("IsPlainName(%q) = false", n)
		}
	}
	if err := event.ValidCollectionName("sales." + strings.Repeat("a", 63)); err != nil {
		t.Errorf("schema.table of 69 bytes: %v", err)
	}
	bad := []string{"", strings.Repeat("a", 128), "_x", "_", "a\x00", "a\nb", "\xff\xfe", "a\u0085"}
	for _, n := range bad {
		if err := event.ValidFieldName(n); err == nil {
			t.Errorf("ValidFieldName(%q) succeeded", n)
		}
		if err := event.ValidCollectionName(n); err == nil {
			t.Errorf("ValidCollectionName(%q) succeeded", n)
		}
	}
	if err := event.ValidFieldName(strings.Repeat("a", 64)); err == nil {
		t.Error("a field name of 64 bytes succeeded")
	}
	// Fields named like Postgres's system columns are refused, saying why.
	for _, n := range []string{"ctid", "xmin", "cmin", "xmax", "cmax", "tableoid"} {
		if err := event.ValidFieldName(n); err == nil || !strings.Contains(err.Error(), "system column") {
			t.Errorf("ValidFieldName(%q): %v", n, err)
		}
	}
	// id is a reserved field name but a fine collection name.
	if err := event.ValidFieldName("id"); err == nil {
		t.Error(`ValidFieldName("id") succeeded`)
	}
	if err := event.ValidCollectionName("id"); err != nil {
		t.Errorf(`ValidCollectionName("id"): %v`, err)
	}
	// Long names are clipped in errors.
	err := event.ValidFieldName(strings.Repeat("x", 10_000))
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("error for a long name: %v", err)
	}
}

func TestEventJSON(t *testing.T) {
	t.Parallel()
	id := ids(4)
	e := event.Event{
		ID:         id[3],
		Collection: "album",
		Entity:     id[0],
		Parents:    event.Head{id[1], id[2]},
		Ops: map[string]value.Value{
			"name":  value.TextOf("Kind of \"Blue\""),
			"year":  value.IntOf(1959),
			"score": value.FloatOf(4.5),
			"live":  value.BoolOf(false),
			"gone":  value.NullValue,
			"meta":  func() value.Value { v, _ := value.JSONOf([]byte(`{"b":[1,2],"a":null}`)); return v }(),
		},
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`{"id":%q,"collection":"album","entity_id":%q,"parents":[%q,%q],`+
		`"operations":{"gone":null,"live":false,"meta":{"b":[1,2],"a":null},"name":"Kind of \"Blue\"","score":4.5,"year":1959}}`,
		id[3], id[0], id[1], id[2])
	if string(b) != want {
		t.Errorf("json.Marshal =\n%s\nwant\n%s", b, want)
	}
	var back event.Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.ID != e.ID || back.Entity != e.Entity || back.Collection != e.Collection || back.Delete || !back.Parents.Equal(e.Parents) {
		t.Errorf("round trip gave %+v", back)
	}
	if len(back.Ops) != len(e.Ops) {
		t.Errorf("ops = %v", back.Ops)
	}
	for k, v := range e.Ops {
		if !value.Equal(back.Ops[k], v) {
			t.Errorf("op %s = %v (%v), want %v (%v)", k, back.Ops[k], back.Ops[k].Type(), v, v.Type())
		}
	}
	if err := back.Validate(); err != nil {
		t.Errorf("Validate after round trip: %v", err)
	}

	// Delete is written only when set; a creation's parents are null.
	c := event.Event{ID: id[0], Entity: id[0], Collection: "album"}
	b, _ = json.Marshal(c)
	if want := fmt.Sprintf(`{"id":%q,"collection":"album","entity_id":%q,"parents":null,"operations":null}`, id[0], id[0]); string(b) != want {
		t.Errorf("creation JSON = %s, want %s", b, want)
	}
	d := event.Event{ID: id[3], Entity: id[0], Collection: "album", Parents: event.Head{id[2]}, Delete: true}
	b, _ = json.Marshal(d)
	if !strings.HasSuffix(string(b), `"operations":null,"delete":true}`) {
		t.Errorf("delete JSON = %s", b)
	}
	var dback event.Event
	if err := json.Unmarshal(b, &dback); err != nil || !dback.Delete {
		t.Errorf("delete round trip = %+v, %v", dback, err)
	}

	// Bad ids are rejected.
	for _, bad := range []string{
		`{"id":"nope","collection":"a","entity_id":"01HZX3K9Q8J7M6N5P4R3S2T1V0"}`,
		`{"id":"01HZX3K9Q8J7M6N5P4R3S2T1V0","parents":["01HZX3K9Q8J7M6N5P4R3S2T1VU"]}`,
	} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("json.Unmarshal(%s) succeeded", bad)
		}
	}
}

func TestHead(t *testing.T) {
	t.Parallel()
	id := ids(6)

	in := []event.ID{id[3], id[1], id[3], id[2], id[1]}
	orig := slices.Clone(in)
	h := event.NewHead(in...)
	if !h.Equal(event.Head{id[1], id[2], id[3]}) {
		t.Errorf("NewHead = %v", h)
	}
	if !slices.Equal(in, orig) {
		t.Error("NewHead modified its argument")
	}
	if got := event.NewHead(); len(got) != 0 {
		t.Errorf("NewHead() = %v", got)
	}
	for i, x := range id {
		if want := i >= 1 && i <= 3; h.Contains(x) != want {
			t.Errorf("%v.Contains(id[%d]) = %v", h, i, !want)
		}
	}
	if event.Head(nil).Contains(id[0]) {
		t.Error("empty head contains something")
	}
	if h.Max() != id[3] || event.Head(nil).Max() != event.Zero {
		t.Errorf("Max wrong")
	}
	if !event.Head(nil).Equal(event.Head{}) || h.Equal(event.Head{id[1], id[2]}) || h.Equal(event.Head{id[1], id[2], id[4]}) {
		t.Error("Equal wrong")
	}

	if got := h.Strings(); !slices.Equal(got, []string{id[1].String(), id[2].String(), id[3].String()}) {
		t.Errorf("Strings = %v", got)
	}
	if got := h.String(); got != "["+id[1].String()+" "+id[2].String()+" "+id[3].String()+"]" {
		t.Errorf("String = %s", got)
	}
	if got := event.Head(nil).String(); got != "[]" {
		t.Errorf("empty String = %s", got)
	}

	p, err := event.ParseHead([]string{id[3].String(), id[1].String(), id[3].String()})
	if err != nil || !p.Equal(event.Head{id[1], id[3]}) {
		t.Errorf("ParseHead = %v, %v", p, err)
	}
	if p, err := event.ParseHead(nil); err != nil || len(p) != 0 {
		t.Errorf("ParseHead(nil) = %v, %v", p, err)
	}
	if _, err := event.ParseHead([]string{id[1].String(), "bad"}); !errors.Is(err, event.ErrBadID) {
		t.Errorf("ParseHead with a bad id: %v", err)
	}

	// JSON: an array of ids.
	b, err := json.Marshal(event.Head{id[1], id[2]})
	if err != nil || string(b) != fmt.Sprintf(`[%q,%q]`, id[1], id[2]) {
		t.Errorf("json.Marshal(head) = %s, %v", b, err)
	}
}

func TestHeadAdvance(t *testing.T) {
	t.Parallel()
	id := ids(8)
	cases := []struct {
		name    string
		head    event.Head
		e       event.ID
		parents event.Head
		want    event.Head
	}{
		{"creation", nil, id[0], nil, event.Head{id[0]}},
		{"linear", event.Head{id[0]}, id[1], event.Head{id[0]}, event.Head{id[1]}},
		{"concurrent (parent not in head)", event.Head{id[2]}, id[3], event.Head{id[1]}, event.Head{id[2], id[3]}},
		{"merge", event.Head{id[2], id[3]}, id[4], event.Head{id[2], id[3]}, event.Head{id[4]}},
		{"partial merge", event.Head{id[1], id[2], id[3]}, id[5], event.Head{id[1], id[3]}, event.Head{id[2], id[5]}},
		{"older concurrent event sorts first", event.Head{id[6]}, id[5], event.Head{id[0]}, event.Head{id[5], id[6]}},
	}
	for _, c := range cases {
		before := slices.Clone(c.head)
		got := c.head.Advance(c.e, c.parents)
		if !got.Equal(c.want) {
			t.Errorf("%s: %v.Advance(%v, %v) = %v, want %v", c.name, c.head, c.e, c.parents, got, c.want)
		}
		if !slices.Equal(c.head, before) {
			t.Errorf("%s: Advance modified the head", c.name)
		}
		if !slices.IsSortedFunc(got, event.ID.Compare) {
			t.Errorf("%s: result %v not sorted", c.name, got)
		}
	}
}

// memSource is an in-memory event.Source that counts what it is asked for.
type memSource struct {
	events  map[event.ID]event.Event
	fetched int
	calls   int
	err     error
}

func (s *memSource) Events(ctx context.Context, ids []event.ID) ([]event.Event, error) {
	if s.err != nil {
		return nil, s.err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.calls++
	s.fetched += len(ids)
	var out []event.Event
	for _, id := range ids {
		if e, ok := s.events[id]; ok {
			out = append(out, e)
		}
	}
	return out, nil
}

// history builds an entity's events with one generator, so ids grow along history.
type history struct {
	gen    *event.Generator
	src    *memSource
	entity event.ID
}

func newHistory(t *testing.T) *history {
	t.Helper()
	h := &history{gen: event.NewGenerator(), src: &memSource{events: map[event.ID]event.Event{}}}
	h.entity = h.add(t)
	return h
}

// add makes an event with the given parents (a creation when there are none).
func (h *history) add(t *testing.T, parents ...event.ID) event.ID {
	t.Helper()
	id := h.gen.New(parents...)
	e := event.Event{ID: id, Entity: id, Collection: "thing", Parents: event.NewHead(parents...)}
	if len(parents) > 0 {
		e.Entity = h.entity
	}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	h.src.events[id] = e
	return id
}

func (h *history) compare(t *testing.T, a, b event.Head) event.Relation {
	t.Helper()
	rel, err := event.Compare(context.Background(), h.src, a, b)
	if err != nil {
		t.Fatalf("Compare(%v, %v): %v", a, b, err)
	}
	return rel
}

func TestRelationString(t *testing.T) {
	t.Parallel()
	for rel, want := range map[event.Relation]string{event.Equal: "equal", event.Descends: "descends", event.Ascends: "ascends", event.Diverged: "diverged"} {
		if rel.String() != want {
			t.Errorf("%d.String() = %q, want %q", rel, rel.String(), want)
		}
	}
}

func TestCompare(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	c := h.entity
	// c ← e1 ← e2 ← e3
	e1 := h.add(t, c)
	e2 := h.add(t, e1)
	e3 := h.add(t, e2)
	// Forks from e3: a1 ← a2 and b1.
	a1 := h.add(t, e3)
	b1 := h.add(t, e3)
	a2 := h.add(t, a1)
	// Merge of both forks, then a further change.
	m := h.add(t, a2, b1)
	n := h.add(t, m)
	// A fork from deep in history that never merges.
	x := h.add(t, e1)

	H := event.NewHead
	cases := []struct {
		a, b event.Head
		want event.Relation
	}{
		{H(c), H(c), event.Equal},
		{H(e3), H(e3), event.Equal},
		{H(a2, b1), H(b1, a2), event.Equal},
		{nil, nil, event.Equal},

		{H(e1), H(c), event.Descends},
		{H(e3), H(c), event.Descends},
		{H(e3), H(e2), event.Descends},
		{H(c), H(e3), event.Ascends},
		{H(e1), H(e3), event.Ascends},

		{H(a1), H(b1), event.Diverged},
		{H(a2), H(b1), event.Diverged},
		{H(b1), H(a2), event.Diverged},
		{H(a2), H(x), event.Diverged},
		{H(n), H(x), event.Diverged},

		{H(a2, b1), H(a1), event.Descends},
		{H(a2, b1), H(b1), event.Descends},
		{H(a2, b1), H(e3), event.Descends},
		{H(a2, b1), H(a1, b1), event.Descends},
		{H(a1), H(a2, b1), event.Ascends},
		{H(a1, b1), H(a2), event.Diverged},

		{H(m), H(a2), event.Descends},
		{H(m), H(b1), event.Descends},
		{H(m), H(a2, b1), event.Descends},
		{H(m), H(a1, b1), event.Descends},
		{H(n), H(a1, b1), event.Descends},
		{H(n), H(c), event.Descends},
		{H(a2, b1), H(m), event.Ascends},
		{H(b1), H(n), event.Ascends},
		{H(m, x), H(n), event.Diverged},
		{H(n, x), H(m), event.Descends},
		{H(n, x), H(x, a2), event.Descends},
		{H(n, x), H(m, x), event.Descends},

		// The empty head (before creation) is an ancestor of every head.
		{H(c), nil, event.Descends},
		{nil, H(n), event.Ascends},
	}
	for _, cs := range cases {
		if got := h.compare(t, cs.a, cs.b); got != cs.want {
			t.Errorf("Compare(%v, %v) = %v, want %v", cs.a, cs.b, got, cs.want)
		}
	}
}

// Compare walks only between the heads, not through the whole history.
func TestCompareCostIsTheDistance(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	chain := []event.ID{h.entity}
	for range 2000 {
		chain = append(chain, h.add(t, chain[len(chain)-1]))
	}
	last := chain[len(chain)-1]
	for _, back := range []int{1, 2, 10, 100} {
		old := chain[len(chain)-1-back]
		h.src.fetched = 0
		if rel := h.compare(t, event.Head{last}, event.Head{old}); rel != event.Descends {
			t.Fatalf("Compare(last, last-%d) = %v", back, rel)
		}
		if h.src.fetched > back {
			t.Errorf("Compare(last, last-%d) fetched %d events", back, h.src.fetched)
		}
		h.src.fetched = 0
		if rel := h.compare(t, event.Head{old}, event.Head{last}); rel != event.Ascends {
			t.Fatalf("Compare(last-%d, last) = %v", back, rel)
		}
		if h.src.fetched > back {
			t.Errorf("Compare(last-%d, last) fetched %d events", back, h.src.fetched)
		}
	}
	h.src.fetched = 0
	if rel := h.compare(t, event.Head{last}, event.Head{chain[0]}); rel != event.Descends {
		t.Fatalf("Compare(last, creation) = %v", rel)
	}
	if h.src.fetched > len(chain) {
		t.Errorf("walking the whole chain fetched %d events for %d", h.src.fetched, len(chain))
	}
}

func TestCompareUnknownEvents(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	e1 := h.add(t, h.entity)
	e2 := h.add(t, e1)
	e3 := h.add(t, e2)
	unknown := h.gen.New(e3) // newer than everything, never stored

	for _, c := range []struct{ a, b event.Head }{
		{event.Head{unknown}, event.Head{e1}},
		{event.Head{e1}, event.Head{unknown}},
		{event.NewHead(unknown, e2), event.Head{e1}},
	} {
		rel, err := event.Compare(context.Background(), h.src, c.a, c.b)
		if !errors.Is(err, event.ErrUnknownEvent) {
			t.Errorf("Compare(%v, %v) = %v, %v; want ErrUnknownEvent", c.a, c.b, rel, err)
		}
	}

	// A gap in history on the way between the heads.
	delete(h.src.events, e2)
	if rel, err := event.Compare(context.Background(), h.src, event.Head{e3}, event.Head{e1}); !errors.Is(err, event.ErrUnknownEvent) {
		t.Errorf("Compare across a gap = %v, %v; want ErrUnknownEvent", rel, err)
	}
	// Comparing with the missing event itself needs no fetch of it: it is the
	// smallest id looked for, and e3 names it as a parent.
	if rel, err := event.Compare(context.Background(), h.src, event.Head{e3}, event.Head{e2}); err != nil || rel != event.Descends {
		t.Errorf("Compare(e3, e2) = %v, %v", rel, err)
	}

	// Source errors come back as they are.
	boom := errors.New("storage is down")
	h.src.err = boom
	if _, err := event.Compare(context.Background(), h.src, event.Head{e3}, event.Head{e1}); !errors.Is(err, boom) {
		t.Errorf("Compare with a failing source: %v", err)
	}
	// Equal heads need no source.
	if rel, err := event.Compare(context.Background(), h.src, event.Head{e3}, event.Head{e3}); err != nil || rel != event.Equal {
		t.Errorf("Compare(e3, e3) with a failing source = %v, %v", rel, err)
	}
	h.src.err = nil

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := event.Compare(ctx, h.src, event.Head{e3}, event.Head{h.entity}); !errors.Is(err, context.Canceled) {
		t.Errorf("Compare with a cancelled context: %v", err)
	}
}

// TestCompareRandomHistories checks Compare against brute force on random
// histories made by replicas whose clocks disagree wildly, each with its own
// generator: ids must still grow along history.
func TestCompareRandomHistories(t *testing.T) {
	t.Parallel()
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(seed, 42))
			base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			const replicas = 4
			gens := make([]*event.Generator, replicas)
			for i := range gens {
				skew := time.Duration(r.IntN(2_000_000)-1_000_000) * time.Millisecond
				if i == 0 {
					skew = 0 // a frozen clock: every id is stepped
				}
				gens[i] = event.NewGeneratorWith(fixedClock(base.Add(skew)), seededReader(seed*10+uint64(i)))
			}

			src := &memSource{events: map[event.ID]event.Event{}}
			ancestors := map[event.ID]map[event.ID]bool{} // ancestors-or-self
			entity := gens[0].New()
			src.events[entity] = event.Event{ID: entity, Entity: entity, Collection: "thing"}
			ancestors[entity] = map[event.ID]bool{entity: true}

			heads := make([]event.Head, replicas)
			for i := range heads {
				heads[i] = event.Head{entity}
			}
			// history returns the union of the heads' ancestors-or-self.
			history := func(h event.Head) map[event.ID]bool {
				out := map[event.ID]bool{}
				for _, id := range h {
					for a := range ancestors[id] {
						out[a] = true
					}
				}
				return out
			}
			// antichain drops members that are ancestors of other members.
			antichain := func(ids ...event.ID) event.Head {
				var out []event.ID
				for _, id := range ids {
					covered := false
					for _, o := range ids {
						if o != id && ancestors[o][id] {
							covered = true
						}
					}
					if !covered {
						out = append(out, id)
					}
				}
				return event.NewHead(out...)
			}
			seen := []event.Head{nil, {entity}}
			for range 60 {
				i := r.IntN(replicas)
				if r.IntN(3) == 0 {
					// Receive another replica's history: apply the missing
					// events in id order (parents first) with Advance.
					j := r.IntN(replicas)
					have, theirs := history(heads[i]), history(heads[j])
					var missing []event.ID
					for id := range theirs {
						if !have[id] {
							missing = append(missing, id)
						}
					}
					slices.SortFunc(missing, event.ID.Compare)
					want := antichain(append(slices.Clone(heads[i]), heads[j]...)...)
					for _, m := range missing {
						heads[i] = heads[i].Advance(m, src.events[m].Parents)
					}
					if !heads[i].Equal(want) {
						t.Fatalf("applying %v gave head %v, want %v", missing, heads[i], want)
					}
					seen = append(seen, heads[i])
				}
				parents := heads[i]
				id := gens[i].New(parents...)
				e := event.Event{ID: id, Entity: entity, Collection: "thing", Parents: parents}
				if err := e.Validate(); err != nil {
					t.Fatalf("generated event invalid: %v", err)
				}
				src.events[id] = e
				anc := history(parents)
				anc[id] = true
				ancestors[id] = anc
				heads[i] = heads[i].Advance(id, parents)
				if want := antichain(heads[i]...); !heads[i].Equal(want) {
					t.Fatalf("Advance gave %v, not an antichain (%v)", heads[i], want)
				}
				seen = append(seen, heads[i])
			}
			for _, a := range seen {
				for _, b := range seen {
					ha, hb := history(a), history(b)
					aHasB, bHasA := true, true
					for _, id := range b {
						aHasB = aHasB && ha[id]
					}
					for _, id := range a {
						bHasA = bHasA && hb[id]
					}
					want := event.Diverged
					switch {
					case a.Equal(b):
						want = event.Equal
					case aHasB:
						want = event.Descends
					case bHasA:
						want = event.Ascends
					}
					got, err := event.Compare(context.Background(), src, a, b)
					if err != nil || got != want {
						t.Fatalf("Compare(%v, %v) = %v, %v; want %v", a, b, got, err, want)
					}
				}
			}
		})
	}
}
