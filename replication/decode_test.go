package replication

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/value"
)

// Hand-built pgoutput v1 messages (see "Logical Replication Message Formats"
// in the Postgres manual) for the decoder paths a live server rarely takes.

type msgBuf struct{ b []byte }

func (m *msgBuf) u8(v byte) *msgBuf    { m.b = append(m.b, v); return m }
func (m *msgBuf) u16(v uint16) *msgBuf { m.b = binary.BigEndian.AppendUint16(m.b, v); return m }
func (m *msgBuf) u32(v uint32) *msgBuf { m.b = binary.BigEndian.AppendUint32(m.b, v); return m }
func (m *msgBuf) u64(v uint64) *msgBuf { m.b = binary.BigEndian.AppendUint64(m.b, v); return m }
func (m *msgBuf) str(s string) *msgBuf { m.b = append(append(m.b, s...), 0); return m }

type col struct {
	name string
	oid  uint32
	key  bool
}

func relationMsg(id uint32, schema, table string, ident byte, cols ...col) []byte {
	m := (&msgBuf{}).u8('R').u32(id).str(schema).str(table).u8(ident).u16(uint16(len(cols)))
	for _, c := range cols {
		flags := byte(0)
		if c.key {
			flags = 1
		}
		m.u8(flags).str(c.name).u32(c.oid).u32(0xffffffff)
	}
	return m.b
}

func beginMsg(xid uint32, final uint64) []byte {
	return (&msgBuf{}).u8('B').u64(final).u64(0).u32(xid).b
}

func commitMsg(lsn, end uint64) []byte {
	return (&msgBuf{}).u8('C').u8(0).u64(lsn).u64(end).u64(0).b
}

// tuple encodes columns: nil is NULL, "\x00u" is an unchanged TOAST value.
func tuple(m *msgBuf, vals ...*string) {
	m.u16(uint16(len(vals)))
	for _, v := range vals {
		switch {
		case v == nil:
			m.u8('n')
		case *v == "\x00u":
			m.u8('u')
		default:
			m.u8('t').u32(uint32(len(*v)))
			m.b = append(m.b, *v...)
		}
	}
}

func insertMsg(rel uint32, vals ...*string) []byte {
	m := (&msgBuf{}).u8('I').u32(rel).u8('N')
	tuple(m, vals...)
	return m.b
}

func updateMsg(rel uint32, oldKind byte, old []*string, vals ...*string) []byte {
	m := (&msgBuf{}).u8('U').u32(rel)
	if oldKind != 0 {
		m.u8(oldKind)
		tuple(m, old...)
	}
	m.u8('N')
	tuple(m, vals...)
	return m.b
}

func deleteMsg(rel uint32, oldKind byte, old ...*string) []byte {
	m := (&msgBuf{}).u8('D').u32(rel).u8(oldKind)
	tuple(m, old...)
	return m.b
}

func s(v string) *string { return &v }

var toast = s("\x00u")

const (
	idA = "01J00000000000000000000000"
	idB = "01J00000000000000000000001"
	idC = "01J00000000000000000000002"
)

var albumCols = []col{{"id", oidText, true}, {"_head", oidTextArray, false}, {"_versions", oidJSONB, false},
	{"name", oidText, false}, {"notes", oidText, false}, {"price", 16500, false}, {"_future", oidInt8, false}}

func testDecoder(t *testing.T) (*decoder, *bytes.Buffer) {
	var logs bytes.Buffer
	return newDecoder(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))), &logs
}

func feed(t *testing.T, d *decoder, msgs ...[]byte) *Transaction {
	t.Helper()
	var tx *Transaction
	for i, m := range msgs {
		got, err := d.decode(m)
		if err != nil {
			t.Fatalf("message %d (%q): %v", i, m[0], err)
		}
		if got != nil {
			tx = got
		}
	}
	return tx
}

