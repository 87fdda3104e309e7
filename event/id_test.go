package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/ankurah/ankurah-go/event"
)

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// idAt builds the id with time part ms and a random part of ten copies of fill.
func idAt(ms uint64, fill byte) event.ID {
	return event.ID(ulid.MustNew(ms, bytes.NewReader(bytes.Repeat([]byte{fill}, 10))))
}

// fixedClock returns a clock that always reads t.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// constReader is entropy that always reads the same byte.
type constReader byte

func (c constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

// seededReader is deterministic entropy.
func seededReader(seed uint64) io.Reader {
	return rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 1, 2, 3})
}

var year3000 = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)

func TestParseIDAccepts(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"00000000000000000000000000",
		"01HZX3K9Q8J7M6N5P4R3S2T1V0",
		"7ZZZZZZZZZZZZZZZZZZZZZZZZZ", // the largest ULID
		"0123456789ABCDEFGHJKMNPQRS",
		"0TVWXYZ0000000000000000000",
	} {
		id, err := event.ParseID(s)
		if err != nil {
			t.Errorf("ParseID(%q): %v", s, err)
			continue
		}
		if id.String() != s {
			t.Errorf("ParseID(%q).String() = %q", s, id.String())
		}
		text, err := id.MarshalText()
		if err != nil || string(text) != s {
			t.Errorf("MarshalText = %q, %v", text, err)
		}
		var back event.ID
		if err := back.UnmarshalText(text); err != nil || back != id {
			t.Errorf("UnmarshalText(%q) = %v, %v", text, back, err)
		}
		if got := event.MustParseID(s); got != id {
			t.Errorf("MustParseID(%q) = %v", s, got)
		}
	}
	if !event.MustParseID("00000000000000000000000000").IsZero() {
		t.Error("the all-zero id is not Zero")
	}
	if event.Zero.String() != "00000000000000000000000000" {
		t.Errorf("Zero.String() = %q", event.Zero.String())
	}
	if max := event.MustParseID("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"); max != event.ID(bytes.Repeat([]byte{0xff}, 16)) {
		t.Errorf("7ZZ…Z = %x, want all ones", max[:])
	}
	// ULIDs are case-insensitive: lowercase is accepted and normalised.
	for _, s := range []string{"01hzx3k9q8j7m6n5p4r3s2t1v0", "01HZX3K9Q8J7M6N5P4R3S2T1Vz", "7zzzzzzzzzzzzzzzzzzzzzzzzz"} {
		id, err := event.ParseID(s)
		if err != nil || id.String() != strings.ToUpper(s) {
			t.Errorf("ParseID(%q) = %v, %v; want %s", s, id, err, strings.ToUpper(s))
		}
	}
	for _, s := range []string{"01HZX3K9Q8J7M6N5P4R3S2T1Vi", "01HZX3K9Q8J7M6N5P4R3S2T1Vl", "01HZX3K9Q8J7M6N5P4R3S2T1Vo", "01HZX3K9Q8J7M6N5P4R3S2T1Vu"} {
		if _, err := event.ParseID(s); err == nil {
			t.Errorf("ParseID(%q) accepted a letter Crockford base32 leaves out", s)
		}
	}
}

func TestParseIDRejects(t *testing.T) {
	t.Parallel()
	valid := "01HZX3K9Q8J7M6N5P4R3S2T1V0"
	cases := map[string]string{
		"empty":           "",
		"short":           valid[:25],
		"long":            valid + "0",
		"very long":       strings.Repeat("0", 1000),
		"I":               valid[:25] + "I",
		"L":               valid[:25] + "L",
		"O":               valid[:25] + "O",
		"U":               valid[:25] + "U",
		"first char 8":    "8" + valid[1:],
		"first char Z":    "Z" + valid[1:],
		"overflow 8000…":  "80000000000000000000000000",
		"space":           valid[:25] + " ",
		"leading space":   " " + valid[1:],
		"dash":            "01HZX3K9-8J7M6N5P4R3S2T1V0",
		"non-ascii":       valid[:24] + "é",
		"invalid utf-8":   valid[:25] + "\xff",
		"NUL":             valid[:25] + "\x00",
		"hyphenated uuid": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
	}
	for name, s := range cases {
		id, err := event.ParseID(s)
		if err == nil {
			t.Errorf("%s: ParseID(%q) = %v, want an error", name, s, id)
			continue
		}
		if !errors.Is(err, event.ErrBadID) {
			t.Errorf("%s: ParseID(%q) error %v does not wrap ErrBadID", name, s, err)
		}
		if id != event.Zero {
			t.Errorf("%s: failed ParseID returned %v", name, id)
		}
		if len(err.Error()) > 200 {
			t.Errorf("%s: error is %d bytes long", name, len(err.Error()))
		}
		var u event.ID
		if err := u.UnmarshalText([]byte(s)); err == nil {
			t.Errorf("%s: UnmarshalText(%q) succeeded", name, s)
		}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("MustParseID of a bad id did not panic")
			}
		}()
		event.MustParseID("nope")
	}()
}

