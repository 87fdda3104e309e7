package yjs

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

type edit struct {
	pos, del int
	ins      string
}

func (e edit) apply(d *Doc) ([]byte, error) {
	if e.del > 0 {
		return d.Delete(e.pos, e.del)
	}
	return d.Insert(e.pos, e.ins)
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGolden replays edits whose updates and states the yjs npm package
// (13.6.33, client id 7) produced: Go's local edits must produce the same
// updates byte for byte, and Go applying Yjs's updates must encode the same
// state. (Where Yjs's delete ran past the end, which Yjs clamps and Go
// refuses, the case deletes the same units without running past it.)
func TestGolden(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		gc      bool
		ops     []edit
		updates []string
		state   string
		sv      string
		text    string
		// badLocal is the index of an edit Go refuses (Yjs made it inside a
		// surrogate pair); only applying Yjs's updates is checked after it.
		badLocal int
	}{
		{name: "typing", gc: true, ops: []edit{{pos: 0, ins: "h"}, {pos: 1, ins: "e"}, {pos: 2, ins: "l"}, {pos: 3, ins: "l"}, {pos: 4, ins: "o"}},
			updates: []string{"0101070004010474657874016800", "01010701840700016500", "01010702840701016c00", "01010703840702016c00", "01010704840703016f00"},
			state:   "01010700040104746578740568656c6c6f00", sv: "010705", text: "hello", badLocal: -1},
		{name: "insert, insert inside, delete, emoji at start", gc: true, ops: []edit{{pos: 0, ins: "hello world"}, {pos: 5, ins: ","}, {pos: 0, ins: "x"}, {pos: 0, del: 1}, {pos: 0, ins: "H😀"}},
			updates: []string{"01010700040104746578740b68656c6c6f20776f726c6400", "0101070bc407040705012c00", "0101070c440700017800", "000107010c01", "0101070dc4070c07000548f09f988000"},
			state:   "01050700040104746578740568656c6c6f8407040620776f726c64c407040705012c41070001c4070c07000548f09f98800107010c01", sv: "010710", text: "H😀hello, world", badLocal: -1},
		{name: "delete across items, gc", gc: true, ops: []edit{{pos: 0, ins: "abc"}, {pos: 3, ins: "def"}, {pos: 1, ins: "XY"}, {pos: 2, del: 4}, {pos: 2, ins: "—"}},
			updates: []string{"01010700040104746578740361626300", "010107038407020364656600", "01010706c40700070102585900", "0001070201030701", "01010708c40703070403e2809400"},
			state:   "0106070004010474657874016181070003840703026566c4070007010158c10706070101c40703070403e2809401070201030701", sv: "010709", text: "aX—ef", badLocal: -1},
		{name: "delete across items, no gc", gc: false, ops: []edit{{pos: 0, ins: "abc"}, {pos: 3, ins: "def"}, {pos: 1, ins: "XY"}, {pos: 2, del: 4}, {pos: 2, ins: "—"}},
			updates: []string{"01010700040104746578740361626300", "010107038407020364656600", "01010706c40700070102585900", "0001070201030701", "01010708c40703070403e2809400"},
			state:   "0106070004010474657874016184070003626364840703026566c4070007010158c4070607010159c40703070403e2809401070201030701", sv: "010709", text: "aX—ef", badLocal: -1},
		{name: "insert after tombstones", gc: true, ops: []edit{{pos: 0, ins: "abcdef"}, {pos: 2, del: 2}, {pos: 2, ins: "Z"}, {pos: 0, del: 5}},
			updates: []string{"01010700040104746578740661626364656600", "000107010202", "01010706c407030704015a00", "0001070200020403"},
			state:   "01030700010104746578740481070302c107030704010107010007", sv: "010707", text: "", badLocal: -1},
		{name: "Yjs splits a surrogate pair", gc: false, ops: []edit{{pos: 0, ins: "𝄞e\u0301👨\u200d👩\u200d👧"}, {pos: 0, del: 2}, {pos: 3, ins: "中文"}, {pos: 1, del: 1}},
			updates: []string{"010107000401047465787419f09d849e65cc81f09f91a8e2808df09f91a9e2808df09f91a700", "000107010002", "0101070cc40704070506e4b8ade6968700", "000107010301"},
			state:   "010607000401047465787404f09d849e840701016584070202cc8184070303efbfbd84070411efbfbde2808df09f91a9e2808df09f91a7c40704070506e4b8ade6968701070200020301", sv: "01070e", text: "e\uFFFD中文\uFFFD\u200d👩\u200d👧", badLocal: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			local := NewDoc(Options{ClientID: 7, DisableGC: !c.gc})
			for i, op := range c.ops {
				got, err := op.apply(local)
				if i == c.badLocal {
					if !errors.Is(err, ErrInvalidEdit) {
						t.Fatalf("edit %d %+v: err %v, want ErrInvalidEdit", i, op, err)
					}
					break
				}
				if err != nil {
					t.Fatalf("edit %d %+v: %v", i, op, err)
				}
				if want := unhex(t, c.updates[i]); !bytes.Equal(got, want) {
					t.Fatalf("edit %d %+v: update\n got %x\nwant %x", i, op, got, want)
				}
			}
			if c.badLocal < 0 {
				checkDoc(t, "local", local, c.text, c.state, c.sv)
			}
			remote := NewDoc(Options{ClientID: 8, DisableGC: !c.gc})
			for _, u := range c.updates {
				if err := remote.ApplyUpdate(unhex(t, u)); err != nil {
					t.Fatal(err)
				}
			}
			checkDoc(t, "remote", remote, c.text, c.state, c.sv)
		})
	}
}