func TestDecodeSynthetic(t *testing.T) {
	t.Parallel()
	d, logs := testDecoder(t)
	tx := feed(t, d,
		relationMsg(1, "public", "album", 'f', albumCols...),
		relationMsg(2, "public", "plain", 'd', col{"x", oidInt8, true}),
		relationMsg(3, "ankurah", "events", 'd', col{"id", oidText, true}, col{"collection", oidText, false},
			col{"entity_id", oidText, false}, col{"parents", oidTextArray, false}, col{"operations", oidJSONB, false},
			col{"tombstone", oidBool, false}, col{"origin", oidText, false}, col{"author", oidText, false},
			col{"created_at", oidTimestamptz, false}),
		beginMsg(7, 0x100),
		insertMsg(3, s(idB), s("album"), s(idA), s("{"+idA+"}"), s(`{"name": "x"}`), s("f"), s("sql"), nil, s("2024-01-02 03:04:05.5+00")),
		insertMsg(2, s("1")),
		// An update whose notes are an unchanged TOASTed value: filled from the old row.
		updateMsg(1, 'O', []*string{s(idA), s("{" + idA + "}"), s(`{"name": "` + idA + `"}`), s("old"), s("big notes"), s("1.50"), s("9")},
			s(idA), s("{"+idB+"}"), s(`{"name": "`+idB+`"}`), s("new"), toast, s("2.50"), s("9")),
		commitMsg(0x100, 0x128),
	)
	if tx == nil || tx.XID != 7 || tx.CommitLSN != 0x100 || tx.EndLSN != 0x128 {
		t.Fatalf("transaction %+v", tx)
	}
	// A published table that is not shaped like a collection table is an
	// adopted table: its columns are all fields, and it has no entity id
	// of its own (the side table's change carries it).
	if len(tx.Rows) != 2 || len(tx.Events) != 1 {
		t.Fatalf("rows %+v events %+v", tx.Rows, tx.Events)
	}
	if p := tx.Rows[0]; p.Kind != AdoptedRow || p.RelID != 2 || p.Table != "plain" || !p.ID.IsZero() || p.New["x"].Int() != 1 {
		t.Fatalf("adopted table's row %+v", p)
	}
	if len(tx.Relations) != 3 || tx.Relations[1].Table != "plain" {
		t.Fatalf("relations described: %+v", tx.Relations)
	}
	r := tx.Rows[1]
	if r.Kind != CollectionRow || r.RelID != 1 {
		t.Fatalf("collection row %+v", r)
	}
	wantNew := map[string]value.Value{"name": value.TextOf("new"), "notes": value.TextOf("big notes"), "price": value.TextOf("2.50")}
	wantOld := map[string]value.Value{"name": value.TextOf("old"), "notes": value.TextOf("big notes"), "price": value.TextOf("1.50")}
	if r.Op != Update || r.ID.String() != idA || !sameValues(r.New, wantNew) || !sameValues(r.Old, wantOld) ||
		r.Head.String() != "["+idB+"]" || r.OldHead.String() != "["+idA+"]" || r.Versions["name"].String() != idB {
		t.Fatalf("row %+v", r)
	}
	ev := tx.Events[0]
	if ev.ID.String() != idB || ev.Entity.String() != idA || ev.Collection != "album" || string(ev.Operations) != `{"name": "x"}` ||
		ev.Parents.String() != "["+idA+"]" || ev.Tombstone || ev.Origin != "sql" || ev.Author != "" || ev.CreatedAt.Nanosecond() != 5e8 {
		t.Fatalf("event %+v", ev)
	}
	for _, want := range []string{"column of a type without a decoder", "column=price", "unchanged TOASTed column filled"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "_future") {
		t.Errorf("a system column was treated as a field:\n%s", logs.String())
	}
}