func TestIDOrderAndTime(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	ids := make([]event.ID, 200)
	for i := range ids {
		var b [16]byte
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		ids[i] = event.ID(b)
	}
	for _, a := range ids {
		for _, b := range ids {
			byBytes := bytes.Compare(a[:], b[:])
			if got := a.Compare(b); got != byBytes {
				t.Fatalf("%v.Compare(%v) = %d, want %d", a, b, got, byBytes)
			}
			if byText := strings.Compare(a.String(), b.String()); byText != byBytes {
				t.Fatalf("text order of %v, %v = %d, byte order %d", a, b, byText, byBytes)
			}
		}
		back, err := event.ParseID(a.String())
		if err != nil || back != a {
			t.Fatalf("ParseID(%v.String()) = %v, %v", a, back, err)
		}
	}

	at := time.Date(2024, 6, 1, 12, 30, 0, 123_000_000, time.UTC)
	id := idAt(ulid.Timestamp(at), 0x42)
	if !id.Time().Equal(at) {
		t.Errorf("Time() = %v, want %v", id.Time(), at)
	}
}

func TestIDJSON(t *testing.T) {
	t.Parallel()
	id := event.MustParseID("01HZX3K9Q8J7M6N5P4R3S2T1V0")
	b, err := json.Marshal(map[string]event.ID{"id": id})
	if err != nil || string(b) != `{"id":"01HZX3K9Q8J7M6N5P4R3S2T1V0"}` {
		t.Fatalf("json.Marshal = %s, %v", b, err)
	}
	var back map[string]event.ID
	if err := json.Unmarshal(b, &back); err != nil || back["id"] != id {
		t.Fatalf("json.Unmarshal = %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"id":"01hzx3k9q8j7m6n5p4r3s2t1v0"}`), &back); err != nil || back["id"] != id {
		t.Fatalf("json.Unmarshal of the lowercase spelling = %v, %v", back, err)
	}
	for _, bad := range []string{`{"id":"01HZX3K9Q8J7M6N5P4R3S2T1VI"}`, `{"id":"x"}`, `{"id":12}`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("json.Unmarshal(%s) succeeded", bad)
		}
	}
}

func requireIncreasing(t *testing.T, ids []event.ID) {
	t.Helper()
	for i := 1; i < len(ids); i++ {
		if ids[i-1].Compare(ids[i]) >= 0 {
			t.Fatalf("id %d %v is not greater than id %d %v", i, ids[i], i-1, ids[i-1])
		}
	}
}

func TestGeneratorMonotonic(t *testing.T) {
	t.Parallel()
	const n = 100_000
	gens := map[string]*event.Generator{
		"wall clock":                event.NewGenerator(),
		"frozen clock":              event.NewGeneratorWith(fixedClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)), nil),
		"frozen clock, zero bytes":  event.NewGeneratorWith(fixedClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)), constReader(0)),
		"frozen clock, 0xff bytes":  event.NewGeneratorWith(fixedClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)), constReader(0xff)),
		"frozen clock, seeded":      event.NewGeneratorWith(fixedClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)), seededReader(7)),
		"clock at the epoch, zeros": event.NewGeneratorWith(fixedClock(time.UnixMilli(1)), constReader(0)),
	}
	for name, g := range gens {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ids := make([]event.ID, n)
			for i := range ids {
				ids[i] = g.New()
			}
			requireIncreasing(t, ids)
			if ids[0].IsZero() {
				t.Error("first id is Zero")
			}
			for _, id := range ids[:100] {
				if back, err := event.ParseID(id.String()); err != nil || back != id {
					t.Fatalf("ParseID(%v) = %v, %v", id, back, err)
				}
			}
		})
	}
}

func TestGeneratorDeterministic(t *testing.T) {
	t.Parallel()
	run := func() []event.ID {
		ms := int64(1_700_000_000_000)
		clock := func() time.Time { ms += 3; return time.UnixMilli(ms / 7) } // often the same millisecond
		g := event.NewGeneratorWith(clock, seededReader(99))
		var out []event.ID
		for range 1000 {
			out = append(out, g.New())
		}
		return out
	}
	a, b := run(), run()
	if !slices.Equal(a, b) {
		t.Error("the same clock and entropy gave different ids")
	}
	requireIncreasing(t, a)
}

