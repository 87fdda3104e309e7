package server

import (
	"testing"

	"github.com/ankurah/ankurah-go/entity"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/value"
)

// TestViewHidesFields: a field the policy hides is gone from the state a
// client sees — its value, its version, and for a ytext field its Yjs
// document, which holds the same text — while the stored state is untouched.
func TestViewHidesFields(t *testing.T) {
	t.Parallel()
	id := event.MustParseID("01JD0000000000000000000000")
	st := &entity.State{
		ID:         id,
		Collection: "note",
		Values:     map[string]value.Value{"title": value.TextOf("t"), "secret": value.TextOf("s")},
		Versions:   map[string]event.ID{"title": id, "secret": id},
		Docs:       map[string][]byte{"secret": {0, 0}},
	}
	for _, tc := range []struct {
		name   string
		hidden []string
		same   bool
	}{
		{"nothing hidden", nil, true},
		{"a field the state lacks", []string{"other"}, true},
		{"a ytext field", []string{"secret"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := view(st, tc.hidden)
			if (v == st) != tc.same {
				t.Fatalf("view returned the state itself: %v, want %v", v == st, tc.same)
			}
			for _, f := range tc.hidden {
				_, inValues := v.Values[f]
				_, inVersions := v.Versions[f]
				_, inDocs := v.Docs[f]
				if inValues || inVersions || inDocs {
					t.Fatalf("hidden %s still in the view: value %v, version %v, document %v", f, inValues, inVersions, inDocs)
				}
			}
			if _, ok := st.Docs["secret"]; !ok {
				t.Fatal("the stored state lost its document")
			}
		})
	}
}
