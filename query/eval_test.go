package query

import (
	"testing"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/value"
)

// Entity states are records, so the reactor can match them directly.
var _ Record = (*entity.State)(nil)

func TestMatchEntityState(t *testing.T) {
	t.Parallel()
	s := entity.New("album", event.MustParseID("01ARZ3NDEKTSV4RRFFQ69G5FAV"))
	s.Values["name"] = value.TextOf("Origin of Symmetry")
	s.Values["year"] = value.IntOf(2001)
	for src, want := range map[string]bool{
		`name = 'Origin of Symmetry' AND year >= 2000`: true,
		`id = '01ARZ3NDEKTSV4RRFFQ69G5FAV'`:            true,
		`artist IS NULL`:                               true,
		`artist = 'Muse'`:                              false,
		`NOT (artist = 'Muse')`:                        false,
	} {
		m := must(MustParse(src).Compile())
		if got := m.Match(s); got != want {
			t.Errorf("%s: %v, want %v", src, got, want)
		}
	}
}

func TestApply(t *testing.T) {
	t.Parallel()
	m := must(MustParse(`year >= 2000 ORDER BY year DESC LIMIT 2`).Compile())
	got := evalIDs(m, semRows)
	if want := []string{sid("R7"), sid("R1")}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("Apply = %v, want %v", got, want)
	}
	if n, ok := m.Limit(); !ok || n != 2 {
		t.Fatalf("Limit = %d %v", n, ok)
	}
	if _, ok := must(MustParse(``).Compile()).Limit(); ok {
		t.Fatal("no LIMIT reported as a limit")
	}
	// The input is not reordered.
	if semRows[0]["id"].Text() != sid("R1") {
		t.Fatal("Apply modified its input")
	}
}