func TestGeneratorClockGoesBackwards(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { now = now.Add(-time.Second); return now }
	g := event.NewGeneratorWith(clock, seededReader(1))
	ids := make([]event.ID, 10_000)
	for i := range ids {
		ids[i] = g.New()
	}
	requireIncreasing(t, ids)
}

func TestGeneratorAfterFarFuture(t *testing.T) {
	t.Parallel()
	future := ulid.Timestamp(year3000)
	for _, fill := range []byte{0x00, 0x01, 0x80, 0xfe, 0xff} {
		after := idAt(future, fill)
		for name, entropy := range map[string]io.Reader{
			"crypto": nil, "zeros": constReader(0), "ones": constReader(0xff), "seeded": seededReader(uint64(fill)),
		} {
			g := event.NewGeneratorWith(time.Now, entropy)
			before := g.New()
			got := g.New(after)
			if got.Compare(after) <= 0 {
				t.Fatalf("fill %#x, %s: New(%v) = %v, not greater", fill, name, after, got)
			}
			if got.Compare(before) <= 0 {
				t.Fatalf("fill %#x, %s: New(after) = %v, not greater than the previous %v", fill, name, got, before)
			}
			// It stays close to the parent: the same millisecond, or the next.
			if d := got.Time().Sub(after.Time()); d < 0 || d > time.Millisecond {
				t.Errorf("fill %#x, %s: New(%v) = %v, %v away", fill, name, after, got, d)
			}
			// Subsequent ids (the wall clock is far behind) keep increasing.
			ids := []event.ID{after, got}
			for range 1000 {
				ids = append(ids, g.New())
			}
			ids = append(ids, g.New(after), g.New(before), g.New(event.Zero), g.New())
			requireIncreasing(t, ids)
		}
	}
}

func TestGeneratorAfterExactBranches(t *testing.T) {
	t.Parallel()
	ms := ulid.Timestamp(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))

	// A parent ahead of the clock whose random part is above the fresh one:
	// the id moves to the parent's next millisecond, keeping the fresh randomness.
	g := event.NewGeneratorWith(fixedClock(ulid.Time(ms)), constReader(0x10))
	after := idAt(ms+50, 0x20)
	if got, want := g.New(after), idAt(ms+51, 0x10); got != want {
		t.Errorf("New(%v) = %v, want %v", after, got, want)
	}

	// A parent ahead of the clock whose random part is below the fresh one:
	// the parent's millisecond with the fresh randomness.
	g = event.NewGeneratorWith(fixedClock(ulid.Time(ms)), constReader(0x30))
	if got, want := g.New(after), idAt(ms+50, 0x30); got != want {
		t.Errorf("New(%v) = %v, want %v", after, got, want)
	}

	// A parent behind the clock changes nothing.
	g = event.NewGeneratorWith(fixedClock(ulid.Time(ms)), constReader(0x30))
	if got, want := g.New(idAt(ms-1, 0xff)), idAt(ms, 0x30); got != want {
		t.Errorf("New(older) = %v, want %v", got, want)
	}

	// The same millisecond as the last id: the last id plus a step in [1, 2^32].
	g = event.NewGeneratorWith(fixedClock(ulid.Time(ms)), constReader(0))
	first := g.New()
	if first != idAt(ms, 0) {
		t.Fatalf("first = %v", first)
	}
	second := g.New()
	if want := event.ID(ulid.MustNew(ms, bytes.NewReader([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 1}))); second != want {
		t.Errorf("second = %v, want %v (step 1)", second, want)
	}
	g = event.NewGeneratorWith(fixedClock(ulid.Time(ms)), constReader(0xff))
	g.New() // ms, random all ones
	second = g.New()
	// all ones + 2^32 carries into the time part.
	want := event.ID(ulid.MustNew(ms+1, bytes.NewReader([]byte{0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})))
	if second != want {
		t.Errorf("second = %v, want %v (step 2^32 with carry)", second, want)
	}
}

func TestGeneratorAfterSeveral(t *testing.T) {
	t.Parallel()
	g := event.NewGenerator()
	future := ulid.Timestamp(year3000)
	a, b, c := idAt(future-5, 0xff), idAt(future, 0x80), idAt(future-1000, 0x01)
	got := g.New(a, b, c, event.Zero)
	for _, p := range []event.ID{a, b, c} {
		if got.Compare(p) <= 0 {
			t.Errorf("New(...) = %v, not greater than %v", got, p)
		}
	}
	if next := g.New(); next.Compare(got) <= 0 {
		t.Errorf("next = %v, not greater than %v", next, got)
	}
}