// With REPLICA IDENTITY DEFAULT the old tuple is the key only ('K'), and an
// unchanged TOASTed value cannot be filled: the field is left out of New
// (never guessed, never NULL) and the old row holds no invented NULLs.
func TestDecodeKeyOnly(t *testing.T) {
	t.Parallel()
	d, logs := testDecoder(t)
	tx := feed(t, d,
		relationMsg(1, "public", "album", 'd', albumCols...),
		beginMsg(8, 0x200),
		updateMsg(1, 0, nil, s(idA), s("{"+idB+"}"), s("{}"), s("new"), toast, nil, nil),
		deleteMsg(1, 'K', s(idA), nil, nil, nil, nil, nil, nil),
		commitMsg(0x200, 0x228),
	)
	if len(tx.Rows) != 2 {
		t.Fatalf("rows %+v", tx.Rows)
	}
	up, del := tx.Rows[0], tx.Rows[1]
	if _, ok := up.New["notes"]; ok || !sameValues(up.New, map[string]value.Value{"name": value.TextOf("new"), "price": value.NullValue}) || up.Old != nil {
		t.Fatalf("update %+v", up)
	}
	if del.Op != Delete || del.ID.String() != idA || len(del.Old) != 0 || del.New != nil {
		t.Fatalf("delete %+v", del)
	}
	for _, want := range []string{"not REPLICA IDENTITY FULL", "no old row to fill it from"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
}

// A row Ankurah cannot use is logged and left out; the transaction still
// arrives (and is acknowledged), so the stream does not stall on it.
func TestDecodeBadRowIsSkipped(t *testing.T) {
	t.Parallel()
	d, logs := testDecoder(t)
	tx := feed(t, d,
		relationMsg(1, "public", "album", 'f', albumCols...),
		beginMsg(9, 0x300),
		insertMsg(1, s("not-a-ulid"), s("{}"), s("{}"), s("x"), nil, nil, nil),
		insertMsg(1, s(idC), s("{"+idC+",NULL}"), s("{}"), s("x"), nil, nil, nil),
		insertMsg(1, s(idC), s("{"+idC+"}"), s(`{"name":"bad"}`), s("x"), nil, nil, nil),
		insertMsg(1, s(idB), s("{"+idB+"}"), s("{}"), s("ok"), nil, nil, nil),
		commitMsg(0x300, 0x328),
	)
	if len(tx.Rows) != 1 || tx.Rows[0].ID.String() != idB {
		t.Fatalf("rows %+v", tx.Rows)
	}
	if n := strings.Count(logs.String(), "row left out"); n != 3 {
		t.Fatalf("%d rows logged as left out, want 3:\n%s", n, logs.String())
	}
}

// A broken stream is an error (the session restarts), never a panic.
func TestDecodeBrokenStream(t *testing.T) {
	t.Parallel()
	rel := relationMsg(1, "public", "album", 'f', albumCols...)
	ins := insertMsg(1, s(idB), s("{"+idB+"}"), s("{}"), s("ok"), nil, nil, nil)
	cases := map[string][][]byte{
		"change before BEGIN":   {rel, ins},
		"unknown relation":      {beginMsg(1, 1), ins},
		"COMMIT without BEGIN":  {commitMsg(1, 2)},
		"nested BEGIN":          {beginMsg(1, 1), beginMsg(2, 2)},
		"truncated insert":      {rel, beginMsg(1, 1), ins[:len(ins)-3]},
		"truncated relation":    {rel[:12]},
		"column count mismatch": {rel, beginMsg(1, 1), insertMsg(1, s(idB))},
		"empty":                 {{}},
		"unknown message type":  {{'Z', 1, 2}},
	}
	for name, msgs := range cases {
		d, _ := testDecoder(t)
		var err error
		for _, m := range msgs {
			if _, err = d.decode(m); err != nil {
				break
			}
		}
		if !errors.Is(err, errBrokenStream) {
			t.Errorf("%s: %v, want errBrokenStream", name, err)
		}
	}
}

func sameValues(got, want map[string]value.Value) bool {
	if len(got) != len(want) {
		return false
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || !value.Equal(g, w) {
			return false
		}
	}
	return true
}

// BenchmarkDecode is the consumer's own cost per commit, without network or
// server: the four pgoutput messages of a single-row SQL insert (BEGIN, the
// event row, the collection row with four typed fields, COMMIT) decoded into
// a Transaction.
func BenchmarkDecode(b *testing.B) {
	d := newDecoder(slog.New(slog.DiscardHandler))
	rels := [][]byte{
		relationMsg(1, "public", "item", 'f', col{"id", oidText, true}, col{"_head", oidTextArray, false}, col{"_versions", oidJSONB, false},
			col{"at", oidTimestamptz, false}, col{"n", oidInt8, false}, col{"name", oidText, false}, col{"score", oidFloat8, false}),
		relationMsg(2, "ankurah", "events", 'd', col{"id", oidText, true}, col{"collection", oidText, false},
			col{"entity_id", oidText, false}, col{"parents", oidTextArray, false}, col{"operations", oidJSONB, false},
			col{"tombstone", oidBool, false}, col{"origin", oidText, false}, col{"author", oidText, false},
			col{"created_at", oidTimestamptz, false}),
	}
	for _, m := range rels {
		if _, err := d.decode(m); err != nil {
			b.Fatal(err)
		}
	}
	ts := "2026-11-21 23:29:54.123456+00"
	versions := `{"at": "` + idA + `", "n": "` + idA + `", "name": "` + idA + `", "score": "` + idA + `"}`
	msgs := [][]byte{
		beginMsg(1, 0x100),
		insertMsg(2, s(idA), s("item"), s(idA), s("{}"), s(`{"at": "2026-11-21T23:29:54.123456+00:00", "n": 12345, "name": "item 12345", "score": 6172.5}`),
			s("f"), s("sql"), s("postgres"), s(ts)),
		insertMsg(1, s(idA), s("{"+idA+"}"), s(versions), s(ts), s("12345"), s("item 12345"), s("6172.5")),
		commitMsg(0x100, 0x128),
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range msgs {
			if _, err := d.decode(m); err != nil {
				b.Fatal(err)
			}
		}
	}
}
