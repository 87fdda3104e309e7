package yjs

import (
	"encoding/hex"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The benchmarks behind docs/benchmarks.md ("Collaborative text"):
//
//   go test ./internal/yjs -run '^$' -bench . -benchmem
//
// A keystroke trace is one person writing: mostly typing at the cursor, with
// backspaces, cursor jumps and a deleted word now and then, some non-ASCII
// characters (accents, an emoji).

const traceKeystrokes = 10_000

type keystroke struct {
	pos, del int
	ins      string
}

// keystrokeTrace returns a deterministic trace of n keystrokes.
func keystrokeTrace(n int) []keystroke {
	r := rand.New(rand.NewPCG(16, 10_000))
	words := strings.Fields("the quick brown fox jumps over a lazy dog while collaborative editors merge every keystroke of this note café naïve déjà 😀")
	var trace []keystroke
	var text []rune // what the writer sees, to keep positions valid
	utf16At := func(runes int) int { return UTF16Len(string(text[:runes])) }
	cursor := 0 // in runes
	var pending []rune
	for len(trace) < n {
		switch x := r.IntN(100); {
		case x < 3 && len(text) > 0: // jump elsewhere
			cursor = r.IntN(len(text) + 1)
		case x < 9 && cursor > 0: // backspace
			trace = append(trace, keystroke{pos: utf16At(cursor - 1), del: UTF16Len(string(text[cursor-1]))})
			text = append(text[:cursor-1], text[cursor:]...)
			cursor--
		case x < 10 && cursor > 4: // delete the word before the cursor
			from := cursor - 1 - r.IntN(min(cursor-1, 8))
			trace = append(trace, keystroke{pos: utf16At(from), del: utf16At(cursor) - utf16At(from)})
			text = append(text[:from], text[cursor:]...)
			cursor = from
		default: // type the next character
			if len(pending) == 0 {
				w := words[r.IntN(len(words))]
				sep := " "
				if r.IntN(12) == 0 {
					sep = ".\n"
				}
				pending = []rune(w + sep)
			}
			c := pending[0]
			pending = pending[1:]
			trace = append(trace, keystroke{pos: utf16At(cursor), ins: string(c)})
			text = append(text[:cursor], append([]rune{c}, text[cursor:]...)...)
			cursor++
		}
	}
	return trace
}

// keystrokeUpdates types the trace into a document and returns the update of
// every keystroke and the document.
func keystrokeUpdates(tb testing.TB, opts Options) ([][]byte, *Doc) {
	d := NewDoc(opts)
	var ups [][]byte
	for _, k := range keystrokeTrace(traceKeystrokes) {
		var u []byte
		var err error
		if k.del > 0 {
			u, err = d.Delete(k.pos, k.del)
		} else {
			u, err = d.Insert(k.pos, k.ins)
		}
		if err != nil {
			tb.Fatal(err)
		}
		ups = append(ups, u)
	}
	return ups, d
}

var traceOnce = sync.OnceValues(func() ([][]byte, string) {
	ups, d := keystrokeUpdates(nil, Options{ClientID: 42})
	return ups, d.Text()
})

// TestWriteKeystrokeTrace writes the trace's updates, one hex line each, to
// $YJS_TRACE_OUT, for testdata/bench.mjs to replay in Yjs.
func TestWriteKeystrokeTrace(t *testing.T) {
	out := os.Getenv("YJS_TRACE_OUT")
	if out == "" {
		t.Skip("set YJS_TRACE_OUT to write the keystroke trace")
	}
	ups, _ := traceOnce()
	var b strings.Builder
	for _, u := range ups {
		b.WriteString(hex.EncodeToString(u))
		b.WriteByte('\n')
	}
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// heapOf returns the heap that build's result keeps alive.
func heapOf(build func() any) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	return after.HeapAlloc - before.HeapAlloc
}

// BenchmarkApplyKeystrokes applies the trace's 10,000 updates, one by one, to
// a fresh document (a server or another client receiving them): time per
// update, the memory the document holds afterwards, and the size of its
// encoded state with and without gc.
func BenchmarkApplyKeystrokes(b *testing.B) {
	ups, text := traceOnce()
	apply := func(opts Options) *Doc {
		d := NewDoc(opts)
		for _, u := range ups {
			if err := d.ApplyUpdate(u); err != nil {
				b.Fatal(err)
			}
		}
		return d
	}
	var gcd, kept *Doc
	docBytes := heapOf(func() any { gcd = apply(Options{ClientID: 1}); return gcd })
	keptBytes := heapOf(func() any { kept = apply(Options{ClientID: 1, DisableGC: true}); return kept })
	if gcd.Text() != text || kept.Text() != text {
		b.Fatal("the text differs from the writer's")
	}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		apply(Options{ClientID: 1})
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N*len(ups)), "µs/update")
	b.ReportMetric(float64(docBytes), "doc-heap-B")
	b.ReportMetric(float64(keptBytes), "doc-heap-nogc-B")
	b.ReportMetric(float64(len(gcd.EncodeStateAsUpdate())), "state-B")
	b.ReportMetric(float64(len(kept.EncodeStateAsUpdate())), "state-nogc-B")
	b.ReportMetric(float64(len(text)), "text-B")
}

// BenchmarkLocalKeystrokes makes the trace's edits locally (a Go client
// typing): time per edit, each producing its update.
func BenchmarkLocalKeystrokes(b *testing.B) {
	trace := keystrokeTrace(traceKeystrokes)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		d := NewDoc(Options{ClientID: 42})
		for _, k := range trace {
			var err error
			if k.del > 0 {
				_, err = d.Delete(k.pos, k.del)
			} else {
				_, err = d.Insert(k.pos, k.ins)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N*len(trace)), "µs/edit")
}

// BenchmarkStoredKeystroke is one keystroke through a document kept only as
// its encoded state (as in a database column): load the state of the
// 10,000-keystroke document, apply one update, encode the state and read the
// text.
func BenchmarkStoredKeystroke(b *testing.B) {
	ups, _ := traceOnce()
	d := NewDoc(Options{ClientID: 1})
	for _, u := range ups {
		d.ApplyUpdate(u)
	}
	state := d.EncodeStateAsUpdate()
	next, err := d.Insert(0, "x")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		d, err := Load(state, Options{ClientID: 1})
		if err != nil {
			b.Fatal(err)
		}
		if err := d.ApplyUpdate(next); err != nil {
			b.Fatal(err)
		}
		_ = d.EncodeStateAsUpdate()
		_ = d.Text()
	}
}