// Two nodes stepping past the same far-future parent at once must not collide.
func TestGeneratorsStepPastSameParent(t *testing.T) {
	t.Parallel()
	after := idAt(ulid.Timestamp(year3000), 0x7f)
	seen := map[event.ID]bool{}
	for range 1000 {
		id := event.NewGenerator().New(after)
		if seen[id] {
			t.Fatalf("two generators made %v", id)
		}
		seen[id] = true
	}
}

func TestGeneratorConcurrent(t *testing.T) {
	t.Parallel()
	for name, g := range map[string]*event.Generator{
		"wall clock":   event.NewGenerator(),
		"frozen clock": event.NewGeneratorWith(fixedClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)), nil),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const workers, each = 8, 5000
			results := make([][]event.ID, workers)
			far := idAt(ulid.Timestamp(year3000), 0x11)
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					ids := make([]event.ID, 0, each)
					for i := range each {
						if w == 3 && i == each/2 {
							ids = append(ids, g.New(far)) // one worker drags the clock forward
							continue
						}
						ids = append(ids, g.New())
					}
					results[w] = ids
				})
			}
			wg.Wait()
			seen := make(map[event.ID]bool, workers*each)
			for w, ids := range results {
				// Each goroutine sees its own ids increase.
				for i := 1; i < len(ids); i++ {
					if ids[i-1].Compare(ids[i]) >= 0 {
						t.Fatalf("worker %d: id %d %v not greater than %v", w, i, ids[i], ids[i-1])
					}
				}
				for _, id := range ids {
					if seen[id] {
						t.Fatalf("duplicate id %v", id)
					}
					seen[id] = true
				}
			}
		})
	}
}

func TestNewIDDefaultGenerator(t *testing.T) {
	t.Parallel()
	a := event.NewID()
	b := event.NewID(a)
	if b.Compare(a) <= 0 {
		t.Errorf("NewID(%v) = %v", a, b)
	}
	far := idAt(ulid.Timestamp(year3000), 0x01)
	c := event.NewID(far)
	if c.Compare(far) <= 0 {
		t.Errorf("NewID(%v) = %v", far, c)
	}
	// The process-wide generator now stays ahead of far; later ids too.
	if d := event.NewID(); d.Compare(c) <= 0 {
		t.Errorf("NewID() = %v after %v", d, c)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy today") }

func TestGeneratorEntropyFailurePanics(t *testing.T) {
	t.Parallel()
	g := event.NewGeneratorWith(time.Now, failingReader{})
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("New with failing entropy did not panic")
		}
		if msg, _ := r.(string); !strings.Contains(msg, "no entropy today") {
			t.Errorf("panic %v does not carry the reader's error", r)
		}
	}()
	g.New()
}

// validByOracle is the specification of a canonical id: 26 characters of
// uppercase Crockford base32 whose value fits 128 bits.
func validByOracle(s string) bool {
	if len(s) != 26 || s[0] > '7' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(crockford, rune(s[i])) {
			return false
		}
	}
	return true
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{
		"", "01HZX3K9Q8J7M6N5P4R3S2T1V0", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ", "80000000000000000000000000",
		"01hzx3k9q8j7m6n5p4r3s2t1v0", "01HZX3K9Q8J7M6N5P4R3S2T1VI", "0000000000000000000000000é",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := event.ParseID(s)
		upper := asciiUpper(s)
		if want := validByOracle(upper); (err == nil) != want {
			t.Fatalf("ParseID(%q) = %v, %v; want valid=%v", s, id, err, want)
		}
		if err != nil {
			if !errors.Is(err, event.ErrBadID) {
				t.Fatalf("ParseID(%q) error %v does not wrap ErrBadID", s, err)
			}
			if id != event.Zero {
				t.Fatalf("failed ParseID(%q) returned %v", s, id)
			}
			return
		}
		if id.String() != upper {
			t.Fatalf("ParseID(%q).String() = %q", s, id.String())
		}
		var u ulid.ULID
		if u, err = ulid.ParseStrict(upper); err != nil || event.ID(u) != id {
			t.Fatalf("ulid.ParseStrict(%q) = %v, %v; ParseID gave %v", s, u, err, id)
		}
		text, _ := id.MarshalText()
		var back event.ID
		if err := back.UnmarshalText(text); err != nil || back != id {
			t.Fatalf("UnmarshalText(%q) = %v, %v", text, back, err)
		}
	})
}

// asciiUpper uppercases ASCII letters only (as ParseID does).
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}
