package client

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/ankurah/ankurah-go/event"
	"github.com/ankurah/ankurah-go/protocol"
)

// The durable cache is one append-only file of JSON lines: schemas, server
// states (bases) and the outbox (queued transactions and their answers).
// Opening it replays the lines (a torn last line — a crash mid-write — is
// ignored) and rewrites the file as a compact snapshot; it is compacted
// again when the log grows past a few times the snapshot. Queued
// transactions are fsynced before Commit returns; server states are only
// flushed (they can be fetched again).

// Record types.
const (
	recSchema = "schema" // a collection's full schema
	recBase   = "base"   // an entity's latest server state
	recOut    = "out"    // a queued transaction (events) or schema registration (reg)
	recDone   = "done"   // the queued item seq was answered
)

type record struct {
	T      string               `json:"t"`
	Coll   *protocol.Collection `json:"coll,omitempty"`
	Ent    *protocol.Entity     `json:"ent,omitempty"`
	Seq    uint64               `json:"seq,omitempty"`
	Events []protocol.Event     `json:"events,omitempty"`
	Reg    *protocol.Collection `json:"reg,omitempty"`
}

const cacheVersion = 1

type cacheHeader struct {
	Ankurah int `json:"ankurah_client_cache"`
}

type cacheFile struct {
	path     string
	f        *os.File
	w        *bufio.Writer
	written  int64 // bytes appended since the last snapshot
	snapshot int64 // bytes of the last snapshot
}

// openCache opens (creating it if needed) the cache file and returns its
// records.
func openCache(path string) (*cacheFile, []record, error) {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	var recs []record
	if len(data) > 0 {
		if i := bytes.LastIndexByte(data, '\n'); i < len(data)-1 {
			data = data[:i+1] // a torn last line: a crash while appending it
		}
		lines := bytes.Split(data, []byte{'\n'})
		var h cacheHeader
		if err := json.Unmarshal(lines[0], &h); err != nil || h.Ankurah != cacheVersion {
			return nil, nil, fmt.Errorf("client cache %s: not an Ankurah client cache (version %d)", path, cacheVersion)
		}
		for i, line := range lines[1:] {
			if len(line) == 0 {
				continue
			}
			var r record
			if err := json.Unmarshal(line, &r); err != nil {
				return nil, nil, fmt.Errorf("client cache %s, line %d: %w", path, i+2, err)
			}
			recs = append(recs, r)
		}
	}
	return &cacheFile{path: path}, recs, nil
}

// rewrite replaces the file with a snapshot and opens it for appending.
func (f *cacheFile) rewrite(recs []record) error {
	if f.f != nil {
		if err := f.w.Flush(); err != nil {
			return err
		}
	}
	tmp := f.path + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(out, 64<<10)
	n, err := writeRecords(w, append([]record{}, recs...), true)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, f.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("client cache %s: %w", f.path, err)
	}
	if dir, err := os.Open(filepath.Dir(f.path)); err == nil {
		_ = dir.Sync()
		dir.Close()
	}
	if f.f != nil {
		f.f.Close()
	}
	if f.f, err = os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return err
	}
	f.w = bufio.NewWriterSize(f.f, 64<<10)
	f.snapshot, f.written = n, 0
	return nil
}

func writeRecords(w io.Writer, recs []record, header bool) (int64, error) {
	var n int64
	var buf []byte
	if header {
		buf, _ = json.Marshal(cacheHeader{Ankurah: cacheVersion})
		buf = append(buf, '\n')
	}
	for i := range recs {
		b, err := json.Marshal(&recs[i])
		if err != nil {
			return n, err
		}
		buf = append(append(buf, b...), '\n')
		if len(buf) > 32<<10 {
			k, err := w.Write(buf)
			n += int64(k)
			if err != nil {
				return n, err
			}
			buf = buf[:0]
		}
	}
	k, err := w.Write(buf)
	return n + int64(k), err
}

// append writes records; with sync, they are on disk when it returns.
func (f *cacheFile) append(recs []record, sync bool) error {
	if len(recs) > 0 {
		n, err := writeRecords(f.w, recs, false)
		f.written += n
		if err != nil {
			return err
		}
	}
	if err := f.w.Flush(); err != nil {
		return err
	}
	if sync {
		return f.f.Sync()
	}
	return nil
}

// wantsCompaction: the log has grown well past its last snapshot.
func (f *cacheFile) wantsCompaction() bool {
	return f.written > 1<<20 && f.written > 4*f.snapshot
}

func (f *cacheFile) close() error {
	if f.f == nil {
		return nil
	}
	err := f.w.Flush()
	if serr := f.f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	f.f = nil
	return err
}

// restore rebuilds the core from cache records.
func (c *core) restore(recs []record) error {
	persist := c.persist
	c.persist = false
	defer func() { c.persist = persist }()
	var queued []*outItem
	for _, r := range recs {
		switch r.T {
		case recSchema:
			if r.Coll == nil {
				continue
			}
			sc, perr := protocol.CollectionFromWire(*r.Coll)
			if perr != nil {
				return perr
			}
			if _, err := c.mergeSchema(sc); err != nil {
				return err
			}
		case recBase:
			if r.Ent == nil {
				continue
			}
			st, err := c.stateFromWire(*r.Ent)
			if err != nil {
				return err
			}
			e := c.entry(st.Collection, st.ID)
			e.base = st
		case recOut:
			item := &outItem{seq: r.Seq}
			if r.Reg != nil {
				sc, perr := protocol.CollectionFromWire(*r.Reg)
				if perr != nil {
					return perr
				}
				item.schema = &sc
			} else {
				for _, w := range r.Events {
					ev, err := c.eventFromWire(w)
					if err != nil {
						return err
					}
					item.events = append(item.events, ev)
				}
			}
			queued = append(queued, item)
			c.seq = max(c.seq, r.Seq)
		case recDone:
			queued = slices.DeleteFunc(queued, func(it *outItem) bool { return it.seq == r.Seq })
		}
	}
	c.outbox = queued
	for _, item := range queued {
		for i := range item.events {
			ev := &item.events[i]
			e := c.entry(ev.Collection, ev.Entity)
			e.pending = append(e.pending, ev)
			c.learn(e, []event.Event{*ev})
		}
	}
	for _, e := range c.entries {
		c.refresh(e, nil)
	}
	clear(c.dirty)
	return nil
}

// snapshotRecords is the core's state as cache records.
func (c *core) snapshotRecords() []record {
	var recs []record
	for _, name := range slices.Sorted(maps.Keys(c.schemas)) {
		recs = append(recs, record{T: recSchema, Coll: ptr(protocol.CollectionToWire(c.schemas[name]))})
	}
	for _, e := range sortedEntries(c.entries) {
		if e.base == nil {
			continue
		}
		var w protocol.Entity
		if json.Unmarshal(protocol.AppendEntity(nil, e.base), &w) == nil {
			recs = append(recs, record{T: recBase, Ent: &w})
		}
	}
	for _, item := range c.outbox {
		r := record{T: recOut, Seq: item.seq}
		if item.schema != nil {
			r.Reg = ptr(protocol.CollectionToWire(*item.schema))
		} else {
			r.Events = wireEvents(item.events)
		}
		recs = append(recs, r)
	}
	return recs
}
