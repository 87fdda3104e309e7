package inspect

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/internal/ytext"
	"github.com/ankurah/ankurah-go/value"
)

// TestAnalyseBranches: three concurrent edits of one entity and an edit
// that joins them — the graph's edges and concurrency, each field's
// winner and reason, the state at one branch.
func TestAnalyseBranches(t *testing.T) {
	g := event.NewGenerator()
	c := g.New()
	ev := func(id event.ID, parents []event.ID, ops map[string]value.Value) event.Event {
		return event.Event{ID: id, Collection: "album", Entity: c, Parents: event.Head(parents), Ops: ops}
	}
	b1, b2, b3 := g.New(c), g.New(c), g.New(c)
	branches := []event.ID{b1, b2, b3}
	m := g.New(b1, b2, b3)
	evs := []event.Event{
		ev(m, branches, map[string]value.Value{"artist": value.TextOf("Muse (merged)")}),
		ev(b3, []event.ID{c}, map[string]value.Value{"name": value.TextOf("three")}),
		ev(c, nil, map[string]value.Value{"name": value.TextOf("Showbiz"), "artist": value.TextOf("Muse"), "year": value.IntOf(1999)}),
		ev(b1, []event.ID{c}, map[string]value.Value{"name": value.TextOf("one"), "year": value.IntOf(2000)}),
		ev(b2, []event.ID{c}, map[string]value.Value{"name": value.TextOf("two")}),
	}
	h, err := Analyse("album", c, evs, nil, map[event.ID]EventMeta{b3: {Origin: "sql"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Events) != 5 || h.Events[0].ID != c.String() || h.Events[4].ID != m.String() {
		t.Fatalf("events not in id order: %+v", h.Events)
	}
	byID := map[string]HistoryEvent{}
	for _, e := range h.Events {
		byID[e.ID] = e
	}
	if e := byID[b1.String()]; !slices.Equal(e.Concurrent, []string{b2.String(), b3.String()}) || !slices.Equal(e.Children, []string{m.String()}) || e.Origin != "api" {
		t.Errorf("branch one: %+v", e)
	}
	if e := byID[b3.String()]; e.Origin != "sql" {
		t.Errorf("branch three's origin: %q", e.Origin)
	}
	if e := byID[m.String()]; !e.Merge || !e.Head || len(e.Concurrent) != 0 || len(e.Parents) != 3 {
		t.Errorf("the merge: %+v", e)
	}
	if !slices.Equal(h.Head, []string{m.String()}) {
		t.Errorf("head %v", h.Head)
	}
	fields := map[string]FieldResolution{}
	for _, f := range h.Fields {
		fields[f.Field] = f
	}
	if f := fields["name"]; f.Event != b3.String() || f.Reason != "concurrent" || string(f.Value) != `"three"` || len(f.Others) != 3 {
		t.Errorf("name: %+v", f)
	}
	if f := fields["year"]; f.Event != b1.String() || f.Reason != "causal" || string(f.Value) != "2000" {
		t.Errorf("year: %+v", f)
	}
	if f := fields["artist"]; f.Event != m.String() || f.Reason != "causal" {
		t.Errorf("artist: %+v", f)
	}

	// At branch two: the creation and that edit only.
	at, err := Analyse("album", c, evs, &b2, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(at.State.Values)
	if string(got) != `{"artist":"Muse","name":"two","year":1999}` || !slices.Equal(at.State.Head, []string{b2.String()}) {
		t.Errorf("state at branch two: %s, head %v", got, at.State.Head)
	}
	if f := at.Fields[slices.IndexFunc(at.Fields, func(f FieldResolution) bool { return f.Field == "name" })]; f.Reason != "causal" || len(f.Others) != 1 {
		t.Errorf("name at branch two: %+v", f)
	}
	if _, err := Analyse("album", c, evs, new(g.New()), nil); err == nil {
		t.Error("the state at an event not in the history: no error")
	}

	// Without the joining edit the history has three heads.
	open, err := Analyse("album", c, evs[1:], nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(open.Head) != 3 || !byIDHead(open, b1) || byIDHead(open, c) {
		t.Errorf("open branches: head %v", open.Head)
	}
}

func byIDHead(h *History, id event.ID) bool {
	for _, e := range h.Events {
		if e.ID == id.String() {
			return e.Head
		}
	}
	return false
}

// TestPage: the embedded page is the build of web/ (index.html loads the
// bundle and the styles from the server itself, nothing from elsewhere),
// and the handler serves it, its files, and JSON errors for unknown
// endpoints.
func TestPage(t *testing.T) {
	index, err := fs.ReadFile(pageFS{}, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`src="/inspect/inspector.js"`, `href="/inspect/style.css"`} {
		if !strings.Contains(string(index), want) {
			t.Errorf("index.html has no %s", want)
		}
	}
	if strings.Contains(string(index), "http://") || strings.Contains(string(index), "https://") {
		t.Error("index.html refers to another server")
	}
	if js, err := fs.ReadFile(pageFS{}, "inspector.js"); err != nil || len(js) < 10<<10 {
		t.Fatalf("inspector.js: %d bytes, %v (build it: npm run build -w @ankurah/inspector)", len(js), err)
	}

	h := New(Options{Backend: "memory"}).Handler()
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	for path, want := range map[string]string{"/": "text/html", "/entity/x": "text/html", "/inspector.js": "javascript", "/style.css": "text/css"} {
		rec := get(path)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Content-Type"), want) || rec.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: %d %q", path, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
	rec := get("/api/nothing")
	var body struct {
		Error  string `json:"error"`
		Status int    `json:"status"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusNotFound || body.Status != http.StatusNotFound {
		t.Errorf("an unknown endpoint: %d %s", rec.Code, rec.Body)
	}
	if rec := get("/api/server"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"backend":"memory"`) {
		t.Errorf("/api/server: %d %s", rec.Code, rec.Body)
	}
}

// TestAnalyseText: a ytext field's concurrent edits are merged, not won:
// its reason says so and its value is the merged text.
func TestAnalyseText(t *testing.T) {
	g := event.NewGenerator()
	c := g.New()
	edit := func(state []byte, fn func(*ytext.Editor) error) []byte {
		e, err := ytext.NewEditor(state)
		if err != nil {
			t.Fatal(err)
		}
		if err := fn(e); err != nil {
			t.Fatal(err)
		}
		u, err := e.Update()
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	first := edit(nil, func(e *ytext.Editor) error { return e.Insert(0, "hello") })
	left := edit(first, func(e *ytext.Editor) error { return e.Insert(0, ">> ") })
	right := edit(first, func(e *ytext.Editor) error { return e.Insert(5, " world") })
	b1, b2 := g.New(c), g.New(c)
	evs := []event.Event{
		{ID: c, Collection: "note", Entity: c, Ops: map[string]value.Value{"body": value.YUpdateOf(first)}},
		{ID: b1, Collection: "note", Entity: c, Parents: event.Head{c}, Ops: map[string]value.Value{"body": value.YUpdateOf(left)}},
		{ID: b2, Collection: "note", Entity: c, Parents: event.Head{c}, Ops: map[string]value.Value{"body": value.YUpdateOf(right)}},
	}
	h, err := Analyse("note", c, evs, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var text string
	if len(h.Fields) == 1 {
		_ = json.Unmarshal(h.Fields[0].Value, &text)
	}
	if len(h.Fields) != 1 || h.Fields[0].Reason != "merged" || text != ">> hello world" || !strings.Contains(h.Fields[0].Explanation, "3 edits") {
		t.Errorf("body: %+v", h.Fields)
	}
	if op := string(h.Events[1].Operations["body"]); !strings.HasPrefix(op, `{"yjs":"`) {
		t.Errorf("a Yjs update as an operation: %s", op)
	}
}