func checkDoc(t *testing.T, what string, d *Doc, text, state, sv string) {
	t.Helper()
	if got := d.Text(); got != text {
		t.Errorf("%s: text %q, want %q", what, got, text)
	}
	if got := hex.EncodeToString(d.EncodeStateAsUpdate()); got != state {
		t.Errorf("%s: state\n got %s\nwant %s", what, got, state)
	}
	if got := hex.EncodeToString(d.EncodeStateVector()); got != sv {
		t.Errorf("%s: state vector %s, want %s", what, got, sv)
	}
	if d.Len() != UTF16Len(d.Text()) {
		t.Errorf("%s: Len %d, UTF16Len(Text) %d", what, d.Len(), UTF16Len(d.Text()))
	}
}

func TestEditErrors(t *testing.T) {
	t.Parallel()
	const text = "a😀b" // UTF-16: a=0, 😀=1..2, b=3
	cases := []struct {
		name string
		do   func(d *Doc) ([]byte, error)
	}{
		{"insert past the end", func(d *Doc) ([]byte, error) { return d.Insert(5, "x") }},
		{"insert at a negative position", func(d *Doc) ([]byte, error) { return d.Insert(-1, "x") }},
		{"insert inside a surrogate pair", func(d *Doc) ([]byte, error) { return d.Insert(2, "x") }},
		{"insert invalid UTF-8", func(d *Doc) ([]byte, error) { return d.Insert(0, "\xff") }},
		{"delete from inside a pair", func(d *Doc) ([]byte, error) { return d.Delete(2, 2) }},
		{"delete to inside a pair", func(d *Doc) ([]byte, error) { return d.Delete(0, 2) }},
		{"delete past the end", func(d *Doc) ([]byte, error) { return d.Delete(3, 2) }},
		{"delete a negative length", func(d *Doc) ([]byte, error) { return d.Delete(0, -1) }},
		{"replace with invalid UTF-8", func(d *Doc) ([]byte, error) { return d.ReplaceText("a\xc3") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := NewDoc(Options{ClientID: 1})
			if _, err := d.Insert(0, text); err != nil {
				t.Fatal(err)
			}
			state := d.EncodeStateAsUpdate()
			u, err := c.do(d)
			if !errors.Is(err, ErrInvalidEdit) {
				t.Fatalf("err %v, want ErrInvalidEdit", err)
			}
			if u != nil || d.Text() != text || !bytes.Equal(d.EncodeStateAsUpdate(), state) {
				t.Fatalf("a refused edit changed the document: %q", d.Text())
			}
		})
	}
}

