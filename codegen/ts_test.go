package codegen_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/codegen"
	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/examples/albums/model"
	"github.com/ankurah/ankurah-go/schema"
)

var update = flag.Bool("update", false, "rewrite the committed generated files")

const albumsTS = "../examples/albums/src/generated.ts"
const albumsPkg = "github.com/ankurah/ankurah-go/examples/albums/model"

// TestExampleUpToDate regenerates the albums example's TypeScript from its Go
// models and fails when the committed file differs: the Go models and the
// generated types never drift. Run with -update to rewrite the file.
func TestExampleUpToDate(t *testing.T) {
	var out bytes.Buffer
	if err := codegen.Generate(model.Models, codegen.GenOptions{Source: albumsPkg}, &out); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(albumsTS, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(albumsTS)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, out.Bytes()) {
		t.Fatalf("%s is out of date with the Go models in examples/albums/model: run\n  go test ./codegen -run TestExampleUpToDate -update\nor\n  ankurah gen ts --package ./examples/albums/model --out examples/albums/src/generated.ts\n\nwant:\n%s", albumsTS, out.String())
	}
}

// TestRunGenTS runs the command end to end: it builds the generator program
// against the example's models package and checks the committed file.
func TestRunGenTS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if code := codegen.RunGenTS(ctx, []string{"--package", "../examples/albums/model", "--out", albumsTS, "--check"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	stdout.Reset()
	if code := codegen.RunGenTS(ctx, []string{"--package", "../examples/albums/model"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	have, _ := os.ReadFile(albumsTS)
	if stdout.String() != string(have) {
		t.Fatalf("stdout differs from %s:\n%s", albumsTS, stdout.String())
	}
	// A drifted file is reported with exit status 1.
	stale := filepath.Join(t.TempDir(), "stale.ts")
	os.WriteFile(stale, []byte("// old\n"), 0o644)
	stderr.Reset()
	if code := codegen.RunGenTS(ctx, []string{"--package", "../examples/albums/model", "--out", stale, "--check"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "out of date") {
		t.Fatalf("exit %d, stderr %q; want 1 and out of date", code, stderr.String())
	}
	// The generator's temporary package is gone.
	if m, _ := filepath.Glob("../_ankurah_gen_*"); len(m) > 0 {
		t.Fatalf("left behind: %v", m)
	}
}

func TestRunGenTSUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	for _, args := range [][]string{{"extra"}, {"--check"}, {"--var", "no-ident"}, {"--nope"}} {
		if code := codegen.RunGenTS(context.Background(), args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

type Artist struct {
	ID   event.ID
	Name string
}

type Licensing struct {
	Territory string   `json:"territory"`
	Until     string   `json:"until,omitempty"`
	Holders   []string `json:"holders"`
	Secret    string   `json:"-"`
	Count     int      `json:",string"`
	Next      *Licensing
}

type Meta struct {
	Label string
}

type Track struct {
	ID event.ID
	Meta
	Title      string
	Subtitle   *string
	Seconds    int32
	Loudness   float64
	Explicit   bool
	OptLive    *bool
	Artwork    []byte
	Released   time.Time
	Remastered *time.Time
	Artist     schema.Ref[Artist]
	CoArtist   *schema.Ref[Artist]
	Owner      event.ID
	Tags       []string
	Credits    map[string][]int
	Licensing  Licensing
	OptLic     *Licensing
	Raw        json.RawMessage
	Anything   any    `ankurah:",json"`
	Renamed    string `ankurah:"label_name"`
	Skipped    string `ankurah:"-"`
}

func TestTSTypes(t *testing.T) {
	models, err := codegen.ModelsOf(Track{}, &Artist{})
	if err != nil {
		t.Fatal(err)
	}
	code, err := codegen.TS(models, codegen.TSOptions{Import: "@x/client"})
	if err != nil {
		t.Fatal(err)
	}
	got := string(code)
	for _, want := range []string{
		"import { defineModel, type EntityId, type JsonValue, type Mutable, type View } from '@x/client';",
		"export interface TrackValues {\n  label: string;\n  title: string;\n  subtitle: string | null;\n",
		"  seconds: number;\n  loudness: number;\n  explicit: boolean;\n  opt_live: boolean | null;\n",
		"  artwork: Uint8Array | null;\n  released: Date | null;\n  remastered: Date | null;\n",
		"  /** The id of an Artist. */\n  artist: EntityId | null;\n",
		"  owner: EntityId | null;\n",
		"  tags: string[] | null;\n",
		"  credits: Record<string, number[]> | null;\n",
		"  licensing: { territory: string; until?: string; holders: string[]; Count: string; Next: JsonValue | null };\n",
		"  opt_lic: { territory: string; until?: string; holders: string[]; Count: string; Next: JsonValue | null } | null;\n",
		"  raw: JsonValue | null;\n  anything: JsonValue | null;\n  label_name: string;\n}",
		"export type TrackView = View<TrackValues>;",
		"export type TrackMutable = Mutable<TrackValues>;",
		"export const Track = defineModel<TrackValues>('track', {\n  label: { type: 'text' },\n",
		"  seconds: { type: 'bigint' },\n  loudness: { type: 'double precision' },\n",
		"  artist: { type: 'ref', nullable: true },\n",
		"export const Artist = defineModel<ArtistValues>('artist', {\n  name: { type: 'text' },\n});",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("generated code lacks\n%s\n\ngot:\n%s", want, got)
		}
	}
	if strings.Contains(got, "skipped") {
		t.Error("a field tagged ankurah:\"-\" was generated")
	}
}

func TestTSRefusesDuplicateNames(t *testing.T) {
	type Album struct{ Name string }
	models, err := codegen.ModelsOf(Album{}, model.Album{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := codegen.TS(models, codegen.TSOptions{}); err == nil || !strings.Contains(err.Error(), "two models named Album") {
		t.Fatalf("err = %v", err)
	}
}

type Mood string

func (Mood) EnumLabels() []string { return []string{"sad", "it's ok", "happy"} }

// Typed has a field of every type beyond the first eight.
type Typed struct {
	ID     event.ID
	Price  schema.Decimal  `ankurah:"price,type=numeric(10,2)"`
	Exact  *schema.Decimal // numeric, nullable
	Small  int16           `ankurah:",type=smallint"`
	Ratio  float32         `ankurah:",type=real"`
	Code   string          `ankurah:",type=char(3)"`
	Short  string          `ankurah:",type=varchar(5)"`
	Key    schema.UUID
	Born   schema.Date
	Opens  schema.TimeOfDay
	Local  time.Time `ankurah:",type=timestamp"`
	Span   schema.Interval
	Mood   Mood
	Tags   []string         `ankurah:",type=text[]"`
	Moods  []Mood           `ankurah:",type=enum('sad', 'it''s ok', 'happy')[]"`
	Counts []*int64         `ankurah:",type=integer[]"`
	Decs   []schema.Decimal `ankurah:",type=numeric(5,2)[]"`
	Notes  schema.YText
	Memo   string `ankurah:",type=ytext"`
}

const typedTS = "../clients/ts/test/generated-typed.ts"

// TestTypedModelUpToDate generates the TypeScript of a model with every
// type into the client's tests, which type-check it and use it
// (clients/ts/test/types.test.ts): the generated types and the client's
// field handling cannot drift apart. Run with -update to rewrite the file.
func TestTypedModelUpToDate(t *testing.T) {
	models, err := codegen.ModelsOf(Typed{})
	if err != nil {
		t.Fatal(err)
	}
	code, err := codegen.TS(models, codegen.TSOptions{Import: "../src/index.js", Source: "github.com/ankurah/ankurah-go/codegen (TestTypedModelUpToDate)"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`price: string | null;`, `exact: string | null;`, `small: number;`, `ratio: number;`, `key: string;`, `born: string | null;`,
		`mood: 'sad' | "it's ok" | 'happy' | null;`, `moods: ('sad' | "it's ok" | 'happy' | null)[] | null;`, `counts: (number | null)[] | null;`,
		`price: { type: 'numeric(10,2)', nullable: true },`, `mood: { type: "enum('sad', 'it''s ok', 'happy')", nullable: true },`,
		`span: { type: 'interval' },`, `notes: { type: 'ytext' },`, `memo: { type: 'ytext' },`,
		"/** Collaborative text (ytext): a view shows its text; edit it as a Y.Text (textOf, from '@ankurah/client/text'). */\n  notes: string;",
	} {
		if !strings.Contains(string(code), want) {
			t.Errorf("generated TypeScript lacks %q:\n%s", want, code)
		}
	}
	if *update {
		if err := os.WriteFile(typedTS, code, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(typedTS)
	if err != nil || !bytes.Equal(have, code) {
		t.Fatalf("%s is out of date: run go test ./codegen -run TestTypedModelUpToDate -update (%v)", typedTS, err)
	}
}