func TestEditsAtWholeCharacters(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		ops  []edit
		want string
	}{
		{"around an emoji", []edit{{pos: 0, ins: "a😀b"}, {pos: 1, ins: "<"}, {pos: 4, ins: ">"}}, "a<😀>b"},
		{"delete an emoji", []edit{{pos: 0, ins: "a😀b"}, {pos: 1, del: 2}}, "ab"},
		{"delete a ZWJ sequence in parts", []edit{{pos: 0, ins: "👨\u200d👩"}, {pos: 0, del: 2}, {pos: 1, del: 2}}, "\u200d"},
		{"insert at the end", []edit{{pos: 0, ins: "é"}, {pos: 1, ins: "€"}, {pos: 2, ins: "𝄞"}}, "é€𝄞"},
		{"empty edits", []edit{{pos: 0, ins: ""}, {pos: 0, del: 0}}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := NewDoc(Options{ClientID: 3})
			for _, op := range c.ops {
				if _, err := op.apply(d); err != nil {
					t.Fatalf("%+v: %v", op, err)
				}
			}
			if got := d.Text(); got != c.want {
				t.Fatalf("text %q, want %q", got, c.want)
			}
		})
	}
}

// TestReplaceText checks that ReplaceText reaches the new text with the
// minimal edit: the update deletes and inserts only between the common
// prefix and suffix (in whole code points).
func TestReplaceText(t *testing.T) {
	t.Parallel()
	cases := []struct {
		old, new string
		del      int // UTF-16 units deleted
		ins      string
	}{
		{"hello world", "hello brave world", 0, "brave "},
		{"hello brave world", "hello world", 6, ""},
		{"abc", "abc", 0, ""},
		{"", "new", 0, "new"},
		{"old", "", 3, ""},
		{"aaa", "aaaa", 0, "a"},
		{"x😀y", "x😃y", 2, "😃"},   // the emojis share their first three bytes
		{"café", "cafe", 1, "e"}, // é and e share no byte
		{"ab", "ba", 2, "ba"},    // nothing in common
		{"abcabc", "abc", 3, ""}, // prefix and suffix may not overlap
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%q to %q", c.old, c.new), func(t *testing.T) {
			t.Parallel()
			d := NewDoc(Options{ClientID: 1})
			if _, err := d.Insert(0, c.old); err != nil {
				t.Fatal(err)
			}
			u, err := d.ReplaceText(c.new)
			if err != nil {
				t.Fatal(err)
			}
			if d.Text() != c.new {
				t.Fatalf("text %q, want %q", d.Text(), c.new)
			}
			if c.old == c.new {
				if u != nil {
					t.Fatalf("no change, but an update %x", u)
				}
				return
			}
			dec, err := decodeUpdate(u)
			if err != nil {
				t.Fatal(err)
			}
			var ins strings.Builder
			for _, rl := range dec.clients {
				for _, s := range rl.refs {
					ins.Write(s.str)
				}
			}
			del := 0
			for _, sec := range dec.ds {
				for _, r := range sec.dels {
					del += int(r.len)
				}
			}
			if del != c.del || ins.String() != c.ins {
				t.Fatalf("deleted %d and inserted %q, want %d and %q", del, ins.String(), c.del, c.ins)
			}
			other := NewDoc(Options{ClientID: 2})
			if err := other.ApplyUpdate(d.EncodeStateAsUpdate()); err != nil || other.Text() != c.new {
				t.Fatalf("a replica loading the state has %q (%v)", other.Text(), err)
			}
		})
	}
}

// TestOutOfOrder delivers updates before those they depend on: they wait
// (Pending) and are applied when their dependencies arrive; so do deletes.
func TestOutOfOrder(t *testing.T) {
	t.Parallel()
	src := NewDoc(Options{ClientID: 10})
	var ups [][]byte
	for _, op := range []edit{{pos: 0, ins: "abc"}, {pos: 3, ins: "def"}, {pos: 1, del: 4}, {pos: 1, ins: "X"}} {
		u, err := op.apply(src)
		if err != nil {
			t.Fatal(err)
		}
		ups = append(ups, u)
	}
	cases := []struct {
		name  string
		order []int
	}{
		{"reversed", []int{3, 2, 1, 0}},
		{"delete first", []int{2, 0, 3, 1}},
		{"duplicated", []int{1, 1, 3, 0, 2, 0, 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := NewDoc(Options{ClientID: 11})
			seen := map[int]bool{}
			for i, k := range c.order {
				if err := d.ApplyUpdate(ups[k]); err != nil {
					t.Fatal(err)
				}
				seen[k] = true
				if i < len(c.order)-1 && !seen[0] && !d.Pending() {
					t.Fatalf("after update %d without update 0: nothing pending", k)
				}
			}
			if d.Pending() || d.Text() != src.Text() {
				t.Fatalf("text %q (pending %v), want %q", d.Text(), d.Pending(), src.Text())
			}
			if !bytes.Equal(d.EncodeStateAsUpdate(), src.EncodeStateAsUpdate()) {
				t.Fatalf("states differ")
			}
		})
	}
}

// TestPendingSurvivesStorage stores a document that holds pending structs and
// deletes; the stored state keeps them, and the reloaded document completes
// when the missing update arrives.
func TestPendingSurvivesStorage(t *testing.T) {
	t.Parallel()
	src := NewDoc(Options{ClientID: 10})
	u1, _ := src.Insert(0, "hello")
	u2, _ := src.Insert(5, " world")
	u3, _ := src.Delete(0, 1)
	d := NewDoc(Options{ClientID: 11})
	for _, u := range [][]byte{u2, u3} {
		if err := d.ApplyUpdate(u); err != nil {
			t.Fatal(err)
		}
	}
	if !d.Pending() || d.Text() != "" {
		t.Fatalf("text %q pending %v", d.Text(), d.Pending())
	}
	re, err := Load(d.EncodeStateAsUpdate(), Options{ClientID: 11})
	if err != nil {
		t.Fatal(err)
	}
	if err := re.ApplyUpdate(u1); err != nil {
		t.Fatal(err)
	}
	if re.Pending() || re.Text() != "ello world" {
		t.Fatalf("text %q pending %v", re.Text(), re.Pending())
	}
	if re.ClientID() != 11 {
		t.Fatalf("client id %d after Load, want 11", re.ClientID())
	}
}

// TestClientIDCollision: an update holding structs of this document's own
// client id makes it take another, as Yjs does.
func TestClientIDCollision(t *testing.T) {
	t.Parallel()
	a := NewDoc(Options{ClientID: 5})
	u, _ := a.Insert(0, "x")
	b := NewDoc(Options{ClientID: 5})
	if err := b.ApplyUpdate(u); err != nil {
		t.Fatal(err)
	}
	if b.ClientID() == 5 {
		t.Fatal("client id kept after another replica used it")
	}
	if _, err := b.Insert(1, "y"); err != nil || b.Text() != "xy" {
		t.Fatalf("text %q, %v", b.Text(), err)
	}
}

func TestGC(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("secret ", 100)
	for _, gc := range []bool{true, false} {
		t.Run(fmt.Sprintf("gc=%v", gc), func(t *testing.T) {
			t.Parallel()
			d := NewDoc(Options{ClientID: 1, DisableGC: !gc})
			d.Insert(0, "keep "+secret)
			d.Delete(5, UTF16Len(secret))
			state := d.EncodeStateAsUpdate()
			if got := bytes.Contains(state, []byte("secret")); got == gc {
				t.Fatalf("state holds the deleted text: %v, want %v (%d bytes)", got, !gc, len(state))
			}
			re, err := Load(state, Options{DisableGC: !gc})
			if err != nil || re.Text() != "keep " {
				t.Fatalf("reloaded text %q (%v)", re.Text(), err)
			}
		})
	}
}

// TestMalformed feeds broken updates and state vectors: each is refused with
// an error wrapping ErrMalformed, and leaves the document as it was.
func TestMalformed(t *testing.T) {
	t.Parallel()
	valid := func() []byte {
		d := NewDoc(Options{ClientID: 9})
		d.Insert(0, "héllo")
		return d.EncodeStateAsUpdate()
	}()
	cases := []struct {
		name   string
		update []byte
	}{
		{"empty", nil},
		{"truncated", valid[:len(valid)-3]},
		{"huge client count", []byte{0xff, 0xff, 0xff, 0x0f}},
		{"huge struct count", []byte{1, 0xff, 0xff, 0xff, 0x0f, 1, 0}},
		{"integer past 2^53", []byte{1, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0}},
		{"unknown content", []byte{1, 1, 1, 0, 0x0b, 1, 4, 't', 'e', 'x', 't', 0, 0}},
		{"invalid UTF-8", []byte{1, 1, 1, 0, 4, 1, 4, 't', 'e', 'x', 't', 1, 0xff, 0}},
		{"empty string", []byte{1, 1, 1, 0, 4, 1, 4, 't', 'e', 'x', 't', 0, 0}},
		{"own origin ahead", []byte{1, 1, 1, 0, 0x84, 1, 5, 1, 'a', 0}},
		{"string past the input", []byte{1, 1, 1, 0, 4, 1, 4, 't', 'e', 'x', 't', 0x7f, 'a'}},
		{"bad JSON embed", []byte{1, 1, 1, 0, 5, 1, 4, 't', 'e', 'x', 't', 1, '{', 0}},
		{"deep any", append([]byte{1, 1, 1, 0, 8, 1, 4, 't', 'e', 'x', 't', 1}, bytes.Repeat([]byte{117, 1}, 300)...)},
		{"delete set past the input", append([]byte{0}, 1, 1, 0x7f)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := NewDoc(Options{ClientID: 2})
			if err := d.ApplyUpdate(valid); err != nil {
				t.Fatal(err)
			}
			before := d.EncodeStateAsUpdate()
			err := d.ApplyUpdate(c.update)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err %v, want ErrMalformed", err)
			}
			if !bytes.Equal(d.EncodeStateAsUpdate(), before) || d.Text() != "héllo" {
				t.Fatalf("a refused update changed the document")
			}
		})
	}
	for _, sv := range [][]byte{nil, {1}, {1, 5}, {0xff, 0xff, 0xff, 0x0f}, {1, 1, 0x80}} {
		if _, err := DecodeStateVector(sv); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeStateVector(%x): err %v, want ErrMalformed", sv, err)
		}
	}
}

func TestStateVectorRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []StateVector{{}, {0: 1}, {1: 2, 1 << 40: 7, 5: 0}, {maxSafeInteger: maxSafeInteger}}
	for _, sv := range cases {
		got, err := DecodeStateVector(sv.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(sv) {
			t.Fatalf("%v round-tripped to %v", sv, got)
		}
		for c, k := range sv {
			if got[c] != k {
				t.Fatalf("%v round-tripped to %v", sv, got)
			}
		}
	}
}

// TestDiff: a replica that sends its state vector receives exactly what it
// lacks, and ends equal.
func TestDiff(t *testing.T) {
	t.Parallel()
	a := NewDoc(Options{ClientID: 1})
	b := NewDoc(Options{ClientID: 2})
	ua, _ := a.Insert(0, "shared ")
	b.ApplyUpdate(ua)
	a.Insert(7, "from a")
	b.Insert(0, "b says: ")
	diff, err := a.EncodeDiff(b.EncodeStateVector())
	if err != nil {
		t.Fatal(err)
	}
	if full := a.EncodeStateAsUpdate(); len(diff) >= len(full) {
		t.Fatalf("diff of %d bytes, full state %d", len(diff), len(full))
	}
	b.ApplyUpdate(diff)
	back, _ := b.EncodeDiff(a.EncodeStateVector())
	a.ApplyUpdate(back)
	if a.Text() != b.Text() || a.Text() != "b says: shared from a" {
		t.Fatalf("a %q, b %q", a.Text(), b.Text())
	}
	if _, err := a.EncodeDiff([]byte{9}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a broken state vector: %v", err)
	}
}

// TestConvergence is a property test: updates from several replicas editing
// concurrently (inserts and deletes at random places, astral characters),
// delivered to fresh documents in random orders with duplicates, give
// byte-identical text and the same state vector everywhere, and every
// document's encoded state loads to that text.
func TestConvergence(t *testing.T) {
	t.Parallel()
	for seed := range uint64(60) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(seed, 16))
			updates := randomHistory(t, r)
			var want string
			var wantSV []byte
			for k := range 6 {
				order := slices.Clone(updates)
				for range r.IntN(len(order)/2 + 1) {
					order = append(order, updates[r.IntN(len(updates))])
				}
				r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				d := NewDoc(Options{ClientID: 1000 + uint64(k), DisableGC: k%2 == 1})
				for _, u := range order {
					if err := d.ApplyUpdate(u); err != nil {
						t.Fatal(err)
					}
				}
				if d.Pending() {
					t.Fatalf("order %d: pending after every update", k)
				}
				if k == 0 {
					want, wantSV = d.Text(), d.EncodeStateVector()
				} else if d.Text() != want || !bytes.Equal(d.EncodeStateVector(), wantSV) {
					t.Fatalf("order %d: text %q, want %q", k, d.Text(), want)
				}
				re, err := Load(d.EncodeStateAsUpdate(), Options{})
				if err != nil || re.Text() != want {
					t.Fatalf("order %d: reloaded %q (%v)", k, re.Text(), err)
				}
			}
		})
	}
}

// randomHistory returns the updates of 2-4 replicas editing concurrently,
// syncing now and then.
func randomHistory(t *testing.T, r *rand.Rand) [][]byte {
	pieces := []string{"a", "b", "xyz", " ", "é", "😀", "👍🏽", "中文"}
	n := 2 + r.IntN(3)
	docs := make([]*Doc, n)
	for i := range docs {
		docs[i] = NewDoc(Options{ClientID: uint64(r.Uint32()>>(r.IntN(2)*28)) + uint64(i)*1e10})
	}
	var all [][]byte
	for range 20 + r.IntN(60) {
		d := docs[r.IntN(n)]
		text := d.Text()
		var u []byte
		var err error
		switch {
		case r.IntN(10) < 6 || len(text) == 0:
			u, err = d.Insert(boundary(text, r.IntN(UTF16Len(text)+1)), pieces[r.IntN(len(pieces))])
		case r.IntN(10) < 8:
			from := boundary(text, r.IntN(UTF16Len(text)))
			to := boundary(text, min(UTF16Len(text), from+1+r.IntN(4)))
			u, err = d.Delete(from, to-from)
		default:
			// sync with another replica
			o := docs[r.IntN(n)]
			diff, derr := o.EncodeDiff(d.EncodeStateVector())
			if derr != nil {
				t.Fatal(derr)
			}
			err = d.ApplyUpdate(diff)
		}
		if err != nil {
			t.Fatal(err)
		}
		if u != nil {
			all = append(all, u)
		}
	}
	return all
}

// boundary moves UTF-16 position pos of s off the middle of a surrogate pair.
func boundary(s string, pos int) int {
	n := 0
	for _, c := range s {
		w := 1
		if c >= 0x10000 {
			w = 2
		}
		if pos > n && pos < n+w {
			return n
		}
		n += w
	}
	return pos
}

func TestUTF16Len(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]int{"": 0, "abc": 3, "é": 1, "中文": 2, "😀": 2, "👍🏽": 4, "a\uFFFDb": 3} {
		if got := UTF16Len(s); got != want {
			t.Errorf("UTF16Len(%q) = %d, want %d", s, got, want)
		}
		if got := utf16Len([]byte(s)); got != want {
			t.Errorf("utf16Len(%q) = %d, want %d", s, got, want)
		}
	}
}
